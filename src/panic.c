/*
 * panic.c: fatal errors, warnings and number formatting without stdio.
 *
 * The allocator may not call anything that allocates, so messages are built
 * in stack buffers and written with write(2).  Misuse reports have the fixed,
 * greppable shape "flymalloc: free(): invalid pointer 0x7f..." that the
 * bad-input tests expect.
 */
#include "common.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t fly_fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

size_t fly_fmt_hex(char *buf, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    buf[0] = '0';
    buf[1] = 'x';
    for (size_t i = 0; i < n; i++)
        buf[2 + i] = tmp[n - 1 - i];
    return n + 2;
}

void fly_write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

void fly_write_str(int fd, const char *s)
{
    fly_write_all(fd, s, strlen(s));
}

static size_t append(char *buf, size_t at, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (at + n > cap)
        n = cap - at;
    memcpy(buf + at, s, n);
    return at + n;
}

void fly_panic_ptr(const char *func, const char *what, const void *addr)
{
    char buf[256];
    size_t n = append(buf, 0, sizeof(buf) - 24, "flymalloc: ");
    n = append(buf, n, sizeof(buf) - 24, func);
    n = append(buf, n, sizeof(buf) - 24, "(): ");
    n = append(buf, n, sizeof(buf) - 24, what);
    buf[n++] = ' ';
    n += fly_fmt_hex(buf + n, (uint64_t)(uintptr_t)addr);
    buf[n++] = '\n';
    fly_write_all(2, buf, n);
    abort();
}

void fly_panic(const char *msg)
{
    fly_write_str(2, "flymalloc: fatal: ");
    fly_write_str(2, msg);
    fly_write_str(2, "\n");
    abort();
}

void fly_warn(const char *msg)
{
    char buf[256];
    size_t n = append(buf, 0, sizeof(buf) - 1, "flymalloc: warning: ");
    n = append(buf, n, sizeof(buf) - 1, msg);
    buf[n++] = '\n';
    fly_write_all(2, buf, n);
}
