/*
 * policy.h: every tunable of the slab and magazine layers, in one place.
 *
 * A policy is a parameter vector over the one engine (DESIGN, meta-allocator):
 * the class set, magazine sizing, burst size, depot bounds and decay.  Each
 * heap (heap.h) holds its own copy, frozen when the heap is made; the class
 * set is process-wide (the default heap's), the rest may differ per heap.
 * The numbers a thread's fast path needs are copied into its cache's bins,
 * so the fast path's code never changes with the policy.  Two values are
 * FLYMALLOC_* settings (options.def, config.c) that can also be changed at
 * run time through fly_ctl (opt.decay_ms, opt.tcache_bytes); those live in
 * the heap beside the frozen policy.
 */
#ifndef FLY_POLICY_H
#define FLY_POLICY_H

#include "common.h"

#define FLY_MAX_CLASSES 44

typedef struct fly_policy {
    uint32_t po_nclasses;                 /* classes 1..po_nclasses */
    uint32_t po_class_size[FLY_MAX_CLASSES + 1];
    uint64_t po_tcache_bytes;             /* per-thread cache budget */
    uint32_t po_mag_max_rounds;           /* cap on magazine capacity */
    uint32_t po_mag_max_bytes;            /* a magazine's rounds hold at most this */
    uint32_t po_mag_min_rounds;           /* ... or this many rounds, if more */
    uint32_t po_burst_div;                /* a slab burst fills cap/div rounds */
    uint64_t po_depot_bytes;              /* per class; beyond it, back to zones */
    uint64_t po_decay_ms;                 /* idle time before purging dirty pages */
    uint32_t po_tick_events;              /* mallocs between maintenance ticks */
    uint64_t po_gc_interval_ms;           /* thread-cache and depot aging period */
    uint64_t po_large_cache_bytes;        /* per-thread cache of small large blocks */
    uint64_t po_huge_cache_bytes;         /* cached huge mappings */
    uint32_t po_engine;                   /* FLY_ENGINE_*: what serves small requests */
    uint32_t po_bump_free_permille;       /* bump: the guard rail's share of frees */
    uint32_t po_owner_heaps;              /* above 1: each thread a heap of its own, up to
                                           * this many, and what another thread frees goes
                                           * back to its heap (the owner policy) */
    uint32_t po_zone_purge_pages;         /* nonzero: sparse zones give free pages back
                                           * each time the arena grows by this many (slab.c) */
} fly_policy_t;

/* Engines: the slab zones under magazines, or the bump engine (bump.h),
 * which the thread layer puts in front of a heap's slabs. */
#define FLY_ENGINE_SLAB 0
#define FLY_ENGINE_BUMP 1

void fly_policy_defaults(fly_policy_t *po);

#endif
