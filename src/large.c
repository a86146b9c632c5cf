/*
 * large.c: blocks from 32 KiB up to a region's usable size (63 MiB).
 *
 * A large block is a span of whole pages from vmem, so pages freed by slab
 * zones serve large blocks and the other way round (nmalloc sent everything
 * above 8 KiB straight to mmap and cached none of it).  Its metadata is
 * vmem's boundary tag (length) and one page-class byte at its first page
 * (FLY_PC_LARGE while live, FLY_PC_FREED_LARGE after: a second free of the
 * same address is reported as a double free).
 *
 * Blocks of up to FLY_LCACHE_PAGES pages are cached per thread, a few per
 * size (Bonwick's quantum caches), within the heap's po_large_cache_bytes,
 * so a program that keeps allocating and freeing 40 KiB buffers never
 * takes the arena lock.  The cache (fly_lcache_t) lives in the thread's
 * cache and is passed in; a block always goes back to the arena of its
 * region, and a thread only caches blocks of its own heap's arena.  realloc grows a block in place when the pages after it are free
 * and shrinks it in place by freeing its tail.
 */
#include "large.h"
#include "freemark.h"
#include "sample.h"
#include "trace_hook.h"
#include "vmem.h"
#include <errno.h>
#include <string.h>

static fly_block_counts_t large_count;    /* atomic */
static uint64_t large_held_bytes;          /* atomic: fly_large_hold */

static void mark(void *p, uint8_t pc)
{
    __atomic_store_n(&fly_region_of(p)->r_pageclass[fly_page_index(p)], pc, __ATOMIC_RELAXED);
}

/* Pages [from, to) of the block at p are its interior: a page-class byte
 * left there by an earlier block (FLY_PC_FREED_LARGE on its first page)
 * would make free() of an interior pointer report a double free instead
 * of an invalid pointer. */
static void clear_interior(void *p, size_t from, size_t to)
{
    uint8_t *pc = &fly_region_of(p)->r_pageclass[fly_page_index(p)];
    for (size_t i = from; i < to; i++)
        if (__atomic_load_n(&pc[i], __ATOMIC_RELAXED) != FLY_PC_NONE)
            __atomic_store_n(&pc[i], FLY_PC_NONE, __ATOMIC_RELAXED);
}

void fly_lcache_init(fly_lcache_t *lc, fly_vmem_t *home, uint64_t limit)
{
    memset(lc, 0, sizeof(*lc));
    lc->lc_home = home;
    lc->lc_limit = limit;
}

static void *lcache_pop(fly_lcache_t *lc, size_t npages)
{
    if (lc == NULL || npages > FLY_LCACHE_PAGES)
        return NULL;
    fly_lcache_bin_t *lb = &lc->lc_bin[npages];
    if (lb->lb_count == 0)
        return NULL;
    lc->lc_bytes -= npages << FLY_PAGE_SHIFT;
    return lb->lb_blocks[--lb->lb_count];
}

static bool lcache_push(fly_lcache_t *lc, void *p, size_t npages)
{
    if (lc == NULL || npages > FLY_LCACHE_PAGES || fly_vmem_of(p) != lc->lc_home)
        return false;
    fly_lcache_bin_t *lb = &lc->lc_bin[npages];
    size_t bytes = npages << FLY_PAGE_SHIFT;
    if (lb->lb_count == FLY_LCACHE_DEPTH || lc->lc_bytes + bytes > lc->lc_limit)
        return false;
    lb->lb_blocks[lb->lb_count++] = p;
    lc->lc_bytes += bytes;
    return true;
}

void *fly_large_alloc_os(fly_vmem_t *vm, fly_lcache_t *lc, size_t size, size_t align, bool zero)
{
    fly_trace_touch_shared();
    if (size > FLY_LARGE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t npages = FLY_ALIGN_UP(size, FLY_PAGE) >> FLY_PAGE_SHIFT;
    size_t apages = align > FLY_PAGE ? align >> FLY_PAGE_SHIFT : 1;
    bool zeroed = false;
    void *p = apages == 1 ? lcache_pop(lc, npages) : NULL;
    if (p == NULL) {
        p = fly_vmem_alloc_os(vm, npages, apages, &zeroed);
        if (p == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        clear_interior(p, 1, npages);
    }
    mark(p, FLY_PC_LARGE);
    __atomic_fetch_add(&large_count.bc_nalloc, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_count.bc_nlive, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_count.bc_live_bytes, npages << FLY_PAGE_SHIFT, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_count.bc_requested, size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_count.bc_usable, npages << FLY_PAGE_SHIFT, __ATOMIC_RELAXED);
    fly_usage_note((int64_t)(npages << FLY_PAGE_SHIFT));
    if (zero && !zeroed)
        memset(p, 0, npages << FLY_PAGE_SHIFT);
    else if (!zeroed)
        fly_block_unmark_known(p);  /* a zone's slot 0 may have been here: see freemark.h */
    return p;
}

void fly_large_free(fly_lcache_t *lc, void *p)
{
    if (fly_unlikely(fly_sample_on))
        fly_sample_release(p);
    size_t npages = fly_vmem_span_pages(p);
    mark(p, FLY_PC_FREED_LARGE);
    __atomic_fetch_sub(&large_count.bc_nlive, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&large_count.bc_live_bytes, npages << FLY_PAGE_SHIFT, __ATOMIC_RELAXED);
    fly_usage_note(-(int64_t)(npages << FLY_PAGE_SHIFT));
    if (!lcache_push(lc, p, npages))
        fly_vmem_free(fly_vmem_of(p), p, npages);
}

size_t fly_large_usable(const void *p)
{
    return fly_vmem_span_pages(p) << FLY_PAGE_SHIFT;
}

bool fly_large_resize_inplace(void *p, size_t newsize)
{
    fly_trace_touch_shared();
    if (newsize > FLY_LARGE_MAX)
        return false;
    size_t npages = fly_vmem_span_pages(p);
    size_t newpages = FLY_ALIGN_UP(newsize, FLY_PAGE) >> FLY_PAGE_SHIFT;
    if (newpages == npages)
        return true;
    if (newpages < npages)
        fly_vmem_shrink(fly_vmem_of(p), p, npages, newpages);
    else if (!fly_vmem_grow(fly_vmem_of(p), p, npages, newpages))
        return false;
    else
        clear_interior(p, npages, newpages);
    int64_t delta = ((int64_t)newpages - (int64_t)npages) * (int64_t)FLY_PAGE;
    __atomic_fetch_add(&large_count.bc_live_bytes, (uint64_t)delta, __ATOMIC_RELAXED);
    fly_usage_note(delta);
    return true;
}

void fly_large_flush(fly_lcache_t *lc)
{
    for (size_t n = 1; n <= FLY_LCACHE_PAGES; n++) {
        fly_lcache_bin_t *lb = &lc->lc_bin[n];
        while (lb->lb_count) {
            void *p = lb->lb_blocks[--lb->lb_count];
            fly_vmem_free(fly_vmem_of(p), p, n);
        }
    }
    lc->lc_bytes = 0;
}

static void count_live(int64_t blocks, int64_t bytes)
{
    __atomic_fetch_add(&large_count.bc_nlive, (uint64_t)blocks, __ATOMIC_RELAXED);
    __atomic_fetch_add(&large_count.bc_live_bytes, (uint64_t)bytes, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&large_held_bytes, (uint64_t)bytes, __ATOMIC_RELAXED);
    fly_usage_note(bytes);
}

void fly_large_hold(size_t bytes)
{
    count_live(-1, -(int64_t)bytes);
}

void fly_large_unhold(size_t bytes, bool reused)
{
    count_live(1, (int64_t)bytes);
    if (reused) {
        __atomic_fetch_add(&large_count.bc_nalloc, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&large_count.bc_requested, bytes, __ATOMIC_RELAXED);
        __atomic_fetch_add(&large_count.bc_usable, bytes, __ATOMIC_RELAXED);
    }
}

void fly_large_counts(fly_block_counts_t *out)
{
    out->bc_nalloc = __atomic_load_n(&large_count.bc_nalloc, __ATOMIC_RELAXED);
    out->bc_nlive = __atomic_load_n(&large_count.bc_nlive, __ATOMIC_RELAXED);
    out->bc_live_bytes = __atomic_load_n(&large_count.bc_live_bytes, __ATOMIC_RELAXED);
    out->bc_cached_bytes = __atomic_load_n(&large_held_bytes, __ATOMIC_RELAXED);
    out->bc_requested = __atomic_load_n(&large_count.bc_requested, __ATOMIC_RELAXED);
    out->bc_usable = __atomic_load_n(&large_count.bc_usable, __ATOMIC_RELAXED);
}
