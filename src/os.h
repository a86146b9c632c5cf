/*
 * os.h: the only door to the kernel's memory system calls.
 *
 * Every mmap, munmap, madvise and mremap flymalloc makes goes through here and
 * is counted (calls and bytes), so statistics can report system calls per
 * operation.  Callers hold no allocator lock (asserted in debug builds).
 */
#ifndef FLY_OS_H
#define FLY_OS_H

#include "common.h"

typedef struct fly_os_counters {
    uint64_t oc_mmap_calls, oc_mmap_bytes;
    uint64_t oc_munmap_calls, oc_munmap_bytes;
    uint64_t oc_madvise_calls, oc_madvise_bytes;
    uint64_t oc_mremap_calls, oc_mremap_bytes;
    uint64_t oc_mapped_bytes;               /* currently mapped */
} fly_os_counters_t;

/* Maps size bytes (multiple of FLY_PAGE) aligned to align (power of two,
 * at least FLY_PAGE), read-write, zero-filled; NULL if the OS refuses. */
void *fly_os_map_aligned(size_t size, size_t align);
void fly_os_unmap(void *p, size_t size);
/* Gives the pages back to the OS; they read as zero afterwards. */
void fly_os_purge(void *p, size_t size);
/* Grows or shrinks a mapping in place; false if it cannot. */
bool fly_os_resize_inplace(void *p, size_t oldsize, size_t newsize);
/* Moves a mapping's pages to dst (a mapping of newsize bytes made by
 * fly_os_map_aligned), without copying; false if it cannot. */
bool fly_os_move(void *p, size_t oldsize, void *dst, size_t newsize);
void fly_os_counters(fly_os_counters_t *out);

#endif
