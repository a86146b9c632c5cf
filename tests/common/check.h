/*
 * check.h: the small assertion kit shared by flymalloc's C tests.
 *
 * CHECK(cond, fmt, ...) prints "file:line: CHECK failed: cond: message" to
 * stderr and exits 1, so a failing test says where and why in one line.
 * Printing goes through a stack buffer and write(2): it never calls malloc,
 * so it is safe inside fork children and while the allocator is suspect.
 * Header-only; every function is static.
 */
#ifndef FLY_TEST_CHECK_H
#define FLY_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void t_vprint(int fd, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w <= 0)
            return;
        off += (int)w;
    }
}

__attribute__((format(printf, 1, 2))) static inline void t_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t_vprint(2, fmt, ap);
    va_end(ap);
}

__attribute__((noreturn, format(printf, 4, 5))) static inline void
t_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char head[512];
    snprintf(head, sizeof head, "%s:%d: CHECK failed: %s: ", file, line, cond);
    t_log("%s", head);
    va_list ap;
    va_start(ap, fmt);
    t_vprint(2, fmt, ap);
    va_end(ap);
    t_log("\n");
    _exit(1);
}

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond))                                                            \
            t_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                     \
    } while (0)

/* Hides a value from the optimizer so that allocation calls are not folded
 * and use-after-free style tests do not trip compile-time warnings. */
static inline void *t_launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}
static inline size_t t_opaque(size_t n)
{
    __asm__ volatile("" : "+r"(n));
    return n;
}

/* xorshift64*: deterministic, seedable pseudo-random numbers. */
static inline uint64_t t_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Fills [p, p+n) with a pattern derived from tag and the offset; t_verify
 * checks it and returns the offset of the first wrong byte (rounded down to
 * its 8-byte word), or n if all match.  Word-wise: stress tests fill MiBs. */
static inline uint64_t t_word(uint64_t tag, size_t i)
{
    return (tag ^ (i * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL + i;
}
static inline void t_fill(void *p, size_t n, uint64_t tag)
{
    unsigned char *c = (unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = t_word(tag, i);
        memcpy(c + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = t_word(tag, i);
        memcpy(c + i, &w, n - i);
    }
}
static inline size_t t_verify(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = t_word(tag, i);
        if (memcmp(c + i, &w, 8) != 0)
            return i;
    }
    if (i < n) {
        uint64_t w = t_word(tag, i);
        if (memcmp(c + i, &w, n - i) != 0)
            return i;
    }
    return n;
}

/* Resident set size in bytes from /proc/self/statm, or 0 if unreadable.
 * Uses open/read so that it allocates nothing. */
static inline size_t t_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long size = 0, rss = 0;
    if (sscanf(buf, "%lu %lu", &size, &rss) != 2)
        return 0;
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
