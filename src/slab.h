/*
 * slab.h: per-class state of the slab zones and the depot (see slab.c and
 * depot.c).  Both layers of one class share one lock, so a magazine miss is
 * served from the depot or by a burst from the zones under one acquisition.
 */
#ifndef FLY_SLAB_H
#define FLY_SLAB_H

#include "common.h"
#include "lock.h"
#include "region.h"
#include "sizeclass.h"

typedef struct fly_mag {
    struct fly_mag *m_next;
    uint32_t m_rounds, m_cap;
    void *m_guard;          /* always NULL: m_objs[-1], where malloc sees "empty" */
    void *m_objs[];
} fly_mag_t;

typedef struct fly_slab_class {
    fly_lock_t sc_lock;
    /* Guarded by sc_lock.  Slab layer: */
    fly_zone_t *sc_partial;      /* zones with free and used objects */
    fly_zone_t *sc_spare;        /* empty zones kept back (po_zone_spares) */
    uint32_t sc_nspare;
    uint64_t sc_nzones;
    uint64_t sc_objs_out;        /* objects outside zones (caches + program) */
    uint64_t sc_zone_creates, sc_zone_releases, sc_bursts;
    /* Depot: */
    fly_mag_t *sc_full, *sc_empty;
    uint32_t sc_nfull, sc_nempty;
    uint32_t sc_full_min;        /* low-water mark of sc_nfull this interval */
    uint64_t sc_full_rounds;     /* objects in the full magazines */
    uint64_t sc_last_pop;        /* fly_epoch_ms when a full magazine was last taken */
    uint64_t sc_exchanges, sc_contended;
} FLY_ALIGNED_CL fly_slab_class_t;

extern fly_slab_class_t fly_slab_classes[FLY_MAX_CLASSES + 1];

/* Moves up to want free objects of class c into dst.  Takes the class lock
 * itself (dropping it to create zones); returns how many (0: out of memory). */
unsigned fly_slab_fill_os(unsigned c, void **dst, unsigned want);
/* With sc_lock held: same, without creating zones. */
unsigned fly_slab_take_locked(fly_slab_class_t *sc, unsigned c, void **dst, unsigned want);
/* With sc_lock held: returns objects to their zones; zones that become empty
 * are chained on *empty for fly_slab_release_os() after unlocking. */
void fly_slab_put_locked(fly_slab_class_t *sc, unsigned c, void *const *objs, unsigned n,
                         fly_zone_t **empty);
/* Without locks: gives empty zones back to vmem (as dirty pages). */
void fly_slab_release_os(fly_zone_t *empty);
/* Returns objects of class c to their zones: lock, put, unlock, release. */
void fly_slab_put_os(unsigned c, void *const *objs, unsigned n);
/* With sc_lock held: chains the spare empty zones on *empty for release. */
void fly_slab_shed_spares_locked(fly_slab_class_t *sc, fly_zone_t **empty);
/* Checks that p is the start of an object in a live zone of class c. */
bool fly_slab_valid(const void *p, unsigned c);

#endif
