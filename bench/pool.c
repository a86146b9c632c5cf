/*
 * pool.c: a pool of threads that allocate in bursts, all alive at once.
 *
 * --threads T threads start together (a barrier) and run --rounds rounds.
 * In each, a thread allocates a burst of --burst blocks of random sizes
 * (density 1/size between 16 B and --max), fills them, waits until every
 * thread has its burst (a barrier: the bursts are live at the same time),
 * then checks and frees them.  So the peak holds every thread's burst plus
 * whatever each thread's allocator cache keeps of the bursts before: with
 * many threads on few cores it shows what per-thread caches cost in
 * memory, and how the allocator copes with threads it cannot run at once
 * (bench/many-threads.sh, issue 18).
 */
#include <pthread.h>

#include "bench_common.h"

static long o_threads = 64, o_rounds = 200, o_burst = 400, o_max = 4096, o_seed = 1;
static int corrupt;
static pthread_barrier_t all_live;

typedef struct {
    int w_id;
    uint64_t w_expect, w_got;
    int w_bad;
} worker_t;

static long gcd(long a, long b)
{
    return b ? gcd(b, a % b) : a;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    void **block = xmalloc((size_t)o_burst * sizeof *block);
    size_t *len = xmalloc((size_t)o_burst * sizeof *len);
    uint64_t *tag = xmalloc((size_t)o_burst * sizeof *tag);
    uint64_t id = (uint64_t)w->w_id << 40;
    rng_t r;
    rng_seed(&r, (uint64_t)o_seed * 1000003u + (uint64_t)w->w_id);
    pthread_barrier_wait(&all_live);
    for (long round = 0; round < o_rounds; round++) {
        for (long i = 0; i < o_burst; i++) {
            len[i] = rng_logsize(&r, 16, (size_t)o_max);
            block[i] = xmalloc(len[i]);
            tag[i] = tag_of(id++);
            obj_fill(block[i], len[i], tag[i]);
            w->w_expect += tag[i];
        }
        if (corrupt && w->w_id == 0 && round == o_rounds / 2)
            obj_corrupt(block[0]);
        pthread_barrier_wait(&all_live);
        /* Freed in another order than allocated, as a pool's tasks end. */
        long step = 1 + (long)(rng_next(&r) % 7);
        while (gcd(step, o_burst) != 1)
            step--;
        for (long i = 0, k = 0; i < o_burst; i++, k = (k + step) % o_burst) {
            w->w_got += obj_read(block[k], len[k], tag[k], &w->w_bad);
            free(block[k]);
        }
    }
    free(tag);
    free(len);
    free(block);
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads in the pool, all alive at once" },
        { "rounds", &o_rounds, NULL, "bursts per thread" },
        { "burst", &o_burst, NULL, "blocks a thread allocates per burst" },
        { "max", &o_max, NULL, "largest block" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 1024 || o_rounds < 1 || o_burst < 1 || o_max < 16) {
        fprintf(stderr, "pool: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    pthread_t *tid = xmalloc((size_t)o_threads * sizeof *tid);
    worker_t *w = xmalloc((size_t)o_threads * sizeof *w);
    pthread_barrier_init(&all_live, NULL, (unsigned)o_threads);
    double t0 = now_sec();
    for (long t = 0; t < o_threads; t++) {
        w[t] = (worker_t){ .w_id = (int)t };
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            bench_fail("pthread_create");
    }
    uint64_t expect = 0, got = 0;
    int bad = 0;
    for (long t = 0; t < o_threads; t++) {
        pthread_join(tid[t], NULL);
        expect += w[t].w_expect;
        got += w[t].w_got;
        bad |= w[t].w_bad;
    }
    if (bad || got != expect)
        bench_fail("pool: a block lost its contents (expected sum %016llx, read %016llx)",
                   (unsigned long long)expect, (unsigned long long)got);
    long ops = o_threads * o_rounds * o_burst;
    printf("bench: ops=%ld checksum=%016llx threads=%ld mops_s=%.3f\n", ops, (unsigned long long)expect,
           o_threads, (double)ops / (now_sec() - t0) / 1e6);
    free(w);
    free(tid);
    return 0;
}
