/*
 * test_malloc_basic: fly_malloc returns usable memory for every size.
 *
 * Proves: fly_malloc(0) returns distinct, non-NULL, freeable pointers; every
 * size 0..8 KiB and a dense sample up to 1 MiB (each power of two and its
 * neighbours) gives a 16-byte-aligned block whose usable size is at least
 * the request and whose whole usable range can be written and read back
 * while the neighbouring blocks stay intact; huge sizes (64 MiB+1, 100 MiB,
 * 256 MiB) work the same way; fly_free(NULL) is a no-op and
 * fly_malloc_usable_size(NULL) is 0.
 */
#include "check.h"
#include "flymalloc.h"

#include <stdint.h>

static void check_block(void *p, size_t n, const char *what)
{
    CHECK(p != NULL, "%s(%zu) returned NULL", what, n);
    CHECK(((uintptr_t)p & 15) == 0, "%s(%zu) = %p is not 16-byte aligned", what, n, p);
    size_t u = fly_malloc_usable_size(p);
    CHECK(u >= n, "%s(%zu): usable size %zu < request", what, n, u);
}

/* Allocates size n, writes its whole usable range, keeps a few previous
 * blocks alive and verifies they were not overwritten. */
static void exercise_size(size_t n)
{
    enum { KEEP = 4 };
    static void *keep[KEEP];
    static size_t keepu[KEEP];
    static int pos;

    void *p = fly_malloc(n);
    check_block(p, n, "fly_malloc");
    size_t u = fly_malloc_usable_size(p);
    t_fill(p, u, (uintptr_t)p);
    for (int i = 0; i < KEEP; i++)
        if (keep[i]) {
            size_t bad = t_verify(keep[i], keepu[i], (uintptr_t)keep[i]);
            CHECK(bad == keepu[i], "block %p (usable %zu) corrupted at offset %zu "
                  "after allocating and writing %zu bytes", keep[i], keepu[i], bad, n);
        }
    CHECK(t_verify(p, u, (uintptr_t)p) == u, "block of size %zu not readable back", n);
    if (keep[pos])
        fly_free(keep[pos]);
    keep[pos] = p;
    keepu[pos] = u;
    pos = (pos + 1) % KEEP;
}

static void huge(size_t n)
{
    char *p = fly_malloc(t_opaque(n));
    check_block(p, n, "fly_malloc");
    size_t u = fly_malloc_usable_size(p);
    /* touch every page and the last usable byte (the secure mode's usable
     * size is exactly n, so the last byte may start a page) */
    for (size_t i = 0; i < u - 1; i += 4096)
        p[i] = (char)(i >> 12);
    p[u - 1] = 0x5a;
    for (size_t i = 0; i < u - 1; i += 4096)
        CHECK(p[i] == (char)(i >> 12), "huge block %zu: page at %zu lost its byte", n, i);
    CHECK(p[u - 1] == 0x5a, "huge block %zu: last byte lost", n);
    fly_free(p);
}

int main(void)
{
    /* malloc(0): unique, freeable */
    enum { NZERO = 1000 };
    static void *z[NZERO];
    for (int i = 0; i < NZERO; i++) {
        z[i] = fly_malloc(t_opaque(0));
        check_block(z[i], 0, "fly_malloc");
    }
    for (int i = 0; i < NZERO; i++)
        for (int j = i + 1; j < NZERO; j++)
            CHECK(z[i] != z[j], "fly_malloc(0) returned %p twice (#%d and #%d)", z[i], i, j);
    for (int i = 0; i < NZERO; i++)
        fly_free(z[i]);

    for (size_t n = 0; n <= 8192; n++)
        exercise_size(n);
    for (size_t pw = 8192; pw <= (1u << 20); pw <<= 1)
        for (size_t d = 0; d < 48; d += 7) {
            exercise_size(pw - 1 - d);
            exercise_size(pw + d);
            exercise_size(pw + pw / 3 + d);
        }
    uint64_t seed = 42;
    for (int i = 0; i < 400; i++)
        exercise_size(t_rand(&seed) % ((1u << 20) + 1));
    for (int i = 0; i < 4; i++)
        exercise_size(0); /* flush the keep ring through fly_free */

    huge((64u << 20) + 1);
    huge(100u << 20);
    huge(256u << 20);
    huge(100u << 20);

    fly_free(NULL);
    CHECK(fly_malloc_usable_size(NULL) == 0, "fly_malloc_usable_size(NULL) = %zu",
          fly_malloc_usable_size(NULL));
    return 0;
}
