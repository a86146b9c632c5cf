/*
 * larson.c: a server whose threads free what other threads allocated.
 *
 * Models the benchmark Larson and Krishnan described ("Memory allocation
 * for long-running server applications", ISMM 1998): a server keeps many
 * live objects of random size (8..1000 bytes), and its worker threads come
 * and go.  Each worker owns a table of slots; it repeatedly picks a random
 * slot, frees the object there and allocates a new one.  Work proceeds in
 * rounds: at the end of a round the threads exit and new ones start, each
 * inheriting the table of a *different* thread from the previous round, so
 * most frees release memory another (often dead) thread allocated.  This
 * stresses remote frees, thread-exit cache flushing and memory that
 * migrates between thread caches, as a thread-pool server does.
 *
 * The work is fixed (rounds x threads x ops), so wall time is the inverse of
 * throughput; the harness reports both.
 */
#include <pthread.h>

#include "bench_common.h"

static long o_threads = 2, o_rounds = 50, o_ops = 100000, o_slots = 2000, o_min = 8,
            o_max = 1000, o_seed = 1;
static int corrupt;

typedef struct {
    void **tb_obj;
    uint32_t *tb_len;
    uint64_t *tb_tag;
} table_t;

typedef struct {
    table_t *w_table;
    int w_id, w_round;
    uint64_t w_expect, w_got;
    int w_bad;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    table_t *tb = w->w_table;
    uint64_t id = ((uint64_t)w->w_round << 48) | ((uint64_t)w->w_id << 40) | 1u << 30;
    rng_t r;

    rng_seed(&r, (uint64_t)o_seed * 7919u + (uint64_t)w->w_round * 131u + (uint64_t)w->w_id);
    for (long i = 0; i < o_ops; i++) {
        uint64_t x = rng_next(&r);
        size_t k = (size_t)(x % (uint64_t)o_slots);
        size_t n = (size_t)o_min + (size_t)((x >> 32) % (uint64_t)(o_max - o_min + 1));

        w->w_got += obj_read(tb->tb_obj[k], tb->tb_len[k], tb->tb_tag[k], &w->w_bad);
        free(tb->tb_obj[k]);
        tb->tb_obj[k] = xmalloc(n);
        tb->tb_len[k] = (uint32_t)n;
        tb->tb_tag[k] = tag_of(id++);
        obj_fill(tb->tb_obj[k], n, tb->tb_tag[k]);
        w->w_expect += tb->tb_tag[k];
    }
    if (corrupt && w->w_id == 0 && w->w_round == o_rounds / 2)
        obj_corrupt(tb->tb_obj[0]);
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "worker threads per round" },
        { "rounds", &o_rounds, NULL, "rounds (threads are recreated each round)" },
        { "ops", &o_ops, NULL, "free+malloc replacements per thread per round" },
        { "slots", &o_slots, NULL, "live objects per thread" },
        { "min", &o_min, NULL, "smallest object (at least 8)" },
        { "max", &o_max, NULL, "largest object" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    pthread_t tid[256];
    worker_t w[256];
    table_t tb[256];
    uint64_t expect = 0, got = 0;
    int bad = 0;
    rng_t r;
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 256 || o_slots < 1 || o_min < 8 || o_max < o_min) {
        fprintf(stderr, "larson: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    t0 = now_sec();
    /* The main thread fills every table first, as larson's warm-up does. */
    rng_seed(&r, (uint64_t)o_seed);
    for (long t = 0; t < o_threads; t++) {
        tb[t].tb_obj = xmalloc((size_t)o_slots * sizeof(void *));
        tb[t].tb_len = xmalloc((size_t)o_slots * sizeof(uint32_t));
        tb[t].tb_tag = xmalloc((size_t)o_slots * sizeof(uint64_t));
        for (long k = 0; k < o_slots; k++) {
            size_t n = (size_t)rng_range(&r, (uint64_t)o_min, (uint64_t)o_max);
            uint64_t tag = tag_of(((uint64_t)t << 40) | (uint64_t)k);
            tb[t].tb_obj[k] = xmalloc(n);
            tb[t].tb_len[k] = (uint32_t)n;
            tb[t].tb_tag[k] = tag;
            obj_fill(tb[t].tb_obj[k], n, tag);
            expect += tag;
        }
    }
    for (long round = 0; round < o_rounds; round++) {
        for (long t = 0; t < o_threads; t++) {
            /* Hand each new thread the table another thread used last round. */
            w[t] = (worker_t){ .w_table = &tb[(t + round) % o_threads],
                               .w_id = (int)t, .w_round = (int)round };
            if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
                bench_fail("pthread_create");
        }
        for (long t = 0; t < o_threads; t++) {
            pthread_join(tid[t], NULL);
            expect += w[t].w_expect;
            got += w[t].w_got;
            bad |= w[t].w_bad;
        }
    }
    for (long t = 0; t < o_threads; t++) {
        for (long k = 0; k < o_slots; k++) {
            got += obj_read(tb[t].tb_obj[k], tb[t].tb_len[k], tb[t].tb_tag[k], &bad);
            free(tb[t].tb_obj[k]);
        }
        free(tb[t].tb_obj);
        free(tb[t].tb_len);
        free(tb[t].tb_tag);
    }
    if (bad || got != expect)
        bench_fail("larson: an object lost its contents (expected sum %016llx, read %016llx)",
                   (unsigned long long)expect, (unsigned long long)got);
    printf("bench: ops=%ld checksum=%016llx threads=%ld mops_s=%.3f\n",
           o_rounds * o_threads * o_ops, (unsigned long long)expect, o_threads,
           (double)(o_rounds * o_threads * o_ops) / (now_sec() - t0) / 1e6);
    return 0;
}
