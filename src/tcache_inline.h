/*
 * tcache_inline.h: the malloc and free fast paths.
 *
 * malloc(n), n <= 32 KiB: one table load gives the byte offset of the
 * class's bin, one TLS load the cache; the value below the loaded
 * magazine's top is the object to pop, or the magazine's NULL guard when it
 * is empty; a tick count test; then two statistics updates in the bin's
 * own cache line (allocations and bytes requested; frees are derived, see
 * stats.c), and the block's free mark cleared (freemark.h).  No atomics,
 * no locks.
 *
 * free(p): one word of the region map says p is in one of our regions and,
 * added to p >> 12, gives the address of the byte of the region header that
 * holds p's page class (region.h), which indexes a bin with
 * no range check (bins of non-classes, and bins not set up, have
 * tb_obj_bound = 0 and fail), the class constants cached in the bin prove p
 * is the start of one of its zone's objects (one multiply and one compare,
 * sizeclass.h), the block's first word is not the free mark (else it is
 * not allocated: a double free at any distance, or a slot never handed
 * out) and gets it, and the object is pushed on the previous magazine (not
 * the one malloc pops: tcache.c, "Split magazines") unless it is full.  A
 * valid p that found the magazine full goes to the tcache's slow path
 * without being validated again; everything else takes the general slow
 * path, which validates and reports misuse.
 */
#ifndef FLY_TCACHE_INLINE_H
#define FLY_TCACHE_INLINE_H

#include "tcache.h"
#include "freemark.h"
#include "region.h"
#include "sizeclass.h"

/* malloc's miss (api.c): a swap of the bin's magazines, or else lazy
 * initialization and tracing, then the thread cache's slow path. */
void *fly_malloc_miss_os(size_t size, unsigned c);
/* Every free that the fast path does not finish: validation, large and huge
 * blocks, misuse reports naming fname. */
void fly_free_slow_os(void *p, const char *fname);
/* A free of p, proved by the fast path an object of bin b's class, that
 * found the magazine full; p carries the free mark already. */
void fly_free_bin_slow_os(void *p, const fly_tcbin_t *b, const char *fname);

/* The commonest miss by far is a swap (one per magazine of mallocs), which
 * leaves the thread's cache alone, so malloc's miss does it inline, before
 * and without the general slow path's checks.  It can when the previous
 * magazine holds rounds, no tick is due and the thread does not send
 * other heaps' rounds home first (the owner policy); a bin not set up and
 * every bin of the static caches (not initialized, tracing, exiting) have
 * no previous rounds, so those always take the general path. */
FLY_INLINE bool fly_tcache_can_swap(unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    return fly_tcbin_prev_rounds(&tc->tc_bins[c]) != 0 && tc->tc_ticks > 0 && !tc->tc_send_home;
}

/* Swaps bin c's magazines and pops (fly_tcache_can_swap said it can). */
FLY_INLINE void *fly_tcache_swap_pop(size_t size, unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    fly_tcbin_t *b = &tc->tc_bins[c];
    fly_tcbin_swap(tc, b, c);
    FLY_SET(tc->tc_ticks, tc->tc_ticks - 1);
    FLY_SET(b->tb_nmalloc, b->tb_nmalloc + 1);
    FLY_SET(b->tb_requested, b->tb_requested + size);
    FLY_SET(b->tb_top, b->tb_top - 1);
    return fly_block_unmark_known(*b->tb_top);
}

/* Loads the popped object straight into the return register: GCC keeps
 * it elsewhere and copies it at the end, one instruction per malloc. */
#if defined(__x86_64__)
#define FLY_IN_RETURN_REGISTER(p) __asm__("" : "+a"(p))
#else
#define FLY_IN_RETURN_REGISTER(p) ((void)0)
#endif

/* off: FLY_BIN_OFFSET of the class. */
FLY_INLINE void *fly_malloc_bin_inline(size_t size, size_t off)
{
    fly_tcache_t *tc = fly_tc;
    fly_tcbin_t *b = (fly_tcbin_t *)((char *)tc + off);
    void **top = b->tb_top;
    void *p = top[-1];
    FLY_IN_RETURN_REGISTER(p);
    if (fly_unlikely(p == NULL))
        return fly_malloc_miss_os(size, (unsigned)FLY_BIN_CLASS(off));
    int64_t t = tc->tc_ticks - 1;
    FLY_SET(tc->tc_ticks, t);
    if (fly_unlikely(t < 0))
        return fly_tcache_malloc_tick_os(size, (unsigned)FLY_BIN_CLASS(off));
    FLY_SET(b->tb_top, top - 1);
    FLY_SET(b->tb_nmalloc, b->tb_nmalloc + 1);
    FLY_SET(b->tb_requested, b->tb_requested + size);
    return fly_block_unmark_known(p);
}

FLY_INLINE void *fly_malloc_small_inline(size_t size, unsigned c)
{
    return fly_malloc_bin_inline(size, FLY_BIN_OFFSET(c));
}

FLY_INLINE void fly_free_inline(void *p, const char *fname)
{
    uintptr_t w = fly_region_word(p);
    if (fly_likely(w >= FLY_REGION_MAP_HEAP_MIN)) {
        unsigned pc = fly_region_pageclass(w, p);
        fly_tcbin_t *b = (fly_tcbin_t *)((char *)fly_tc + FLY_BIN_OFFSET(pc));
        uint32_t off = (uint32_t)(uintptr_t)p & b->tb_zmask;
        if (fly_likely(fly_class_offset_valid(off, b->tb_divm, b->tb_obj_bound))) {
            if (fly_unlikely(fly_block_is_marked(p)))
                fly_panic_ptr(fname, "double free", p);
            fly_block_mark(p);
            void **top = b->tb_ftop;
            if (fly_likely(top < b->tb_flimit)) {
                *top = p;
                FLY_SET(b->tb_ftop, top + 1);
                return;
            }
            fly_free_bin_slow_os(p, b, fname);
            return;
        }
    }
    fly_free_slow_os(p, fname);
}

#endif
