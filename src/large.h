/*
 * large.h: blocks from above the small classes up to a region's usable
 * size, page spans carved from a heap's arena (large.c), and the
 * per-thread cache of small ones that the thread cache holds for them.
 */
#ifndef FLY_LARGE_H
#define FLY_LARGE_H

#include "common.h"
#include "region.h"
#include "usage.h"

struct fly_vmem;

#define FLY_LARGE_MAX (((size_t)FLY_REGION_PAGES - FLY_REGION_HEADER_PAGES) << FLY_PAGE_SHIFT)

/* A thread's cache of freed blocks of 1..FLY_LCACHE_PAGES pages
 * (Bonwick's quantum caches), FLY_LCACHE_DEPTH per size, within lc_limit
 * bytes.  Only blocks of its home arena are kept.  Owned by one thread. */
#define FLY_LCACHE_PAGES 32
#define FLY_LCACHE_DEPTH 4
typedef struct fly_lcache_bin {
    uint32_t lb_count;
    void *lb_blocks[FLY_LCACHE_DEPTH];
} fly_lcache_bin_t;

typedef struct fly_lcache {
    struct fly_vmem *lc_home;    /* the arena the thread allocates from */
    uint64_t lc_bytes;           /* bytes in lc_bin */
    uint64_t lc_limit;           /* at most this many */
    fly_lcache_bin_t lc_bin[FLY_LCACHE_PAGES + 1];
} fly_lcache_t;

/* An empty cache for blocks of arena home, holding at most limit bytes. */
void fly_lcache_init(fly_lcache_t *lc, struct fly_vmem *home, uint64_t limit);
/* A block of size bytes aligned to align from lc (may be NULL: no cache)
 * or from vm. */
void *fly_large_alloc_os(struct fly_vmem *vm, fly_lcache_t *lc, size_t size, size_t align,
                         bool zero);
/* p's page is a large head (FLY_PC_LARGE) and p is page aligned.  It goes
 * into lc (may be NULL) if it belongs to lc's arena and there is room,
 * else back to its own arena. */
void fly_large_free(fly_lcache_t *lc, void *p);
size_t fly_large_usable(const void *p);
/* Resizes in place (shrink, or grow into free pages after it). */
bool fly_large_resize_inplace(void *p, size_t newsize);
/* Gives every block lc holds back to its arena. */
void fly_large_flush(fly_lcache_t *lc);
void fly_large_counts(fly_block_counts_t *out);
/* The secure mode keeps a block the program freed (secure.c): it counts
 * as cached, not live, until it is handed out again (reused) or freed. */
void fly_large_hold(size_t bytes);
void fly_large_unhold(size_t bytes, bool reused);

#endif
