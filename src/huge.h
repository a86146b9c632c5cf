/*
 * huge.h: blocks bigger than a region's usable part, each in its own
 * mapping, and the cache of freed ones (huge.c).  Process-wide, shared by
 * every heap.
 */
#ifndef FLY_HUGE_H
#define FLY_HUGE_H

#include "common.h"
#include "usage.h"

/* Called with no lock held when the OS refuses a mapping; true if it gave
 * address space back, so that a retry may succeed. */
typedef bool (*fly_huge_import_fail_fn)(void);

/* Before use: the cache's bound and the hook for a refused mapping. */
void fly_huge_init(uint64_t cache_bytes, fly_huge_import_fail_fn hook);
void *fly_huge_alloc_os(size_t size, size_t align, bool zero);
/* p is in a huge mapping (region map says so); panics on misuse. */
void fly_huge_free_os(void *p, const char *fname);
size_t fly_huge_usable(const void *p, const char *fname);
/* The same without the panic: 0 when p is not a live huge block. */
size_t fly_huge_live_size(const void *p);
void *fly_huge_realloc_os(void *p, size_t newsize);
/* Unmaps cached mappings idle for decay_ms (all of them if force); true if
 * it unmapped any. */
bool fly_huge_maintain_os(uint64_t now, uint64_t decay_ms, bool force);
void fly_huge_counts(fly_block_counts_t *out);
void fly_huge_lock_all(void);
void fly_huge_unlock_all(bool child);

#endif
