/*
 * test_thread_stress: the prefixed API under multi-threaded load.
 *
 * Proves (see tests/common/stress.h): with 2, 4 and 8 threads allocating,
 * filling, verifying, handing blocks to each other through a shared ring
 * (cross-thread frees and reallocs) and freeing, no block is ever corrupted
 * or misaligned; and once every thread has exited and the ring is drained,
 * st_live_bytes is back to its starting value and st_nmalloc/st_nfree grew
 * by the same amount (per-thread counters merge correctly, including those
 * of exited threads and of cross-thread frees).
 * flytest: timeout=300
 */
#include "flymalloc.h"

#define ST_MALLOC fly_malloc
#define ST_CALLOC fly_calloc
#define ST_REALLOC fly_realloc
#define ST_FREE fly_free
#define ST_USABLE fly_malloc_usable_size
#define ST_POSIX_MEMALIGN fly_posix_memalign
#include "stress.h"

static fly_stats_t get(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 150000;
    fly_stats_t a = get();
    static const unsigned nthreads[] = { 2, 4, 8 };
    for (int i = 0; i < 3; i++) {
        st_run(nthreads[i], ops / (long)nthreads[i] * 2);
        fly_stats_t b = get();
        CHECK(b.st_live_bytes == a.st_live_bytes,
              "after %u threads: live bytes %llu, %llu at start (everything was freed)", nthreads[i],
              (unsigned long long)b.st_live_bytes, (unsigned long long)a.st_live_bytes);
        CHECK(b.st_nmalloc - a.st_nmalloc == b.st_nfree - a.st_nfree,
              "after %u threads: %llu allocations but %llu frees", nthreads[i],
              (unsigned long long)(b.st_nmalloc - a.st_nmalloc), (unsigned long long)(b.st_nfree - a.st_nfree));
        CHECK(b.st_nmalloc - a.st_nmalloc >= (uint64_t)ops / 4, "only %llu allocations counted",
              (unsigned long long)(b.st_nmalloc - a.st_nmalloc));
    }
    return 0;
}
