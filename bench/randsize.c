/*
 * randsize.c: random-size replacement in a fixed working set, per thread.
 *
 * Models the shape of glibc's malloc micro-benchmark (bench-malloc-thread
 * in glibc's benchtests): each thread keeps a working set of blocks (1024
 * by default) and, in a loop, frees a randomly chosen block and allocates a
 * new one in its place.  Sizes favour small blocks: their density is
 * proportional to 1/size between 8 bytes and 32 KiB, so most requests hit
 * the small size classes while a steady trickle of kilobyte blocks keeps the
 * medium classes and the page layer busy.  Threads share nothing, so with
 * --threads N (one per core) the workload measures how well the allocator
 * scales when threads do not interact: per-thread caches and the absence of
 * contention on shared locks.
 *
 * Every block is tagged at both ends and checked when it is freed.
 */
#include <pthread.h>

#include "bench_common.h"

#define NSIZES 4096

static long o_threads = 1, o_iters = 2000000, o_slots = 1024, o_min = 8,
            o_max = 32768, o_seed = 1;
static int corrupt;

typedef struct {
    int w_id;
    uint64_t w_expect, w_got;
    int w_bad;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    size_t *sizes = xmalloc(NSIZES * sizeof *sizes);
    void **slot = calloc((size_t)o_slots, sizeof *slot);
    size_t *slen = calloc((size_t)o_slots, sizeof *slen);
    uint64_t *stag = calloc((size_t)o_slots, sizeof *stag);
    uint64_t id = (uint64_t)w->w_id << 40;
    rng_t r;

    if (slot == NULL || slen == NULL || stag == NULL)
        bench_nomem((size_t)o_slots * sizeof *slot);
    rng_seed(&r, (uint64_t)o_seed * 1000003u + (uint64_t)w->w_id);
    for (int i = 0; i < NSIZES; i++)
        sizes[i] = rng_logsize(&r, (size_t)o_min, (size_t)o_max);

    for (long i = 0; i < o_iters; i++) {
        uint64_t x = rng_next(&r);
        size_t k = (size_t)(x % (uint64_t)o_slots);
        size_t n = sizes[(x >> 40) & (NSIZES - 1)];

        if (slot[k] != NULL) {
            w->w_got += obj_read(slot[k], slen[k], stag[k], &w->w_bad);
            free(slot[k]);
        }
        slot[k] = xmalloc(n);
        slen[k] = n;
        stag[k] = tag_of(id++);
        obj_fill(slot[k], n, stag[k]);
        w->w_expect += stag[k];
        if (corrupt && w->w_id == 0 && i == o_iters / 2)
            obj_corrupt(slot[k]);
    }
    for (long k = 0; k < o_slots; k++) {
        if (slot[k] != NULL) {
            w->w_got += obj_read(slot[k], slen[k], stag[k], &w->w_bad);
            free(slot[k]);
        }
    }
    free(stag);
    free(slen);
    free(slot);
    free(sizes);
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads, each with its own working set" },
        { "iters", &o_iters, NULL, "replacements per thread" },
        { "slots", &o_slots, NULL, "blocks in each thread's working set" },
        { "min", &o_min, NULL, "smallest block (at least 8)" },
        { "max", &o_max, NULL, "largest block" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    pthread_t tid[256];
    worker_t w[256];
    uint64_t expect = 0, got = 0;
    int bad = 0;
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 256 || o_slots < 1 || o_min < 8 || o_max < o_min) {
        fprintf(stderr, "randsize: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    t0 = now_sec();
    for (long t = 0; t < o_threads; t++) {
        w[t] = (worker_t){ .w_id = (int)t };
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            bench_fail("pthread_create");
    }
    for (long t = 0; t < o_threads; t++) {
        pthread_join(tid[t], NULL);
        expect += w[t].w_expect;
        got += w[t].w_got;
        bad |= w[t].w_bad;
    }
    if (bad || got != expect)
        bench_fail("randsize: a block lost its contents (expected sum %016llx, read %016llx)",
                   (unsigned long long)expect, (unsigned long long)got);
    printf("bench: ops=%ld checksum=%016llx threads=%ld mops_s=%.3f\n", o_iters * o_threads,
           (unsigned long long)expect, o_threads,
           (double)(o_iters * o_threads) / (now_sec() - t0) / 1e6);
    return 0;
}
