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
    uint64_t oc_bind_calls, oc_bind_errors; /* mbind, and those the kernel refused */
    uint64_t oc_mprotect_calls, oc_mprotect_errors;  /* guard pages (secure mode) */
} fly_os_counters_t;

/* How fly_os_bind places memory. */
#define FLY_OS_BIND_PREFERRED  1   /* the kernel prefers the node, falls back elsewhere */
#define FLY_OS_BIND_STRICT     2   /* the kernel allocates on the nodes only */
#define FLY_OS_BIND_INTERLEAVE 3   /* the kernel spreads pages over the nodes */

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
/* Makes [p, p + size) inaccessible (a guard) or read-write again; false
 * (counted) if the kernel refuses, as it does past vm.max_map_count. */
bool fly_os_protect(void *p, size_t size, bool guard);
void fly_os_counters(fly_os_counters_t *out);
/* Bytes of [p, p + size) resident now (mincore); 0 for what is unmapped. */
uint64_t fly_os_resident_bytes(const void *p, size_t size);
/* Binds the pages of [p, p + size), not yet touched, to the nodes of mask
 * (FLY_OS_BIND_*); false (counted) if the kernel refuses.  Simulated
 * (fly_os_bind_simulate), the binding is only recorded. */
bool fly_os_bind(void *p, size_t size, uint64_t mask, int how);
/* Set (before any binding) when the NUMA topology is synthetic: bindings
 * are recorded instead of made. */
extern bool fly_os_bind_simulated;
/* The node holding p's page: the recorded binding's first node when
 * simulated, else the kernel's answer (which faults the page in); -1 if
 * unknown. */
int fly_os_node_of(const void *p);

#endif
