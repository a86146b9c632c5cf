/*
 * flymalloc.h: the public API of flymalloc.
 *
 * The fly_-prefixed functions are always available, both in the drop-in
 * library (libflymalloc.so / libflymalloc.a, which also defines malloc,
 * free, ...) and in the prefixed-only library (libflymalloc-prefixed.a),
 * which leaves the system malloc alone.  Semantics follow the unprefixed
 * C/POSIX/GNU functions exactly.
 */
#ifndef FLYMALLOC_H
#define FLYMALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <malloc.h>

#ifdef __cplusplus
extern "C" {
#endif

void *fly_malloc(size_t size);
void fly_free(void *ptr);
void *fly_calloc(size_t nmemb, size_t size);
void *fly_realloc(void *ptr, size_t size);
void *fly_reallocarray(void *ptr, size_t nmemb, size_t size);
int fly_posix_memalign(void **memptr, size_t alignment, size_t size);
void *fly_aligned_alloc(size_t alignment, size_t size);
void *fly_memalign(size_t alignment, size_t size);
void *fly_valloc(size_t size);
void *fly_pvalloc(size_t size);
size_t fly_malloc_usable_size(void *ptr);
void fly_free_sized(void *ptr, size_t size);
void fly_free_aligned_sized(void *ptr, size_t alignment, size_t size);
int fly_malloc_trim(size_t pad);
struct mallinfo2 fly_mallinfo2(void);

/* Summary statistics.  Figures are merged from every thread on demand. */
#define FLY_STATS_VERSION 1
typedef struct fly_stats {
    uint32_t st_version;       /* FLY_STATS_VERSION */
    uint32_t st_size;          /* sizeof(fly_stats_t) as filled in */
    uint64_t st_nmalloc;       /* allocations of every kind */
    uint64_t st_nfree;         /* frees of every kind */
    uint64_t st_live_bytes;    /* usable bytes currently allocated */
    uint64_t st_peak_bytes;    /* peak of st_live_bytes (see docs/design.md) */
    uint64_t st_mapped_bytes;  /* address space mapped from the OS */
    uint64_t st_dirty_bytes;   /* free pages still resident, kept for reuse */
    uint64_t st_cold_bytes;    /* free pages returned to the OS */
    uint64_t st_cached_bytes;  /* free objects held in thread caches and depots */
    uint64_t st_large_bytes;   /* live large blocks (32 KiB .. 63 MiB) */
    uint64_t st_huge_bytes;    /* live huge blocks (own mappings) */
    uint64_t st_huge_blocks;
    uint64_t st_meta_bytes;    /* allocator bookkeeping (magazines, caches) */
    uint64_t st_purges;        /* madvise runs made by decay */
    uint64_t st_mmap_calls, st_mmap_bytes;
    uint64_t st_munmap_calls, st_munmap_bytes;
    uint64_t st_madvise_calls, st_madvise_bytes;
    uint64_t st_mremap_calls, st_mremap_bytes;
} fly_stats_t;

/* Fills *st (at most size bytes); returns 0, or -1 if size is too small. */
int fly_stats_get(fly_stats_t *st, size_t size);

#define FLY_STATS_TEXT 1
#define FLY_STATS_JSON 2
/* Writes the statistics to fd without allocating. */
void fly_stats_print(int fd, int flags);

#ifdef __cplusplus
}
#endif
#endif /* FLYMALLOC_H */
