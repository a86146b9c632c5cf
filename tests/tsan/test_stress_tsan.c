/*
 * test_stress_tsan: the thread stress of tests/common/stress.h on the
 * prefixed library built with -fsanitize=thread,undefined.
 *
 * Proves: the allocator's cross-thread paths (magazine exchange with the
 * depot, zone publication, cross-thread frees, thread-exit flushes, stats
 * merging) have no data race and no undefined behaviour that ThreadSanitizer
 * or UBSan can see; the runner fails the test on any sanitizer report.
 * Threads are also created and torn down repeatedly, and fly_stats_get and
 * fly_malloc_trim run concurrently with the workers.  With STRESS_TRACED
 * defined (test_stress_traced_tsan.c) the same runs while tracing.
 * flytest: timeout=400
 */
#include "flymalloc.h"

#define ST_MALLOC fly_malloc
#define ST_CALLOC fly_calloc
#define ST_REALLOC fly_realloc
#define ST_FREE fly_free
#define ST_USABLE fly_malloc_usable_size
#define ST_POSIX_MEMALIGN fly_posix_memalign
#include "stress.h"

static volatile int stop;

/* Reads the statistics and trims while the workers run. */
static void *observer(void *arg)
{
    (void)arg;
    unsigned n = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        fly_stats_t st;
        CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get");
        if (++n % 16 == 0)
            fly_malloc_trim(0);
        usleep(2000);
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    void *p[32];
    for (int i = 0; i < 32; i++) {
        p[i] = fly_malloc(16 + (size_t)((id * 31 + (uintptr_t)i) % 2000));
        CHECK(p[i] != NULL, "malloc in short-lived thread");
    }
    for (int i = 0; i < 32; i++)
        fly_free(p[i]);
    return NULL;
}

#ifdef STRESS_TRACED
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char trace_path[64];

/* Runs before the recorder's destructor, which then finishes an unlinked
 * file: nothing is left behind. */
static void remove_trace(void)
{
    unlink(trace_path);
}
#endif

int main(int argc, char **argv)
{
    (void)argc;
#ifdef STRESS_TRACED
    /* The allocator reads its settings before main: set the trace file and
     * start again. */
    const char *set = getenv("FLYMALLOC_TRACE");
    if (set == NULL) {
        snprintf(trace_path, sizeof trace_path, "/tmp/flytest-tsan-%d.trace", (int)getpid());
        CHECK(setenv("FLYMALLOC_TRACE", trace_path, 1) == 0, "setenv");
        execv("/proc/self/exe", argv);
        CHECK(0, "execv /proc/self/exe");
    }
    snprintf(trace_path, sizeof trace_path, "%s", set);
    CHECK(atexit(remove_trace) == 0, "atexit");
#else
    (void)argv;
#endif
    pthread_t obs;
    CHECK(pthread_create(&obs, NULL, observer, NULL) == 0, "pthread_create");
    st_run(2, 60000);
    st_run(4, 30000);
    for (uintptr_t i = 0; i < 200; i += 4) {
        pthread_t t[4];
        for (uintptr_t k = 0; k < 4; k++)
            CHECK(pthread_create(&t[k], NULL, short_lived, (void *)(i + k)) == 0, "pthread_create");
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(obs, NULL);
    return 0;
}
