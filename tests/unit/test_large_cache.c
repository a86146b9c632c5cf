/*
 * test_large_cache.c: proves the per-thread cache of small large blocks
 * (fly_lcache_t, src/large.c) keeps, hands back and gives up blocks as
 * promised.
 *
 *   keep_and_reuse   a freed block of up to FLY_LCACHE_PAGES pages stays in
 *                    the thread's cache (its bin, lc_bytes; still used in
 *                    the arena; head page FREED_LARGE) and a request of the
 *                    same page count gets it back, last freed first,
 *                    without touching the arena; a request of another page
 *                    count does not; an aligned request does not take a
 *                    cached block; blocks above FLY_LCACHE_PAGES pages go
 *                    straight back to the arena;
 *   depth            at most FLY_LCACHE_DEPTH blocks per page count are
 *                    kept, the rest go back to the arena at once;
 *   byte_bound       the cache fills exactly up to lc_limit
 *                    (po_large_cache_bytes) and refuses the block that
 *                    would pass it, which goes back to the arena;
 *   model_fuzz       random mallocs and frees of 9..40-page blocks against
 *                    a model of the bins: every free is cached or not as
 *                    the rules say (arena used pages tell), every malloc of
 *                    a cached page count gets the model's last block, and
 *                    lc_bytes always equals the bins' contents and stays
 *                    within lc_limit;
 *   flush            fly_ctl("thread.tcache.flush") and a maintenance
 *                    tick's aging give every cached block back to the
 *                    arena (used pages down, dirty pages up by as much),
 *                    and so does thread exit;
 *   foreign          a block of another heap's arena freed here is not
 *                    kept: it goes back to its own arena.
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "large.h"
#include "tcache.h"
#include "vmem.h"
#include <pthread.h>

#define VM (fly_heap_default.hp_vmem)
#define PG FLY_PAGE

static fly_lcache_t *lc(void)
{
    return &fly_tc->tc_lcache;
}

static unsigned pc_of(const void *p)
{
    return fly_region_of(p)->r_pageclass[fly_page_index(p)];
}

/* lc_bytes equals what the bins hold, and stays within the bound. */
static void check_sum(const char *when)
{
    uint64_t sum = 0;
    for (size_t n = 1; n <= FLY_LCACHE_PAGES; n++) {
        CHECK(lc()->lc_bin[n].lb_count <= FLY_LCACHE_DEPTH, "%s: bin %zu holds %u", when, n,
              lc()->lc_bin[n].lb_count);
        sum += (uint64_t)lc()->lc_bin[n].lb_count * n * PG;
    }
    CHECK(sum == lc()->lc_bytes, "%s: lc_bytes %llu, bins hold %llu", when,
          (unsigned long long)lc()->lc_bytes, (unsigned long long)sum);
    CHECK(lc()->lc_bytes <= lc()->lc_limit, "%s: cache holds %llu bytes, bound %llu", when,
          (unsigned long long)lc()->lc_bytes, (unsigned long long)lc()->lc_limit);
}

static void flush(void)
{
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "thread.tcache.flush");
    CHECK(lc()->lc_bytes == 0, "flush left %llu bytes", (unsigned long long)lc()->lc_bytes);
}

static void keep_and_reuse(void)
{
    flush();
    char *p = fly_malloc(40000);              /* 10 pages */
    CHECK(p != NULL && pc_of(p) == FLY_PC_LARGE, "malloc(40000)");
    uint64_t used = VM->vm_used_pages;
    fly_free(p);
    fly_lcache_bin_t *b10 = &lc()->lc_bin[10];
    CHECK(b10->lb_count == 1 && b10->lb_blocks[0] == p && lc()->lc_bytes == 10 * PG,
          "freed 10-page block not cached (count %u, bytes %llu)", b10->lb_count,
          (unsigned long long)lc()->lc_bytes);
    CHECK(VM->vm_used_pages == used, "a cached block went back to the arena");
    CHECK(pc_of(p) == FLY_PC_FREED_LARGE, "cached block's head class %u", pc_of(p));
    check_sum("after one free");

    char *other = fly_malloc(45000);          /* 11 pages */
    CHECK(other != p && b10->lb_count == 1, "an 11-page request took the 10-page block");
    fly_free(other);
    CHECK(lc()->lc_bin[11].lb_count == 1, "11-page block not cached");

    char *q = fly_malloc(36865);              /* 10 pages too */
    CHECK(q == p, "same page count got %p, cached %p", (void *)q, (void *)p);
    CHECK(b10->lb_count == 0 && lc()->lc_bytes == 11 * PG && VM->vm_used_pages == used + 11,
          "reuse: count %u, bytes %llu, used pages %+lld", b10->lb_count, (unsigned long long)lc()->lc_bytes,
          (long long)(VM->vm_used_pages - used));
    CHECK(pc_of(q) == FLY_PC_LARGE && fly_malloc_usable_size(q) == 10 * PG, "reused block: class %u, usable %zu",
          pc_of(q), fly_malloc_usable_size(q));

    /* Last freed, first reused. */
    char *a = fly_malloc(40000);
    fly_free(q);
    fly_free(a);
    CHECK(fly_malloc(40000) == a && fly_malloc(40000) == q, "not last-in first-out");
    fly_free(a);
    fly_free(q);

    /* An aligned request leaves the cache alone. */
    flush();
    char *s = fly_malloc(16 * PG);
    fly_free(s);
    CHECK(lc()->lc_bin[16].lb_count == 1, "16-page block not cached");
    char *al = fly_aligned_alloc(16 * PG, 16 * PG);
    CHECK(al != NULL && (uintptr_t)al % (16 * PG) == 0, "aligned_alloc(64 KiB, 64 KiB) = %p", (void *)al);
    CHECK(lc()->lc_bin[16].lb_count == 1 && lc()->lc_bin[16].lb_blocks[0] == s,
          "an aligned request took a cached block");
    fly_free(al);

    /* Beyond FLY_LCACHE_PAGES: straight back. */
    flush();
    char *big = fly_malloc((FLY_LCACHE_PAGES + 1) * PG);
    used = VM->vm_used_pages;
    fly_free(big);
    CHECK(lc()->lc_bytes == 0 && VM->vm_used_pages == used - (FLY_LCACHE_PAGES + 1),
          "a %d-page block was cached", FLY_LCACHE_PAGES + 1);
    flush();
}

static void depth(void)
{
    flush();
    char *b[FLY_LCACHE_DEPTH + 2];
    for (int i = 0; i < FLY_LCACHE_DEPTH + 2; i++)
        b[i] = fly_malloc(12 * PG);
    uint64_t used = VM->vm_used_pages;
    for (int i = 0; i < FLY_LCACHE_DEPTH + 2; i++)
        fly_free(b[i]);
    CHECK(lc()->lc_bin[12].lb_count == FLY_LCACHE_DEPTH, "bin holds %u blocks", lc()->lc_bin[12].lb_count);
    CHECK(VM->vm_used_pages == used - 2 * 12, "blocks beyond the depth: used pages %+lld, want -24",
          (long long)(VM->vm_used_pages - used));
    for (int i = 0; i < FLY_LCACHE_DEPTH; i++)
        CHECK(lc()->lc_bin[12].lb_blocks[i] == b[i], "bin slot %d holds %p, want %p", i,
              lc()->lc_bin[12].lb_blocks[i], (void *)b[i]);
    check_sum("depth");
    flush();
}

static void byte_bound(void)
{
    flush();
    uint64_t limit = lc()->lc_limit;
    CHECK(limit == fly_heap_default.hp_policy.po_large_cache_bytes && limit == 256 * PG,
          "test assumes a 1 MiB bound (%llu)", (unsigned long long)limit);
    /* 4 x 32 + 4 x 28 + 16 pages = 256 pages exactly; one 9-page block more
     * does not fit. */
    size_t plan[] = { 32, 32, 32, 32, 28, 28, 28, 28, 16 };
    char *blk[9];
    for (int i = 0; i < 9; i++)
        blk[i] = fly_malloc(plan[i] * PG);
    char *extra = fly_malloc(9 * PG);
    uint64_t used = VM->vm_used_pages;
    for (int i = 0; i < 9; i++) {
        fly_free(blk[i]);
        check_sum("filling");
    }
    CHECK(lc()->lc_bytes == limit && VM->vm_used_pages == used, "cache filled to %llu of %llu, used %+lld",
          (unsigned long long)lc()->lc_bytes, (unsigned long long)limit, (long long)(VM->vm_used_pages - used));
    fly_free(extra);
    CHECK(lc()->lc_bytes == limit && lc()->lc_bin[9].lb_count == 0 && VM->vm_used_pages == used - 9,
          "the block past the bound: cache %llu bytes, bin 9 count %u, used %+lld",
          (unsigned long long)lc()->lc_bytes, lc()->lc_bin[9].lb_count, (long long)(VM->vm_used_pages - used));
    check_sum("full");
    flush();
}

#define NLIVE 64

static void model_fuzz(void)
{
    flush();
    /* The model: per page count, the stack of cached blocks. */
    static char *model[FLY_LCACHE_PAGES + 1][FLY_LCACHE_DEPTH];
    static unsigned mcount[FLY_LCACHE_PAGES + 1];
    memset(mcount, 0, sizeof mcount);
    uint64_t mbytes = 0;
    char *live[NLIVE] = { 0 };
    size_t live_pages[NLIVE] = { 0 };
    uint64_t seed = 0x1a49e;
    for (int step = 0; step < 20000; step++) {
        unsigned i = (unsigned)(t_rand(&seed) % NLIVE);
        if (live[i] == NULL) {
            size_t pages = 9 + t_rand(&seed) % 32;                /* 9..40 */
            size_t bytes = pages * PG - t_rand(&seed) % PG;        /* any size in the page count */
            uint64_t used = VM->vm_used_pages;
            char *p = fly_malloc(bytes);
            CHECK(p != NULL, "malloc(%zu)", bytes);
            if (pages <= FLY_LCACHE_PAGES && mcount[pages]) {
                char *want = model[pages][--mcount[pages]];
                mbytes -= pages * PG;
                CHECK(p == want && VM->vm_used_pages == used, "step %d: %zu pages got %p, cache's last is %p", step,
                      pages, (void *)p, (void *)want);
            } else {
                CHECK(VM->vm_used_pages == used + pages, "step %d: uncached %zu-page malloc: used %+lld", step,
                      pages, (long long)(VM->vm_used_pages - used));
            }
            memset(p, 0x5a, 64);
            live[i] = p;
            live_pages[i] = pages;
        } else {
            size_t pages = live_pages[i];
            bool keep = pages <= FLY_LCACHE_PAGES && mcount[pages] < FLY_LCACHE_DEPTH &&
                        mbytes + pages * PG <= lc()->lc_limit;
            uint64_t used = VM->vm_used_pages;
            fly_free(live[i]);
            if (keep) {
                model[pages][mcount[pages]++] = live[i];
                mbytes += pages * PG;
            }
            CHECK(VM->vm_used_pages == (keep ? used : used - pages),
                  "step %d: free of %zu pages (cached: %d): used %+lld", step, pages, keep,
                  (long long)(VM->vm_used_pages - used));
            live[i] = NULL;
        }
        CHECK(lc()->lc_bytes == mbytes, "step %d: lc_bytes %llu, model %llu", step,
              (unsigned long long)lc()->lc_bytes, (unsigned long long)mbytes);
        for (size_t n = 1; n <= FLY_LCACHE_PAGES; n++)
            CHECK(lc()->lc_bin[n].lb_count == mcount[n], "step %d: bin %zu holds %u, model %u", step, n,
                  lc()->lc_bin[n].lb_count, mcount[n]);
        check_sum("fuzz");
    }
    for (int i = 0; i < NLIVE; i++)
        fly_free(live[i]);
    flush();
}

/* Fills the cache with n blocks of 10..13 pages; returns the pages. */
static uint64_t fill_cache(int n)
{
    char *b[16];
    uint64_t pages = 0;
    for (int i = 0; i < n; i++) {
        b[i] = fly_malloc((size_t)(10 + i % 4) * PG);
        pages += 10 + i % 4;
    }
    for (int i = 0; i < n; i++)
        fly_free(b[i]);
    CHECK(lc()->lc_bytes == pages * PG, "cache holds %llu bytes, freed %llu pages",
          (unsigned long long)lc()->lc_bytes, (unsigned long long)pages);
    return pages;
}

static uint64_t thread_cached;

static void *exiting_thread(void *arg)
{
    (void)arg;
    fly_free(fly_malloc(16));                 /* a live thread cache, so a large cache */
    char *b[4];
    for (int i = 0; i < 4; i++)
        b[i] = fly_malloc(12 * PG);
    for (int i = 0; i < 4; i++)
        fly_free(b[i]);
    thread_cached = lc()->lc_bytes;
    return NULL;
}

static void flush_paths(void)
{
    flush();
    uint64_t pages = fill_cache(8);
    uint64_t used = VM->vm_used_pages, dirty = VM->vm_dirty_pages;
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "thread.tcache.flush");
    CHECK(lc()->lc_bytes == 0 && VM->vm_used_pages == used - pages && VM->vm_dirty_pages == dirty + pages,
          "flush: cache %llu bytes, used %+lld, dirty %+lld (want -/+%llu)", (unsigned long long)lc()->lc_bytes,
          (long long)(VM->vm_used_pages - used), (long long)(VM->vm_dirty_pages - dirty),
          (unsigned long long)pages);
    for (size_t n = 1; n <= FLY_LCACHE_PAGES; n++)
        CHECK(lc()->lc_bin[n].lb_count == 0, "flush left bin %zu with %u", n, lc()->lc_bin[n].lb_count);

    /* Aging at a maintenance tick. */
    pages = fill_cache(6);
    used = VM->vm_used_pages;
    fly_tc->tc_next_gc = 0;
    fly_tcache_tick_os(fly_tc);
    CHECK(lc()->lc_bytes == 0 && VM->vm_used_pages == used - pages, "aging: cache %llu bytes, used %+lld",
          (unsigned long long)lc()->lc_bytes, (long long)(VM->vm_used_pages - used));

    /* Thread exit. */
    used = VM->vm_used_pages;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, exiting_thread, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(thread_cached == 4 * 12 * PG, "the thread cached %llu bytes", (unsigned long long)thread_cached);
    CHECK(VM->vm_used_pages == used, "after the thread's exit the arena has %+lld used pages",
          (long long)(VM->vm_used_pages - used));
}

static void foreign(void)
{
    flush();
    fly_heap_t *h2 = fly_heap_create_os(&fly_heap_default.hp_policy);
    CHECK(h2 != NULL && h2->hp_vmem != VM, "second heap");
    char *p = fly_large_alloc_os(h2->hp_vmem, NULL, 40000, PG, false);
    CHECK(p != NULL && fly_vmem_of(p) == h2->hp_vmem && fly_heap_of(p) == h2, "block of the second heap");
    CHECK(h2->hp_vmem->vm_used_pages == 10, "second arena used %llu pages",
          (unsigned long long)h2->hp_vmem->vm_used_pages);
    fly_free(p);
    CHECK(lc()->lc_bytes == 0 && lc()->lc_bin[10].lb_count == 0, "another arena's block was cached");
    CHECK(h2->hp_vmem->vm_used_pages == 0, "the block did not go back to its own arena (%llu used)",
          (unsigned long long)h2->hp_vmem->vm_used_pages);
}

int main(void)
{
    fly_free(fly_malloc(16));
    CHECK(fly_tc->tc_state == FLY_TC_LIVE && lc()->lc_home == VM, "no live thread cache on the default heap");
    keep_and_reuse();
    depth();
    byte_bound();
    model_fuzz();
    flush_paths();
    foreign();
    return 0;
}
