/*
 * background.h: the optional background thread (FLYMALLOC_BACKGROUND=1)
 * that gives idle memory back while the program makes no allocator calls
 * (background.c).
 */
#ifndef FLY_BACKGROUND_H
#define FLY_BACKGROUND_H

#include "common.h"

/* Set when the thread should run and does not (at start-up, and in a fork
 * child, which has no threads but the forking one). */
extern bool fly_background_wanted;
/* Starts the thread if wanted (the allocator must be initialized and no
 * allocator lock held: pthread_create allocates). */
void fly_background_start(void);
/* fork: the child's thread is gone; if it was on, the next slow path
 * starts another. */
void fly_background_forked(void);
/* fly_ctl("background.enable"): turns the thread's maintenance on (making
 * the thread if the process has none; no allocator lock may be held) or
 * off; and whether it is on. */
void fly_background_enable(bool on);
bool fly_background_enabled(void);

#endif
