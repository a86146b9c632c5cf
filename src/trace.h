/*
 * trace.h: recording every allocation event into a trace file (trace.c;
 * the format is docs/trace-format.md).
 *
 * Tracing costs the fast paths nothing: a traced thread's fly_tc points at
 * fly_tcache_traced, whose bins always miss, so each malloc and free falls
 * into its slow path, which hands the call to a traced_* wrapper in api.c.
 * The wrapper swaps the thread's real cache in (fly_trace_enter), does the
 * operation with fly_trace_inside set, swaps it out (fly_trace_leave) and
 * records the event.  The other entry points (calloc, realloc, the aligned
 * family) test fly_trace_wanted() at entry.
 */
#ifndef FLY_TRACE_H
#define FLY_TRACE_H

#include "common.h"
#include "tcache.h"

enum {
    FLY_TRACE_MALLOC = 1,
    FLY_TRACE_CALLOC = 2,
    FLY_TRACE_FREE = 3,
    FLY_TRACE_REALLOC = 4,
    FLY_TRACE_ALIGNED = 5,
    FLY_TRACE_SAMPLE = 6,
    FLY_TRACE_THREAD_EXIT = 7,
    FLY_TRACE_CLASSES = 8,
    FLY_TRACE_NOTE = 9,
};

extern bool fly_trace_on;                      /* set once, at initialization */
extern __thread bool fly_trace_inside;         /* in a traced operation */
extern __thread bool fly_trace_shared;         /* ... that touched shared state */
extern fly_tcache_t fly_tcache_traced;         /* the always-missing cache */

/* True when this call should be recorded: tracing, and not already inside
 * a recorded operation (calloc calling malloc, say). */
FLY_INLINE bool fly_trace_wanted(void)
{
    return fly_unlikely(fly_trace_on) && !fly_trace_inside;
}

/* From fly_init, with the settings read: opens the file, writes the header.
 * by_counter: number events with a counter even if the TSC would do. */
void fly_trace_init(const char *path, long only_pid, bool by_counter);
/* At exit: per-class figures, the summary, every buffer, the end record. */
void fly_trace_finish(void);
/* fork: the prepare handler takes the trace lock; in the child nothing is
 * recorded any more (the file is the parent's). */
void fly_trace_lock_all(void);
void fly_trace_unlock_all(bool child);
/* From the thread-exit destructor, after the cache was drained. */
void fly_trace_thread_exit(void);

void fly_trace_enter(void);
void fly_trace_leave(void);

/* Slow paths call this: the operation may have passed blocks to or from
 * other threads, so the thread's next events need a new sequence number. */
FLY_INLINE void fly_trace_touch_shared(void)
{
    fly_trace_shared = true;
}

/* The sequence number of the calling thread's next event (trace.c): taken
 * before a release, after an allocation (after fly_trace_leave). */
uint64_t fly_trace_key(void);
/* A release's, taken before the block at p is released: above the number
 * of p's allocation, whichever thread made it. */
uint64_t fly_trace_key_release(const void *p);
/* A realloc's: the one realloc_move took, or a release's for old. */
uint64_t fly_trace_key_realloc(const void *old);
/* realloc_move calls this between allocating the new block and releasing
 * the old: the realloc's sequence number is taken there. */
void fly_trace_realloc_mid(void);
extern __thread uint64_t fly_trace_mid_seq;

void fly_trace_alloc(unsigned op, uint64_t seq, size_t align, size_t size, const void *p);
void fly_trace_realloc(uint64_t seq, const void *old, size_t size, const void *p);

/* The traced malloc and free (api.c), entered from the slow paths. */
void *fly_traced_malloc(size_t size);
void fly_traced_free(void *p, const char *fname);

#endif
