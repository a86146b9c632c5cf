/*
 * test_stats: fly_stats_get and fly_stats_print report what happened.
 *
 * Proves: fly_stats_get fills version and size, refuses a too-small buffer
 * (-1) and never writes past the size it is given; st_nmalloc and st_nfree
 * grow by the number of allocations and frees made (of every kind: malloc,
 * calloc, realloc(NULL), the aligned functions); st_live_bytes grows by
 * exactly the usable sizes of the live blocks and returns to its start
 * when they are freed; st_peak_bytes >= st_live_bytes and has seen the
 * peak; mapped bytes cover live bytes and at least one mmap was counted;
 * fly_stats_print writes non-empty text and valid JSON (checked by a strict
 * parser here) to a pipe and to a file, and makes no allocation.
 */
#include "check.h"
#include "flymalloc.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>

static fly_stats_t get(void)
{
    fly_stats_t st;
    memset(&st, 0, sizeof st);
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get(sizeof) failed");
    return st;
}

/* ---- a strict JSON parser (RFC 8259 syntax only) ---- */
static const char *js;
static int jnumbers;
static void ws(void) { while (*js == ' ' || *js == '\t' || *js == '\n' || *js == '\r') js++; }
static int value(int depth);
static int string(void)
{
    if (*js != '"')
        return 0;
    js++;
    while (*js != '"') {
        if ((unsigned char)*js < 0x20)
            return 0;
        if (*js == '\\') {
            js++;
            if (*js == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)js[i]))
                        return 0;
                js += 4;
            } else if (!strchr("\"\\/bfnrt", *js) || !*js)
                return 0;
        }
        js++;
    }
    js++;
    return 1;
}
static int number(void)
{
    if (*js == '-')
        js++;
    if (*js == '0')
        js++;
    else if (*js >= '1' && *js <= '9')
        while (isdigit((unsigned char)*js))
            js++;
    else
        return 0;
    if (*js == '.') {
        js++;
        if (!isdigit((unsigned char)*js))
            return 0;
        while (isdigit((unsigned char)*js))
            js++;
    }
    if (*js == 'e' || *js == 'E') {
        js++;
        if (*js == '+' || *js == '-')
            js++;
        if (!isdigit((unsigned char)*js))
            return 0;
        while (isdigit((unsigned char)*js))
            js++;
    }
    jnumbers++;
    return 1;
}
static int value(int depth)
{
    if (depth > 64)
        return 0;
    ws();
    if (*js == '{') {
        js++;
        ws();
        if (*js == '}') { js++; return 1; }
        for (;;) {
            ws();
            if (!string()) return 0;
            ws();
            if (*js++ != ':') return 0;
            if (!value(depth + 1)) return 0;
            ws();
            if (*js == ',') { js++; continue; }
            if (*js == '}') { js++; return 1; }
            return 0;
        }
    }
    if (*js == '[') {
        js++;
        ws();
        if (*js == ']') { js++; return 1; }
        for (;;) {
            if (!value(depth + 1)) return 0;
            ws();
            if (*js == ',') { js++; continue; }
            if (*js == ']') { js++; return 1; }
            return 0;
        }
    }
    if (*js == '"') return string();
    if (!strncmp(js, "true", 4)) { js += 4; return 1; }
    if (!strncmp(js, "false", 5)) { js += 5; return 1; }
    if (!strncmp(js, "null", 4)) { js += 4; return 1; }
    return number();
}
/* Returns NULL if text is one valid JSON object (with trailing whitespace
 * only), else a pointer to where parsing failed. */
static const char *json_error(const char *text)
{
    js = text;
    jnumbers = 0;
    ws();
    if (*js != '{')
        return js;
    if (!value(0))
        return js;
    ws();
    return *js ? js : NULL;
}

static void self_test_parser(void)
{
    CHECK(json_error("{\"a\": [1, -2.5e3, true, null, {\"b\": \"x\\\"\\u00e9\"}]}\n") == NULL, "parser rejects valid JSON");
    CHECK(json_error("{\"a\": 1,}") != NULL, "parser accepts trailing comma");
    CHECK(json_error("{\"a\": 01}") != NULL, "parser accepts leading zero");
    CHECK(json_error("{\"a\": 1} x") != NULL, "parser accepts trailing garbage");
    CHECK(json_error("{a: 1}") != NULL, "parser accepts unquoted key");
    CHECK(json_error("{\"a\": 1") != NULL, "parser accepts unterminated object");
}

/* Reads everything fly_stats_print(flags) writes into a pipe. */
static char *print_to_pipe(int flags, size_t *len)
{
    static char buf[1 << 20];
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(fds[0]);
        fly_stats_print(fds[1], flags);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child printing stats died: status %#x", status);
    buf[n] = 0;
    *len = n;
    return buf;
}

int main(void)
{
    self_test_parser();

    fly_stats_t s0 = get();
    CHECK(s0.st_version == FLY_STATS_VERSION, "st_version %u", s0.st_version);
    CHECK(s0.st_size == sizeof(fly_stats_t), "st_size %u, sizeof %zu", s0.st_size, sizeof(fly_stats_t));

    /* too small, and never writing beyond size */
    {
        unsigned char raw[sizeof(fly_stats_t) + 16];
        memset(raw, 0xCC, sizeof raw);
        CHECK(fly_stats_get((fly_stats_t *)(void *)raw, 4) == -1, "fly_stats_get(size 4) did not fail");
        for (size_t i = 4; i < sizeof raw; i++)
            CHECK(raw[i] == 0xCC, "fly_stats_get(size 4) wrote byte %zu", i);
        size_t part = offsetof(fly_stats_t, st_live_bytes) + 8;
        memset(raw, 0xCC, sizeof raw);
        int rc = fly_stats_get((fly_stats_t *)(void *)raw, part);
        CHECK(rc == 0 || rc == -1, "fly_stats_get(partial) = %d", rc);
        for (size_t i = part; i < sizeof raw; i++)
            CHECK(raw[i] == 0xCC, "fly_stats_get(size %zu) wrote byte %zu", part, i);
        memset(raw, 0xCC, sizeof raw);
        CHECK(fly_stats_get((fly_stats_t *)(void *)raw, sizeof(fly_stats_t)) == 0, "full get");
        for (size_t i = sizeof(fly_stats_t); i < sizeof raw; i++)
            CHECK(raw[i] == 0xCC, "fly_stats_get wrote byte %zu past the struct", i);
    }

    /* counts of every kind of allocation */
    enum { N = 1000 };
    static void *p[6 * N];
    uint64_t usable = 0;
    int k = 0;
    s0 = get();
    for (int i = 0; i < N; i++) {
        p[k++] = fly_malloc((size_t)i * 3);
        p[k++] = fly_calloc(2, (size_t)i + 1);
        p[k++] = fly_realloc(NULL, (size_t)i + 7);
        CHECK(fly_posix_memalign(&p[k++], 64, (size_t)i) == 0, "posix_memalign");
        p[k++] = fly_aligned_alloc(256, (size_t)i + 256);
        p[k++] = fly_memalign(32, 100);
    }
    for (int i = 0; i < k; i++) {
        CHECK(p[i] != NULL, "allocation %d", i);
        usable += fly_malloc_usable_size(p[i]);
    }
    void *big = fly_malloc(40u << 20);
    CHECK(big != NULL, "malloc(40 MiB)");
    usable += fly_malloc_usable_size(big);
    fly_stats_t s1 = get();
    uint64_t dm = s1.st_nmalloc - s0.st_nmalloc;
    CHECK(dm >= (uint64_t)k + 1 && dm <= (uint64_t)k + 1 + 64,
          "%d allocations counted as %llu", k + 1, (unsigned long long)dm);
    CHECK(s1.st_live_bytes - s0.st_live_bytes == usable,
          "live bytes grew by %llu, usable sizes of the live blocks sum to %llu",
          (unsigned long long)(s1.st_live_bytes - s0.st_live_bytes), (unsigned long long)usable);
    CHECK(s1.st_peak_bytes >= s1.st_live_bytes, "peak %llu < live %llu",
          (unsigned long long)s1.st_peak_bytes, (unsigned long long)s1.st_live_bytes);
    CHECK(s1.st_mapped_bytes >= s1.st_live_bytes, "mapped %llu < live %llu",
          (unsigned long long)s1.st_mapped_bytes, (unsigned long long)s1.st_live_bytes);
    CHECK(s1.st_mmap_calls >= 1 && s1.st_mmap_bytes + s1.st_mremap_bytes >= (40u << 20),
          "mmap calls %llu bytes %llu with a 40 MiB block live", (unsigned long long)s1.st_mmap_calls,
          (unsigned long long)s1.st_mmap_bytes);

    uint64_t peak_live = s1.st_live_bytes;
    for (int i = 0; i < k; i++)
        fly_free(p[i]);
    fly_free(big);
    fly_stats_t s2 = get();
    uint64_t df = s2.st_nfree - s1.st_nfree;
    CHECK(df >= (uint64_t)k + 1 && df <= (uint64_t)k + 1 + 64, "%d frees counted as %llu", k + 1,
          (unsigned long long)df);
    CHECK(s2.st_live_bytes == s0.st_live_bytes, "live bytes %llu at start, %llu after freeing everything",
          (unsigned long long)s0.st_live_bytes, (unsigned long long)s2.st_live_bytes);
    CHECK(s2.st_peak_bytes >= peak_live, "peak %llu below an observed live %llu",
          (unsigned long long)s2.st_peak_bytes, (unsigned long long)peak_live);

    /* printing: text and JSON, to a pipe, without allocating */
    void *live = fly_malloc(12345); /* something to report */
    fly_stats_t b = get();
    size_t len;
    char *text = print_to_pipe(FLY_STATS_TEXT, &len);
    CHECK(len > 20, "text stats are %zu bytes", len);
    CHECK(text[len - 1] == '\n', "text stats do not end with a newline");
    int digits = 0;
    for (size_t i = 0; i < len; i++)
        digits += isdigit((unsigned char)text[i]) != 0;
    CHECK(digits > 0, "text stats contain no number:\n%s", text);
    char *json = print_to_pipe(FLY_STATS_JSON, &len);
    CHECK(len > 2, "JSON stats are %zu bytes", len);
    const char *err = json_error(json);
    CHECK(err == NULL, "JSON stats invalid at offset %td (\"%.40s\"):\n%.2000s", err - json, err, json);
    CHECK(jnumbers >= 5, "JSON stats hold only %d numbers:\n%s", jnumbers, json);

    /* in this process too (the pipe children above only proved the output) */
    char path[] = "/tmp/flystats.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    fly_stats_print(fd, FLY_STATS_JSON);
    fly_stats_print(fd, FLY_STATS_TEXT);
    fly_stats_t a = get();
    CHECK(a.st_nmalloc == b.st_nmalloc && a.st_live_bytes == b.st_live_bytes,
          "fly_stats_print allocated: nmalloc %llu -> %llu, live %llu -> %llu",
          (unsigned long long)b.st_nmalloc, (unsigned long long)a.st_nmalloc,
          (unsigned long long)b.st_live_bytes, (unsigned long long)a.st_live_bytes);
    off_t size = lseek(fd, 0, SEEK_END);
    CHECK(size > 20, "stats file is %lld bytes", (long long)size);
    static char fbuf[1 << 20];
    CHECK(pread(fd, fbuf, sizeof fbuf - 1, 0) == size, "pread stats file");
    fbuf[size] = 0;
    /* the file holds the JSON object first, then the text */
    js = fbuf;
    ws();
    CHECK(*js == '{' && value(0), "JSON in file invalid near \"%.40s\"", js);
    close(fd);
    fly_free(live);
    return 0;
}
