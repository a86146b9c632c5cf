/*
 * sample.h: sampled allocations for the profile (sample.c).
 *
 * Under FLYMALLOC_PROFILE=1 a thread's maintenance tick, once the thread
 * has made FLY_SAMPLE_MALLOCS small mallocs since its last sample, serves
 * a malloc of up to a page with a sampled block: a one-page large block
 * whose address, time and thread are noted in a table.  free never has to
 * look for samples on its fast path, because a large block always takes
 * the slow path; the block's release (fly_large_free) closes the sample
 * and files its lifetime and whether another thread freed it.  Without
 * FLYMALLOC_PROFILE nothing here runs.
 */
#ifndef FLY_SAMPLE_H
#define FLY_SAMPLE_H

#include "common.h"

struct fly_vmem;
struct fly_lcache;

/* One sample per this many small mallocs of a thread (by count, not by
 * bytes: the shares the profile keeps are shares of allocations). */
#define FLY_SAMPLE_MALLOCS 4096
/* Lifetimes by decade: under 1 us, 10 us, ... 1 s, and longer. */
#define FLY_SAMPLE_DECADES 8
/* At most this many samples are live at once; past it, none is taken. */
#define FLY_SAMPLE_LIVE_MAX 2048

typedef struct fly_sample_counts {
    uint64_t sc_taken;                         /* samples handed out */
    uint64_t sc_freed;                         /* of them freed (or moved by realloc) */
    uint64_t sc_cross;                         /* freed by another thread than took them */
    uint64_t sc_skipped;                       /* not taken: the table was full */
    uint64_t sc_lifetime[FLY_SAMPLE_DECADES];  /* freed, by lifetime */
} fly_sample_counts_t;

/* Set once at start-up (FLYMALLOC_PROFILE=1). */
extern bool fly_sample_on;

/* A sampled block, one page, for a malloc of a class of at most a page
 * (so the page's alignment serves any alignment the class does), from
 * arena vm through the thread's large cache lc; NULL if none can be had
 * (the caller serves the malloc as usual). */
void *fly_sample_malloc_os(struct fly_vmem *vm, struct fly_lcache *lc);
/* Large block p is being released: if it is a sample, close it. */
void fly_sample_release(void *p);
void fly_sample_counts(fly_sample_counts_t *out);
/* The fork handlers' part: the table's lock (a leaf, taken last). */
void fly_sample_lock_all(void);
void fly_sample_unlock_all(bool child);

#endif
