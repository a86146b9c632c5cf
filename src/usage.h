/*
 * usage.h: bytes handed out by the layers that carve memory (slab zones to
 * caches and the program, large and huge blocks), and their peak (usage.c);
 * and the counters the large and huge layers keep for statistics.
 */
#ifndef FLY_USAGE_H
#define FLY_USAGE_H

#include "common.h"

/* Adds delta_bytes to the bytes handed out, raising the peak. */
void fly_usage_note(int64_t delta_bytes);
/* The highest bytes handed out so far. */
uint64_t fly_usage_peak(void);

/* Counters of the large or the huge layer. */
typedef struct fly_block_counts {
    uint64_t bc_nalloc;          /* allocations so far */
    uint64_t bc_nlive;           /* blocks live now */
    uint64_t bc_live_bytes;
    uint64_t bc_cached_bytes;    /* freed blocks kept for reuse (huge only) */
    uint64_t bc_requested;       /* bytes asked for, all allocations so far */
    uint64_t bc_usable;          /* bytes handed out for them */
} fly_block_counts_t;

#endif
