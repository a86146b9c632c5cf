/*
 * test_region.c: proves the region map and the page-class bytes
 * (src/region.h) tell every kind of memory apart.
 *
 *   kinds            fly_region_kind says HEAP for small and large blocks
 *                    (any byte of them), HUGE for a huge block's first
 *                    64 MiB only, and NONE for the stack, globals, glibc's
 *                    heap, NULL and addresses beyond the map; the map word
 *                    of a heap region is fly_region_map_word of its header,
 *                    and fly_region_pageclass through it reads the same
 *                    byte as r_pageclass[fly_page_index(p)];
 *   small_zones      every page of a small block's zone has the block's
 *                    class as page class, for every class;
 *   large_blocks     a large block's first page is FLY_PC_LARGE and none of
 *                    its other pages is LARGE or a small class; freed, its
 *                    first page is FLY_PC_FREED_LARGE, whether the block
 *                    went to the thread's large cache or to the arena, and
 *                    taken again it is LARGE;
 *   stale_marks      a large block laid over the first page of a freed one
 *                    (FLY_PC_FREED_LARGE) clears it: an interior pointer
 *                    there must read as no block, not as a freed one;
 *   zone_release     once all of a zone's objects are freed and flushed
 *                    from the caches, the zone is released and its pages'
 *                    class is FLY_PC_NONE;
 *   huge_blocks      a huge block's map word is FLY_REGION_MAP_HUGE while
 *                    live and while cached after free, and 0 (not ours)
 *                    once the cache unmaps it;
 *   heap_of          a block's heap is found from its region:
 *                    fly_heap_of(p) == &fly_heap_default for small and large
 *                    blocks, and the region's arena is the heap's.
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "huge.h"
#include "region.h"
#include "sizeclass.h"
#include "tcache.h"
#include <malloc.h>

static int a_global;

static unsigned pc_of(const void *p)
{
    return fly_region_of(p)->r_pageclass[fly_page_index(p)];
}

static void kinds(void)
{
    int local = 0;
    void *glibc = malloc(100);
    CHECK(glibc != NULL, "glibc malloc");
    CHECK(fly_region_kind(&local) == FLY_REGION_MAP_NONE, "the stack is ours");
    CHECK(fly_region_kind(&a_global) == FLY_REGION_MAP_NONE, "a global is ours");
    CHECK(fly_region_kind(glibc) == FLY_REGION_MAP_NONE, "glibc's heap is ours");
    CHECK(fly_region_kind(NULL) == FLY_REGION_MAP_NONE, "NULL is ours");
    CHECK(fly_region_kind((void *)((uintptr_t)1 << 50)) == FLY_REGION_MAP_NONE &&
              fly_region_word((void *)UINTPTR_MAX) == 0,
          "an address beyond the map is ours");
    free(glibc);

    size_t sizes[] = { 1, 48, 1000, 4000, 32768, 40000, 1 << 20, (size_t)60 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = fly_malloc(sizes[i]);
        CHECK(p != NULL, "malloc(%zu)", sizes[i]);
        char *ends[3] = { p, p + sizes[i] / 2, p + sizes[i] - 1 };
        for (int k = 0; k < 3; k++) {
            CHECK(fly_region_kind(ends[k]) == FLY_REGION_MAP_HEAP, "byte %p of a %zu-byte block: kind %u",
                  (void *)ends[k], sizes[i], fly_region_kind(ends[k]));
            fly_region_t *r = fly_region_of(ends[k]);
            uintptr_t w = fly_region_word(ends[k]);
            CHECK(w == fly_region_map_word(r) && w >= FLY_REGION_MAP_HEAP_MIN,
                  "map word %#lx, region %p's is %#lx", (unsigned long)w, (void *)r,
                  (unsigned long)fly_region_map_word(r));
            CHECK(&r->r_pageclass[fly_page_index(ends[k])] == (uint8_t *)(w + ((uintptr_t)ends[k] >> FLY_PAGE_SHIFT)),
                  "the map word does not lead to the page-class byte");
            CHECK(fly_region_pageclass(w, ends[k]) == pc_of(ends[k]), "page class through the map word differs");
        }
        fly_free(p);
    }

    size_t hsize = (size_t)100 << 20;
    char *h = fly_malloc(hsize);
    CHECK(h != NULL && (uintptr_t)h % FLY_REGION == 0, "huge block %p", (void *)h);
    CHECK(fly_region_kind(h) == FLY_REGION_MAP_HUGE && fly_region_kind(h + FLY_REGION - 1) == FLY_REGION_MAP_HUGE,
          "huge block's first 64 MiB: kind %u / %u", fly_region_kind(h), fly_region_kind(h + FLY_REGION - 1));
    CHECK(fly_region_word(h) == FLY_REGION_MAP_HUGE, "huge map word %#lx", (unsigned long)fly_region_word(h));
    CHECK(fly_region_kind(h + FLY_REGION) == FLY_REGION_MAP_NONE,
          "a huge block's second 64 MiB is marked (kind %u): only its start is", fly_region_kind(h + FLY_REGION));
    fly_free(h);
}

static void small_zones(void)
{
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        const fly_class_t *cl = &fly_classes[c];
        char *p = fly_malloc(cl->cl_size);
        CHECK(p != NULL, "malloc(%u)", cl->cl_size);
        CHECK(pc_of(p) == c, "class %u block %p: page class %u", c, (void *)p, pc_of(p));
        /* The zone opens page by page (slab.c): the pages up to p's are
         * open and carry the class; the last page is open only if a fill
         * reached it. */
        char *base = (char *)((uintptr_t)p & ~((uintptr_t)cl->cl_zone_size - 1));
        for (char *q = base; q <= p; q += FLY_PAGE)
            CHECK(pc_of(q) == c, "class %u zone %p: page at +%zu has class %u", c, (void *)base,
                  (size_t)(q - base), pc_of(q));
        char *last = base + cl->cl_zone_size - FLY_PAGE;
        CHECK(pc_of(last) == c || pc_of(last) == FLY_PC_NONE, "class %u zone %p: last page has class %u",
              c, (void *)base, pc_of(last));
        CHECK(fly_heap_of(p) == &fly_heap_default, "class %u block's heap %p", c, (void *)fly_heap_of(p));
        fly_free(p);
    }
}

static void large_blocks(void)
{
    /* 40 KiB and 100 KiB fit the thread's large cache, 1 MiB does not. */
    size_t sizes[] = { 40000, 100 << 10, 1 << 20, (size_t)20 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = fly_malloc(sizes[i]);
        CHECK(p != NULL && (uintptr_t)p % FLY_PAGE == 0, "large block %p", (void *)p);
        CHECK(pc_of(p) == FLY_PC_LARGE, "%zu-byte block's first page: class %u", sizes[i], pc_of(p));
        for (size_t off = FLY_PAGE; off < sizes[i]; off += FLY_PAGE) {
            unsigned pc = pc_of(p + off);
            CHECK(pc == FLY_PC_NONE || pc == FLY_PC_FREED_LARGE,
                  "%zu-byte block: page at +%zu has class %u", sizes[i], off, pc);
        }
        CHECK(fly_heap_of(p) == &fly_heap_default && fly_vmem_of(p) == fly_heap_default.hp_vmem &&
                  fly_region_of(p)->r_arena == fly_heap_default.hp_vmem,
              "large block's heap or arena is not the default heap's");
        uint64_t cached = fly_tc->tc_lcache.lc_bytes;
        fly_free(p);
        bool to_cache = FLY_ALIGN_UP(sizes[i], FLY_PAGE) <= (size_t)FLY_LCACHE_PAGES * FLY_PAGE;
        CHECK((fly_tc->tc_lcache.lc_bytes > cached) == to_cache,
              "%zu-byte block: thread's large cache %llu -> %llu bytes", sizes[i], (unsigned long long)cached,
              (unsigned long long)fly_tc->tc_lcache.lc_bytes);
        CHECK(pc_of(p) == FLY_PC_FREED_LARGE, "freed %zu-byte block's first page: class %u", sizes[i], pc_of(p));
        char *q = fly_malloc(sizes[i]);
        CHECK(q != NULL && pc_of(q) == FLY_PC_LARGE, "retaken block's class %u", pc_of(q));
        if (q != p)
            CHECK(pc_of(p) != FLY_PC_LARGE, "a freed block's head %p is still LARGE", (void *)p);
        fly_free(q);
    }
}

static void stale_marks(void)
{
    size_t half = 2u << 20;          /* above the large cache: freed to the arena */
    char *x = fly_malloc(half), *a = fly_malloc(half);
    CHECK(x && a, "malloc");
    fly_free(x);
    fly_free(a);
    CHECK(pc_of(a) == FLY_PC_FREED_LARGE, "freed block's first page: class %u", pc_of(a));
    char *b = fly_malloc(2 * half);
    CHECK(b != NULL, "malloc");
    if (b <= a && a < b + 2 * half)
        CHECK(pc_of(a) == FLY_PC_NONE, "a page inside a live block keeps class %u", pc_of(a));
    else
        t_log("stale_marks: the new block did not cover the old one; nothing to check\n");
    fly_free(b);
}

static void zone_release(void)
{
    /* A class this test used for one object at most: a zone's worth and
     * one more, freed, flushed and trimmed. */
    unsigned c = fly_class_of(2304);
    const fly_class_t *cl = &fly_classes[c];
    static void *objs[64];
    unsigned n = cl->cl_nobjs + 1;
    CHECK(n <= 64, "class %u has %u objects", c, cl->cl_nobjs);
    for (unsigned i = 0; i < n; i++)
        objs[i] = fly_malloc(cl->cl_size);
    char *base = (char *)((uintptr_t)objs[0] & ~((uintptr_t)cl->cl_zone_size - 1));
    CHECK(pc_of(base) == c, "zone page class %u", pc_of(base));
    for (unsigned i = 0; i < n; i++)
        fly_free(objs[i]);
    /* Everything cached back to the zones (malloc_trim would also unmap
     * the region, and with it the bytes read here). */
    uint64_t releases = fly_heap_default.hp_slab.sl_class[c].sc_zone_releases;
    fly_tcache_flush();
    fly_depot_reap(&fly_heap_default.hp_depot, true);
    CHECK(fly_heap_default.hp_slab.sl_class[c].sc_zone_releases > releases &&
              fly_heap_default.hp_slab.sl_class[c].sc_nzones == 0,
          "the class's zones were not released");
    CHECK(fly_region_kind(base) == FLY_REGION_MAP_HEAP, "the region went away");
    for (size_t off = 0; off < cl->cl_zone_size; off += FLY_PAGE)
        CHECK(pc_of(base + off) == FLY_PC_NONE, "emptied zone %p: page at +%zu has class %u", (void *)base, off,
              pc_of(base + off));
}

static void huge_blocks(void)
{
    size_t hsize = (size_t)80 << 20;
    char *h = fly_malloc(hsize);
    CHECK(h != NULL && fly_region_word(h) == FLY_REGION_MAP_HUGE, "live huge block's map word");
    fly_free(h);
    CHECK(fly_region_word(h) == FLY_REGION_MAP_HUGE, "cached huge mapping's map word %#lx",
          (unsigned long)fly_region_word(h));
    CHECK(fly_huge_maintain_os(0, 0, true), "the forced expiry unmapped nothing");
    CHECK(fly_region_word(h) == 0 && fly_region_kind(h) == FLY_REGION_MAP_NONE,
          "unmapped huge block's map word %#lx", (unsigned long)fly_region_word(h));
}

int main(void)
{
    kinds();
    small_zones();
    large_blocks();
    stale_marks();
    zone_release();
    huge_blocks();
    return 0;
}
