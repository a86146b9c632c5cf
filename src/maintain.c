/*
 * maintain.c: the maintenance layer, the one place that decides when
 * memory goes back.
 *
 * There is no background thread.  Each thread cache runs a tick every
 * po_tick_events mallocs (and frees, a full magazine at a time); the tick
 * ages the thread's own cache (tcache.c) and then calls
 * fly_maintain_tick_os, which gives every heap its maintenance (heap.c:
 * the depot reap and purge pass once per interval, a purge pass whenever
 * dirty pages have waited out the decay time) and, once per the default
 * heap's interval, unmaps cached huge mappings idle for its decay time.
 * Each of those is claimed by one thread with a compare-and-swap, so
 * threads ticking at once do not repeat work.
 *
 * Address space running out is handled here too: arenas and the huge layer
 * call fly_maintain_release_os through their import-failure hooks (set up
 * by fly_init), never each other.
 */
#include "maintain.h"
#include "heap.h"
#include "huge.h"

static uint64_t maintain_next_huge;      /* atomic, ms */

void fly_maintain_tick_os(uint64_t now)
{
    uint32_t n = fly_heap_count();
    for (uint32_t i = 0; i < n; i++)
        fly_heap_maintain_os(fly_heap_at(i), now);
    uint64_t due = __atomic_load_n(&maintain_next_huge, __ATOMIC_RELAXED);
    if (now >= due && __atomic_compare_exchange_n(
                          &maintain_next_huge, &due,
                          now + fly_heap_default.hp_policy.po_gc_interval_ms, false,
                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        fly_huge_maintain_os(now, fly_heap_decay_ms(&fly_heap_default), false);
}

void fly_maintain_trim_os(void)
{
    uint32_t n = fly_heap_count();
    for (uint32_t i = 0; i < n; i++)
        fly_heap_trim_os(fly_heap_at(i));
    fly_huge_maintain_os(0, 0, true);
    for (uint32_t i = 0; i < n; i++)
        fly_heap_release_empty_os(fly_heap_at(i));
}

bool fly_maintain_release_os(void)
{
    bool released = fly_huge_maintain_os(0, 0, true);
    uint32_t n = fly_heap_count();
    for (uint32_t i = 0; i < n; i++)
        released |= fly_heap_release_empty_os(fly_heap_at(i));
    return released;
}
