/*
 * test_huge.c: proves the huge-block layer's promises (src/huge.c).
 *
 *   alloc_shape      a huge block starts at a 64 MiB boundary (or at the
 *                    larger alignment asked for), its usable size is the
 *                    request rounded up to pages (fly_huge_usable and
 *                    malloc_usable_size), the live counters count it, and
 *                    a zeroed one (calloc) reads as zero even when it
 *                    reuses a dirty cached mapping;
 *   cache_reuse      a freed block stays mapped in the cache (counted in
 *                    bc_cached_bytes, still HUGE in the region map) and a
 *                    request of the same size gets the same mapping back
 *                    without an mmap or munmap; of two cached mappings the
 *                    smallest that fits is taken; one much larger than the
 *                    request (by more than a quarter) is trimmed with one
 *                    mremap; a free beyond the cache's bound (256 MiB) is
 *                    unmapped at once;
 *   expiry           fly_huge_maintain_os leaves mappings younger than the
 *                    decay time (to the millisecond), unmaps older ones,
 *                    and with force unmaps
 *                    every cached mapping (one munmap each, the region map
 *                    cleared, bc_cached_bytes back to 0);
 *   growth           fly_huge_realloc_os keeps the contents when growing
 *                    (in place, or with the address space after the block
 *                    taken, by moving the pages to a new aligned mapping
 *                    with mremap: no mmap'd copy, the old address no longer
 *                    ours) and when shrinking in place, and the usable size
 *                    follows; same size is a no-op without system calls;
 *   bad_frees        (forked children) freeing an interior pointer, freeing
 *                    twice, realloc and malloc_usable_size of a freed or
 *                    interior pointer, free_sized twice, each abort with
 *                    "flymalloc: FUNC(): PROBLEM 0x..." naming the
 *                    function the program called.
 */
#define _GNU_SOURCE
#include "badcase.h"
#include "check.h"
#include "flymalloc.h"
#include "huge.h"
#include "large.h"
#include "os.h"
#include "region.h"
#include <sys/mman.h>

#define MiB ((size_t)1 << 20)

static fly_os_counters_t os_now(void)
{
    fly_os_counters_t c;
    fly_os_counters(&c);
    return c;
}

static fly_block_counts_t huge_now(void)
{
    fly_block_counts_t b;
    memset(&b, 0, sizeof b);
    fly_huge_counts(&b);
    return b;
}

static void empty_cache(void)
{
    fly_huge_maintain_os(0, 0, true);
    CHECK(huge_now().bc_cached_bytes == 0, "the forced expiry left %llu bytes cached",
          (unsigned long long)huge_now().bc_cached_bytes);
}

/* A tag in the first word of every MiB and in the last byte. */
static void tag(char *p, size_t n, uint64_t t)
{
    for (size_t off = 0; off < n; off += MiB)
        memcpy(p + off, &(uint64_t){ t ^ off }, 8);
    p[n - 1] = (char)t;
}

static void check_tag(const char *p, size_t n, uint64_t t, const char *what)
{
    for (size_t off = 0; off < n; off += MiB) {
        uint64_t w;
        memcpy(&w, p + off, 8);
        CHECK(w == (t ^ off), "%s: the word at +%zu MiB changed", what, off / MiB);
    }
    CHECK(p[n - 1] == (char)t, "%s: the last byte changed", what);
}

static void alloc_shape(void)
{
    empty_cache();
    size_t sizes[] = { FLY_LARGE_MAX + 1, 64 * MiB, 100 * MiB + 123 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fly_block_counts_t b0 = huge_now();
        char *p = fly_malloc(sizes[i]);
        CHECK(p != NULL && (uintptr_t)p % FLY_REGION == 0, "malloc(%zu) = %p", sizes[i], (void *)p);
        CHECK(fly_region_kind(p) == FLY_REGION_MAP_HUGE, "huge block not marked");
        size_t want = FLY_ALIGN_UP(sizes[i], FLY_PAGE);
        CHECK(fly_huge_usable(p, "test") == want && fly_malloc_usable_size(p) == want,
              "malloc(%zu): usable %zu, want %zu", sizes[i], fly_huge_usable(p, "test"), want);
        fly_block_counts_t b1 = huge_now();
        CHECK(b1.bc_nlive == b0.bc_nlive + 1 && b1.bc_live_bytes == b0.bc_live_bytes + want &&
                  b1.bc_nalloc == b0.bc_nalloc + 1 && b1.bc_requested == b0.bc_requested + sizes[i],
              "counters: live %llu -> %llu, bytes %llu -> %llu", (unsigned long long)b0.bc_nlive,
              (unsigned long long)b1.bc_nlive, (unsigned long long)b0.bc_live_bytes,
              (unsigned long long)b1.bc_live_bytes);
        p[0] = p[want - 1] = 1;
        fly_free(p);
        CHECK(huge_now().bc_nlive == b0.bc_nlive && huge_now().bc_live_bytes == b0.bc_live_bytes,
              "a freed block still counted live");
    }
    empty_cache();
    char *a = fly_huge_alloc_os(70 * MiB, 4 * FLY_REGION, false);
    CHECK(a != NULL && (uintptr_t)a % (4 * FLY_REGION) == 0, "alignment 256 MiB: %p", (void *)a);
    fly_huge_free_os(a, "free");

    /* calloc reusing a dirty cached mapping of the same size. */
    empty_cache();
    size_t n = 70 * MiB;
    char *d = fly_malloc(n);
    memset(d, 0xa5, 2 * MiB);
    memset(d + n - 2 * MiB, 0xa5, 2 * MiB);
    fly_free(d);
    char *z = fly_calloc(1, n);
    CHECK(z == d, "calloc did not reuse the cached mapping (%p, %p)", (void *)z, (void *)d);
    for (size_t off = 0; off < n; off += 4096)
        CHECK(z[off] == 0 && z[off + 4095] == 0, "calloc'd huge block not zero at +%zu", off);
    fly_free(z);
}

static void cache_reuse(void)
{
    empty_cache();
    size_t n = 70 * MiB;
    char *p = fly_malloc(n);
    CHECK(p != NULL, "malloc");
    p[0] = 1;
    fly_os_counters_t c0 = os_now();
    fly_free(p);
    CHECK(huge_now().bc_cached_bytes == n, "cached %llu bytes after a free of %zu",
          (unsigned long long)huge_now().bc_cached_bytes, n);
    CHECK(fly_region_kind(p) == FLY_REGION_MAP_HUGE, "a cached mapping left the region map");
    char *q = fly_malloc(n);
    fly_os_counters_t c1 = os_now();
    CHECK(q == p, "same size got %p, the cached mapping is %p", (void *)q, (void *)p);
    CHECK(c1.oc_mmap_calls == c0.oc_mmap_calls && c1.oc_munmap_calls == c0.oc_munmap_calls &&
              c1.oc_mremap_calls == c0.oc_mremap_calls,
          "reuse made system calls: mmap %llu munmap %llu mremap %llu",
          (unsigned long long)(c1.oc_mmap_calls - c0.oc_mmap_calls),
          (unsigned long long)(c1.oc_munmap_calls - c0.oc_munmap_calls),
          (unsigned long long)(c1.oc_mremap_calls - c0.oc_mremap_calls));
    CHECK(huge_now().bc_cached_bytes == 0, "the reused mapping is still counted as cached");
    CHECK(q[0] == 1, "the reused mapping is not the same memory");
    fly_free(q);

    /* Best fit: 80 and 120 MiB cached, 76 MiB takes the 80 (within a
     * quarter: kept whole), 70 MiB then the 120, trimmed. */
    empty_cache();
    char *m80 = fly_malloc(80 * MiB), *m120 = fly_malloc(120 * MiB);
    fly_free(m120);
    fly_free(m80);
    c0 = os_now();
    char *r76 = fly_malloc(76 * MiB);
    c1 = os_now();
    CHECK(r76 == m80, "76 MiB got %p, not the smallest fitting mapping %p", (void *)r76, (void *)m80);
    CHECK(fly_huge_usable(r76, "test") == 80 * MiB && c1.oc_mremap_calls == c0.oc_mremap_calls,
          "a mapping within a quarter of the request was trimmed (usable %zu)", fly_huge_usable(r76, "test"));
    c0 = os_now();
    char *r70 = fly_malloc(70 * MiB);
    c1 = os_now();
    CHECK(r70 == m120, "70 MiB got %p, the cached 120 MiB mapping is %p", (void *)r70, (void *)m120);
    CHECK(fly_huge_usable(r70, "test") == 70 * MiB && c1.oc_mremap_calls == c0.oc_mremap_calls + 1 &&
              c1.oc_mmap_calls == c0.oc_mmap_calls,
          "a 120 MiB mapping for 70 MiB: usable %zu, %llu mremap, %llu mmap", fly_huge_usable(r70, "test"),
          (unsigned long long)(c1.oc_mremap_calls - c0.oc_mremap_calls),
          (unsigned long long)(c1.oc_mmap_calls - c0.oc_mmap_calls));
    CHECK(c1.oc_mapped_bytes == c0.oc_mapped_bytes - 50 * MiB, "the trim gave back %lld bytes",
          (long long)(c0.oc_mapped_bytes - c1.oc_mapped_bytes));
    fly_free(r76);
    fly_free(r70);

    /* The bound: 100 + 100 MiB cached, the third 100 MiB is unmapped. */
    empty_cache();
    char *h[3];
    for (int i = 0; i < 3; i++)
        h[i] = fly_malloc(100 * MiB);
    fly_free(h[0]);
    fly_free(h[1]);
    c0 = os_now();
    fly_free(h[2]);
    c1 = os_now();
    CHECK(huge_now().bc_cached_bytes == 200 * MiB, "cached %llu bytes", (unsigned long long)huge_now().bc_cached_bytes);
    CHECK(c1.oc_munmap_calls == c0.oc_munmap_calls + 1 && fly_region_kind(h[2]) == FLY_REGION_MAP_NONE,
          "a free beyond the cache's bound was not unmapped");
    empty_cache();
}

static void expiry(void)
{
    empty_cache();
    char *a = fly_malloc(70 * MiB), *b = fly_malloc(90 * MiB);
    fly_free(a);
    fly_free(b);
    uint64_t now = fly_now_ms();
    fly_os_counters_t c0 = os_now();
    CHECK(!fly_huge_maintain_os(now, 3600 * 1000, false), "fresh mappings expired with an hour's decay");
    CHECK(huge_now().bc_cached_bytes == 160 * MiB && os_now().oc_munmap_calls == c0.oc_munmap_calls,
          "fresh mappings unmapped");
    CHECK(fly_huge_maintain_os(now + 2000, 1000, false), "mappings idle for twice the decay time stayed");
    fly_os_counters_t c1 = os_now();
    CHECK(huge_now().bc_cached_bytes == 0 && c1.oc_munmap_calls == c0.oc_munmap_calls + 2 &&
              c1.oc_munmap_bytes == c0.oc_munmap_bytes + 160 * MiB,
          "expiry: %llu cached, %llu munmaps", (unsigned long long)huge_now().bc_cached_bytes,
          (unsigned long long)(c1.oc_munmap_calls - c0.oc_munmap_calls));
    CHECK(fly_region_kind(a) == FLY_REGION_MAP_NONE && fly_region_kind(b) == FLY_REGION_MAP_NONE,
          "expired mappings still in the region map");

    /* The boundary: freed at f in [t0, t1], a decay of 1000 ms expires it
     * at f + 1000 and not a millisecond before. */
    char *e = fly_malloc(70 * MiB);
    uint64_t t0 = fly_now_ms();
    fly_free(e);
    uint64_t t1 = fly_now_ms();
    CHECK(!fly_huge_maintain_os(t0 + 999, 1000, false), "a mapping expired before its decay time");
    CHECK(fly_huge_maintain_os(t1 + 1000, 1000, false) && fly_region_kind(e) == FLY_REGION_MAP_NONE,
          "a mapping did not expire at its decay time");

    char *d = fly_malloc(70 * MiB);
    fly_free(d);
    c0 = os_now();
    CHECK(!fly_huge_maintain_os(fly_now_ms(), 3600 * 1000, false), "a fresh mapping expired");
    CHECK(fly_huge_maintain_os(fly_now_ms(), 3600 * 1000, true), "force unmapped nothing");
    CHECK(os_now().oc_munmap_calls == c0.oc_munmap_calls + 1 && huge_now().bc_cached_bytes == 0 &&
              fly_region_kind(d) == FLY_REGION_MAP_NONE,
          "forced expiry did not unmap the cached mapping");
    CHECK(!fly_huge_maintain_os(0, 0, true), "an empty cache reported an unmap");
}

static void growth(void)
{
    empty_cache();
    size_t n = 70 * MiB;
    char *p = fly_malloc(n);
    tag(p, n, 0x1111);
    fly_os_counters_t c0 = os_now();
    CHECK(fly_huge_realloc_os(p, n - 100) == p && os_now().oc_mremap_calls == c0.oc_mremap_calls,
          "a realloc to the same pages moved or made a system call");

    /* Grow, wherever the kernel puts it. */
    c0 = os_now();
    char *q = fly_huge_realloc_os(p, 150 * MiB);
    fly_os_counters_t c1 = os_now();
    CHECK(q != NULL && (uintptr_t)q % FLY_REGION == 0, "grown block %p", (void *)q);
    CHECK(c1.oc_mremap_calls > c0.oc_mremap_calls, "growth without mremap");
    CHECK(fly_huge_usable(q, "test") == 150 * MiB, "grown usable %zu", fly_huge_usable(q, "test"));
    check_tag(q, n, 0x1111, "grown");
    CHECK(fly_region_kind(q) == FLY_REGION_MAP_HUGE, "grown block not marked");
    if (q != p)
        CHECK(fly_region_kind(p) == FLY_REGION_MAP_NONE, "moved block's old address still marked");
    q[150 * MiB - 1] = 7;

    /* Shrink: always in place. */
    c0 = os_now();
    char *s = fly_huge_realloc_os(q, 65 * MiB);
    c1 = os_now();
    CHECK(s == q && fly_huge_usable(s, "test") == 65 * MiB, "shrink moved (%p -> %p) or usable %zu",
          (void *)q, (void *)s, fly_huge_usable(s, "test"));
    CHECK(c1.oc_mapped_bytes == c0.oc_mapped_bytes - 85 * MiB && c1.oc_mmap_calls == c0.oc_mmap_calls,
          "shrink gave back %lld bytes", (long long)(c0.oc_mapped_bytes - c1.oc_mapped_bytes));
    for (size_t off = 0; off < 65 * MiB; off += MiB) {
        uint64_t w;
        memcpy(&w, s + off, 8);
        CHECK(w == (0x1111 ^ off), "shrunk: the word at +%zu MiB changed", off / MiB);
    }
    fly_free(s);
    empty_cache();

    /* The address space after the block taken: the pages move to a fresh
     * aligned reservation with mremap, no copy. */
    char *m = fly_malloc(n);
    tag(m, n, 0x2222);
    void *blocker = mmap(m + n, FLY_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    bool own_blocker = blocker == m + n;
    if (!own_blocker && !(blocker == MAP_FAILED && errno == EEXIST)) {
        /* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
        if (blocker != MAP_FAILED)
            munmap(blocker, FLY_PAGE);
        t_log("cannot place a mapping after the block: moving growth not tested\n");
        fly_free(m);
        empty_cache();
        return;
    }
    c0 = os_now();
    char *g = fly_huge_realloc_os(m, 100 * MiB);
    c1 = os_now();
    CHECK(g != NULL && g != m && (uintptr_t)g % FLY_REGION == 0, "blocked growth gave %p (was %p)", (void *)g,
          (void *)m);
    /* One reservation (two mmaps if the first was misaligned). */
    CHECK(c1.oc_mmap_calls - c0.oc_mmap_calls >= 1 && c1.oc_mmap_calls - c0.oc_mmap_calls <= 2 &&
              c1.oc_mremap_calls == c0.oc_mremap_calls + 2,
          "moving growth: %llu mmap (want a reservation), %llu mremap (want 2: in place, move)",
          (unsigned long long)(c1.oc_mmap_calls - c0.oc_mmap_calls),
          (unsigned long long)(c1.oc_mremap_calls - c0.oc_mremap_calls));
    CHECK(c1.oc_mapped_bytes == c0.oc_mapped_bytes + 30 * MiB, "moving growth mapped %lld more bytes",
          (long long)(c1.oc_mapped_bytes - c0.oc_mapped_bytes));
    check_tag(g, n, 0x2222, "moved");
    CHECK(fly_region_kind(g) == FLY_REGION_MAP_HUGE && fly_region_kind(m) == FLY_REGION_MAP_NONE,
          "after the move: new kind %u, old kind %u", fly_region_kind(g), fly_region_kind(m));
    CHECK(fly_huge_usable(g, "test") == 100 * MiB, "moved block's usable %zu", fly_huge_usable(g, "test"));
    if (own_blocker)
        munmap(blocker, FLY_PAGE);

    /* The API's realloc grows the same way. */
    char *r = fly_realloc(g, 120 * MiB);
    CHECK(r != NULL && fly_malloc_usable_size(r) == 120 * MiB, "fly_realloc growth");
    check_tag(r, n, 0x2222, "fly_realloc");
    fly_free(r);
    empty_cache();
}

static char *bad_block;

static void bad_interior_free(void)
{
    bad_expect(bad_block + FLY_PAGE);
    fly_free(bad_block + FLY_PAGE);
}

static void bad_double_free(void)
{
    bad_expect(bad_block);
    fly_free(bad_block);
    fly_free(bad_block);
}

static void bad_realloc_freed(void)
{
    bad_expect(bad_block);
    fly_free(bad_block);
    void *r = fly_realloc(bad_block, 100 * MiB);
    (void)r;
}

static void bad_usable_interior(void)
{
    bad_expect(bad_block + 64);
    size_t u = fly_malloc_usable_size(bad_block + 64);
    (void)u;
}

static void bad_usable_freed(void)
{
    bad_expect(bad_block);
    fly_free(bad_block);
    size_t u = fly_malloc_usable_size(bad_block);
    (void)u;
}

static void bad_free_sized_twice(void)
{
    bad_expect(bad_block);
    fly_free_sized(bad_block, 70 * MiB);
    fly_free_sized(bad_block, 70 * MiB);
}

static void bad_named(void)
{
    bad_expect(bad_block + 8);
    fly_huge_free_os(bad_block + 8, "some_function");
}

int main(void)
{
    fly_free(fly_malloc(1));
    alloc_shape();
    cache_reuse();
    expiry();
    growth();
    empty_cache();
    bad_block = fly_malloc(70 * MiB);
    CHECK(bad_block != NULL, "malloc");
    bad_case("huge interior free", "free", "invalid pointer", bad_interior_free);
    bad_case("huge double free", "free", "double free", bad_double_free);
    bad_case("huge realloc after free", "realloc", "use after free", bad_realloc_freed);
    bad_case("huge usable of interior", "malloc_usable_size", "invalid pointer", bad_usable_interior);
    bad_case("huge usable after free", "malloc_usable_size", "use after free", bad_usable_freed);
    bad_case("huge free_sized twice", "free_sized", "double free", bad_free_sized_twice);
    bad_case("huge free names its caller", "some_function", "invalid pointer", bad_named);
    fly_free(bad_block);
    return bad_finish();
}
