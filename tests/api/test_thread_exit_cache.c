/*
 * test_thread_exit_cache: a thread's cached memory is given back when it exits.
 *
 * Proves: a thread that allocated and freed many small objects holds some
 * of them in its cache while alive (st_cached_bytes rises by C > 0); after
 * it exits, and after 100 more such threads have come and gone (half of
 * them freeing objects the main thread allocated, which land in the freeing
 * thread's magazines), st_cached_bytes has grown by at most 2*C + 1 MiB
 * rather than by about 100*C, st_live_bytes is back at its start, and
 * mapped memory grew by at most 16 MiB: the exited threads' caches were
 * flushed to the shared layers and their memory is reused.  (Under arena
 * the caches hold carved bump blocks and the exited threads' chunks are
 * reused; the mapped bound allows the zones' first region, mapped when
 * this free-heavy test trips the bump engine's guard rail.)
 * flytest: timeout=200
 */
#include "check.h"
#include "flymalloc.h"

#include <pthread.h>
#include <stdbool.h>

static const size_t sizes[] = { 16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096 };
#define NSIZES (sizeof sizes / sizeof sizes[0])
enum { PER = 1000 };

static fly_stats_t get(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase; /* 1: worker done allocating, 2: main has measured */

static void *local_worker(void *arg)
{
    int wait_for_main = arg != NULL;
    static __thread void *p[PER];
    for (size_t s = 0; s < NSIZES; s++) {
        for (int i = 0; i < PER; i++) {
            p[i] = fly_malloc(sizes[s]);
            CHECK(p[i] != NULL, "malloc(%zu)", sizes[s]);
            memset(p[i], 0x33, sizes[s]);
        }
        for (int i = 0; i < PER; i++)
            fly_free(p[i]);
        /* keep a little traffic on this class so it stays cached */
        for (int i = 0; i < 8; i++)
            fly_free(fly_malloc(sizes[s]));
    }
    if (wait_for_main) {
        pthread_mutex_lock(&mu);
        phase = 1;
        pthread_cond_broadcast(&cv);
        while (phase != 2)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void *remote_worker(void *arg)
{
    void **p = arg;
    for (size_t i = 0; i < NSIZES * 500; i++)
        fly_free(p[i]);
    return NULL;
}

int main(void)
{
    pthread_t t;
    /* warm up the shared layers so that later growth is the caches' */
    CHECK(pthread_create(&t, NULL, local_worker, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    fly_malloc_trim(0);

    fly_stats_t s0 = get();
    CHECK(pthread_create(&t, NULL, local_worker, (void *)1) == 0, "pthread_create");
    pthread_mutex_lock(&mu);
    while (phase != 1)
        pthread_cond_wait(&cv, &mu);
    fly_stats_t alive = get();
    phase = 2;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    fly_stats_t s1 = get();

    char policy[32];
    size_t len = sizeof policy;
    CHECK(fly_ctl("policy.name", policy, &len, NULL, 0) == 0, "fly_ctl(policy.name)");
    bool bump = strcmp(policy, "arena") == 0;
    CHECK(alive.st_cached_bytes > s0.st_cached_bytes,
          "a live thread that freed %d objects per class holds nothing in st_cached_bytes (%llu -> %llu)", PER,
          (unsigned long long)s0.st_cached_bytes, (unsigned long long)alive.st_cached_bytes);
    uint64_t c = alive.st_cached_bytes - s0.st_cached_bytes;

    static void *remote[NSIZES * 500];
    for (int round = 0; round < 100; round++) {
        if (round % 2 == 0) {
            CHECK(pthread_create(&t, NULL, local_worker, NULL) == 0, "pthread_create");
        } else {
            for (size_t i = 0; i < NSIZES * 500; i++) {
                remote[i] = fly_malloc(sizes[i % NSIZES]);
                CHECK(remote[i] != NULL, "malloc");
            }
            CHECK(pthread_create(&t, NULL, remote_worker, remote) == 0, "pthread_create");
        }
        pthread_join(t, NULL);
    }
    fly_stats_t s2 = get();
    t_log("per-thread cache %llu; cached after 1 thread %llu, after 101 threads %llu; mapped %llu -> %llu\n",
          (unsigned long long)c, (unsigned long long)s1.st_cached_bytes, (unsigned long long)s2.st_cached_bytes,
          (unsigned long long)s1.st_mapped_bytes, (unsigned long long)s2.st_mapped_bytes);
    CHECK(s2.st_cached_bytes <= s1.st_cached_bytes + 2 * c + (1u << 20),
          "cached bytes accumulate per exited thread: %llu after one thread, %llu after 100 more "
          "(one live thread caches %llu)", (unsigned long long)s1.st_cached_bytes,
          (unsigned long long)s2.st_cached_bytes, (unsigned long long)c);
    CHECK(s2.st_live_bytes == s0.st_live_bytes, "live bytes %llu -> %llu though all was freed",
          (unsigned long long)s0.st_live_bytes, (unsigned long long)s2.st_live_bytes);
    /* Under arena this free-heavy test trips the bump engine's guard rail,
     * and the zones then map their first 64 MiB region.  Under owner each
     * thread has a heap whose arena unmaps its region when it empties and
     * maps one again when its next thread allocates. */
    uint32_t heaps = 0;
    len = sizeof heaps;
    CHECK(fly_ctl("stats.heaps", &heaps, &len, NULL, 0) == 0 && heaps >= 1, "fly_ctl(stats.heaps)");
    uint64_t slack = (16u << 20) + (bump ? 64u << 20 : 0) + (uint64_t)(heaps - 1) * (64u << 20);
    CHECK(s2.st_mapped_bytes <= s1.st_mapped_bytes + slack, "mapped bytes grew %llu -> %llu",
          (unsigned long long)s1.st_mapped_bytes, (unsigned long long)s2.st_mapped_bytes);
    return 0;
}
