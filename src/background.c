/*
 * background.c: the background thread, off by default
 * (FLYMALLOC_BACKGROUND=1).  Without it flymalloc gives memory back only
 * from inside allocator calls (each thread's maintenance tick), so a
 * process that goes idle keeps what it freed last.  The thread wakes every
 * half decay period (at least every 10 ms, at most every second) and runs
 * the same maintenance a tick runs: each heap's dirty pages idle longer
 * than the decay go back to the OS, depots shed what their working set did
 * not use, and cached huge mappings expire.  It never allocates and holds
 * no lock while it sleeps.  Threads' own caches stay theirs.
 */
#include "background.h"
#include "heap.h"
#include "init.h"
#include "maintain.h"
#include <pthread.h>
#include <time.h>

bool fly_background_wanted;
static int background_starting;          /* atomic: one thread starts it */

static void *background_main_os(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t period = fly_heap_decay_ms(&fly_heap_default) / 2;
        period = FLY_MIN(FLY_MAX(period, 10), 1000);
        struct timespec ts = { (time_t)(period / 1000), (long)(period % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        fly_maintain_tick_os(fly_now_ms());
    }
    return NULL;
}

void fly_background_start(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&background_starting, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&fly_background_wanted, false, __ATOMIC_RELAXED);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    if (pthread_create(&t, &attr, background_main_os, NULL) != 0)
        fly_warn("FLYMALLOC_BACKGROUND: cannot start the background thread; memory goes back from allocator calls only");
    pthread_attr_destroy(&attr);
    __atomic_store_n(&background_starting, 0, __ATOMIC_RELEASE);
}

void fly_background_forked(void)
{
    __atomic_store_n(&background_starting, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fly_background_wanted, true, __ATOMIC_RELAXED);
}
