/*
 * stats.h: statistics merged from every layer (see stats.c).
 */
#ifndef FLY_STATS_H
#define FLY_STATS_H

#include "flymalloc.h"

/* Slab bytes handed out (to caches or the program), and their peak. */
void fly_stats_note_out(int64_t delta_bytes);

#endif
