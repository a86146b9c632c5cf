/*
 * maintain.c: the maintenance layer, the one place that decides when
 * memory goes back.
 *
 * No background thread is needed (FLYMALLOC_BACKGROUND=1 starts one that
 * runs the same tick: background.c).  Each thread cache runs a tick every
 * po_tick_events mallocs (and frees, a full magazine at a time); the tick
 * ages the thread's own cache (tcache.c) and then calls
 * fly_maintain_tick_os, which gives every heap its maintenance (heap.c:
 * the depot reap and purge pass once per interval, a purge pass whenever
 * dirty pages have waited out the decay time) and, with the default heap's
 * reap pass, unmaps cached huge mappings idle for its decay time.  The
 * tick itself is inline (maintain.h): it reads two words per heap and
 * calls out only when a heap has work due.
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

void fly_maintain_heap_os(fly_heap_t *h, uint64_t now)
{
    if (fly_heap_maintain_os(h, now) && h == &fly_heap_default)
        fly_huge_maintain_os(now, fly_heap_decay_ms(h), false);
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
