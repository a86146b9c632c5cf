/*
 * trace.h: the API's door to the allocation-event recorder (trace.c; the
 * format is docs/trace-format.md).  The layers below the API see only
 * trace_hook.h.
 *
 * Tracing costs the fast paths nothing: a traced thread's fly_tc points at
 * fly_tcache_traced, whose bins always miss, so each malloc and free falls
 * into the API's slow path, which hands the call to fly_traced_malloc or
 * fly_traced_free; the other entry points test fly_trace_wanted() first
 * and call their fly_traced_* twin.  Each of those swaps the thread's real
 * cache in, does the operation through the untraced entry point with
 * fly_trace_inside set, swaps the sentinel back and records the event.
 */
#ifndef FLY_TRACE_H
#define FLY_TRACE_H

#include "common.h"
#include "trace_hook.h"

/* From fly_init, with the settings read: opens the file, writes the header.
 * by_counter: number events with a counter even if the TSC would do. */
void fly_trace_init(const char *path, long only_pid, bool by_counter);
/* At exit: per-class figures, the summary, every buffer, the end record. */
void fly_trace_finish_os(void);
/* fork: the prepare handler takes the trace lock; in the child nothing is
 * recorded any more (the file is the parent's). */
void fly_trace_lock_all(void);
void fly_trace_unlock_all(bool child);
/* From the thread-exit destructor, after the cache was drained. */
void fly_trace_thread_exit(void);

/* The recorded entry points, for calls that fly_trace_wanted(). */
void *fly_traced_malloc(size_t size);
void fly_traced_free(void *p, const char *fname);
void *fly_traced_calloc(size_t nmemb, size_t size);
void *fly_traced_realloc(void *p, size_t size);
int fly_traced_posix_memalign(void **memptr, size_t alignment, size_t size);
enum fly_traced_aligned_kind { FLY_ALIGNED_ALLOC, FLY_MEMALIGN, FLY_VALLOC, FLY_PVALLOC };
void *fly_traced_aligned(enum fly_traced_aligned_kind kind, size_t alignment, size_t size);

/* An untraced operation inside a traced thread (malloc_trim's flush): the
 * real cache in, and the sentinel back. */
void fly_trace_enter(void);
void fly_trace_leave(void);
/* realloc_move_os calls this, while recording, between allocating the new
 * block and releasing the old: the realloc's sequence number is taken
 * there. */
void fly_trace_realloc_mid(void);

#endif
