/*
 * tcache.h: per-thread caches of Bonwick magazines (see tcache.c).
 *
 * Each class has a loaded magazine, whose round count is kept here in the
 * bin (kmem's cc_rounds) so a hit touches only this cache line and the
 * magazine slot, and a previous magazine, always empty or full.  The bin
 * also holds copies of the class constants the free fast path needs, taken
 * from the policy when the bin is first used.
 *
 * A magazine is full at the bin's capacity tb_cap, which starts at the
 * class's base and grows, within the thread's budget, while the bin keeps
 * visiting the depot (tcache.c); the magazines themselves are allocated at
 * the class's largest capacity, so a magazine from the depot may hold more
 * rounds than the bin's tb_cap (frees then take the slow path at once).
 */
#ifndef FLY_TCACHE_H
#define FLY_TCACHE_H

#include "common.h"
#include "slab.h"
#include "region.h"

typedef struct fly_tcbin {
    fly_mag_t *tb_loaded;    /* loaded magazine: rounds are its m_objs[0..tb_rounds) */
    uint32_t tb_rounds;      /* rounds in the loaded magazine */
    uint32_t tb_cap;         /* full at this many rounds; 0 until the bin is set up */
    /* Class constants for free's validity check (sizeclass.h): */
    uint64_t tb_inv;         /* inverse of the size's odd part, mod 2^64 */
    uint64_t tb_last;        /* objects per zone - 1 */
    uint32_t tb_zmask;       /* zone size - 1 */
    uint8_t tb_shift;        /* the size's power-of-two part */
    uint8_t tb_pad8;
    uint16_t tb_prev_rounds; /* rounds in tb_prev: 0, or it counts as full */
    /* Statistics, written only by the owner (frees are derived: stats.c): */
    uint64_t tb_nmalloc;     /* allocations served by this bin */
    uint64_t tb_requested;   /* bytes those allocations asked for */
    fly_mag_t *tb_prev;      /* empty, or full (at the cap it had when loaded) */
} FLY_ALIGNED_CL fly_tcbin_t;
_Static_assert(sizeof(fly_tcbin_t) == FLY_CACHELINE, "a bin is one cache line");

/* Statistics read tb_rounds, tb_prev_rounds, tb_cap and the tick fields of
 * other threads' caches; only the owner writes them.  The TSan build makes
 * those writes relaxed atomic stores, so the checker sees no race; the
 * normal build writes them plainly, since an aligned word store is never
 * torn on the machines we run on and the atomic form makes compilers
 * recompute addresses on the fast path. */
#ifdef FLY_TSAN
#define FLY_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#else
#define FLY_SET(field, v) ((field) = (v))
#endif
#define FLY_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#define FLY_TC_EMPTY 0       /* no cache yet: the first slow path makes one */
#define FLY_TC_LIVE  1
#define FLY_TC_DEAD  2       /* thread exiting: served without a cache */
#define FLY_TC_TRACED 3      /* trace.h: always misses, so every call is recorded */

/* Per-thread cache of freed large blocks of 1..FLY_LCACHE_PAGES pages over
 * the small range (Bonwick's quantum caches), see large.c. */
#define FLY_LCACHE_PAGES 32
#define FLY_LCACHE_DEPTH 4
typedef struct fly_lcache_bin {
    uint32_t lb_count;
    void *lb_blocks[FLY_LCACHE_DEPTH];
} fly_lcache_bin_t;

typedef struct fly_tcache {
    int64_t tc_ticks;              /* mallocs (and frees, a magazine at a time) until the next tick */
    uint32_t tc_state;
    uint32_t tc_pad;
    uint64_t tc_next_gc;           /* ms */
    struct fly_tcache *tc_next, *tc_prev;   /* registry, under the registry lock */
    uint64_t tc_lcache_bytes;      /* bytes in tc_lcache */
    uint64_t tc_cap_bytes;         /* sum of 2 * capacity * size: at most the budget */
    /* Slow-path only, per page class: */
    uint64_t tc_misses[FLY_PC_COUNT];      /* mallocs the loaded magazine could not serve */
    uint64_t tc_activity[FLY_PC_COUNT];    /* slow-path visits, for aging */
    uint64_t tc_activity_seen[FLY_PC_COUNT];
    fly_lcache_bin_t tc_lcache[FLY_LCACHE_PAGES + 1];
    fly_tcbin_t tc_bins[FLY_PC_COUNT];   /* indexed by page class, see region.h */
} fly_tcache_t;

extern __thread fly_tcache_t *fly_tc;
/* The clock as last read by a maintenance tick (ms): a cheap timestamp. */
extern uint64_t fly_epoch_ms;
extern fly_tcache_t fly_tcache_empty, fly_tcache_dead;

void *fly_tcache_malloc_slow(size_t size, unsigned c);
void fly_tcache_free_slow(void *p, unsigned c);
/* The fast path's tick counter ran out: maintenance, then a normal pop. */
void *fly_tcache_malloc_tick(size_t size, unsigned c);
/* Gives the calling thread's cached objects back to the zones. */
void fly_tcache_flush(void);
/* The same, and its cached large blocks (fly_ctl "thread.tcache.flush"). */
void fly_tcache_flush_thread(void);
/* Per-thread cache budget now in force (fly_ctl "opt.tcache_bytes"); at most
 * fly_policy.po_tcache_bytes, which sized the magazines. */
extern uint64_t fly_tcache_budget;
/* Maintenance every po_tick_events mallocs: aging, depot reap, purge. */
void fly_tcache_tick(fly_tcache_t *tc);
/* Per class, over every thread (live, exited and uncached): objects cached,
 * allocations, bytes requested, cache misses.  Each array is added to. */
typedef struct fly_tcache_counts {
    uint64_t cached[FLY_MAX_CLASSES + 1];
    uint64_t nmalloc[FLY_MAX_CLASSES + 1];
    uint64_t requested[FLY_MAX_CLASSES + 1];
    uint64_t misses[FLY_MAX_CLASSES + 1];
} fly_tcache_counts_t;
void fly_tcache_counts(fly_tcache_counts_t *out);
void fly_tcache_thread_exit(void *arg);
void fly_tcache_lock_all(void);
void fly_tcache_unlock_all(bool child);

#endif
