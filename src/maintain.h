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
#include "heap.h"

/* Heap h's maintenance, due at now; with the default heap's reap pass,
 * the huge cache's expiry. */
void fly_maintain_heap_os(fly_heap_t *h, uint64_t now);

/* A thread's tick at now: every heap's reap and purge when due, and the
 * huge cache's expiry. */
FLY_INLINE void fly_maintain_tick_os(uint64_t now)
{
    uint32_t n = fly_heap_count();
    for (uint32_t i = 0; i < n; i++) {
        fly_heap_t *h = fly_heap_at(i);
        if (fly_unlikely(fly_heap_maintenance_due(h, now)))
            fly_maintain_heap_os(h, now);
    }
}
/* Every heap's depots reaped and dirty pages purged, cached huge mappings
 * and empty regions unmapped. */
void fly_maintain_trim_os(void);
/* The import-failure hook: unmaps cached huge mappings and empty regions;
 * true if anything was released. */
bool fly_maintain_release_os(void);

#endif
