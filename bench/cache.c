/*
 * cache.c: false sharing caused by the allocator (Hoard's cache-thrash and
 * cache-scratch shapes, described in Berger et al., "Hoard: A Scalable Memory
 * Allocator for Multithreaded Applications", ASPLOS 2000).
 *
 * Two threads that write to different objects still slow each other down
 * when the objects share a cache line: the line bounces between cores.  An
 * allocator causes this when it hands small neighbouring blocks to
 * different threads.
 *   --mode thrash  (active false sharing) each thread repeatedly allocates a
 *                  small object, writes to it many times and frees it.  An
 *                  allocator that serves all threads from one pool of
 *                  adjacent blocks puts their objects on one line.
 *   --mode scratch (passive false sharing) the main thread allocates one
 *                  small object per thread, adjacent in memory, and hands
 *                  them out; each thread frees its object and then does the
 *                  thrash loop.  An allocator that returns a freed block to
 *                  the freeing thread's cache gives each thread back a block
 *                  on the line shared with the others.
 * Time is dominated by the writes: on an allocator that avoids false sharing
 * it stays flat as threads are added; on one that causes it, it grows.
 *
 * Check: after its writes, every byte of the object must hold the count of
 * increments it received.
 */
#include <pthread.h>

#include "bench_common.h"

static long o_threads = 2, o_iters = 1000, o_writes = 20000, o_size = 8;
static int o_scratch, o_thrash, corrupt;

typedef struct {
    int w_id;
    void *w_given; /* scratch: the object the main thread handed over */
    uint64_t w_sum;
    int w_bad;
} worker_t;

static pthread_barrier_t start;

static void *worker(void *arg)
{
    worker_t *w = arg;

    pthread_barrier_wait(&start);
    if (w->w_given != NULL)
        free(w->w_given);
    for (long i = 0; i < o_iters; i++) {
        volatile unsigned char *p = xmalloc((size_t)o_size);
        unsigned char want;

        for (long k = 0; k < o_size; k++)
            p[k] = (unsigned char)k;
        for (long j = 0; j < o_writes; j++)
            for (long k = 0; k < o_size; k++)
                p[k]++;
        if (corrupt && w->w_id == 0 && i == o_iters / 2)
            p[0]++;
        for (long k = 0; k < o_size; k++) {
            want = (unsigned char)(k + o_writes);
            if (p[k] != want)
                w->w_bad = 1;
            w->w_sum += p[k];
        }
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads" },
        { "iters", &o_iters, NULL, "objects each thread allocates in turn" },
        { "writes", &o_writes, NULL, "passes of writes over each object" },
        { "size", &o_size, NULL, "object size in bytes" },
        { "scratch", NULL, &o_scratch, "passive false sharing (main thread allocates first)" },
        { "thrash", NULL, &o_thrash, "active false sharing (default)" },
        { 0 },
    };
    pthread_t tid[256];
    worker_t w[256];
    uint64_t sum = 0, expect_one = 0;
    int bad = 0;
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 256 || o_size < 1 || o_iters < 1 ||
        (o_scratch && o_thrash)) {
        fprintf(stderr, "cache: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    for (long k = 0; k < o_size; k++)
        expect_one += (unsigned char)(k + o_writes);
    pthread_barrier_init(&start, NULL, (unsigned)o_threads);
    t0 = now_sec();
    for (long t = 0; t < o_threads; t++) {
        w[t] = (worker_t){ .w_id = (int)t };
        if (o_scratch)
            w[t].w_given = xmalloc((size_t)o_size);
    }
    for (long t = 0; t < o_threads; t++)
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            bench_fail("pthread_create");
    for (long t = 0; t < o_threads; t++) {
        pthread_join(tid[t], NULL);
        sum += w[t].w_sum;
        bad |= w[t].w_bad;
    }
    if (bad || sum != expect_one * (uint64_t)o_iters * (uint64_t)o_threads)
        bench_fail("cache: an object did not hold the writes made to it");
    printf("bench: ops=%ld checksum=%016llx threads=%ld mode=%s mops_s=%.3f\n",
           o_iters * o_threads, (unsigned long long)sum, o_threads,
           o_scratch ? "scratch" : "thrash",
           (double)(o_iters * o_threads * o_writes * o_size) / (now_sec() - t0) / 1e6);
    return 0;
}
