/*
 * test_realloc: fly_realloc keeps content across every kind of resize.
 *
 * Proves: realloc(NULL, n) allocates like malloc; growing a block step by
 * step from 1 byte to 32 MiB and shrinking it back keeps the common prefix
 * at every step, through the small classes, page-multiple sizes, large and
 * huge allocations; growing to 200 MiB and back keeps the content; random
 * resizes of many live blocks keep every block's content; realloc(p, 0)
 * either frees p and returns NULL or returns a freeable minimal block, and
 * in both cases 100000 such calls do not leak (live bytes return to where
 * they were); the usable size after a realloc is at least the request.
 */
#include "check.h"
#include "flymalloc.h"

static uint64_t live_bytes(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st.st_live_bytes;
}

static char *resize(char *p, size_t old, size_t n, uint64_t tag)
{
    char *q = fly_realloc(p, n);
    CHECK(q != NULL, "realloc(%p, %zu) returned NULL", p, n);
    CHECK(((uintptr_t)q & 15) == 0, "realloc(..., %zu) = %p misaligned", n, q);
    CHECK(fly_malloc_usable_size(q) >= n, "realloc(..., %zu): usable %zu", n, fly_malloc_usable_size(q));
    size_t keep = old < n ? old : n;
    size_t bad = t_verify(q, keep, tag);
    CHECK(bad == keep, "realloc %zu -> %zu lost content at offset %zu", old, n, bad);
    t_fill(q, n, tag);
    return q;
}

int main(void)
{
    char *p = fly_realloc(NULL, 40);
    CHECK(p != NULL && fly_malloc_usable_size(p) >= 40, "realloc(NULL, 40)");
    t_fill(p, 40, 1);
    fly_free(p);

    /* grow 1 byte .. 32 MiB, then shrink back */
    size_t n = 1, old = 1;
    p = fly_malloc(1);
    t_fill(p, 1, 2);
    while (n < (32u << 20)) {
        n = n < 256 ? n + 1 : n + n / 7 + 3;
        p = resize(p, old, n, 2);
        old = n;
    }
    while (n > 1) {
        n = n < 256 ? n - 1 : n - n / 7 - 3;
        p = resize(p, old, n, 2);
        old = n;
    }
    fly_free(p);

    /* huge and back */
    p = fly_malloc(100);
    t_fill(p, 100, 3);
    p = resize(p, 100, 200u << 20, 3);
    p[(200u << 20) - 1] = 1;
    p = resize(p, 200u << 20, 50, 3);
    p = resize(p, 50, 70u << 20, 3);
    p = resize(p, 70u << 20, 130u << 20, 3);
    p = resize(p, 130u << 20, 2u << 20, 3);
    p = resize(p, 2u << 20, 4000, 3);
    fly_free(p);

    /* random resizes of many live blocks */
    enum { SLOTS = 64 };
    char *s[SLOTS] = { 0 };
    size_t sz[SLOTS] = { 0 };
    uint64_t seed = 99;
    for (int i = 0; i < 20000; i++) {
        int k = (int)(t_rand(&seed) % SLOTS);
        uint64_t r = t_rand(&seed);
        size_t m = (r & 63) == 0 ? r % (3u << 20) : (r & 3) == 0 ? r % 70000 : r % 1100;
        if (s[k] && (r >> 40) % 11 == 0) {
            CHECK(t_verify(s[k], sz[k], (uint64_t)k * 1000 + 5) == sz[k], "slot %d corrupted", k);
            fly_free(s[k]);
            s[k] = NULL;
            sz[k] = 0;
            continue;
        }
        s[k] = resize(s[k], sz[k], m, (uint64_t)k * 1000 + 5);
        sz[k] = m;
        /* spot-check another slot: neighbours must be untouched */
        int j = (int)(r >> 50) % SLOTS;
        if (s[j])
            CHECK(t_verify(s[j], sz[j], (uint64_t)j * 1000 + 5) == sz[j],
                  "slot %d corrupted by resizing slot %d to %zu", j, k, m);
    }
    for (int k = 0; k < SLOTS; k++)
        fly_free(s[k]);

    /* realloc(p, 0): frees-and-NULL or minimal block; never a leak */
    uint64_t before = live_bytes();
    for (int i = 0; i < 100000; i++) {
        char *a = fly_malloc(1000 + (size_t)(i % 3) * 70000);
        CHECK(a != NULL, "malloc");
        a[0] = 1;
        char *b = fly_realloc(a, 0);
        if (b != NULL) {
            CHECK(((uintptr_t)b & 15) == 0, "realloc(p, 0) = %p misaligned", b);
            fly_free(b);
        }
    }
    uint64_t after = live_bytes();
    CHECK(after <= before + 4096, "realloc(p, 0) leaked: live bytes %llu -> %llu",
          (unsigned long long)before, (unsigned long long)after);
    return 0;
}
