/*
 * test_thread_churn: thousands of short-lived threads do not make memory grow.
 *
 * Proves: 4000 threads, created and joined four at a time, each allocating
 * a few hundred blocks of mixed sizes (some handed back to the main thread
 * to free, some freed by the thread, one 64 KiB block and occasionally
 * 1 MiB), leave no trace: after a warm-up of 200 threads, the remaining
 * 3800 grow st_live_bytes by nothing once their blocks are freed, grow
 * st_mapped_bytes by at most 16 MiB, st_cached_bytes by at most 8 MiB and
 * the resident set by at most 32 MiB.  Without thread-exit flushing each
 * dead thread's cache would stay behind and these bounds break.
 * flytest: timeout=300
 */
#include "check.h"
#include "flymalloc.h"

#include <pthread.h>

enum { NTHREADS = 4000, BATCH = 4, PER = 300, HANDED = 20 };

typedef struct {
    unsigned id;
    void *handed[HANDED];
} job_t;

static fly_stats_t get(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

static void *worker(void *arg)
{
    job_t *j = arg;
    uint64_t seed = 77 + j->id;
    void *p[PER];
    for (int i = 0; i < PER; i++) {
        size_t n = (size_t)(t_rand(&seed) % 3000);
        p[i] = fly_malloc(n);
        CHECK(p[i] != NULL, "malloc(%zu) in thread %u", n, j->id);
        memset(p[i], (int)i, n);
    }
    void *big = fly_malloc(j->id % 10 == 0 ? (1u << 20) : 65536);
    CHECK(big != NULL, "large malloc in thread %u", j->id);
    memset(big, 1, 4096);
    for (int i = HANDED; i < PER; i++)
        fly_free(p[i]);
    for (int i = 0; i < HANDED; i++)
        j->handed[i] = p[i];
    fly_free(big);
    return NULL;
}

static void run(unsigned from, unsigned to)
{
    static job_t jobs[BATCH];
    for (unsigned i = from; i < to; i += BATCH) {
        pthread_t t[BATCH];
        for (unsigned k = 0; k < BATCH; k++) {
            jobs[k].id = i + k;
            CHECK(pthread_create(&t[k], NULL, worker, &jobs[k]) == 0, "pthread_create #%u", i + k);
        }
        for (unsigned k = 0; k < BATCH; k++) {
            CHECK(pthread_join(t[k], NULL) == 0, "pthread_join");
            for (int h = 0; h < HANDED; h++)
                fly_free(jobs[k].handed[h]); /* cross-thread free of a dead thread's block */
        }
    }
}

int main(void)
{
    run(0, 200);
    fly_stats_t a = get();
    size_t rss_a = t_rss_bytes();
    run(200, NTHREADS);
    fly_stats_t b = get();
    size_t rss_b = t_rss_bytes();

    t_log("live %llu -> %llu, mapped %llu -> %llu, cached %llu -> %llu, rss %zu -> %zu\n",
          (unsigned long long)a.st_live_bytes, (unsigned long long)b.st_live_bytes,
          (unsigned long long)a.st_mapped_bytes, (unsigned long long)b.st_mapped_bytes,
          (unsigned long long)a.st_cached_bytes, (unsigned long long)b.st_cached_bytes, rss_a, rss_b);
    CHECK(b.st_live_bytes == a.st_live_bytes, "live bytes %llu -> %llu though every block was freed",
          (unsigned long long)a.st_live_bytes, (unsigned long long)b.st_live_bytes);
    /* Under the owner policy each thread has a heap whose arena unmaps its
     * region when it empties and maps one again when its next thread
     * allocates: a region of slack per heap beyond the default one. */
    uint32_t heaps = 0;
    size_t len = sizeof heaps;
    CHECK(fly_ctl("stats.heaps", &heaps, &len, NULL, 0) == 0 && heaps >= 1, "fly_ctl(stats.heaps)");
    uint64_t slack = (16u << 20) + (uint64_t)(heaps - 1) * (64u << 20);
    CHECK(b.st_mapped_bytes <= a.st_mapped_bytes + slack, "mapped bytes grew %llu -> %llu over %d threads",
          (unsigned long long)a.st_mapped_bytes, (unsigned long long)b.st_mapped_bytes, NTHREADS - 200);
    CHECK(b.st_cached_bytes <= a.st_cached_bytes + (8u << 20), "cached bytes grew %llu -> %llu over %d threads",
          (unsigned long long)a.st_cached_bytes, (unsigned long long)b.st_cached_bytes, NTHREADS - 200);
    CHECK(rss_a > 0 && rss_b <= rss_a + (32u << 20), "RSS grew %zu -> %zu over %d threads", rss_a, rss_b,
          NTHREADS - 200);
    return 0;
}
