/*
 * test_two_heaps_tsan: two heaps in one process, under ThreadSanitizer.
 *
 * A second heap is made with another policy (magazines of at most 64
 * rounds and 16 KiB, a smaller
 * thread budget, decay 0) and its own arena.  Half the threads attach to
 * it, half stay on the default heap.  Checks:
 *   - every block (small and large) comes from its thread's heap
 *     (fly_heap_of) and keeps its contents;
 *   - statistics report both heaps (stats.heaps, stats.heaps.N.*), and
 *     with the caches flushed the heaps' live small bytes add up to the
 *     total, each heap holding at least what its threads hold;
 *   - threads free the other heap's blocks; the depots then hold only
 *     their own heap's objects (walked under the class locks while the
 *     threads are alive), and once every thread has exited and the
 *     process trimmed, each heap has no object outside its zones and no
 *     page in use: every block went back to the heap that handed it out;
 *   - both heaps purge: the second (decay 0) from its threads' ticks
 *     while they run, both on malloc_trim, leaving no dirty page.
 * Any sanitizer report fails the test.
 * flytest: timeout=300
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "region.h"
#include "stats.h"
#include "tcache.h"
#include <pthread.h>
#include <errno.h>
#include <string.h>

#define NTHREADS 4                 /* even: threads alternate heaps */
#define NBLOCKS 3000
#define CHURN_ROUNDS 40

static fly_heap_t *heap_b;
static pthread_barrier_t barrier;
static void *blocks[NTHREADS][NBLOCKS];
static size_t sizes[NTHREADS][NBLOCKS];

static fly_heap_t *heap_for(unsigned id)
{
    return id % 2 ? heap_b : &fly_heap_default;
}

/* Mostly small sizes over every class, now and then a large block. */
static size_t size_for(unsigned id, unsigned i)
{
    uint64_t x = (uint64_t)id * 7919 + i * 104729u;
    x ^= x >> 7;
    if (i % 97 == 0)
        return 40000 + (size_t)(x % 200000);
    return 1 + (size_t)(x % (i % 5 ? 512 : 32768));
}

static unsigned char pattern(unsigned id, unsigned i)
{
    return (unsigned char)(id * 31 + i * 7 + 1);
}

static void check_block(unsigned owner, unsigned i)
{
    unsigned char *p = blocks[owner][i], want = pattern(owner, i);
    size_t n = sizes[owner][i];
    CHECK(p[0] == want && p[n / 2] == want && p[n - 1] == want,
          "block %u of thread %u lost its contents", i, owner);
}

/* Allocates and frees in every class, so magazines travel to the depot. */
static void churn(void)
{
    void *p[256];
    for (unsigned r = 0; r < CHURN_ROUNDS; r++) {
        for (unsigned i = 0; i < 256; i++) {
            p[i] = fly_malloc(16 + (size_t)((r * 256 + i) * 37 % 8000));
            CHECK(p[i] != NULL, "malloc(%zu) in churn: %s", (size_t)(16 + (r * 256 + i) * 37 % 8000), strerror(errno));
        }
        for (unsigned i = 0; i < 256; i++)
            fly_free(p[i]);
    }
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    fly_heap_t *mine = heap_for(id);
    CHECK(fly_tcache_attach_os(mine), "attach thread %u to its heap", id);
    CHECK(fly_tc->tc_heap == mine, "thread %u not on its heap", id);
    for (unsigned i = 0; i < NBLOCKS; i++) {
        size_t n = size_for(id, i);
        unsigned char *p = fly_malloc(n);
        CHECK(p != NULL, "malloc(%zu)", n);
        CHECK(fly_region_word(p) >= FLY_REGION_MAP_HEAP_MIN, "block of %zu B not in a heap region", n);
        CHECK(fly_heap_of(p) == mine, "thread %u got a block of %zu B from heap %u", id, n,
              fly_heap_of(p)->hp_index);
        memset(p, pattern(id, i), n);
        blocks[id][i] = p;
        sizes[id][i] = n;
    }
    churn();
    /* The main thread reads the statistics with every cache empty. */
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "flush");
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);

    /* Free the next thread's blocks: they are the other heap's. */
    unsigned other = (id + 1) % NTHREADS;
    for (unsigned i = 0; i < NBLOCKS; i++) {
        check_block(other, i);
        fly_free(blocks[other][i]);
    }
    churn();
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);        /* the main thread walks the depots */
    return NULL;
}

static uint64_t heap_stat(unsigned i, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "stats.heaps.%u.%s", i, field);
    uint64_t v = 0;
    size_t len = sizeof v;
    CHECK(fly_ctl(name, &v, &len, NULL, 0) == 0, "fly_ctl(%s)", name);
    return v;
}

static uint64_t held_bytes(unsigned heap_index)
{
    uint64_t sum = 0;
    for (unsigned id = heap_index; id < NTHREADS; id += 2)
        for (unsigned i = 0; i < NBLOCKS; i++)
            if (sizes[id][i] <= 32768)
                sum += fly_malloc_usable_size(blocks[id][i]);
    return sum;
}

static void check_statistics(void)
{
    uint32_t nheaps = 0;
    size_t len = sizeof nheaps;
    CHECK(fly_ctl("stats.heaps", &nheaps, &len, NULL, 0) == 0 && nheaps == 2,
          "stats.heaps = %u, want 2", nheaps);
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get");
    uint64_t a = heap_stat(0, "small_bytes"), b = heap_stat(1, "small_bytes");
    CHECK(a + b == st.st_small_bytes, "heaps' small bytes %llu + %llu, total %llu",
          (unsigned long long)a, (unsigned long long)b, (unsigned long long)st.st_small_bytes);
    CHECK(a >= held_bytes(0) && b >= held_bytes(1),
          "heap small bytes %llu, %llu below what their threads hold (%llu, %llu)",
          (unsigned long long)a, (unsigned long long)b, (unsigned long long)held_bytes(0),
          (unsigned long long)held_bytes(1));
    CHECK(heap_stat(1, "used_bytes") > 0 && heap_stat(1, "mapped_bytes") > 0,
          "the second heap's arena shows no pages");
}

/* Every round in a depot's full magazines belongs to the depot's heap. */
static void check_depots(void)
{
    unsigned seen = 0;
    for (uint32_t hi = 0; hi < fly_heap_count(); hi++) {
        fly_heap_t *h = fly_heap_at(hi);
        for (unsigned c = 1; c <= fly_nclasses; c++) {
            fly_lock(&h->hp_slab.sl_class[c].sc_lock);
            for (fly_mag_t *m = h->hp_depot.dp_class[c].dc_full; m; m = m->m_next)
                for (uint32_t r = 0; r < m->m_rounds; r++, seen++)
                    CHECK(fly_heap_of(m->m_objs[r]) == h,
                          "heap %u's depot (class %u) holds an object of heap %u", hi, c,
                          fly_heap_of(m->m_objs[r])->hp_index);
            fly_unlock(&h->hp_slab.sl_class[c].sc_lock);
        }
    }
    CHECK(seen > 0, "the depots held no magazine to check");
}

static void check_all_returned(void)
{
    for (uint32_t hi = 0; hi < fly_heap_count(); hi++) {
        fly_heap_t *h = fly_heap_at(hi);
        for (unsigned c = 1; c <= fly_nclasses; c++)
            CHECK(h->hp_slab.sl_class[c].sc_objs_out == 0,
                  "heap %u class %u: %llu objects outside its zones after every free", hi, c,
                  (unsigned long long)h->hp_slab.sl_class[c].sc_objs_out);
        CHECK(heap_stat(hi, "used_bytes") == 0, "heap %u: %llu bytes still in use", hi,
              (unsigned long long)heap_stat(hi, "used_bytes"));
        CHECK(heap_stat(hi, "dirty_bytes") == 0, "heap %u: %llu dirty bytes after trim", hi,
              (unsigned long long)heap_stat(hi, "dirty_bytes"));
        CHECK(heap_stat(hi, "purges") > 0, "heap %u never purged", hi);
    }
}

int main(void)
{
    fly_free(fly_malloc(1));               /* initializes the default heap */
    fly_policy_t po = fly_heap_default.hp_policy;
    po.po_tcache_bytes = 1u << 20;
    po.po_mag_max_rounds = 64;
    po.po_mag_max_bytes = 16u << 10;
    po.po_depot_bytes = 32u << 10;
    po.po_decay_ms = 0;
    heap_b = fly_heap_create_os(&po);
    CHECK(heap_b != NULL && heap_b->hp_index == 1, "second heap not made");
    CHECK(heap_b->hp_vmem != fly_heap_default.hp_vmem, "the second heap shares the arena");
    CHECK(heap_b->hp_depot.dp_class[1].dc_mag_cap < fly_heap_default.hp_depot.dp_class[1].dc_mag_cap,
          "the second heap's policy did not shape its magazines");

    pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
    pthread_t t[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    pthread_barrier_wait(&barrier);        /* every block allocated, caches flushed */
    check_statistics();
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);        /* every block freed by the other heap's thread */
    check_depots();
    uint64_t purges_b = heap_stat(1, "purges");
    pthread_barrier_wait(&barrier);
    for (unsigned i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(purges_b > 0, "the second heap (decay 0) did not purge while its threads ran");
    fly_malloc_trim(0);
    check_all_returned();
    pthread_barrier_destroy(&barrier);
    return 0;
}
