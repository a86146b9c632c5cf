/*
 * bump.h: the bump engine, the `arena` policy's allocator (bump.c).
 *
 * For programs that free little before they exit (compilers, build tools,
 * batch jobs).  A heap whose policy's engine is FLY_ENGINE_BUMP fills its
 * threads' magazines by carving objects one after another from a 1 MiB
 * chunk the thread owns, instead of from slab zones: no zone, free map or
 * partial list is touched, and malloc's fast path is the usual magazine
 * pop.  Blocks live in 64 MiB regions of their own, marked
 * FLY_REGION_MAP_BUMP in the region map, so free() recognises them from the
 * address and never puts them in a magazine.  Metadata is out of line, in
 * the region's header: a bit at every block's start (and one at the end of
 * the last, so a block's size is the distance to the next bit) and a bit
 * per freed block, which catches double frees.  A freed block's space is
 * not reused by itself: a chunk all of whose blocks were freed is reused
 * whole.  When the run frees more than its profile said (the guard rail),
 * fly_bump_spilled() turns true and the heap's magazines are filled from
 * its zones again; blocks already carved stay valid.
 */
#ifndef FLY_BUMP_H
#define FLY_BUMP_H

#include "common.h"

#define FLY_BUMP_MAX       ((size_t)32 << 10)   /* the largest block it carves */
#define FLY_BUMP_ALIGN_MAX FLY_BUMP_MAX         /* the largest alignment it serves */

/* The guard rail: spill once the bytes the program freed exceed floor_bytes
 * and permille/1000 of the bytes handed out (fly_init). */
void fly_bump_init(uint32_t permille, uint64_t floor_bytes);
/* Carves up to want objects of size bytes (a multiple of 16, at most
 * FLY_BUMP_MAX), counted in size class c, into dst; returns how many
 * (0 with errno ENOMEM when the OS refuses memory, or when the guard rail
 * tripped).  No lock may be held: it may map memory. */
unsigned fly_bump_carve_os(size_t size, unsigned c, void **dst, unsigned want);
/* One block for a request of size bytes, of class c's size (at most
 * FLY_BUMP_MAX), aligned to align (a power of two, at most
 * FLY_BUMP_ALIGN_MAX), counted as an allocation of class c (it bypasses
 * the magazines, which count the others); NULL as for carving. */
void *fly_bump_alloc_aligned_os(size_t size, size_t align, unsigned c);
/* The program frees p, which lies in a bump region; panics naming fname
 * when p is not an allocated block. */
void fly_bump_free_os(void *p, const char *fname);
/* Objects carved into a magazine and never handed out go back (a cache
 * flushed or aged): they count as freed, not as the program's frees. */
void fly_bump_give_back(void *const *objs, unsigned n);
/* The usable size of p (an allocated block), or a panic naming fname. */
size_t fly_bump_usable(const void *p, const char *fname);
/* The guard rail tripped: the zones serve the heap again. */
bool fly_bump_spilled(void);
/* The calling thread is done with its chunk (thread exit). */
void fly_bump_thread_retire_os(void);

/* Per class c in 1..nclasses: blocks carved and not freed or given back
 * (caches and the program), added to out[c]; aligned allocations and the
 * bytes they asked for, added to nmalloc[c] and requested[c] (either may
 * be NULL). */
void fly_bump_class_counts(unsigned nclasses, uint64_t *out, uint64_t *nmalloc, uint64_t *requested);

typedef struct fly_bump_counts {
    uint64_t bc_carved_bytes;                      /* carved into magazines or aligned blocks */
    uint64_t bc_nfree, bc_freed_bytes;             /* the program's frees */
    uint64_t bc_given_back_bytes;                  /* carved, never handed out, given back */
    uint64_t bc_chunks, bc_chunks_reused;          /* chunks taken, of them reused */
    uint64_t bc_spilled;                           /* 1 once the guard rail tripped */
} fly_bump_counts_t;
void fly_bump_counts(fly_bump_counts_t *out);

/* fork: the engine's lock. */
void fly_bump_lock_all(void);
void fly_bump_unlock_all(bool child);

#endif
