/*
 * rpdist.c: a size distribution weighted towards small blocks, with
 * cross-thread frees.
 *
 * Models the shape of rpmalloc's benchmark (rpmalloc-benchmark): each thread
 * keeps a working set of blocks and runs loops that allocate a batch of new
 * blocks into it (freeing the older blocks they displace), and passes a
 * share of its fresh blocks to another thread, which frees them.  Sizes come
 * from a fixed distribution weighted towards small blocks with a long tail,
 * as measured in typical programs:
 *     16..64 B 40 %, 65..256 B 30 %, 257 B..1 KiB 18 %, 1..4 KiB 8 %,
 *     4..16 KiB 3 %, 16..64 KiB 1 %
 * so the workload exercises every size class, medium sizes and the page
 * layer, with the mix staying the same from start to end (unlike mstress).
 */
#include <pthread.h>

#include "bench_common.h"

#define MAX_OBJ 65536

static long o_threads = 2, o_loops = 2000, o_batch = 512, o_set = 16384, o_cross = 10,
            o_seed = 1;
static int corrupt;

/* A thread's inbox of blocks other threads want it to free. */
typedef struct {
    pthread_mutex_t ib_lock;
    void **ib_obj;
    size_t ib_len, ib_cap;
} inbox_t;

typedef struct {
    int w_id;
    inbox_t w_inbox;
    uint64_t w_made, w_read;
    long w_ops;
    int w_bad;
} worker_t;

static worker_t *workers;
static pthread_barrier_t done_making;

static size_t pick_size(rng_t *r)
{
    static const struct { unsigned pct; size_t lo, hi; } dist[] = {
        { 40, 16, 64 }, { 30, 65, 256 }, { 18, 257, 1024 },
        { 8, 1025, 4096 }, { 3, 4097, 16384 }, { 1, 16385, 65536 },
    };
    uint64_t x = rng_next(r);
    unsigned p = (unsigned)(x % 100);
    size_t i = 0;

    while (p >= dist[i].pct) {
        p -= dist[i].pct;
        i++;
    }
    return dist[i].lo + (size_t)((x >> 32) % (dist[i].hi - dist[i].lo + 1));
}

static void release(worker_t *w, void *p)
{
    size_t n;
    w->w_read += sobj_read(p, MAX_OBJ, &n, &w->w_bad);
    free(p);
}

static void inbox_put(inbox_t *ib, void **obj, size_t n)
{
    pthread_mutex_lock(&ib->ib_lock);
    if (ib->ib_len + n > ib->ib_cap) {
        size_t cap = (ib->ib_len + n) * 2;
        void **nw = realloc(ib->ib_obj, cap * sizeof *nw);
        if (nw == NULL)
            bench_nomem(cap * sizeof *nw);
        ib->ib_obj = nw;
        ib->ib_cap = cap;
    }
    memcpy(ib->ib_obj + ib->ib_len, obj, n * sizeof *obj);
    ib->ib_len += n;
    pthread_mutex_unlock(&ib->ib_lock);
}

static void inbox_drain(worker_t *w)
{
    inbox_t *ib = &w->w_inbox;
    void **obj;
    size_t n;

    pthread_mutex_lock(&ib->ib_lock);
    obj = ib->ib_obj;
    n = ib->ib_len;
    ib->ib_obj = NULL;
    ib->ib_len = ib->ib_cap = 0;
    pthread_mutex_unlock(&ib->ib_lock);
    for (size_t i = 0; i < n; i++)
        release(w, obj[i]);
    free(obj);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    void **set = calloc((size_t)o_set, sizeof *set);
    void **out = xmalloc((size_t)o_batch * sizeof *out);
    inbox_t *next = &workers[(w->w_id + 1) % o_threads].w_inbox;
    uint64_t id = (uint64_t)w->w_id << 40;
    rng_t r;

    if (set == NULL)
        bench_nomem((size_t)o_set * sizeof *set);
    rng_seed(&r, (uint64_t)o_seed * 92821u + (uint64_t)w->w_id);
    for (long loop = 0; loop < o_loops; loop++) {
        size_t nout = 0;

        for (long b = 0; b < o_batch; b++) {
            size_t n = pick_size(&r);
            uint64_t x = rng_next(&r);
            size_t k = (size_t)(x % (uint64_t)o_set);
            void *p = xmalloc(n);
            uint64_t tag = tag_of(id++);

            sobj_fill(p, n, tag);
            w->w_made += tag;
            if ((long)((x >> 40) % 100) < o_cross) {
                out[nout++] = p; /* this one another thread frees */
                continue;
            }
            if (set[k] != NULL)
                release(w, set[k]);
            set[k] = p;
        }
        if (corrupt && w->w_id == 0 && loop == o_loops / 2 && nout > 0)
            obj_corrupt(out[0]);
        if (o_threads > 1)
            inbox_put(next, out, nout);
        else
            for (size_t i = 0; i < nout; i++)
                release(w, out[i]);
        inbox_drain(w);
        w->w_ops += o_batch;
    }
    for (long k = 0; k < o_set; k++)
        if (set[k] != NULL)
            release(w, set[k]);
    free(set);
    free(out);
    /* Wait until nobody will send more, then free what was sent. */
    pthread_barrier_wait(&done_making);
    inbox_drain(w);
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads" },
        { "loops", &o_loops, NULL, "loops per thread" },
        { "batch", &o_batch, NULL, "blocks allocated per loop" },
        { "set", &o_set, NULL, "slots in each thread's working set" },
        { "cross", &o_cross, NULL, "percent of blocks freed by another thread" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    pthread_t tid[256];
    uint64_t made = 0, got = 0;
    long ops = 0;
    int bad = 0;
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 256 || o_batch < 1 || o_set < 1 || o_cross < 0 ||
        o_cross > 100) {
        fprintf(stderr, "rpdist: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    t0 = now_sec();
    workers = calloc((size_t)o_threads, sizeof *workers);
    if (workers == NULL)
        bench_nomem((size_t)o_threads * sizeof *workers);
    pthread_barrier_init(&done_making, NULL, (unsigned)o_threads);
    for (long t = 0; t < o_threads; t++) {
        workers[t].w_id = (int)t;
        pthread_mutex_init(&workers[t].w_inbox.ib_lock, NULL);
    }
    for (long t = 0; t < o_threads; t++)
        if (pthread_create(&tid[t], NULL, worker, &workers[t]) != 0)
            bench_fail("pthread_create");
    for (long t = 0; t < o_threads; t++) {
        pthread_join(tid[t], NULL);
        made += workers[t].w_made;
        got += workers[t].w_read;
        ops += workers[t].w_ops;
        bad |= workers[t].w_bad;
    }
    free(workers);
    if (bad || got != made)
        bench_fail("rpdist: a block lost its contents (made %016llx, read %016llx)",
                   (unsigned long long)made, (unsigned long long)got);
    printf("bench: ops=%ld checksum=%016llx threads=%ld mops_s=%.3f\n", ops,
           (unsigned long long)made, o_threads, (double)ops / (now_sec() - t0) / 1e6);
    return 0;
}
