/*
 * test_owner.c: the owner policy (FLYMALLOC_POLICY=owner): each thread a
 * heap of its own, and what another thread frees goes back to the heap
 * that handed it out (tcache.c, item 7; heap.h, owner heaps).  The test
 * re-executes itself with the policy set, so it holds from the first
 * allocation.
 *
 *   own_heaps   the main thread is on the default heap; three threads
 *               alive at once are on three other heaps, one each; a
 *               thread started after they exit takes one of their heaps
 *               (no heap is made); 20 threads at once share the policy's
 *               16 heaps, every one of them in use
 *   go_home     2000 blocks one thread allocated and another freed: the
 *               freeing thread's next 2000 mallocs of that size are none
 *               of them (under default they would be: its magazine of
 *               frees becomes the one it allocates from) and all from its
 *               own heap, and once it exits every one of the 2000 has come
 *               back to the allocating heap (its came_home count)
 *   relay       four threads pass filled blocks of many sizes round a ring;
 *               each checks and frees what it receives, so every free is of
 *               another thread's block: no content is lost or shared
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "tcache.h"
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

static uint64_t came_home(const fly_heap_t *h)
{
    char name[64];
    snprintf(name, sizeof name, "stats.heaps.%u.came_home", h->hp_index);
    uint64_t v = 0;
    size_t len = sizeof v;
    CHECK(fly_ctl(name, &v, &len, NULL, 0) == 0, "fly_ctl(%s)", name);
    return v;
}

/* ---- own_heaps ---- */

static pthread_barrier_t together;
static sem_t started;

static void *record_heap(void *arg)
{
    void *p = fly_malloc(64);
    CHECK(p != NULL, "malloc");
    *(fly_heap_t **)arg = fly_tc->tc_heap;
    CHECK(fly_heap_of(p) == fly_tc->tc_heap, "a block not from the thread's heap");
    sem_post(&started);
    pthread_barrier_wait(&together);
    fly_free(p);
    return NULL;
}

/* Runs n threads alive at once, each started once the one before has its
 * cache (so which heap each gets is not a race); heaps[i] gets thread i's
 * heap. */
static void run_together(unsigned n, fly_heap_t **heaps)
{
    pthread_t t[32];
    pthread_barrier_init(&together, NULL, n);
    sem_init(&started, 0, 0);
    for (unsigned i = 0; i < n; i++) {
        CHECK(pthread_create(&t[i], NULL, record_heap, &heaps[i]) == 0, "pthread_create");
        sem_wait(&started);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&together);
    sem_destroy(&started);
}

static void own_heaps(void)
{
    void *p = fly_malloc(64);
    CHECK(p && fly_heap_of(p) == &fly_heap_default && fly_tc->tc_heap == &fly_heap_default,
          "the main thread is not on the default heap");
    CHECK(fly_tc->tc_send_home, "the main thread does not send other heaps' blocks home");
    fly_heap_t *three[3];
    run_together(3, three);
    for (unsigned i = 0; i < 3; i++) {
        CHECK(three[i] != &fly_heap_default, "thread %u is on the default heap", i);
        for (unsigned j = 0; j < i; j++)
            CHECK(three[i] != three[j], "threads %u and %u share a heap", j, i);
    }
    uint32_t made = fly_heap_count();
    CHECK(made == 4, "%u heaps after three threads, not 4", made);
    fly_heap_t *later;
    run_together(1, &later);
    CHECK(later == three[0] || later == three[1] || later == three[2],
          "a thread started after three exited is not on one of their heaps");
    CHECK(fly_heap_count() == made, "a heap was made for it");

    fly_heap_t *many[20];
    run_together(20, many);
    CHECK(fly_heap_count() == FLY_OWNER_HEAPS, "%u heaps with 21 threads, not %u", fly_heap_count(),
          FLY_OWNER_HEAPS);
    unsigned users[FLY_MAX_HEAPS] = { 0 };
    users[0] = 1;                                   /* the main thread */
    for (unsigned i = 0; i < 20; i++)
        users[many[i]->hp_index]++;
    for (unsigned i = 0; i < FLY_OWNER_HEAPS; i++)
        CHECK(users[i] >= 1 && users[i] <= 2, "heap %u has %u of the 21 threads", i, users[i]);
    fly_free(p);
}

/* ---- go_home ---- */

#define N_HOME 2000
static void *home_blocks[N_HOME];
static fly_heap_t *home_heap;

static pthread_barrier_t allocated, freed;

/* Stays alive until the other thread is done, so that one is on another
 * heap. */
static void *allocate_all(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < N_HOME; i++) {
        home_blocks[i] = fly_malloc(48);
        home_heap = fly_tc->tc_heap;
        CHECK(home_blocks[i] && fly_heap_of(home_blocks[i]) == home_heap, "block %u", i);
        memset(home_blocks[i], 0x5a, 48);
    }
    pthread_barrier_wait(&allocated);
    pthread_barrier_wait(&freed);
    return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void *free_then_allocate(void *arg)
{
    (void)arg;
    void *warm = fly_malloc(48);                     /* the class is in use here */
    fly_heap_t *mine = fly_tc->tc_heap;
    CHECK(mine != home_heap, "both threads on one heap");
    for (unsigned i = 0; i < N_HOME; i++)
        fly_free(home_blocks[i]);
    static void *mine_blocks[N_HOME];
    for (unsigned i = 0; i < N_HOME; i++) {
        mine_blocks[i] = fly_malloc(48);
        CHECK(mine_blocks[i] && fly_heap_of(mine_blocks[i]) == mine,
              "malloc %u after the frees is not from the thread's own heap", i);
    }
    qsort(home_blocks, N_HOME, sizeof(void *), cmp_ptr);
    for (unsigned i = 0; i < N_HOME; i++)
        CHECK(bsearch(&mine_blocks[i], home_blocks, N_HOME, sizeof(void *), cmp_ptr) == NULL,
              "malloc %u handed out a block another thread allocated and this one freed", i);
    for (unsigned i = 0; i < N_HOME; i++)
        fly_free(mine_blocks[i]);
    fly_free(warm);
    return NULL;
}

static void go_home(void)
{
    pthread_t a, b;
    pthread_barrier_init(&allocated, NULL, 2);
    pthread_barrier_init(&freed, NULL, 2);
    CHECK(pthread_create(&a, NULL, allocate_all, NULL) == 0, "pthread_create");
    pthread_barrier_wait(&allocated);
    uint64_t before = came_home(home_heap);
    CHECK(pthread_create(&b, NULL, free_then_allocate, NULL) == 0, "pthread_create");
    pthread_join(b, NULL);
    uint64_t back = came_home(home_heap) - before;
    pthread_barrier_wait(&freed);
    pthread_join(a, NULL);
    CHECK(back == N_HOME, "%llu of the %u blocks came back to their heap", (unsigned long long)back,
          N_HOME);
}

/* ---- relay ---- */

#define RING 4
#define SLOTS 64
#define LAPS 20000

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned char *slot[SLOTS];
    size_t size[SLOTS];
    unsigned head, tail;
} channel_t;

static channel_t channels[RING];

static void channel_put(channel_t *ch, unsigned char *p, size_t n)
{
    pthread_mutex_lock(&ch->lock);
    while (ch->tail - ch->head == SLOTS)
        pthread_cond_wait(&ch->cond, &ch->lock);
    ch->slot[ch->tail % SLOTS] = p;
    ch->size[ch->tail % SLOTS] = n;
    ch->tail++;
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
}

static unsigned char *channel_get(channel_t *ch, size_t *n)
{
    pthread_mutex_lock(&ch->lock);
    while (ch->tail == ch->head)
        pthread_cond_wait(&ch->cond, &ch->lock);
    unsigned char *p = ch->slot[ch->head % SLOTS];
    *n = ch->size[ch->head % SLOTS];
    ch->head++;
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
    return p;
}

static void *relay_worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    channel_t *out = &channels[(id + 1) % RING], *in = &channels[id];
    uint32_t seed = id * 2654435761u + 1;
    for (unsigned lap = 0; lap < LAPS; lap++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 8 + (seed >> 8) % (lap % 16 == 0 ? 20000 : 600);
        unsigned char *p = fly_malloc(n);
        CHECK(p != NULL, "malloc %zu", n);
        memset(p, (int)((uintptr_t)p >> 4 & 0xff), n);
        channel_put(out, p, n);
        size_t m;
        unsigned char *q = channel_get(in, &m);
        unsigned char want = (unsigned char)((uintptr_t)q >> 4 & 0xff);
        for (size_t k = 0; k < m; k += 7)
            CHECK(q[k] == want, "block %p byte %zu changed", (void *)q, k);
        CHECK(q[m - 1] == want, "block %p last byte changed", (void *)q);
        fly_free(q);
    }
    return NULL;
}

static void relay(void)
{
    pthread_t t[RING];
    for (unsigned i = 0; i < RING; i++) {
        pthread_mutex_init(&channels[i].lock, NULL);
        pthread_cond_init(&channels[i].cond, NULL);
    }
    for (unsigned i = 0; i < RING; i++)
        CHECK(pthread_create(&t[i], NULL, relay_worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    for (unsigned i = 0; i < RING; i++)
        pthread_join(t[i], NULL);
    fly_malloc_trim(0);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *policy = getenv("FLYMALLOC_POLICY");
    if (policy == NULL || strcmp(policy, "owner") != 0) {
        setenv("FLYMALLOC_POLICY", "owner", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "execv");
    }
    char name[32];
    size_t len = sizeof name;
    CHECK(fly_ctl("policy.name", name, &len, NULL, 0) == 0 && strcmp(name, "owner") == 0,
          "the policy is not owner");
    own_heaps();
    t_log("own_heaps: ok\n");
    go_home();
    t_log("go_home: ok\n");
    relay();
    t_log("relay: ok\n");
    return 0;
}
