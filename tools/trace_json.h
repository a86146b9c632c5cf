/*
 * trace_json.h: JSON output shared by `flymalloc analyze` and `flymalloc
 * replay`: string escaping, number arrays, and the "trace" object both
 * write (the file's header, counts and warnings).
 */
#ifndef FLY_TRACE_JSON_H
#define FLY_TRACE_JSON_H

#include "trace_read.h"
#include <stdio.h>

/* S (LEN bytes) as a JSON string; bytes that are not valid UTF-8 become
 * the code points U+0080..U+00FF (their Latin-1 reading). */
void fly_json_str(FILE *f, const char *s, size_t len);
/* "[a,b,...]" of N numbers taken every STRIDE bytes from P. */
void fly_json_u64s(FILE *f, const void *p, size_t n, size_t stride);
/* The "trace" object. */
void fly_json_trace(FILE *f, const fly_trace *t);

#endif
