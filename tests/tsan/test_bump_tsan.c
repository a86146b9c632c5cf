/*
 * test_bump_tsan: the bump engine (arena policy) under ThreadSanitizer.
 *
 * Threads that come and go allocate blocks of random sizes, hand half of
 * them to a shared table where other threads free them, grow some with
 * realloc and free them; others free their own.  So chunks are taken, let
 * go at thread exit (their caches give carved blocks back), freed from
 * other threads and reused while new owners carve from them.  Every block keeps its contents, the engine
 * reuses chunks, and any sanitizer report fails the test.  (About 2 MB
 * is freed, under the guard rail's 4 MiB floor.)
 * flytest: timeout=300
 */
#include "check.h"
#include "bump.h"
#include "flymalloc.h"
#include "region.h"
#include <pthread.h>

enum { THREADS = 4, ROUNDS = 3, OPS = 400, SLOTS = 256 };
static unsigned char *slots[SLOTS];
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

static void fill(unsigned char *p, size_t n, unsigned char v)
{
    p[0] = v;
    p[n - 1] = v;
    p[n / 2] = v;
}

static void check_block(const unsigned char *p, size_t n)
{
    CHECK(p[0] == p[n - 1] && p[0] == p[n / 2], "block %p of %zu bytes changed", (const void *)p, n);
}

static void *worker(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 7;
    unsigned char *own[64] = { 0 };
    size_t own_n[64] = { 0 };
    for (int op = 0; op < OPS; op++) {
        x = x * 1103515245u + 12345u;
        size_t n = 8 + (x >> 8) % ((x & 1) ? 1500 : 200);
        unsigned char *p = fly_malloc(n);
        CHECK(p && fly_region_kind(p) == FLY_REGION_MAP_BUMP, "malloc(%zu)", n);
        fill(p, n, (unsigned char)x);
        if (x & 2) {
            unsigned k = (x >> 4) % 64;
            if (own[k]) {
                check_block(own[k], own_n[k]);
                unsigned char *q = fly_realloc(own[k], own_n[k] + 64);
                CHECK(q, "realloc");
                check_block(q, own_n[k]);
                fly_free(q);
            }
            own[k] = p;
            own_n[k] = n;
            continue;
        }
        pthread_mutex_lock(&slot_lock);
        unsigned k = (x >> 4) % SLOTS;
        unsigned char *old = slots[k];
        slots[k] = p;
        pthread_mutex_unlock(&slot_lock);
        if (old) {
            size_t m = fly_malloc_usable_size(old);
            CHECK(m >= 8, "usable size");
            fly_free(old);
        }
    }
    for (int k = 0; k < 64; k++)
        if (own[k]) {
            check_block(own[k], own_n[k]);
            fly_free(own[k]);
        }
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *pol = getenv("FLYMALLOC_POLICY");
    if (pol == NULL || strcmp(pol, "arena") != 0) {
        setenv("FLYMALLOC_POLICY", "arena", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "cannot re-execute under FLYMALLOC_POLICY=arena");
    }
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(r * THREADS + i + 1)) == 0,
                  "pthread_create");
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        /* Every block of the round is freed now: its chunks wait for the
         * next round's threads. */
        for (int k = 0; k < SLOTS; k++) {
            fly_free(slots[k]);
            slots[k] = NULL;
        }
    }
    fly_bump_counts_t bc;
    fly_bump_counts(&bc);
    t_log("%llu chunks taken, %llu reused\n", (unsigned long long)bc.bc_chunks,
          (unsigned long long)bc.bc_chunks_reused);
    CHECK(bc.bc_chunks_reused > 0, "no chunk was reused");
    CHECK(!bc.bc_spilled, "the guard rail tripped");
    return 0;
}
