/*
 * meta.h: memory for the allocator's own bookkeeping (magazines, thread
 * caches), never taken from the heap it manages.
 */
#ifndef FLY_META_H
#define FLY_META_H

#include "common.h"

/* Zeroed, cache-line aligned, never freed (callers keep free lists).  May map
 * memory: call with no allocator lock held.  NULL if the OS refuses. */
void *fly_meta_alloc_os(size_t size);
uint64_t fly_meta_bytes(void);
void fly_meta_lock_all(void);
void fly_meta_unlock_all(bool child);

#endif
