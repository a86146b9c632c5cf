/*
 * bench_common.h: what every flymalloc benchmark workload shares.
 *
 * 1. The contract with the harness (bench/bench.py).  A workload is a small
 *    C program that does a fixed amount of work, checks its own result and
 *    prints one summary line on stdout:
 *        bench: ops=N checksum=X [other key=value pairs]
 *    It exits 0 when the self-check passed, BENCH_EXIT_CHECK (2) when it
 *    failed ("CHECK FAILED: ..." on stderr), BENCH_EXIT_NOMEM (3) when
 *    malloc returned NULL, and BENCH_EXIT_USAGE (64) on a bad option.  The
 *    checksum does not depend on the allocator or on thread interleaving,
 *    so the harness also compares it across allocators.
 *
 * 2. Self-checks.  Every object gets a tag derived from its identity: the
 *    first 8 bytes hold the tag and the last 8 bytes its complement.  The
 *    workload adds each tag to an "expected" sum when it allocates and adds
 *    the word it reads back to a "got" sum when it frees, after checking
 *    both ends.  An allocator that hands out overlapping blocks, loses a
 *    write or returns a stale block makes the sums differ.
 *
 * 3. --corrupt (or BENCH_CORRUPT=1 in the environment) makes the workload
 *    damage one live object (or one result) on purpose, half-way through;
 *    tests use it to prove that the self-check really fails.
 *
 * 4. Options are "--name VALUE" or "--name=VALUE"; integer values accept a
 *    binary suffix k, m or g (1k = 1024).  Unknown options are an error.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_EXIT_CHECK 2
#define BENCH_EXIT_NOMEM 3
#define BENCH_EXIT_USAGE 64

/* ---- random numbers: splitmix64 seeding a xorshift64* stream ---- */
typedef struct { uint64_t s; } rng_t;

static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed)
{
    r->s = mix64(seed) | 1;
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

/* Log-uniform in [lo, hi]: density proportional to 1/size. */
static inline size_t rng_logsize(rng_t *r, size_t lo, size_t hi)
{
    double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double v = exp(log((double)lo) + u * (log((double)hi + 1) - log((double)lo)));
    size_t s = (size_t)v;
    return s < lo ? lo : s > hi ? hi : s;
}

/* ---- failing ---- */
static inline void bench_fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static inline void bench_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("CHECK FAILED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(BENCH_EXIT_CHECK);
}

static inline void bench_nomem(size_t size)
{
    fprintf(stderr, "malloc(%zu) returned NULL: %s\n", size, strerror(errno));
    exit(BENCH_EXIT_NOMEM);
}

static inline void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL)
        bench_nomem(size);
    return p;
}

/* ---- object tags ---- */
static inline uint64_t tag_of(uint64_t id)
{
    return mix64(id ^ 0x5bd1e9955bd1e995ULL);
}

/* Objects are at least 8 bytes; a block of 8..15 bytes holds the tag only. */
static inline void obj_fill(void *p, size_t n, uint64_t tag)
{
    memcpy(p, &tag, 8);
    if (n >= 16) {
        uint64_t t = ~tag;
        memcpy((char *)p + n - 8, &t, 8);
    }
}

/* Returns the first word; *bad is set when either end is wrong. */
static inline uint64_t obj_read(const void *p, size_t n, uint64_t tag, int *bad)
{
    uint64_t a, b;
    memcpy(&a, p, 8);
    if (a != tag)
        *bad = 1;
    if (n >= 16) {
        memcpy(&b, (const char *)p + n - 8, 8);
        if (b != ~tag)
            *bad = 1;
    }
    return a;
}

/*
 * Self-describing objects (at least 16 bytes) for workloads whose objects
 * travel between threads: word 0 holds the tag, word 1 the size and, from
 * 24 bytes up, the last word the tag's complement.
 */
static inline void sobj_fill(void *p, size_t n, uint64_t tag)
{
    uint64_t len = n;
    memcpy(p, &tag, 8);
    memcpy((char *)p + 8, &len, 8);
    if (n >= 24) {
        uint64_t t = ~tag;
        memcpy((char *)p + n - 8, &t, 8);
    }
}

/* Returns the tag; *n receives the size; *bad is set on damage. */
static inline uint64_t sobj_read(const void *p, size_t max, size_t *n, int *bad)
{
    uint64_t tag, len, t;
    memcpy(&tag, p, 8);
    memcpy(&len, (const char *)p + 8, 8);
    *n = (size_t)len;
    if (len < 16 || len > max) {
        *bad = 1;
        return tag;
    }
    if (len >= 24) {
        memcpy(&t, (const char *)p + len - 8, 8);
        if (t != ~tag)
            *bad = 1;
    }
    return tag;
}

/* Damages an object the way a broken allocator would (a lost write). */
static inline void obj_corrupt(void *p)
{
    ((unsigned char *)p)[0] ^= 0x40;
}

/* ---- time and memory ---- */
static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in bytes, from /proc/self/statm (no allocation). */
static inline size_t rss_bytes(void)
{
    char buf[128];
    unsigned long size = 0, res = 0;
    int fd;
    ssize_t n;

    fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    if (sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- options ---- */
typedef struct {
    const char *bo_name;  /* without the leading "--" */
    long *bo_value;       /* NULL for a flag */
    int *bo_flag;
    const char *bo_help;
} bench_opt_t;

static inline int bench_parse_long(const char *s, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end != 0)
        return -1;
    *out = v;
    return 0;
}

static inline void bench_usage(const char *prog, const bench_opt_t *opts)
{
    fprintf(stderr, "usage: %s [options]\n", prog);
    for (const bench_opt_t *o = opts; o->bo_name != NULL; o++) {
        if (o->bo_value != NULL)
            fprintf(stderr, "  --%-12s N  %s (default %ld)\n", o->bo_name,
                    o->bo_help, *o->bo_value);
        else
            fprintf(stderr, "  --%-14s %s\n", o->bo_name, o->bo_help);
    }
    exit(BENCH_EXIT_USAGE);
}

/*
 * Parses argv against opts (terminated by a zero entry).  --corrupt and
 * BENCH_CORRUPT=1 set *corrupt.  Exits with BENCH_EXIT_USAGE on error.
 */
static inline void bench_options(int argc, char **argv, const bench_opt_t *opts,
                                 int *corrupt)
{
    const char *env = getenv("BENCH_CORRUPT");
    *corrupt = env != NULL && env[0] == '1';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t len;
        const bench_opt_t *o;

        if (strcmp(a, "--corrupt") == 0) {
            *corrupt = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strncmp(a, "--", 2) != 0)
            bench_usage(argv[0], opts);
        a += 2;
        len = strcspn(a, "=");
        if (a[len] == '=')
            val = a + len + 1;
        for (o = opts; o->bo_name != NULL; o++)
            if (strlen(o->bo_name) == len && strncmp(o->bo_name, a, len) == 0)
                break;
        if (o->bo_name == NULL) {
            fprintf(stderr, "%s: unknown option --%.*s\n", argv[0], (int)len, a);
            bench_usage(argv[0], opts);
        }
        if (o->bo_value == NULL) {
            *o->bo_flag = 1;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                bench_usage(argv[0], opts);
            val = argv[++i];
        }
        if (bench_parse_long(val, o->bo_value) != 0) {
            fprintf(stderr, "%s: bad value for --%s: %s\n", argv[0], o->bo_name, val);
            exit(BENCH_EXIT_USAGE);
        }
    }
}

#endif /* BENCH_COMMON_H */
