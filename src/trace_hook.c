/*
 * trace_hook.c: the tracing flags every layer's slow paths may set
 * (trace_hook.h).  trace.c turns fly_trace_on on at start-up when a trace
 * was asked for, and reads the flags around each recorded operation.
 */
#include "trace_hook.h"

bool fly_trace_on;
__thread bool fly_trace_inside __attribute__((tls_model("initial-exec")));
__thread bool fly_trace_shared __attribute__((tls_model("initial-exec")));
