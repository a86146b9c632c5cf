/*
 * mstress.c: memory stress with changing size mixes and migrating objects.
 *
 * Models the shape of the "mstress" stress test described in
 * mimalloc-bench: server-like allocation with sizes near powers of two,
 * objects that migrate between threads, some that live long, threads with
 * unequal amounts of work, and all threads destroyed and recreated after
 * every phase with some objects surviving into the next phase.
 *
 * Each thread owns a table of slots and, at each step, either allocates into
 * a random slot (freeing what was there), frees a random slot, or swaps the
 * object in a random slot with one in a global transfer array (an atomic
 * exchange), so that objects allocated by one thread are later freed by
 * another.  The size mix changes with the phase: small (8..512 B), medium
 * (64 B..8 KiB) or wide (8 B..128 KiB), with a rare block of up to 1 MiB,
 * so memory freed in one size range must be reused by another.  Thread i
 * does work proportional to i+1.  At the end of a phase each thread frees
 * most of its table but leaves the first --retain percent of slots alive,
 * and the next phase's threads take over the tables rotated by one.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

#define MAX_OBJ (1u << 20)

static long o_threads = 4, o_phases = 12, o_ops = 200000, o_slots = 2000,
            o_transfer = 1000, o_retain = 10, o_seed = 1;
static int corrupt;

static _Atomic(void *) *transfer;

typedef struct {
    void **w_table;
    int w_id, w_phase;
    uint64_t w_made, w_read;
    long w_ops;
    int w_bad;
} worker_t;

static size_t pick_size(rng_t *r, int phase)
{
    uint64_t x = rng_next(r);
    unsigned lo, hi, k;
    size_t base;

    if (x % 1000 == 0)
        return (size_t)rng_range(r, 65536, MAX_OBJ);
    switch (phase % 3) {
    case 0: lo = 4; hi = 9; break;   /* 16 B .. 512 B */
    case 1: lo = 6; hi = 13; break;  /* 64 B .. 8 KiB */
    default: lo = 4; hi = 17; break; /* 16 B .. 128 KiB */
    }
    k = lo + (unsigned)((x >> 16) % (hi - lo));
    base = (size_t)1 << k;
    /* Mostly exact powers of two, the rest anywhere up to the next one. */
    if ((x >> 40) % 4 != 0)
        return base;
    return base + (size_t)((x >> 44) % base);
}

static void release(worker_t *w, void *p)
{
    size_t n;
    w->w_read += sobj_read(p, MAX_OBJ, &n, &w->w_bad);
    free(p);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    long ops = o_ops * 2 * (w->w_id + 1) / (o_threads + 1);
    uint64_t id = ((uint64_t)w->w_phase << 48) | ((uint64_t)w->w_id << 40);
    int pending = corrupt && w->w_id == 0 && w->w_phase == o_phases / 2;
    rng_t r;

    rng_seed(&r, (uint64_t)o_seed * 65537u + (uint64_t)w->w_phase * 257u + (uint64_t)w->w_id);
    for (long i = 0; i < ops; i++) {
        uint64_t x = rng_next(&r);
        size_t k = (size_t)((x >> 8) % (uint64_t)o_slots);
        unsigned action = (unsigned)(x % 100);

        if (action < 50) {
            size_t n = pick_size(&r, w->w_phase);
            void *p = xmalloc(n);
            uint64_t tag = tag_of(id++);
            sobj_fill(p, n, tag);
            w->w_made += tag;
            if (w->w_table[k] != NULL)
                release(w, w->w_table[k]);
            w->w_table[k] = p;
        } else if (action < 80) {
            if (w->w_table[k] != NULL) {
                release(w, w->w_table[k]);
                w->w_table[k] = NULL;
            }
        } else {
            size_t t = (size_t)((x >> 32) % (uint64_t)o_transfer);
            w->w_table[k] = atomic_exchange(&transfer[t], w->w_table[k]);
        }
        if (pending && i >= ops / 2 && w->w_table[k] != NULL) {
            obj_corrupt(w->w_table[k]);
            pending = 0;
        }
    }
    /* Keep the first --retain percent of the table alive for the next phase. */
    for (long k = o_slots * o_retain / 100; k < o_slots; k++) {
        if (w->w_table[k] != NULL) {
            release(w, w->w_table[k]);
            w->w_table[k] = NULL;
        }
    }
    w->w_ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads per phase" },
        { "phases", &o_phases, NULL, "phases (threads are recreated each phase)" },
        { "ops", &o_ops, NULL, "average steps per thread per phase" },
        { "slots", &o_slots, NULL, "slots in each thread's table" },
        { "transfer", &o_transfer, NULL, "slots in the shared transfer array" },
        { "retain", &o_retain, NULL, "percent of each table surviving a phase" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    pthread_t tid[256];
    worker_t w[256];
    void **table[256];
    uint64_t made = 0, got = 0;
    long ops = 0;
    int bad = 0;
    worker_t fin = { 0 };
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_threads < 1 || o_threads > 256 || o_slots < 1 || o_transfer < 1 || o_retain < 0 ||
        o_retain > 100) {
        fprintf(stderr, "mstress: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    t0 = now_sec();
    transfer = calloc((size_t)o_transfer, sizeof *transfer);
    if (transfer == NULL)
        bench_nomem((size_t)o_transfer * sizeof *transfer);
    for (long t = 0; t < o_threads; t++) {
        table[t] = calloc((size_t)o_slots, sizeof(void *));
        if (table[t] == NULL)
            bench_nomem((size_t)o_slots * sizeof(void *));
    }
    for (long phase = 0; phase < o_phases; phase++) {
        for (long t = 0; t < o_threads; t++) {
            w[t] = (worker_t){ .w_table = table[(t + phase) % o_threads], .w_id = (int)t,
                               .w_phase = (int)phase };
            if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
                bench_fail("pthread_create");
        }
        for (long t = 0; t < o_threads; t++) {
            pthread_join(tid[t], NULL);
            made += w[t].w_made;
            got += w[t].w_read;
            ops += w[t].w_ops;
            bad |= w[t].w_bad;
        }
    }
    for (long t = 0; t < o_threads; t++) {
        for (long k = 0; k < o_slots; k++)
            if (table[t][k] != NULL)
                release(&fin, table[t][k]);
        free(table[t]);
    }
    for (long k = 0; k < o_transfer; k++) {
        void *p = atomic_load(&transfer[k]);
        if (p != NULL)
            release(&fin, p);
    }
    free(transfer);
    got += fin.w_read;
    bad |= fin.w_bad;
    if (bad || got != made)
        bench_fail("mstress: an object lost its contents (made %016llx, read %016llx)",
                   (unsigned long long)made, (unsigned long long)got);
    printf("bench: ops=%ld checksum=%016llx threads=%ld mops_s=%.3f\n", ops,
           (unsigned long long)made, o_threads, (double)ops / (now_sec() - t0) / 1e6);
    return 0;
}
