/*
 * xmalloc.c: producer/consumer of small objects across threads.
 *
 * Models the shape of xmalloc-test (Lever and Boreham, "malloc()
 * Performance in a Multithreaded Linux Environment", USENIX 2000): producer
 * threads allocate small objects (16..256 bytes) and pass them, in batches,
 * through a shared queue to consumer threads, which free them.  No object is
 * ever freed by the thread that allocated it.  This is the pattern of a
 * pipeline stage or a request queue, and the hardest case for per-thread
 * caches: the producer's cache keeps running dry while the consumer's keeps
 * overflowing, so memory must flow back from consumer to producer cheaply
 * and without piling up in the consumer (watch peak RSS).
 *
 * The queue is bounded (--queue batches), so the live set stays small and
 * the producer waits when the consumer falls behind.  The batch arrays are
 * themselves malloc'ed by the producer and freed by the consumer.
 *
 * The live set is the queue's content, so it depends on which thread is the
 * faster: peak RSS means little without it.  The bench line reports the
 * queue length seen by each put, its mean and its maximum (batches).
 */
#include <pthread.h>

#include "bench_common.h"

static long o_producers = 1, o_consumers = 1, o_objects = 20000000, o_batch = 256,
            o_queue = 64, o_min = 16, o_max = 256, o_seed = 1;
static int corrupt;

typedef struct {
    long b_count;
    uint64_t b_first_id;
    void *b_obj[];
} batch_t;

/* A bounded FIFO of batches; q_lock protects every field. */
static struct {
    pthread_mutex_t q_lock;
    pthread_cond_t q_nonempty, q_nonfull;
    batch_t **q_ring;
    long q_head, q_len, q_producers_left;
    long q_puts, q_len_sum, q_len_max; /* occupancy after each put */
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
        NULL, 0, 0, 0, 0, 0, 0 };

typedef struct {
    int w_id;
    uint64_t w_sum; /* producer: tags written; consumer: tags read */
    long w_count;
    int w_bad;
} worker_t;

/* An object's size follows from its id, so the consumer can check it. */
static inline size_t size_of_id(uint64_t id)
{
    return (size_t)o_min + (size_t)(mix64(id + (uint64_t)o_seed * 0x100000001b3ULL) % (uint64_t)(o_max - o_min + 1));
}

static void queue_put(batch_t *b)
{
    pthread_mutex_lock(&q.q_lock);
    while (q.q_len == o_queue)
        pthread_cond_wait(&q.q_nonfull, &q.q_lock);
    q.q_ring[(q.q_head + q.q_len) % o_queue] = b;
    q.q_len++;
    q.q_puts++;
    q.q_len_sum += q.q_len;
    if (q.q_len > q.q_len_max)
        q.q_len_max = q.q_len;
    pthread_cond_signal(&q.q_nonempty);
    pthread_mutex_unlock(&q.q_lock);
}

/* Returns NULL when every producer has finished and the queue is empty. */
static batch_t *queue_get(void)
{
    batch_t *b = NULL;

    pthread_mutex_lock(&q.q_lock);
    while (q.q_len == 0 && q.q_producers_left > 0)
        pthread_cond_wait(&q.q_nonempty, &q.q_lock);
    if (q.q_len > 0) {
        b = q.q_ring[q.q_head];
        q.q_head = (q.q_head + 1) % o_queue;
        q.q_len--;
        pthread_cond_signal(&q.q_nonfull);
    }
    pthread_mutex_unlock(&q.q_lock);
    return b;
}

static void *producer(void *arg)
{
    worker_t *w = arg;
    long share = o_objects / o_producers + (w->w_id < o_objects % o_producers);
    uint64_t id = (uint64_t)w->w_id << 40;

    while (share > 0) {
        long n = share < o_batch ? share : o_batch;
        batch_t *b = xmalloc(sizeof *b + (size_t)n * sizeof(void *));

        b->b_count = n;
        b->b_first_id = id;
        for (long i = 0; i < n; i++, id++) {
            size_t len = size_of_id(id);
            void *p = xmalloc(len);
            obj_fill(p, len, tag_of(id));
            w->w_sum += tag_of(id);
            b->b_obj[i] = p;
        }
        if (corrupt && w->w_id == 0 && w->w_count == o_objects / o_producers / 2 / o_batch)
            obj_corrupt(b->b_obj[0]);
        w->w_count++;
        share -= n;
        queue_put(b);
    }
    pthread_mutex_lock(&q.q_lock);
    q.q_producers_left--;
    pthread_cond_broadcast(&q.q_nonempty);
    pthread_mutex_unlock(&q.q_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    worker_t *w = arg;
    batch_t *b;

    while ((b = queue_get()) != NULL) {
        for (long i = 0; i < b->b_count; i++) {
            uint64_t id = b->b_first_id + (uint64_t)i;
            w->w_sum += obj_read(b->b_obj[i], size_of_id(id), tag_of(id), &w->w_bad);
            free(b->b_obj[i]);
        }
        w->w_count += b->b_count;
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "producers", &o_producers, NULL, "allocating threads" },
        { "consumers", &o_consumers, NULL, "freeing threads" },
        { "objects", &o_objects, NULL, "objects passed in all" },
        { "batch", &o_batch, NULL, "objects per batch" },
        { "queue", &o_queue, NULL, "batches the queue holds at most" },
        { "min", &o_min, NULL, "smallest object (at least 8)" },
        { "max", &o_max, NULL, "largest object" },
        { "seed", &o_seed, NULL, "random seed (varies the sizes)" },
        { 0 },
    };
    pthread_t tp[64], tc[64];
    worker_t wp[64], wc[64];
    uint64_t made = 0, eaten = 0;
    long freed = 0;
    int bad = 0;
    double t0;

    bench_options(argc, argv, opts, &corrupt);
    if (o_producers < 1 || o_producers > 64 || o_consumers < 1 || o_consumers > 64 ||
        o_batch < 1 || o_queue < 1 || o_min < 8 || o_max < o_min || o_objects < 1) {
        fprintf(stderr, "xmalloc: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    q.q_ring = xmalloc((size_t)o_queue * sizeof *q.q_ring);
    q.q_producers_left = o_producers;
    t0 = now_sec();
    for (long i = 0; i < o_consumers; i++) {
        wc[i] = (worker_t){ .w_id = (int)i };
        if (pthread_create(&tc[i], NULL, consumer, &wc[i]) != 0)
            bench_fail("pthread_create");
    }
    for (long i = 0; i < o_producers; i++) {
        wp[i] = (worker_t){ .w_id = (int)i };
        if (pthread_create(&tp[i], NULL, producer, &wp[i]) != 0)
            bench_fail("pthread_create");
    }
    for (long i = 0; i < o_producers; i++) {
        pthread_join(tp[i], NULL);
        made += wp[i].w_sum;
    }
    for (long i = 0; i < o_consumers; i++) {
        pthread_join(tc[i], NULL);
        eaten += wc[i].w_sum;
        freed += wc[i].w_count;
        bad |= wc[i].w_bad;
    }
    free(q.q_ring);
    if (bad || made != eaten || freed != o_objects)
        bench_fail("xmalloc: objects lost their contents or went missing "
                   "(%ld of %ld freed, sums %016llx/%016llx)", freed, o_objects,
                   (unsigned long long)made, (unsigned long long)eaten);
    printf("bench: ops=%ld checksum=%016llx producers=%ld consumers=%ld mops_s=%.3f "
           "queue_mean=%.1f queue_max=%ld\n",
           o_objects, (unsigned long long)made, o_producers, o_consumers,
           (double)o_objects / (now_sec() - t0) / 1e6,
           (double)q.q_len_sum / (double)q.q_puts, q.q_len_max);
    return 0;
}
