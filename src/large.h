/*
 * large.h: blocks above the small classes (large.c: page multiples carved
 * from vmem; huge.c: blocks bigger than a region, in their own mappings).
 */
#ifndef FLY_LARGE_H
#define FLY_LARGE_H

#include "common.h"
#include "region.h"

#define FLY_LARGE_MAX (((size_t)FLY_REGION_PAGES - FLY_REGION_HEADER_PAGES) << FLY_PAGE_SHIFT)

/* Counters of the large or the huge layer, for statistics. */
typedef struct fly_block_counts {
    uint64_t bc_nalloc;          /* allocations so far */
    uint64_t bc_nlive;           /* blocks live now */
    uint64_t bc_live_bytes;
    uint64_t bc_cached_bytes;    /* freed blocks kept for reuse (huge only) */
    uint64_t bc_requested;       /* bytes asked for, all allocations so far */
    uint64_t bc_usable;          /* bytes handed out for them */
} fly_block_counts_t;

void *fly_large_alloc_os(size_t size, size_t align, bool zero);
/* p's page is a large head (FLY_PC_LARGE) and p is page aligned. */
void fly_large_free_os(void *p);
size_t fly_large_usable(const void *p);
/* Resizes in place (shrink, or grow into free pages after it). */
bool fly_large_resize_inplace(void *p, size_t newsize);
void fly_large_flush_thread(void);
void fly_large_maintain_os(uint64_t now);
void fly_large_counts(fly_block_counts_t *out);

void *fly_huge_alloc_os(size_t size, size_t align, bool zero);
/* p is in a huge mapping (region map says so); panics on misuse. */
void fly_huge_free_os(void *p, const char *fname);
size_t fly_huge_usable(const void *p, const char *fname);
void *fly_huge_realloc_os(void *p, size_t newsize);
void fly_huge_maintain_os(uint64_t now, bool force);
void fly_huge_counts(fly_block_counts_t *out);
/* When the OS refuses a mapping: unmaps cached huge mappings and empty
 * regions; true if anything was released, so a retry may succeed. */
bool fly_release_address_space_os(void);
void fly_huge_lock_all(void);
void fly_huge_unlock_all(bool child);

#endif
