/*
 * depot.h: the per-class magazine depot (see depot.c).
 */
#ifndef FLY_DEPOT_H
#define FLY_DEPOT_H

#include "slab.h"

/* An empty magazine of class c's capacity (NULL if out of memory). */
fly_mag_t *fly_depot_empty_mag_os(unsigned c);
/* Takes back empty magazines (m_next-chained). */
void fly_depot_return_empty(unsigned c, fly_mag_t *m);
/* Refills: trades the empty magazine for a full one, or burst-fills it from
 * the zones; returns the magazine to load (its m_rounds may be 0: no memory). */
fly_mag_t *fly_depot_refill_os(unsigned c, fly_mag_t *empty, unsigned burst);
/* Trades a full magazine for an empty one (the same one drained to the zones
 * when the depot is at its bound or no magazine can be had). */
fly_mag_t *fly_depot_exchange_full_os(unsigned c, fly_mag_t *full);
/* Drains a magazine's rounds to the zones. */
void fly_depot_drain_mag_os(unsigned c, fly_mag_t *m);
/* Aging: returns to the zones the full magazines not needed in the last
 * interval (Bonwick's working-set reap).  With force, all of them. */
void fly_depot_reap_os(bool force);
void fly_depot_lock_all(void);
void fly_depot_unlock_all(bool child);

#endif
