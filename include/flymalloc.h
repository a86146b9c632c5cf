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

/* Statistics.  Every figure is merged from all threads on demand; the
 * fast paths only bump per-thread counters.  Cumulative counts (nmalloc,
 * requested, hits...) only grow; the others describe the present. */
#define FLY_STATS_VERSION 2
#define FLY_STATS_MAX_CLASSES 48

/* One size class (slab allocations of up to 32 KiB). */
typedef struct fly_class_stats {
    uint64_t cs_size;          /* object size */
    uint64_t cs_nmalloc;       /* allocations served by this class */
    uint64_t cs_nfree;         /* frees (allocations minus live objects) */
    uint64_t cs_requested;     /* bytes those allocations asked for */
    uint64_t cs_live;          /* objects held by the program */
    uint64_t cs_cached;        /* free objects in thread caches and the depot */
    uint64_t cs_hits;          /* allocations served by a loaded magazine */
    uint64_t cs_misses;        /* allocations that went to the slow path */
    uint64_t cs_bursts;        /* magazines filled from the zones */
    uint64_t cs_exchanges;     /* magazines traded with the depot */
    uint64_t cs_contended;     /* depot lock acquisitions that had to wait */
    uint64_t cs_zones;         /* zones in use */
    uint64_t cs_zone_bytes;    /* their size */
    uint64_t cs_capacity;      /* objects those zones hold */
} fly_class_stats_t;

typedef struct fly_stats {
    uint32_t st_version;       /* FLY_STATS_VERSION */
    uint32_t st_size;          /* sizeof(fly_stats_t) as filled in */
    uint64_t st_nmalloc;       /* allocations of every kind */
    uint64_t st_nfree;         /* frees of every kind */
    uint64_t st_requested_bytes; /* bytes asked for, all allocations so far */
    uint64_t st_usable_bytes;  /* bytes handed out for them (class or page rounded) */
    uint64_t st_live_bytes;    /* usable bytes currently allocated */
    uint64_t st_peak_bytes;    /* peak of st_live_bytes (see docs/design.md) */
    uint64_t st_resident_bytes; /* resident set of the whole process (/proc/self/statm) */
    uint64_t st_mapped_bytes;  /* address space mapped from the OS */
    uint64_t st_dirty_bytes;   /* free pages still resident, kept for reuse */
    uint64_t st_cold_bytes;    /* free pages returned to the OS */
    uint64_t st_cached_bytes;  /* free objects held in thread caches and depots */
    uint64_t st_zone_bytes;    /* slab zones in use (live + cached + free slots) */
    uint64_t st_small_bytes;   /* live slab objects (up to 32 KiB) */
    uint64_t st_large_bytes;   /* live large blocks (32 KiB .. 63 MiB) */
    uint64_t st_huge_bytes;    /* live huge blocks (own mappings) */
    uint64_t st_huge_blocks;
    uint64_t st_meta_bytes;    /* allocator bookkeeping (magazines, caches) */
    uint64_t st_cache_hits;    /* small allocations served by a thread's magazine */
    uint64_t st_cache_misses;  /* ... and by the slow path */
    uint64_t st_bursts, st_depot_exchanges, st_depot_contended;
    uint64_t st_zones;
    uint64_t st_coalesces;     /* vmem spans merged with a free neighbour */
    uint64_t st_purges;        /* madvise runs made by decay */
    uint64_t st_purged_bytes;  /* by decay, and by sparse zones where the policy asks */
    uint64_t st_mmap_calls, st_mmap_bytes;
    uint64_t st_munmap_calls, st_munmap_bytes;
    uint64_t st_madvise_calls, st_madvise_bytes;
    uint64_t st_mremap_calls, st_mremap_bytes;
    uint32_t st_nclasses;      /* entries used in st_class */
    uint32_t st_pad;
    fly_class_stats_t st_class[FLY_STATS_MAX_CLASSES];
} fly_stats_t;

/* Fills *st (at most size bytes); returns 0, or -1 if size is too small. */
int fly_stats_get(fly_stats_t *st, size_t size);

#define FLY_STATS_TEXT 1
#define FLY_STATS_JSON 2
/* Writes the statistics to fd without allocating. */
void fly_stats_print(int fd, int flags);

/* Named reads, settings and actions, in the shape of jemalloc's mallctl:
 * reads copy the current value into *old (*oldlen must be its size),
 * writes take it from new/newlen.  Returns 0, ENOENT for an unknown name,
 * EINVAL for a wrong size or value, EPERM to write a read-only name.
 * src/ctl.c lists every name; docs/measuring.md shows them in use:
 *   "version" (uint32), "stats.live_bytes" and every other fly_stats_t
 *   field by its name without st_ (uint64), "stats.classes.N.FIELD"
 *   (uint64; FIELD as in fly_class_stats_t without cs_),
 *   "stats.fragmentation.summary" (char[]: *oldlen in, length out),
 *   "stats.fragmentation.NAME" (uint64), "stats.heaps" (uint32: heaps in
 *   the process) and "stats.heaps.N.FIELD" (uint64, heap N, 0 the
 *   default: small_bytes, cached_bytes, zone_bytes, used_bytes,
 *   dirty_bytes, cold_bytes, mapped_bytes, purges, purged_bytes, reaps),
 *   "opt.decay_ms" and "opt.tcache_bytes" (uint64, read-write; a write
 *   applies to every heap),
 *   "policy.name" and "policy.source" (char[]: the running policy, and
 *   env, seed or default: *oldlen in, length out),
 *   "thread.tcache.budget" (uint64, read-only: what the calling thread's
 *   cache may hold now, opt.tcache_bytes or its share when many threads
 *   have caches; 0 before its first allocation),
 *   "thread.tcache.flush" and "arena.purge" (actions: no old, no new). */
int fly_ctl(const char *name, void *old, size_t *oldlen, const void *new_, size_t newlen);

/* FLYMALLOC_POLICY_SEED("compact"), once at file scope in a program, makes
 * flymalloc run that program under the named policy (`flymalloc policies`
 * lists them) unless FLYMALLOC_POLICY says otherwise, whether flymalloc is
 * linked in or preloaded: the name goes into an ELF note of the program,
 * which flymalloc reads at start-up.  fly_ctl("policy.name") and
 * ("policy.source") say which policy runs and why. */
#define FLYMALLOC_POLICY_SEED(name)                                  \
    __asm__(".pushsection .note.flymalloc.policy,\"a\",@note\n"      \
            ".balign 4\n"                                             \
            ".long 10\n"            /* "flymalloc" and its NUL */      \
            ".long 992f - 991f\n"                                     \
            ".long 1\n"             /* the policy note */              \
            ".asciz \"flymalloc\"\n"                                  \
            ".balign 4\n"                                             \
            "991: .asciz \"" name "\"\n"                               \
            "992: .balign 4\n"                                        \
            ".popsection\n")

/* NUMA.  The topology is read once, on first use, from
 * /sys/devices/system/node (or a test seam: FLYMALLOC_NUMA_TOPOLOGY,
 * FLYMALLOC_NUMA_SYSFS).  Nodes and CPUs are the kernel's numbers. */
#define FLY_NUMA_MAX_NODES 64
#define FLY_NUMA_MAX_CPUS 1024
typedef struct fly_numa_info {
    int ni_nodes;                   /* node ids are below this */
    int ni_synthetic;               /* 1: from a test seam (bindings are recorded, not made) */
    uint64_t ni_online;             /* bit N: node N is online */
    uint64_t ni_memory;             /* ... has memory */
    uint64_t ni_allowed;            /* ... the process may allocate on it (cpuset, numactl) */
    short ni_cpu_node[FLY_NUMA_MAX_CPUS];                      /* -1: no such CPU */
    unsigned char ni_distance[FLY_NUMA_MAX_NODES][FLY_NUMA_MAX_NODES];   /* 0: unknown */
} fly_numa_info_t;
/* A snapshot of the topology; 0, or -1 if info is NULL. */
int fly_numa_topology(fly_numa_info_t *info);
/* Nodes with memory. */
int fly_numa_node_count(void);
/* The node of a CPU, of the calling thread's CPU, or -1. */
int fly_numa_node_of_cpu(int cpu);
int fly_numa_current_node(void);
/* The kernel's distance between two nodes (10: the same node), or -1. */
int fly_numa_distance(int a, int b);
/* The node whose heap handed out p (for a block of no node's heap, the
 * node holding its page), or -1 for a pointer flymalloc did not hand out. */
int fly_numa_node_of(const void *p);
/* Blocks from node's heap (its memory bound to the node as
 * FLYMALLOC_NUMA_BIND says); NULL with errno EINVAL for a node the
 * process may not use, ENOMEM when out of memory.  They are freed with
 * free() like any other. */
void *fly_malloc_node(size_t size, int node);
void *fly_calloc_node(size_t nmemb, size_t size, int node);
void *fly_aligned_alloc_node(size_t alignment, size_t size, int node);
/* The calling thread allocates from node's heap from now on (its cache
 * goes back to its old heap first); 0, or -1 with errno EINVAL (a node the
 * process may not use) or ENOMEM. */
int fly_thread_set_node(int node);

#ifdef __cplusplus
}
#endif
#endif /* FLYMALLOC_H */
