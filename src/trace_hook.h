/*
 * trace_hook.h: what the layers below the API need of tracing, and no
 * more (trace_hook.c holds the state; trace.h and trace.c the recording).
 *
 * A slow path that may have moved blocks to or from other threads marks
 * the thread's current operation as having touched shared state, so that
 * the recorder gives the thread's next events a new sequence number
 * (docs/trace-format.md).  It costs a store to a thread-local flag.
 */
#ifndef FLY_TRACE_HOOK_H
#define FLY_TRACE_HOOK_H

#include "common.h"

extern bool fly_trace_on;                      /* set once, at initialization */
extern __thread bool fly_trace_inside;         /* in a recorded operation */
extern __thread bool fly_trace_shared;         /* ... that touched shared state */

/* True when this call should be recorded: tracing, and not already inside
 * a recorded operation (calloc calling malloc, say). */
FLY_INLINE bool fly_trace_wanted(void)
{
    return fly_unlikely(fly_trace_on) && !fly_trace_inside;
}

FLY_INLINE void fly_trace_touch_shared(void)
{
    fly_trace_shared = true;
}

#endif
