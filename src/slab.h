/*
 * slab.h: slab zones, runs of pages carved into objects of one size class
 * (slab.c).  A heap owns one fly_slab_t: per class its partial zones, and
 * the arena its zones come from.  Each class's lock also guards that
 * heap's depot of the class (depot.h), so a magazine miss is served from
 * the depot or by a burst from the zones under one acquisition.
 */
#ifndef FLY_SLAB_H
#define FLY_SLAB_H

#include "common.h"
#include "lock.h"
#include "region.h"
#include "sizeclass.h"

struct fly_vmem;

typedef struct fly_slab_class {
    fly_lock_t sc_lock;          /* the class lock: these fields and the depot's class */
    fly_zone_t *sc_partial;      /* zones with free and used objects */
    uint64_t sc_nzones;
    uint64_t sc_objs_out;        /* objects outside zones (caches + program) */
    uint64_t sc_zone_creates, sc_zone_releases, sc_bursts;
    /* Sparse-zone passes (slab.c): pages the class's last pass closed, of
     * them reopened since, and passes to sit out (and the next such wait). */
    uint32_t sc_closed_last, sc_reopened;
    uint16_t sc_pass_skip, sc_pass_backoff;
} FLY_ALIGNED_CL fly_slab_class_t;

/* A zone a sparse-zone pass is closing pages of (slab.c). */
typedef struct fly_closing {
    fly_zone_t *cz_zone;
    uint64_t cz_pages;
} fly_closing_t;
#define FLY_PASS_ZONES 64

typedef struct fly_slab {
    fly_slab_class_t sl_class[FLY_MAX_CLASSES + 1];
    struct fly_vmem *sl_vmem;    /* where zones come from and go back to; fixed */
    bool sl_bump;                /* fills come from the bump engine until it spills */
    void *sl_depot;              /* the depot over this slab (set by the depot) */
    uint64_t sl_came_home;       /* objects sent back from other heaps' caches (atomic) */
    /* Sparse-zone purging (atomic): free slot bytes in the zones, of them
     * the bytes of closed pages, the arena's new pages at the last pass,
     * whether a pass runs, and pages purged so far. */
    int64_t sl_free_bytes;
    int64_t sl_closed_bytes;
    uint64_t sl_fresh_seen;
    uint32_t sl_pass_growth;     /* new pages between passes; 0: no passes (fixed) */
    uint32_t sl_passing;
    /* The pass's batch, one class at a time, while its pages are purged
     * (here, not on a stack, so that a fork child can give them back). */
    uint32_t sl_batch_class, sl_batch_n;
    fly_closing_t sl_batch[FLY_PASS_ZONES];
    uint64_t sl_page_purges;
} fly_slab_t;

/* Makes sl empty, taking zones from vm, and filling from the bump engine
 * (bump.h) instead if bump; sparse-zone passes run each time vm grows by
 * pass_growth pages (0: never).  Not thread-safe: before use. */
/* The secure mode (set once, at initialization): new zones are zeroed, so
 * a slot is all zero until handed out, and each fill hands its objects out
 * in random order. */
extern bool fly_slab_secure;

void fly_slab_init(fly_slab_t *sl, struct fly_vmem *vm, bool bump, uint32_t pass_growth);
/* Moves up to want free objects of class c into dst.  Takes the class lock
 * itself (dropping it to create zones); returns how many (0: out of memory).
 * A bump slab carves them instead (no lock), until the engine spills. */
unsigned fly_slab_fill_os(fly_slab_t *sl, unsigned c, void **dst, unsigned want);
/* With the class lock held: the same, without creating zones (a bump
 * slab that has not spilled takes none). */
unsigned fly_slab_take_locked(fly_slab_t *sl, unsigned c, void **dst, unsigned want);
/* With the class lock held: returns objects of sl's own zones; zones that
 * become empty are chained on *empty for fly_slab_release() after
 * unlocking.  Panics on an object that is already free. */
void fly_slab_put_locked(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n,
                         fly_zone_t **empty);
/* Without locks: gives empty zones back to their arenas (as dirty pages). */
void fly_slab_release(fly_zone_t *empty);
/* Returns objects of class c to their zones, whichever slab owns them;
 * a bump slab gives the bump engine's back to it. */
void fly_slab_put(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n);
/* Sends the objects of objs[0..n) that lie in another slab's zones back to
 * them and packs sl's own at the front; returns how many are sl's.  With a
 * single slab in the process nothing is looked at. */
unsigned fly_slab_keep_own(fly_slab_t *sl, unsigned c, void **objs, unsigned n);
/* The slab all of objs[0..n) belong to when that is one slab other than
 * sl, else NULL (with a single slab in the process nothing is looked at).
 * Panics on an object of no live zone of class c. */
fly_slab_t *fly_slab_foreign_home(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n);
/* The heap is about to take memory (a zone or a large block): when its
 * arena has been growing and its zones hold much free space, purges the
 * pages of sparse zones whose every slot is free (slab.c).  No lock held. */
void fly_slab_make_room_os(fly_slab_t *sl);
/* Checks that p is the start of an object in a live zone of class c. */
bool fly_slab_valid(const void *p, unsigned c);
/* The slab whose zone holds p (p passed fly_slab_valid for some class). */
fly_slab_t *fly_slab_of(const void *p);
void fly_slab_lock_all(fly_slab_t *sl);
void fly_slab_unlock_all(fly_slab_t *sl, bool child);

#endif
