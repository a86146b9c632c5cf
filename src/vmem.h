/*
 * vmem.h: the page arena (Bonwick's vmem, adapted), see vmem.c.
 *
 * An arena is an object: each heap (heap.h) owns one.  Spans are
 * page-granular; sizes and alignments here are in pages.  An arena takes
 * its regions from the os layer; when the OS refuses one, it calls its
 * import-failure hook (illumos vmem's import functions are the model),
 * which whoever made the arena sets to something that can give address
 * space back, and retries once if the hook released anything.
 */
#ifndef FLY_VMEM_H
#define FLY_VMEM_H

#include "common.h"
#include "lock.h"
#include "region.h"

#define FLY_VMEM_MAX_REGIONS 4096      /* 256 GiB of regions per arena */

/* Called with no lock held when the OS refuses a region; true if it gave
 * address space back, so that a retry may succeed. */
typedef bool (*fly_vmem_import_fail_fn)(void);

typedef struct fly_vmem {
    fly_lock_t vm_lock;
    /* Guarded by vm_lock: */
    uint32_t vm_nregions;
    fly_region_t *vm_regions[FLY_VMEM_MAX_REGIONS];   /* sorted by address */
    uint64_t vm_dirty_pages, vm_cold_pages, vm_used_pages;
    uint64_t vm_purges, vm_purged_pages, vm_coalesces;
    uint64_t vm_fresh_pages;           /* pages handed out that read as zero: new resident memory (atomic) */
    /* Read without the lock: */
    uint64_t vm_next_purge;            /* ms; no purge pass before this (atomic) */
    uint64_t vm_decay_ms;              /* idle time before a dirty span is purged (atomic) */
    /* Fixed at fly_vmem_init: */
    fly_vmem_import_fail_fn vm_import_failed;
    void *vm_owner;                    /* the heap served; vmem never reads it */
    /* Set before the arena's first region, or NULL: called with each new
     * region before anything touches it (NUMA placement, node.c). */
    void (*vm_place)(void *owner, void *region, size_t size);
} fly_vmem_t;

typedef struct fly_vmem_stats {
    uint64_t vs_dirty_bytes, vs_cold_bytes, vs_used_bytes, vs_mapped_bytes;
    uint64_t vs_purges, vs_purged_bytes, vs_coalesces, vs_regions;
} fly_vmem_stats_t;

/* Makes vm empty.  Not thread-safe: before use.  hook may be NULL. */
void fly_vmem_init(fly_vmem_t *vm, void *owner, uint64_t decay_ms, fly_vmem_import_fail_fn hook);
/* The arena whose region holds p (p in one of our heap regions). */
FLY_INLINE fly_vmem_t *fly_vmem_of(const void *p)
{
    return fly_region_of(p)->r_arena;
}
/* Allocates npages aligned to align_pages (a power of two).  Sets *zeroed
 * when the pages are known to read as zero.  May map a new region; must be
 * called with no allocator lock held.  NULL when the OS refuses memory. */
void *fly_vmem_alloc_os(fly_vmem_t *vm, size_t npages, size_t align_pages, bool *zeroed);
/* Returns a span to the arena as dirty; it will be purged once idle. */
void fly_vmem_free(fly_vmem_t *vm, void *p, size_t npages);
/* Shrinks the used span at p from npages to newpages, freeing the tail. */
void fly_vmem_shrink(fly_vmem_t *vm, void *p, size_t npages, size_t newpages);
/* Grows the used span at p in place if the pages after it are free. */
bool fly_vmem_grow(fly_vmem_t *vm, void *p, size_t npages, size_t newpages);
/* The secure mode (before any region exists): each region's last page,
 * and its header's, become guard pages (PROT_NONE), so a linear overflow
 * from a region's last block or an underflow from its first cannot reach
 * a header. */
void fly_vmem_guard_regions(void);
/* Number of pages in the used span starting at p. */
size_t fly_vmem_span_pages(const void *p);
/* Purges dirty spans idle for at least the arena's decay time (all of them
 * if force). */
void fly_vmem_purge_os(fly_vmem_t *vm, uint64_t now, bool force);
/* Whether a purge pass has work due at now. */
FLY_INLINE bool fly_vmem_purge_due(const fly_vmem_t *vm, uint64_t now)
{
    return now >= __atomic_load_n(&vm->vm_next_purge, __ATOMIC_RELAXED);
}
/* Unmaps regions with no page in use (when address space runs out, and
 * from malloc_trim); returns how many. */
size_t fly_vmem_release_empty_os(fly_vmem_t *vm);
void fly_vmem_stats(fly_vmem_t *vm, fly_vmem_stats_t *out);
/* Bytes of the arena's regions resident now (headers included), asked of
 * the kernel region by region with the lock dropped. */
uint64_t fly_vmem_resident_bytes_os(fly_vmem_t *vm);
void fly_vmem_lock_all(fly_vmem_t *vm);
void fly_vmem_unlock_all(fly_vmem_t *vm, bool child);

#endif
