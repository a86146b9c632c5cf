/*
 * test_thread_budget: when more threads have a cache than
 * max(16, 2 x the CPUs the process may use), they share that many
 * per-thread budgets (src/tcache.c, budget_of), so hundreds of threads on
 * a few cores do not each keep a full cache.
 *
 * Proves, reading fly_ctl("thread.tcache.budget") in threads that are all
 * alive at once (a barrier): up to that many threads each gets the whole
 * opt.tcache_bytes; twice as many get half of it each, and eight times as
 * many an eighth, or their bins' base where that is more;
 * and once they are gone a new thread gets the whole budget back.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "check.h"
#include "flymalloc.h"

static pthread_barrier_t all_alive;
static uint64_t budget[1024];

static uint64_t read_budget(void)
{
    uint64_t v = 0;
    size_t n = sizeof v;
    CHECK(fly_ctl("thread.tcache.budget", &v, &n, NULL, 0) == 0 && n == sizeof v, "fly_ctl thread.tcache.budget");
    return v;
}

static void *worker(void *arg)
{
    long i = (long)arg;
    for (int k = 0; k < 1000; k++)
        fly_free(fly_malloc(64 + (size_t)(k % 7) * 100));
    pthread_barrier_wait(&all_alive);       /* every cache exists */
    budget[i] = read_budget();
    pthread_barrier_wait(&all_alive);
    return NULL;
}

/* Runs n threads at once; returns their common budget (all must agree). */
static uint64_t budget_with(long n)
{
    pthread_t tid[1024];
    CHECK(pthread_barrier_init(&all_alive, NULL, (unsigned)n) == 0, "barrier");
    for (long i = 0; i < n; i++)
        CHECK(pthread_create(&tid[i], NULL, worker, (void *)i) == 0, "pthread_create %ld", i);
    for (long i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&all_alive);
    for (long i = 1; i < n; i++)
        CHECK(budget[i] == budget[0], "with %ld threads: budgets %llu and %llu differ", n,
              (unsigned long long)budget[i], (unsigned long long)budget[0]);
    return budget[0];
}

int main(void)
{
    uint64_t full = 0;
    size_t n = sizeof full;
    CHECK(fly_ctl("opt.tcache_bytes", &full, &n, NULL, 0) == 0, "opt.tcache_bytes");
    cpu_set_t cpus;
    CHECK(sched_getaffinity(0, sizeof cpus, &cpus) == 0, "sched_getaffinity");
    long share = CPU_COUNT(&cpus) * 2 > 16 ? CPU_COUNT(&cpus) * 2 : 16;
    CHECK(share * 2 <= 1024, "too many CPUs for this test (%ld)", share);

    uint64_t one = budget_with(1), at_share = budget_with(share), twice = budget_with(2 * share);
    t_log("budgets: 1 thread %llu, %ld threads %llu, %ld threads %llu\n", (unsigned long long)one, share,
          (unsigned long long)at_share, 2 * share, (unsigned long long)twice);
    CHECK(one == full && at_share == full, "up to %ld threads each must get the whole budget", share);
    /* Half each, or the bins' base if that is more (a small budget, as
     * under the compact policy). */
    CHECK(twice >= full / 2 && twice < full, "twice as many threads: %llu, budget %llu",
          (unsigned long long)twice, (unsigned long long)full);
    if (share * 8 <= 1024) {
        uint64_t eight = budget_with(8 * share);
        t_log("%ld threads: %llu\n", 8 * share, (unsigned long long)eight);
        CHECK(eight >= full / 8 && eight <= twice, "eight times as many threads: %llu", (unsigned long long)eight);
        uint64_t base = eight > full / 8 ? eight : 0;
        CHECK(twice == (full / 2 > base ? full / 2 : base), "twice as many threads: %llu, expected half of %llu "
              "or the base %llu", (unsigned long long)twice, (unsigned long long)full, (unsigned long long)base);
    }
    CHECK(budget_with(1) == full, "a thread after the others left must get the whole budget again");
    t_log("ok: caches share the budget past %ld threads\n", share);
    return 0;
}
