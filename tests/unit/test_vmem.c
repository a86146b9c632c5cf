/*
 * test_vmem.c: proves the page arena's promises on a private arena.
 *
 *   vmem_coalesce_neighbours   freeing three adjacent spans in any order
 *                              leaves one span, reusable whole;
 *   vmem_aligned               aligned requests come back aligned;
 *   vmem_address_ordered       the lowest fitting free span is chosen;
 *   vmem_dirty_preferred       dirty spans are reused before cold ones;
 *   vmem_decay_purge           a span is purged only once idle for the decay
 *                              time, adjacent idle spans with one madvise,
 *                              and purged pages read as zero;
 *   vmem_region_unmap          a region wholly free for the decay time is
 *                              unmapped by the purge pass, the arena's
 *                              first region excepted;
 *   vmem_metadata_out_of_line  the arena writes nothing into the spans it
 *                              manages, and never hands out header pages;
 *   vmem_fuzz_model            random operations against a simple model:
 *                              no overlap, alignment, boundary tags that
 *                              tile each region, maximal coalescing, and
 *                              all pages free again at the end.
 */
#include "check.h"
#include "flymalloc.h"
#include "os.h"
#include "vmem.h"

static fly_vmem_t vm = { .vm_lock = FLY_LOCK_INITIALIZER, .vm_next_purge = UINT64_MAX,
                         .vm_decay_ms = 1000 };
#define PG FLY_PAGE

static char *alloc(size_t n, size_t a, bool *zeroed)
{
    bool z;
    char *p = fly_vmem_alloc_os(&vm, n, a, zeroed ? zeroed : &z);
    CHECK(p != NULL, "vmem alloc of %zu pages failed", n);
    return p;
}

/* Walks every region: tags tile the usable part, free neighbours differ. */
static void check_tiling(void)
{
    uint64_t dirty = 0, cold = 0, used = 0;
    for (uint32_t i = 0; i < vm.vm_nregions; i++) {
        fly_region_t *r = vm.vm_regions[i];
        uint32_t page = r->r_first_page, prev_state = FLY_SPAN_USED;
        while (page < FLY_REGION_PAGES) {
            fly_span_t *h = &r->r_span[page];
            CHECK(h->sp_npages >= 1 && page + h->sp_npages <= FLY_REGION_PAGES, "bad span length");
            fly_span_t *t = &r->r_span[page + h->sp_npages - 1];
            CHECK(t->sp_npages == h->sp_npages && t->sp_state == h->sp_state, "head/tail tags differ");
            if (h->sp_state != FLY_SPAN_USED)
                CHECK(h->sp_state != prev_state, "two adjacent free spans in the same state");
            if (h->sp_state == FLY_SPAN_DIRTY)
                dirty += h->sp_npages;
            else if (h->sp_state == FLY_SPAN_COLD)
                cold += h->sp_npages;
            else
                used += h->sp_npages;
            prev_state = h->sp_state;
            page += h->sp_npages;
        }
    }
    CHECK(dirty == vm.vm_dirty_pages && cold == vm.vm_cold_pages && used == vm.vm_used_pages,
          "page counters disagree with the tags (%llu/%llu/%llu vs %llu/%llu/%llu)",
          (unsigned long long)dirty, (unsigned long long)cold, (unsigned long long)used,
          (unsigned long long)vm.vm_dirty_pages, (unsigned long long)vm.vm_cold_pages,
          (unsigned long long)vm.vm_used_pages);
}

static void purge_all(void)
{
    fly_vmem_purge_os(&vm, fly_now_ms(), true);
}

static void vmem_coalesce_neighbours(void)
{
    int orders[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    for (int o = 0; o < 6; o++) {
        purge_all();
        char *s[3];
        for (int i = 0; i < 3; i++)
            s[i] = alloc(8, 1, NULL);
        CHECK(s[1] == s[0] + 8 * PG && s[2] == s[1] + 8 * PG, "spans not adjacent");
        uint64_t merges = vm.vm_coalesces;
        for (int i = 0; i < 3; i++)
            fly_vmem_free(&vm, s[orders[o][i]], 8);
        CHECK(vm.vm_coalesces > merges, "no coalescing recorded");
        check_tiling();
        fly_region_t *r = fly_region_of(s[0]);
        fly_span_t *h = &r->r_span[fly_page_index(s[0])];
        CHECK(h->sp_state == FLY_SPAN_DIRTY && h->sp_npages >= 24,
              "order %d: freed spans did not merge (%u pages)", o, h->sp_npages);
        char *whole = alloc(24, 1, NULL);
        CHECK(whole == s[0], "merged span not reused whole");
        fly_vmem_free(&vm, whole, 24);
    }
}

static void vmem_aligned(void)
{
    char *pad = alloc(1, 1, NULL);
    for (size_t a = 1; a <= 4096; a *= 2) {
        char *p = alloc(3, a, NULL);
        CHECK(((uintptr_t)p & (a * PG - 1)) == 0, "alignment %zu pages not honoured", a);
        fly_vmem_free(&vm, p, 3);
    }
    fly_vmem_free(&vm, pad, 1);
    check_tiling();
}

static void vmem_address_ordered(void)
{
    purge_all();
    char *s[6];
    for (int i = 0; i < 6; i++)
        s[i] = alloc(16, 1, NULL);
    /* Free holes of 16 pages at s[1], s[3], s[4..5]: a 10-page request
     * must take the lowest one, s[1], though s[4] is larger. */
    fly_vmem_free(&vm, s[4], 16);
    fly_vmem_free(&vm, s[5], 16);
    fly_vmem_free(&vm, s[3], 16);
    fly_vmem_free(&vm, s[1], 16);
    char *p = alloc(10, 1, NULL);
    CHECK(p == s[1], "not address ordered: got %p, want %p", (void *)p, (void *)s[1]);
    char *q = alloc(10, 1, NULL);
    CHECK(q == s[3], "second choice not the next address: got %p want %p", (void *)q, (void *)s[3]);
    fly_vmem_free(&vm, p, 10);
    fly_vmem_free(&vm, q, 10);
    fly_vmem_free(&vm, s[0], 16);
    fly_vmem_free(&vm, s[2], 16);
    check_tiling();
}

static void vmem_dirty_preferred(void)
{
    purge_all();
    char *lo = alloc(4, 1, NULL), *sep = alloc(1, 1, NULL), *hi = alloc(4, 1, NULL);
    char *sep2 = alloc(1, 1, NULL);
    fly_vmem_free(&vm, lo, 4);
    purge_all();                                   /* lo is cold now */
    fly_vmem_free(&vm, hi, 4);                  /* hi is dirty */
    bool zeroed;
    char *p = alloc(4, 1, &zeroed);
    CHECK(p == hi && !zeroed, "dirty span not preferred (got %p, hi %p, lo %p)", (void *)p,
          (void *)hi, (void *)lo);
    char *q = alloc(4, 1, &zeroed);
    CHECK(q == lo && zeroed, "cold span should come next and be known zero");
    fly_vmem_free(&vm, p, 4);
    fly_vmem_free(&vm, q, 4);
    fly_vmem_free(&vm, sep, 1);
    fly_vmem_free(&vm, sep2, 1);
    check_tiling();
}

static void vmem_decay_purge(void)
{
    purge_all();
    char *a = alloc(8, 1, NULL), *b = alloc(8, 1, NULL), *guard = alloc(1, 1, NULL);
    memset(a, 0x5a, 16 * PG);
    fly_vmem_free(&vm, a, 8);
    fly_vmem_free(&vm, b, 8);                  /* merges with a: one run */
    uint64_t t0 = fly_now_ms(), decay = 1000;
    fly_os_counters_t before, after;
    fly_os_counters(&before);
    fly_vmem_purge_os(&vm, t0 + decay / 2, false);
    fly_os_counters(&after);
    CHECK(after.oc_madvise_calls == before.oc_madvise_calls, "purged before the decay time");
    CHECK(fly_region_of(a)->r_span[fly_page_index(a)].sp_state == FLY_SPAN_DIRTY, "not dirty");
    fly_vmem_purge_os(&vm, t0 + decay + 50, false);
    fly_os_counters(&after);
    CHECK(after.oc_madvise_calls == before.oc_madvise_calls + 1,
          "two adjacent idle spans should take one madvise, took %llu",
          (unsigned long long)(after.oc_madvise_calls - before.oc_madvise_calls));
    CHECK(after.oc_madvise_bytes - before.oc_madvise_bytes == 16 * PG, "purged %llu bytes",
          (unsigned long long)(after.oc_madvise_bytes - before.oc_madvise_bytes));
    bool zeroed;
    char *p = alloc(16, 1, &zeroed);
    CHECK(p == a && zeroed, "purged span not reused as cold");
    for (size_t i = 0; i < 16 * PG; i++)
        CHECK(p[i] == 0, "purged page not zero at %zu", i);
    fly_vmem_free(&vm, p, 16);
    fly_vmem_free(&vm, guard, 1);
    check_tiling();
}

/* A region wholly free for the decay time is unmapped, header and all,
 * by the purge pass, in place of its madvise; the arena's first (lowest)
 * region stays mapped, and so does a region in use. */
static void vmem_region_unmap(void)
{
    purge_all();
    size_t usable = FLY_REGION_PAGES - FLY_REGION_HEADER_PAGES;
    char *keep = alloc(1, 1, NULL);          /* the first region is in use */
    char *a = alloc(usable, 1, NULL), *b = alloc(usable, 1, NULL);
    memset(a, 1, 64 * PG);
    memset(b, 1, 64 * PG);
    uint32_t regions = vm.vm_nregions;
    CHECK(regions >= 3 && fly_region_kind(a) == FLY_REGION_MAP_HEAP && fly_region_kind(b) == FLY_REGION_MAP_HEAP,
          "two whole-region spans in %u regions", regions);
    fly_vmem_free(&vm, a, usable);
    fly_vmem_free(&vm, b, usable);
    uint64_t t0 = fly_now_ms();
    fly_vmem_purge_os(&vm, t0 + 100, false);
    CHECK(vm.vm_nregions == regions, "a region was unmapped before the decay time");
    fly_os_counters_t before, after;
    fly_os_counters(&before);
    fly_vmem_purge_os(&vm, t0 + 1100, false);
    fly_os_counters(&after);
    /* The first region (the lowest) stays, even wholly free. */
    int gone = (fly_region_kind(a) == FLY_REGION_MAP_NONE) + (fly_region_kind(b) == FLY_REGION_MAP_NONE);
    CHECK(gone == 2 || (gone == 1 && (fly_region_of(a) == vm.vm_regions[0] || fly_region_of(b) == vm.vm_regions[0])),
          "wholly free regions are still mapped (%d of 2 unmapped)", gone);
    CHECK(fly_region_kind(keep) == FLY_REGION_MAP_HEAP, "a region in use was unmapped");
    CHECK(after.oc_munmap_calls - before.oc_munmap_calls == (uint64_t)gone &&
              after.oc_munmap_calls - before.oc_munmap_calls == regions - vm.vm_nregions,
          "%llu munmap calls for %u regions unmapped", (unsigned long long)(after.oc_munmap_calls - before.oc_munmap_calls),
          regions - vm.vm_nregions);
    check_tiling();
    char *c = alloc(usable, 1, NULL);        /* a new region maps again */
    memset(c, 2, 64 * PG);
    fly_vmem_free(&vm, c, usable);
    fly_vmem_free(&vm, keep, 1);
    check_tiling();
}

static void vmem_metadata_out_of_line(void)
{
    purge_all();
    char *p = alloc(8, 1, NULL), *b = alloc(8, 1, NULL), *c = alloc(16, 1, NULL);
    CHECK(b == p + 8 * PG && c == b + 8 * PG, "spans not adjacent");
    fly_region_t *r = fly_region_of(p);
    CHECK(p >= (char *)r + FLY_REGION_HEADER, "span overlaps the region header");
    memset(p, 0xab, 32 * PG);
    fly_vmem_free(&vm, b, 8);                   /* free... */
    char *q = alloc(8, 1, NULL);                   /* ...reuse... */
    CHECK(q == b, "the dirty span was not reused");
    fly_vmem_free(&vm, q, 8);
    fly_vmem_free(&vm, p, 8);                   /* ...and merge */
    fly_vmem_free(&vm, c, 16);
    for (size_t i = 0; i < 32 * PG; i++)
        CHECK((unsigned char)p[i] == 0xab, "the arena wrote into managed memory at +%zu", i);
    check_tiling();
}

typedef struct live {
    char *l_p;
    size_t l_n;
} live_t;

static void vmem_fuzz_model(void)
{
    enum { MAXLIVE = 512, OPS = 20000 };
    static live_t live[MAXLIVE];
    size_t nlive = 0;
    uint64_t seed = 12345;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33);
        if ((r % 3 != 0 || nlive == 0) && nlive < MAXLIVE) {
            size_t n = 1 + r % (r % 7 == 0 ? 2000 : 40);
            size_t a = (size_t)1 << (r % 5 == 0 ? (r >> 8) % 7 : 0);
            char *p = alloc(n, a, NULL);
            CHECK(((uintptr_t)p & (a * PG - 1)) == 0, "fuzz: misaligned");
            for (size_t i = 0; i < nlive; i++)
                CHECK(p + n * PG <= live[i].l_p || live[i].l_p + live[i].l_n * PG <= p,
                      "fuzz: overlap at op %d", op);
            CHECK(fly_vmem_span_pages(p) == n, "fuzz: span length tag wrong");
            live[nlive++] = (live_t){ p, n };
        } else {
            size_t i = (r >> 4) % nlive;
            fly_vmem_free(&vm, live[i].l_p, live[i].l_n);
            live[i] = live[--nlive];
        }
        if (r % 997 == 0)
            purge_all();
        if (op % 1000 == 0)
            check_tiling();
    }
    while (nlive) {
        nlive--;
        fly_vmem_free(&vm, live[nlive].l_p, live[nlive].l_n);
    }
    check_tiling();
    CHECK(vm.vm_used_pages == 0, "pages still in use after freeing everything");
    uint64_t usable = (uint64_t)vm.vm_nregions * (FLY_REGION_PAGES - FLY_REGION_HEADER_PAGES);
    CHECK(vm.vm_dirty_pages + vm.vm_cold_pages == usable, "free pages lost");
    purge_all();
    CHECK(vm.vm_cold_pages == usable, "not everything is cold after a full purge");
    for (uint32_t i = 0; i < vm.vm_nregions; i++) {
        fly_region_t *r = vm.vm_regions[i];
        CHECK(r->r_span[r->r_first_page].sp_npages == FLY_REGION_PAGES - FLY_REGION_HEADER_PAGES,
              "region %u did not coalesce into one span", i);
    }
}

int main(void)
{
    fly_free(fly_malloc(1));
    vmem_coalesce_neighbours();
    vmem_aligned();
    vmem_address_ordered();
    vmem_dirty_preferred();
    vmem_decay_purge();
    vmem_region_unmap();
    vmem_metadata_out_of_line();
    vmem_fuzz_model();
    return 0;
}
