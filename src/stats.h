/*
 * stats.h: statistics merged from every layer (stats.c), their names (one
 * list, used by printing, fly_ctl and the trace), and the fragmentation
 * characterization (frag.c).
 */
#ifndef FLY_STATS_H
#define FLY_STATS_H

#include "flymalloc.h"
#include "common.h"
#include "text.h"

/* Every summary figure once: its name (JSON, fly_ctl "stats.NAME") and
 * the fly_stats_t field. */
#define FLY_STATS_FIELDS(X)                               \
    X(allocations, st_nmalloc)                            \
    X(frees, st_nfree)                                    \
    X(requested_bytes, st_requested_bytes)                \
    X(usable_bytes, st_usable_bytes)                      \
    X(live_bytes, st_live_bytes)                          \
    X(peak_bytes, st_peak_bytes)                          \
    X(resident_bytes, st_resident_bytes)                  \
    X(mapped_bytes, st_mapped_bytes)                      \
    X(dirty_bytes, st_dirty_bytes)                        \
    X(cold_bytes, st_cold_bytes)                          \
    X(cached_bytes, st_cached_bytes)                      \
    X(zone_bytes, st_zone_bytes)                          \
    X(small_bytes, st_small_bytes)                        \
    X(large_bytes, st_large_bytes)                        \
    X(huge_bytes, st_huge_bytes)                          \
    X(huge_blocks, st_huge_blocks)                        \
    X(meta_bytes, st_meta_bytes)                          \
    X(cache_hits, st_cache_hits)                          \
    X(cache_misses, st_cache_misses)                      \
    X(bursts, st_bursts)                                  \
    X(depot_exchanges, st_depot_exchanges)                \
    X(depot_contended, st_depot_contended)                \
    X(zones, st_zones)                                    \
    X(coalesces, st_coalesces)                            \
    X(purges, st_purges)                                  \
    X(purged_bytes, st_purged_bytes)                      \
    X(mmap_calls, st_mmap_calls)                          \
    X(mmap_bytes, st_mmap_bytes)                          \
    X(munmap_calls, st_munmap_calls)                      \
    X(munmap_bytes, st_munmap_bytes)                      \
    X(madvise_calls, st_madvise_calls)                    \
    X(madvise_bytes, st_madvise_bytes)                    \
    X(mremap_calls, st_mremap_calls)                      \
    X(mremap_bytes, st_mremap_bytes)

/* Per size class: name ("stats.classes.N.NAME") and fly_class_stats_t field. */
#define FLY_CLASS_STATS_FIELDS(X)                         \
    X(size, cs_size)                                      \
    X(allocations, cs_nmalloc)                            \
    X(frees, cs_nfree)                                    \
    X(requested_bytes, cs_requested)                      \
    X(live, cs_live)                                      \
    X(cached, cs_cached)                                  \
    X(hits, cs_hits)                                      \
    X(misses, cs_misses)                                  \
    X(bursts, cs_bursts)                                  \
    X(exchanges, cs_exchanges)                            \
    X(contended, cs_contended)                            \
    X(zones, cs_zones)                                    \
    X(zone_bytes, cs_zone_bytes)                          \
    X(capacity, cs_capacity)

/* One heap's figures (heap.h): fly_ctl "stats.heaps.N.NAME" (N from 0,
 * the default heap) and the JSON's "heaps" list.  Objects cached by a
 * thread count with the heap the thread is on. */
typedef struct fly_heap_stats {
    uint64_t hs_small_bytes;     /* live slab objects from the heap's zones */
    uint64_t hs_cached_bytes;    /* free objects in its depot and its threads' caches */
    uint64_t hs_zone_bytes;      /* its zones */
    uint64_t hs_used_bytes;      /* pages its arena has handed out (zones and large blocks) */
    uint64_t hs_dirty_bytes, hs_cold_bytes, hs_mapped_bytes;
    uint64_t hs_purges, hs_purged_bytes;
    uint64_t hs_reaps;           /* maintenance passes that reaped its depot */
    uint64_t hs_came_home;       /* its objects freed on other heaps' threads that came back */
} fly_heap_stats_t;

#define FLY_HEAP_STATS_FIELDS(X)                          \
    X(small_bytes, hs_small_bytes)                        \
    X(cached_bytes, hs_cached_bytes)                      \
    X(zone_bytes, hs_zone_bytes)                          \
    X(used_bytes, hs_used_bytes)                          \
    X(dirty_bytes, hs_dirty_bytes)                        \
    X(cold_bytes, hs_cold_bytes)                          \
    X(mapped_bytes, hs_mapped_bytes)                      \
    X(purges, hs_purges)                                  \
    X(purged_bytes, hs_purged_bytes)                      \
    X(reaps, hs_reaps)                                    \
    X(came_home, hs_came_home)

/* Heaps there are now. */
uint32_t fly_stats_heaps(void);
/* Heap i's figures; -1 if there is no heap i. */
int fly_stats_heap(uint32_t i, fly_heap_stats_t *hs);

/* Fragmentation, from one fly_stats_t (frag.c).  Bytes throughout. */
typedef struct fly_frag {
    uint64_t fr_held;            /* everything flymalloc keeps resident-capable */
    uint64_t fr_live;            /* usable bytes of live blocks */
    uint64_t fr_internal;        /* estimated rounding waste inside live small objects */
    uint64_t fr_zone_free;       /* free slots in zones in use */
    uint64_t fr_cached;          /* free objects in caches and depots, cached huge blocks */
    uint64_t fr_dirty;           /* free pages kept resident for reuse */
    uint64_t fr_cold;            /* free pages given back to the OS */
    uint64_t fr_meta;
    uint64_t fr_worst_class_size;    /* class with the most zone free space */
    uint64_t fr_worst_class_free;
    uint64_t fr_worst_class_util_pct; /* its zones' utilization */
} fly_frag_t;

#define FLY_FRAG_FIELDS(X)                                \
    X(held_bytes, fr_held)                                \
    X(live_bytes, fr_live)                                \
    X(internal_bytes, fr_internal)                        \
    X(zone_free_bytes, fr_zone_free)                      \
    X(cached_bytes, fr_cached)                            \
    X(dirty_bytes, fr_dirty)                              \
    X(cold_bytes, fr_cold)                                \
    X(meta_bytes, fr_meta)                                \
    X(worst_class_size, fr_worst_class_size)              \
    X(worst_class_free_bytes, fr_worst_class_free)        \
    X(worst_class_utilization_pct, fr_worst_class_util_pct)

void fly_frag_compute(const fly_stats_t *st, fly_frag_t *fr);
/* The plain-words summary into buf (NUL-terminated); returns its length. */
size_t fly_frag_summary(const fly_stats_t *st, char *buf, size_t len);

#endif
