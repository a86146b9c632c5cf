/*
 * numa.c: allocate on one node, use from the same node or from another.
 *
 * Each of --threads threads is pinned to one CPU (in the order of the
 * process's affinity mask).  A round: every thread allocates --objects
 * blocks of 16..--max bytes (log-uniform) and fills them; then, after a
 * barrier, each thread's blocks are read --passes times and freed, by the
 * same thread (--remote 0) or by its partner (--remote 1): a thread on
 * another NUMA node when the machine has one (from
 * /sys/devices/system/cpu/cpuN/nodeM), else the thread half the count
 * away.  So --remote 1 measures what remote memory and remote frees cost
 * an allocator, and --remote 0 what placing each thread's blocks on its
 * own node gains.  Run it with threads from 1 to the CPU count, and with
 * FLYMALLOC_NUMA=local for flymalloc (bench/numa.sh does all of that).
 *
 * On a machine with one node both modes touch local memory; the numbers
 * then show only the allocator's own cost of cross-thread frees.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>

#include "bench_common.h"

static long o_threads = 0, o_remote = 0, o_rounds = 20, o_objects = 20000, o_max = 1024,
            o_passes = 1, o_seed = 1;
static int corrupt;

typedef struct {
    int w_cpu, w_node, w_partner;
    void **w_obj;
    size_t *w_size;
    uint64_t w_expect, w_got, w_sum;
    int w_bad;
} worker_t;

static worker_t *workers;
static pthread_barrier_t barrier;

/* The node of a CPU from sysfs, or 0. */
static int node_of_cpu(int cpu)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d", cpu);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    int node = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' && e->d_name[4] <= '9')
            node = atoi(e->d_name + 4);
    closedir(d);
    return node;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->w_cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    rng_t rng;
    rng_seed(&rng, (uint64_t)o_seed * 1000003u + (uint64_t)(w - workers));
    uint64_t id = (uint64_t)(w - workers) << 40;
    for (long round = 0; round < o_rounds; round++) {
        for (long i = 0; i < o_objects; i++) {
            size_t n = rng_logsize(&rng, 16, (size_t)o_max);
            unsigned char *p = xmalloc(n);
            uint64_t tag = tag_of(id++);
            memset(p, (int)(tag & 0xff), n);
            obj_fill(p, n, tag);
            w->w_obj[i] = p;
            w->w_size[i] = n;
            w->w_expect += tag;
        }
        if (corrupt && round == o_rounds / 2 && w == workers)
            obj_corrupt(w->w_obj[0]);
        pthread_barrier_wait(&barrier);
        worker_t *owner = o_remote ? &workers[w->w_partner] : w;
        /* Use: every byte of every block, --passes times. */
        for (long pass = 0; pass < o_passes; pass++)
            for (long i = 0; i < o_objects; i++) {
                const unsigned char *b = owner->w_obj[i];
                for (size_t k = 8; k + 8 < owner->w_size[i]; k++)
                    w->w_sum += b[k];
            }
        for (long i = 0; i < o_objects; i++) {
            int bad = 0;
            uint64_t tag;
            memcpy(&tag, owner->w_obj[i], 8);
            w->w_got += obj_read(owner->w_obj[i], owner->w_size[i], tag, &bad);
            w->w_bad |= bad;
            free(owner->w_obj[i]);
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "threads", &o_threads, NULL, "threads, one per CPU (0: every CPU)" },
        { "remote", &o_remote, NULL, "1: blocks are used and freed by a thread of another node" },
        { "rounds", &o_rounds, NULL, "rounds of allocate, use, free" },
        { "objects", &o_objects, NULL, "blocks per thread per round" },
        { "max", &o_max, NULL, "largest block (at least 16)" },
        { "passes", &o_passes, NULL, "reads of each block before it is freed" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    bench_options(argc, argv, opts, &corrupt);
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int cpus[CPU_SETSIZE], ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[ncpu++] = c;
    if (o_threads == 0)
        o_threads = ncpu;
    if (o_threads < 1 || o_threads > ncpu || o_rounds < 1 || o_objects < 1 || o_max < 16 || o_passes < 1 ||
        (o_remote && o_threads < 2)) {
        fprintf(stderr, "numa: bad options (%d CPUs; --remote 1 needs 2 threads)\n", ncpu);
        return BENCH_EXIT_USAGE;
    }
    workers = xmalloc((size_t)o_threads * sizeof *workers);
    int nodes = 1;
    for (long i = 0; i < o_threads; i++) {
        worker_t *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->w_cpu = cpus[i];
        w->w_node = node_of_cpu(cpus[i]);
        if (w->w_node + 1 > nodes)
            nodes = w->w_node + 1;
        w->w_obj = xmalloc((size_t)o_objects * sizeof(void *));
        w->w_size = xmalloc((size_t)o_objects * sizeof(size_t));
    }
    /* Partners: the next thread on another node, else half the count away. */
    for (long i = 0; i < o_threads; i++) {
        workers[i].w_partner = (int)((i + o_threads / 2) % o_threads);
        for (long k = 1; k < o_threads; k++) {
            long j = (i + k) % o_threads;
            if (workers[j].w_node != workers[i].w_node) {
                workers[i].w_partner = (int)j;
                break;
            }
        }
    }
    /* Blocks must each be read by one thread: remote partners must pair up. */
    if (o_remote)
        for (long i = 0; i < o_threads; i++)
            if (workers[workers[i].w_partner].w_partner != i) {
                workers[i].w_partner = (int)(i ^ 1) < o_threads ? (int)(i ^ 1) : (int)i;
                if ((long)workers[i].w_partner == i) {
                    fprintf(stderr, "numa: --remote 1 needs an even thread count\n");
                    return BENCH_EXIT_USAGE;
                }
            }
    pthread_barrier_init(&barrier, NULL, (unsigned)o_threads);
    pthread_t t[CPU_SETSIZE];
    double t0 = now_sec();
    for (long i = 0; i < o_threads; i++)
        pthread_create(&t[i], NULL, worker, &workers[i]);
    uint64_t expect = 0, got = 0, sum = 0;
    int bad = 0;
    for (long i = 0; i < o_threads; i++) {
        pthread_join(t[i], NULL);
        expect += workers[i].w_expect;
        got += workers[i].w_got;
        sum += workers[i].w_sum;
        bad |= workers[i].w_bad;
    }
    double secs = now_sec() - t0;
    uint64_t ops = (uint64_t)o_threads * (uint64_t)o_rounds * (uint64_t)o_objects;
    /* The tags read back add up to those written, and the bytes read (the
     * checksum) depend on the tags and sizes only, not on the allocator. */
    if (bad || got != expect)
        bench_fail("blocks changed: %s", bad ? "a block's ends differ" : "the tags do not add up");
    printf("bench: ops=%llu checksum=%llx threads=%ld nodes=%d remote=%ld mops=%.2f\n", (unsigned long long)ops,
           (unsigned long long)sum, o_threads, nodes, o_remote, (double)ops / secs / 1e6);
    return 0;
}
