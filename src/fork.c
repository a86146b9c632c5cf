/*
 * fork.c: the pthread_atfork handlers fly_init installs.
 *
 * The prepare handler takes every allocator lock in the documented order
 * (lock.h), so no lock is held halfway through an operation when the
 * process is copied; the parent releases them; the child reinitializes
 * them and forgets the caches of threads that do not exist in it.
 */
#include "fork.h"
#include "background.h"
#include "bump.h"
#include "config.h"
#include "heap.h"
#include "huge.h"
#include "meta.h"
#include "sample.h"
#include "tcache.h"
#include "trace.h"

void fly_prefork(void)
{
    fly_heap_lock_classes();
    fly_huge_lock_all();
    fly_heap_lock_arenas();
    fly_bump_lock_all();
    fly_meta_lock_all();
    fly_tcache_lock_all();
    fly_trace_lock_all();
    fly_sample_lock_all();
}

void fly_postfork_parent(void)
{
    fly_sample_unlock_all(false);
    fly_trace_unlock_all(false);
    fly_tcache_unlock_all(false);
    fly_meta_unlock_all(false);
    fly_bump_unlock_all(false);
    fly_heap_unlock_arenas(false);
    fly_huge_unlock_all(false);
    fly_heap_unlock_classes(false);
}

void fly_postfork_child(void)
{
    fly_background_forked();
    fly_meta_unlock_all(true);
    fly_bump_unlock_all(true);
    fly_heap_unlock_arenas(true);
    fly_huge_unlock_all(true);
    fly_heap_unlock_classes(true);
    fly_tcache_unlock_all(true);
    fly_trace_unlock_all(true);
    fly_sample_unlock_all(true);
}
