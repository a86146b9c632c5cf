/*
 * tcache.h: per-thread caches of Bonwick magazines (see tcache.c).
 *
 * Each class has a loaded magazine and a previous one.  malloc pops from
 * the loaded magazine and free pushes onto the previous one, so the two
 * fast paths never read or write the same word (tcache.c, "Split
 * magazines").  The bin keeps each side's top as a pointer, and the
 * previous magazine's limit (its slot tb_cap), so the fast paths need no
 * base address or index arithmetic and a hit touches only this cache line
 * and the magazine slot.  An empty magazine's slot below the bottom is its
 * NULL guard, so malloc sees "empty" in the value it would pop; a bin not
 * set up points at fly_mag_none, which is empty and full at once.  The bin
 * also holds copies of the class constants the free fast path needs, taken
 * from the class when the bin is first used (zero until then, which fails
 * free's check).
 *
 * A cache belongs to one heap (tc_heap): its magazines, depot visits and
 * budget are that heap's.  A magazine is full at the bin's capacity tb_cap,
 * which starts at the class's base and grows, within the thread's budget, while the bin's depot
 * visits keep changing direction (tcache.c); the magazines themselves are
 * allocated at the class's largest capacity, so a magazine from the depot
 * may hold more rounds than the bin's tb_cap.
 */
#ifndef FLY_TCACHE_H
#define FLY_TCACHE_H

#include "common.h"
#include "heap.h"
#include "large.h"
#include "mag.h"
#include "region.h"
#include "sizeclass.h"
#include <pthread.h>

typedef struct fly_tcbin {
    void **tb_top;           /* malloc: the loaded magazine's next free slot; rounds lie below */
    void **tb_ftop;          /* free: the previous magazine's next free slot */
    void **tb_flimit;        /* the previous magazine's slot tb_cap: full when tb_ftop reaches it */
    /* Class constants for free's validity check (sizeclass.h): */
    uint64_t tb_divm;        /* the class's cl_divm */
    uint64_t tb_obj_bound;   /* the class's cl_obj_bound; 0 until the bin is set up */
    uint32_t tb_zmask;       /* zone size - 1 */
    uint32_t tb_cap;         /* full at this many rounds; 0 until the bin is set up */
    /* Statistics, written only by the owner (frees are derived: stats.c): */
    uint64_t tb_nmalloc;     /* allocations served by this bin */
    uint64_t tb_requested;   /* bytes those allocations asked for */
} FLY_ALIGNED_CL fly_tcbin_t;
_Static_assert(sizeof(fly_tcbin_t) == FLY_CACHELINE, "a bin is one cache line");

/* Statistics read tb_top, tb_ftop, tb_flimit, tb_cap, tc_loaded and the tick fields of
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

/* Empty and full at once: where a bin not set up points (its guard is
 * NULL and it has no slots). */
extern fly_mag_t fly_mag_none;
#define FLY_TCBIN_NONE { .tb_top = fly_mag_none.m_objs, .tb_ftop = fly_mag_none.m_objs, \
                        .tb_flimit = fly_mag_none.m_objs }

/* The magazine whose first slot is objs. */
FLY_INLINE fly_mag_t *fly_mag_of_slots(void **objs)
{
    return (fly_mag_t *)((char *)objs - offsetof(fly_mag_t, m_objs));
}

/* The previous magazine, where frees go (bin set up). */
FLY_INLINE fly_mag_t *fly_tcbin_prev(const fly_tcbin_t *b)
{
    return fly_mag_of_slots(b->tb_flimit - b->tb_cap);
}

FLY_INLINE uint32_t fly_tcbin_prev_rounds(const fly_tcbin_t *b)
{
    return (uint32_t)(b->tb_ftop - (b->tb_flimit - b->tb_cap));
}

#define FLY_TC_EMPTY 0       /* no cache yet: the first slow path makes one */
#define FLY_TC_LIVE  1
#define FLY_TC_DEAD  2       /* thread exiting: served without a cache */
#define FLY_TC_TRACED 3      /* trace.h: always misses, so every call is recorded */

typedef struct fly_tcache {
    fly_tcbin_t tc_bins[FLY_PC_COUNT];   /* indexed by page class, see region.h; first, so a
                                          * bin's offset is its page class times 64 */
    int64_t tc_ticks;              /* mallocs (and frees, a magazine at a time) until the next tick */
    uint32_t tc_state;
    uint32_t tc_send_home;         /* the owner policy: a magazine's rounds of other heaps go
                                    * back to them before malloc takes it (tcache.c) */
    uint64_t tc_next_gc;           /* ms */
    struct fly_tcache *tc_next, *tc_prev;   /* registry, under the registry lock */
    fly_heap_t *tc_heap;           /* where the magazines come from and go */
    fly_heap_t *tc_move_to;        /* NUMA local: the heap of the node the thread now runs on */
    uint64_t tc_cap_bytes;         /* sum of 2 * capacity * size: at most the budget */
    /* Slow-path only, per page class: */
    fly_mag_t *tc_loaded[FLY_PC_COUNT];    /* the loaded magazine, where mallocs come from */
    uint64_t tc_misses[FLY_PC_COUNT];      /* mallocs neither magazine could serve */
    uint64_t tc_activity[FLY_PC_COUNT];    /* slow-path visits, for aging */
    uint64_t tc_activity_seen[FLY_PC_COUNT];
    uint8_t tc_last_trip[FLY_PC_COUNT];    /* FLY_TRIP_*: the bin's last depot visit */
    uint32_t tc_held[FLY_PC_COUNT];        /* in the secure mode's quarantine (secure.c): freed
                                            * by the program, so counted as cached */
    fly_lcache_t tc_lcache;                /* small large blocks (large.h) */
    uint64_t tc_sampled_at;                /* FLYMALLOC_PROFILE: mallocs made at the last
                                            * sample (sample.h) */
    uint64_t tc_reallocs;                  /* FLYMALLOC_PROFILE: realloc calls */
} fly_tcache_t;

#define FLY_TRIP_NONE   0
#define FLY_TRIP_REFILL 1    /* for a full magazine (or a burst fill) */
#define FLY_TRIP_SPILL  2    /* with a full magazine */

/* A static cache in state st: every bin not set up. */
#define FLY_TCACHE_INIT(st) { .tc_state = (st), .tc_heap = &fly_heap_default, \
                             .tc_bins = { [0 ... FLY_PC_COUNT - 1] = FLY_TCBIN_NONE } }

/* Byte offset of class c's bin in a cache; malloc's class table holds these
 * (fly_bin_table), which saves the fast path scaling a class index. */
#define FLY_BIN_OFFSET(c) (offsetof(fly_tcache_t, tc_bins) + (c) * sizeof(fly_tcbin_t))
#define FLY_BIN_CLASS(off) (((off) - offsetof(fly_tcache_t, tc_bins)) / sizeof(fly_tcbin_t))
/* Bin offsets for sizes up to FLY_FAST_MAX at 16-byte granularity, and up
 * to FLY_SMALL_MAX at 128 (class 0, whose bin always misses, until
 * initialization). */
extern uint16_t fly_bin_table[FLY_FAST_MAX / 16 + 1];
extern uint16_t fly_bin_table_medium[FLY_SMALL_MAX / 128 + 1];
/* Fills the bin tables from the size classes (fly_init). */
void fly_tcache_init(void);

/* Rounds in the loaded magazine of class c (bin set up). */
FLY_INLINE uint32_t fly_tcache_loaded_rounds(const fly_tcache_t *tc, unsigned c)
{
    return (uint32_t)(tc->tc_bins[c].tb_top - tc->tc_loaded[c]->m_objs);
}

/* Bin c's loaded magazine is empty: the previous one becomes the loaded
 * one (keeping its rounds: malloc's top is free's top) and the empty one
 * takes frees.  The magazines' m_rounds are left stale; they are written
 * whenever a magazine leaves the bin (tcache.c, unload_*). */
FLY_INLINE void fly_tcbin_swap(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    fly_mag_t *empty = tc->tc_loaded[c];
    FLY_SET(tc->tc_loaded[c], fly_tcbin_prev(b));
    FLY_SET(b->tb_top, b->tb_ftop);
    FLY_SET(b->tb_ftop, empty->m_objs);
    FLY_SET(b->tb_flimit, empty->m_objs + b->tb_cap);
}

extern __thread fly_tcache_t *fly_tc;
/* Each thread's cache, so that its destructor drains it at thread exit
 * (created by fly_init, which owns the destructor). */
extern pthread_key_t fly_thread_key;
extern fly_tcache_t fly_tcache_empty, fly_tcache_dead;

/* The heap the calling thread allocates from. */
FLY_INLINE fly_heap_t *fly_tcache_heap(void)
{
    return fly_tc->tc_heap;
}

/* The heap the calling thread's large blocks come from: its cache's, or,
 * before it has one, the heap its cache will be made on (node.h). */
fly_heap_t *fly_tcache_home_heap_os(void);

/* The calling thread's cache of large blocks, or NULL if it has no cache. */
FLY_INLINE fly_lcache_t *fly_tcache_lcache(void)
{
    fly_tcache_t *tc = fly_tc;
    return tc->tc_state == FLY_TC_LIVE ? &tc->tc_lcache : NULL;
}

/* malloc's general slow path (the API's miss calls it once initialized
 * and not tracing, when no swap could serve): a depot visit, a burst fill,
 * a due tick, or the thread's first cache. */
void *fly_tcache_malloc_slow_os(size_t size, unsigned c);
void fly_tcache_free_slow_os(void *p, unsigned c);
/* An object of class c for a request of size bytes straight from heap h's
 * zones, counted like the caches' mallocs (a thread with no cache, or a
 * block asked of another heap: fly_malloc_node). */
void *fly_tcache_malloc_from_os(fly_heap_t *h, size_t size, unsigned c);
/* The fast path's tick counter ran out: maintenance, then a normal pop. */
void *fly_tcache_malloc_tick_os(size_t size, unsigned c);
/* Gives the calling thread's cached objects back to the zones. */
void fly_tcache_flush(void);
/* The same, and its cached large blocks (fly_ctl "thread.tcache.flush"). */
void fly_tcache_flush_thread(void);
/* Moves the calling thread to heap h: what its cache holds goes back to
 * the old heap, and later allocations come from h.  False (errno ENOMEM)
 * when no cache can be made. */
bool fly_tcache_attach_os(fly_heap_t *h);
/* Maintenance every po_tick_events mallocs: this cache's aging and trim,
 * then the maintenance layer's tick. */
void fly_tcache_tick_os(fly_tcache_t *tc);
/* Per class, over every thread (live, exited and uncached): objects cached,
 * allocations, bytes requested, cache misses.  Each array is added to. */
typedef struct fly_tcache_counts {
    uint64_t cached[FLY_MAX_CLASSES + 1];
    uint64_t nmalloc[FLY_MAX_CLASSES + 1];
    uint64_t requested[FLY_MAX_CLASSES + 1];
    uint64_t misses[FLY_MAX_CLASSES + 1];
    uint64_t reallocs;                     /* counted only under FLYMALLOC_PROFILE */
} fly_tcache_counts_t;
/* Only the caches of heap h, or of every heap if h is NULL (exited threads
 * count with the default heap). */
void fly_tcache_counts(const fly_heap_t *h, fly_tcache_counts_t *out);
/* Counts a realloc call of the calling thread (FLYMALLOC_PROFILE). */
void fly_tcache_note_realloc(void);
/* The pthread key destructor's work: drains the thread's cache; true if
 * there was one. */
bool fly_tcache_thread_exit_os(void *arg);
/* What the calling thread's cache may hold now: its heap's budget, or its
 * share of full_threads budgets when more threads have a cache (tcache.c);
 * 0 without a cache. */
uint64_t fly_tcache_budget(void);
/* The most threads that had a cache at once, so far. */
uint32_t fly_tcache_peak_threads(void);
void fly_tcache_lock_all(void);
void fly_tcache_unlock_all(bool child);

#endif
