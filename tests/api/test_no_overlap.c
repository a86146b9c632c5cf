/*
 * test_no_overlap: live blocks never overlap and never corrupt each other.
 *
 * Proves: with tens of thousands of blocks live at once, of every size from
 * 0 to 2 KiB and a spread up to 1 MiB, from every allocation function, each
 * block's [p, p + usable size) is disjoint from every other's (checked by
 * sorting the pointers) and each block keeps its own pattern; this holds
 * again after freeing a random half and refilling it (so recycled memory
 * from thread caches, zones and spans is handed out once only), and after
 * a second round of random frees and reallocations.
 */
#include "check.h"
#include "flymalloc.h"

#include <stdlib.h>

typedef struct {
    char *p;
    size_t usable;
    uint64_t tag;
} blk_t;

enum { MAXB = 40000 };
static blk_t b[MAXB];
static int nb;
static uint64_t seed = 12345;
static uint64_t next_tag = 1;

static size_t pick_size(int i)
{
    if (i < 2049 * 8)
        return (size_t)(i / 8); /* every size 0..2048, eight times */
    uint64_t r = t_rand(&seed);
    if (r % 100 == 0)
        return (size_t)(r >> 20) % (1u << 20);
    if (r % 10 == 0)
        return (size_t)(r >> 20) % 65536;
    return (size_t)(r >> 20) % 4096;
}

static void alloc_into(blk_t *x, size_t n)
{
    void *p = NULL;
    switch (t_rand(&seed) % 6) {
    case 0: p = fly_calloc(1, n); break;
    case 1: p = fly_realloc(NULL, n); break;
    case 2: p = fly_aligned_alloc(64, n); break;
    case 3: CHECK(fly_posix_memalign(&p, 32, n) == 0, "posix_memalign"); break;
    default: p = fly_malloc(n); break;
    }
    CHECK(p != NULL, "allocation of %zu", n);
    x->p = p;
    x->usable = fly_malloc_usable_size(p);
    CHECK(x->usable >= n, "usable %zu < %zu", x->usable, n);
    x->tag = next_tag++ * 0x1000193;
    t_fill(x->p, x->usable, x->tag);
}

static int by_addr(const void *a, const void *c)
{
    const blk_t *x = a, *y = c;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void verify_all(const char *phase)
{
    for (int i = 0; i < nb; i++) {
        size_t bad = t_verify(b[i].p, b[i].usable, b[i].tag);
        CHECK(bad == b[i].usable, "%s: block %p (usable %zu) corrupted at offset %zu", phase, (void *)b[i].p,
              b[i].usable, bad);
    }
    qsort(b, (size_t)nb, sizeof b[0], by_addr);
    for (int i = 0; i + 1 < nb; i++)
        CHECK(b[i].p + b[i].usable <= b[i + 1].p,
              "%s: blocks overlap: [%p, +%zu) and [%p, +%zu)", phase, (void *)b[i].p, b[i].usable,
              (void *)b[i + 1].p, b[i + 1].usable);
}

static void shuffle(void)
{
    for (int i = nb - 1; i > 0; i--) {
        int j = (int)(t_rand(&seed) % (uint64_t)(i + 1));
        blk_t t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
}

int main(void)
{
    for (nb = 0; nb < MAXB; nb++)
        alloc_into(&b[nb], pick_size(nb));
    verify_all("first fill");

    for (int round = 0; round < 2; round++) {
        shuffle();
        int half = nb / 2;
        for (int i = 0; i < half; i++) {
            CHECK(t_verify(b[i].p, b[i].usable, b[i].tag) == b[i].usable, "block corrupted before free");
            fly_free(b[i].p);
        }
        for (int i = 0; i < half; i++)
            alloc_into(&b[i], pick_size(2049 * 8 + i));
        verify_all(round ? "second refill" : "first refill");

        /* reallocate a random tenth in place or elsewhere */
        shuffle();
        for (int i = 0; i < nb / 10; i++) {
            size_t n = pick_size(2049 * 8 + i) + 1; /* realloc(p, 0) may free */
            size_t keep = b[i].usable < n ? b[i].usable : n;
            char *q = fly_realloc(b[i].p, n);
            CHECK(q != NULL, "realloc to %zu", n);
            CHECK(t_verify(q, keep, b[i].tag) == keep, "realloc lost content");
            b[i].p = q;
            b[i].usable = fly_malloc_usable_size(q);
            b[i].tag = next_tag++ * 0x1000193;
            t_fill(q, b[i].usable, b[i].tag);
        }
        verify_all("after reallocs");
    }
    for (int i = 0; i < nb; i++)
        fly_free(b[i].p);
    return 0;
}
