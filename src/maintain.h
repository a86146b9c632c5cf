/*
 * maintain.h: the maintenance layer (maintain.c): who gives memory back,
 * and when.  Thread caches call it from their ticks; malloc_trim and
 * fly_ctl("arena.purge") call it to give everything back now; arenas and
 * the huge layer call it through their import-failure hooks when the OS
 * refuses address space.
 */
#ifndef FLY_MAINTAIN_H
#define FLY_MAINTAIN_H

#include "common.h"

/* A thread's tick at now: every heap's reap and purge when due, and the
 * huge cache's expiry. */
void fly_maintain_tick_os(uint64_t now);
/* Every heap's depots reaped and dirty pages purged, cached huge mappings
 * and empty regions unmapped. */
void fly_maintain_trim_os(void);
/* The import-failure hook: unmaps cached huge mappings and empty regions;
 * true if anything was released. */
bool fly_maintain_release_os(void);

#endif
