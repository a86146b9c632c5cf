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
 *
 * fly_ctl("background.enable") turns it on or off at run time.  Off, the
 * thread (once started) stays, asleep, and runs no maintenance; on again,
 * it resumes, so no more than one thread is ever made per process.
 */
#include "background.h"
#include "heap.h"
#include "init.h"
#include "maintain.h"
#include <pthread.h>
#include <time.h>

bool fly_background_wanted;
static int background_starting;          /* atomic: one thread starts it */
static bool background_on;               /* atomic: the thread runs maintenance */
static bool background_started;          /* atomic: this process has the thread */

static void *background_main_os(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t period = fly_heap_decay_ms(&fly_heap_default) / 2;
        period = FLY_MIN(FLY_MAX(period, 10), 1000);
        struct timespec ts = { (time_t)(period / 1000), (long)(period % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        if (__atomic_load_n(&background_on, __ATOMIC_RELAXED))
            fly_maintain_tick_os(fly_now_ms());
    }
    return NULL;
}

void fly_background_enable(bool on)
{
    __atomic_store_n(&background_on, on, __ATOMIC_RELAXED);
    if (!on)
        __atomic_store_n(&fly_background_wanted, false, __ATOMIC_RELAXED);
    if (on && !__atomic_load_n(&background_started, __ATOMIC_ACQUIRE))
        fly_background_start();
}

bool fly_background_enabled(void)
{
    return __atomic_load_n(&background_on, __ATOMIC_RELAXED);
}

void fly_background_start(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&background_starting, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&fly_background_wanted, false, __ATOMIC_RELAXED);
    if (__atomic_load_n(&background_started, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&background_starting, 0, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&background_on, true, __ATOMIC_RELAXED);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    if (pthread_create(&t, &attr, background_main_os, NULL) != 0) {
        __atomic_store_n(&background_on, false, __ATOMIC_RELAXED);
        fly_warn("FLYMALLOC_BACKGROUND: cannot start the background thread; memory goes back from allocator calls only");
    } else
        __atomic_store_n(&background_started, true, __ATOMIC_RELEASE);
    pthread_attr_destroy(&attr);
    __atomic_store_n(&background_starting, 0, __ATOMIC_RELEASE);
}

void fly_background_forked(void)
{
    __atomic_store_n(&background_starting, 0, __ATOMIC_RELAXED);
    bool had = __atomic_load_n(&background_started, __ATOMIC_RELAXED);
    __atomic_store_n(&background_started, false, __ATOMIC_RELAXED);
    if (had && __atomic_load_n(&background_on, __ATOMIC_RELAXED))
        __atomic_store_n(&fly_background_wanted, true, __ATOMIC_RELAXED);
}
