/*
 * tcache_inline.h: the malloc and free fast paths.
 *
 * malloc(n), n <= 1 KiB: one table load for the class, one TLS load, a
 * round count test and a tick count test, then a magazine pop and two
 * statistics updates in the bin's own cache line (allocations and bytes
 * requested; frees are derived, see stats.c).  No atomics, no locks.
 *
 * free(p): one byte of the region map says p is in one of our regions, one
 * byte of the region header gives its page class, which indexes a bin with
 * no range check (bins of non-classes have tb_last = 0 and tb_cap = 0 and
 * fail), the class constants cached in the bin prove p is the start of an
 * object (a multiply-rotate divisibility test, sizeclass.h), and
 * the object is pushed on the loaded magazine unless it is the magazine's
 * top (an immediate double free).  Everything else takes the slow path,
 * which validates again and reports misuse.
 */
#ifndef FLY_TCACHE_INLINE_H
#define FLY_TCACHE_INLINE_H

#include "tcache.h"
#include "region.h"
#include "sizeclass.h"

/* Every free that the fast path does not finish: validation, large and huge
 * blocks, magazine exchange, misuse reports naming fname. */
void fly_free_slow(void *p, const char *fname);

FLY_INLINE void *fly_malloc_small_inline(size_t size, unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    fly_tcbin_t *b = &tc->tc_bins[c];
    uint32_t r = b->tb_rounds;
    if (fly_unlikely(r == 0))
        return fly_tcache_malloc_slow(size, c);
    int64_t t = tc->tc_ticks - 1;
    FLY_SET(tc->tc_ticks, t);
    if (fly_unlikely(t < 0))
        return fly_tcache_malloc_tick(size, c);
    FLY_SET(b->tb_rounds, r - 1);
    FLY_SET(b->tb_nmalloc, b->tb_nmalloc + 1);
    FLY_SET(b->tb_requested, b->tb_requested + size);
    return b->tb_loaded->m_objs[r - 1];
}

FLY_INLINE void fly_free_inline(void *p, const char *fname)
{
    if (fly_likely(fly_region_kind(p) == FLY_REGION_MAP_HEAP)) {
        unsigned pc = fly_region_of(p)->r_pageclass[fly_page_index(p)];
        fly_tcbin_t *b = &fly_tc->tc_bins[pc];
        uint64_t off = (uintptr_t)p & b->tb_zmask;
        uint32_t n = b->tb_rounds;
        if (fly_likely(fly_class_offset_valid(off, b->tb_inv, b->tb_shift, b->tb_last)) &&
            fly_likely(n < b->tb_cap) &&
            fly_likely(b->tb_loaded->m_objs[(ptrdiff_t)n - 1] != p)) {
            b->tb_loaded->m_objs[n] = p;
            FLY_SET(b->tb_rounds, n + 1);
            return;
        }
    }
    fly_free_slow(p, fname);
}

#endif
