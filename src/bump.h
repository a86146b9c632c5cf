/*
 * bump.h: the bump engine, the `arena` policy's allocator (bump.c).
 *
 * For programs that free little before they exit (compilers, build tools,
 * batch jobs): each thread carves blocks of exactly the size asked for
 * (16-byte granules), one after another, from a 1 MiB chunk of its own,
 * with no size classes, zones or magazines.  Blocks live in 64 MiB regions
 * of their own, marked FLY_REGION_MAP_BUMP in the region map, so free()
 * recognises them from the address.  Metadata is out of line, in the
 * region's header: a bitmap with a bit at every block's start (and one at
 * the end of the last block, so a block's size is the distance to the next
 * bit), and a bitmap of freed blocks, which catches double frees.  Freed
 * memory is not reused block by block: the thread's last block is taken
 * back when it is freed (stack-like temporaries), and a chunk all of whose
 * blocks were freed is reused whole.  When the run frees more than its
 * profile said (the guard rail: freed bytes past a floor and a share of
 * those handed out), fly_bump_spilled() turns true and the thread layer
 * moves new allocations to a general heap.
 */
#ifndef FLY_BUMP_H
#define FLY_BUMP_H

#include "common.h"

#define FLY_BUMP_MAX       ((size_t)32 << 10)   /* the largest request it serves */
#define FLY_BUMP_ALIGN_MAX FLY_PAGE             /* the largest alignment it serves */

/* The guard rail: spill once the bytes freed exceed both floor_bytes and
 * permille/1000 of the bytes handed out (fly_init). */
void fly_bump_init(uint32_t permille, uint64_t floor_bytes);
/* A block of size bytes (at most FLY_BUMP_MAX), 16-byte aligned; NULL with
 * errno ENOMEM when the OS refuses memory. */
void *fly_bump_alloc_os(size_t size);
/* The same, aligned to align (a power of two, at most FLY_BUMP_ALIGN_MAX). */
void *fly_bump_alloc_aligned_os(size_t size, size_t align);
/* Frees p, which lies in a bump region; panics naming fname when p is not
 * an allocated block. */
void fly_bump_free(void *p, const char *fname);
/* The usable size of p (an allocated block), or a panic naming fname. */
size_t fly_bump_usable(const void *p, const char *fname);
/* Grows or shrinks p (a valid block) to size in place: true when p is the
 * calling thread's last block and the chunk has room, or size fits. */
bool fly_bump_resize_inplace(void *p, size_t size);
/* The guard rail tripped: new allocations belong elsewhere. */
bool fly_bump_spilled(void);
/* The calling thread is done with its chunk (thread exit, or moving to a
 * general heap). */
void fly_bump_thread_retire(void);

typedef struct fly_bump_counts {
    uint64_t bc_nmalloc, bc_requested, bc_bytes;   /* handed out */
    uint64_t bc_nfree, bc_freed_bytes;             /* freed */
    uint64_t bc_chunks, bc_chunks_reused;          /* chunks taken, of them reused */
    uint64_t bc_spilled;                           /* 1 once the guard rail tripped */
} fly_bump_counts_t;
void fly_bump_counts(fly_bump_counts_t *out);

/* fork: the engine's lock. */
void fly_bump_lock_all(void);
void fly_bump_unlock_all(bool child);

#endif
