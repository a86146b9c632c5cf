/*
 * depot.h: a heap's magazine depot, per class (depot.c), and the magazine
 * geometry its policy gives each class.  Each class's state is guarded by
 * the class lock of the heap's slab (slab.h).
 */
#ifndef FLY_DEPOT_H
#define FLY_DEPOT_H

#include "mag.h"
#include "policy.h"
#include "slab.h"

typedef struct fly_depot_class {
    /* Geometry, fixed at fly_depot_init: */
    uint32_t dc_mag_base;        /* a bin's starting capacity, its share of a quarter of the budget */
    uint32_t dc_mag_cap;         /* magazine capacity: a bin's rounds never exceed it */
    uint64_t dc_bound_bytes;     /* objects the depot keeps: po_depot_bytes, or a magazine at dc_mag_cap */
    /* Guarded by the slab class lock: */
    fly_mag_t *dc_full, *dc_empty;
    uint32_t dc_nfull, dc_nempty;
    uint32_t dc_full_min;        /* low-water mark of dc_nfull this interval */
    uint64_t dc_full_rounds;     /* objects in the full magazines */
    uint64_t dc_pops;            /* full magazines taken so far */
    uint64_t dc_pops_at_reap;    /* ... at the last reap: unchanged means idle */
    uint64_t dc_exchanges, dc_contended;
} FLY_ALIGNED_CL fly_depot_class_t;

typedef struct fly_depot {
    fly_depot_class_t dp_class[FLY_MAX_CLASSES + 1];
    fly_slab_t *dp_slab;
    /* Sums over the classes of 2 * dc_mag_base * size and of
     * 2 * dc_mag_cap * size: what a thread's bins hold at their base, and at most. */
    uint64_t dp_mag_base_bytes, dp_mag_cap_bytes;
} fly_depot_t;

/* Empty depot over sl, its geometry from po (sizeclass.c built the classes). */
void fly_depot_init(fly_depot_t *dp, fly_slab_t *sl, const fly_policy_t *po);
/* An empty magazine of class c's capacity (NULL if out of memory). */
fly_mag_t *fly_depot_empty_mag_os(fly_depot_t *dp, unsigned c);
/* Takes back empty magazines (m_next-chained). */
void fly_depot_return_empty(fly_depot_t *dp, unsigned c, fly_mag_t *m);
/* Refills: trades the empty magazine for a full one, or burst-fills it from
 * the zones; returns the magazine to load (its m_rounds may be 0: no memory). */
fly_mag_t *fly_depot_refill_os(fly_depot_t *dp, unsigned c, fly_mag_t *empty, unsigned burst);
/* Trades a full magazine for an empty one (the same one drained to the zones
 * when the depot is at its bound or no magazine can be had).  Rounds of
 * other heaps go back to their own zones first. */
fly_mag_t *fly_depot_exchange_full_os(fly_depot_t *dp, unsigned c, fly_mag_t *full);
/* Drains a magazine's rounds to their zones. */
void fly_depot_drain_mag(fly_depot_t *dp, unsigned c, fly_mag_t *m);
/* Aging: returns to the zones the full magazines not needed in the last
 * interval (Bonwick's working-set reap).  With force, all of them. */
void fly_depot_reap(fly_depot_t *dp, bool force);

#endif
