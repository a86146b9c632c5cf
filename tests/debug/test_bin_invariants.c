/*
 * test_bin_invariants.c: drives the thread caches' bins through every kind
 * of change on the debug build, where src/tcache.c asserts the bins'
 * invariants at each one (magazines of the heap's capacity with their NULL
 * guard, rounds within bounds, tb_flimit the previous magazine's slot
 * tb_cap, tb_cap between the class's base and capacity, tc_cap_bytes the
 * sum of the bins' capacities and within the budget rules), and proves
 * both that the drive reached those changes and that the assertions are
 * live.
 *
 *   every_class      each class in turn: swaps both ways, depot refills and
 *                    spills, burst fills, growth to the class's largest
 *                    magazine (checked: a busy bin grows, tc_cap_bytes stays
 *                    the sum of 2 * capacity * size), flush
 *                    (thread.tcache.flush, checked empty), aging at a tick
 *                    (checked: back to base);
 *   trimmed_overfull a bin grown and holding more rounds than its base in
 *                    its previous magazine is sent back to base by a lowered
 *                    budget (checked: the previous magazine now holds more
 *                    than tb_cap), then frees spill it and mallocs swap it;
 *                    the budget is raised again;
 *   threads          four threads of random sizes over all classes (small,
 *                    some large), blocks freed by other threads through a
 *                    shared pool, flushes and forced aging, while the main
 *                    thread lowers and raises opt.tcache_bytes; 48 short
 *                    threads churn and exit (thread exit drains the cache);
 *                    one thread moves to a second heap and back
 *                    (fly_tcache_attach_os);
 *   asserts_live     (forked children) a tc_cap_bytes off by 32 aborts at
 *                    the next tick, and a bin whose tb_cap exceeds the
 *                    class's capacity aborts at the next flush, each with
 *                    "flymalloc: fatal: assertion failed: ...".
 * flytest: timeout=120
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "depot.h"
#include "flymalloc.h"
#include "heap.h"
#include "tcache.h"

#define DC(c) (&fly_heap_default.hp_depot.dp_class[c])

static void *objs[20000];

static uint64_t cap_sum(void)
{
    uint64_t sum = 0;
    for (unsigned c = 1; c <= fly_nclasses; c++)
        sum += 2ull * FLY_MAX(fly_tc->tc_bins[c].tb_cap, DC(c)->dc_mag_base) * fly_classes[c].cl_size;
    return sum;
}

static void set_budget(uint64_t v)
{
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &v, sizeof v) == 0, "opt.tcache_bytes = %llu",
          (unsigned long long)v);
}

static void flush(void)
{
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "thread.tcache.flush");
}

/* n mallocs then n frees of class c: at least one depot visit each way
 * once n is over two magazines. */
static void churn(unsigned c, size_t n)
{
    size_t size = fly_classes[c].cl_size;
    for (size_t i = 0; i < n; i++) {
        objs[i] = fly_malloc(size - i % 16);
        CHECK(objs[i] != NULL, "malloc(%zu)", size);
    }
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
}

/* Back and forth at the swap points: the previous magazine full with the
 * loaded one empty, and the other way round. */
static void swaps(unsigned c)
{
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    size_t size = fly_classes[c].cl_size;
    for (int r = 0; r < 4; r++) {
        uint32_t n = b->tb_cap + 1;
        for (uint32_t i = 0; i < n; i++)
            objs[i] = fly_malloc(size);
        for (uint32_t i = 0; i < n; i++)
            fly_free(objs[i]);
        for (uint32_t i = 0; i < n; i++)
            objs[i] = fly_malloc(size);
        for (uint32_t i = n; i-- > 0;)
            fly_free(objs[i]);
    }
}

static void every_class(void)
{
    uint64_t misses = 0, grown = 0;
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        fly_tcbin_t *b = &fly_tc->tc_bins[c];
        const fly_depot_class_t *dc = DC(c);
        uint64_t ex = dc->dc_exchanges;
        churn(c, 1);
        CHECK(b->tb_cap == dc->dc_mag_base, "class %u: fresh bin at %u, base %u", c, b->tb_cap, dc->dc_mag_base);
        swaps(c);
        for (int i = 0; i < 6; i++)
            churn(c, FLY_MIN((size_t)3 * dc->dc_mag_cap + 1, sizeof objs / sizeof objs[0]));
        CHECK(dc->dc_exchanges > ex, "class %u: no depot exchange", c);
        CHECK(fly_tc->tc_cap_bytes == cap_sum(), "class %u: tc_cap_bytes %llu, bins sum to %llu", c,
              (unsigned long long)fly_tc->tc_cap_bytes, (unsigned long long)cap_sum());
        CHECK(fly_tc->tc_cap_bytes <= fly_heap_default.hp_tcache_budget, "over the budget");
        grown += b->tb_cap > dc->dc_mag_base;
        misses += fly_tc->tc_misses[c];
        swaps(c);
        if (c % 4 == 0)
            flush();
        if (c % 7 == 0) {
            fly_tc->tc_next_gc = 0;            /* aging at the next tick */
            fly_tcache_tick_os(fly_tc);
            fly_tc->tc_next_gc = 0;
            fly_tcache_tick_os(fly_tc);
            CHECK(b->tb_cap == dc->dc_mag_base && fly_tcbin_prev_rounds(b) == 0,
                  "class %u: aged bin at %u with %u previous rounds", c, b->tb_cap, fly_tcbin_prev_rounds(b));
        }
    }
    CHECK(grown >= fly_nclasses / 2, "only %llu of %u bins grew", (unsigned long long)grown, fly_nclasses);
    CHECK(misses > 2 * fly_nclasses, "only %llu misses", (unsigned long long)misses);
    flush();
    for (unsigned c = 1; c <= fly_nclasses; c++)
        CHECK(fly_tcache_loaded_rounds(fly_tc, c) == 0 && fly_tcbin_prev_rounds(&fly_tc->tc_bins[c]) == 0,
              "class %u: a flushed bin holds rounds", c);
}

static void trimmed_overfull(void)
{
    unsigned c = fly_class_of(4096);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    const fly_depot_class_t *dc = DC(c);
    uint64_t budget = fly_heap_default.hp_tcache_budget;
    set_budget(fly_heap_default.hp_depot.dp_mag_cap_bytes);
    for (int i = 0; i < 8 && b->tb_cap < dc->dc_mag_cap; i++)
        churn(c, 3 * dc->dc_mag_cap + 1);
    CHECK(b->tb_cap == dc->dc_mag_cap && dc->dc_mag_cap > dc->dc_mag_base + 2, "4 KiB bin at %u (base %u, cap %u)",
          b->tb_cap, dc->dc_mag_base, dc->dc_mag_cap);
    /* Loaded magazine empty, previous one almost full. */
    flush();
    uint32_t n = b->tb_cap - 1;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = fly_malloc(4096);
    flush();
    for (uint32_t i = 0; i < n; i++)
        fly_free(objs[i]);
    CHECK(fly_tcbin_prev_rounds(b) == n && fly_tcache_loaded_rounds(fly_tc, c) == 0, "setup: prev %u, loaded %u",
          fly_tcbin_prev_rounds(b), fly_tcache_loaded_rounds(fly_tc, c));
    /* A budget just above the bases: the trim sends the bin to its base
     * and leaves its rounds. */
    set_budget(fly_heap_default.hp_depot.dp_mag_base_bytes + 4096);
    fly_tcache_tick_os(fly_tc);
    CHECK(b->tb_cap == dc->dc_mag_base && fly_tcbin_prev_rounds(b) > b->tb_cap,
          "after the trim: cap %u, previous rounds %u", b->tb_cap, fly_tcbin_prev_rounds(b));
    /* Frees spill it (the loaded magazine is empty: a swap), mallocs use it. */
    for (uint32_t i = 0; i < 3 * dc->dc_mag_cap; i++)
        objs[i] = fly_malloc(4096);
    for (uint32_t i = 0; i < 3 * dc->dc_mag_cap; i++)
        fly_free(objs[i]);
    set_budget(budget);
    flush();
}

/* ---- threads ------------------------------------------------------------ */

#define POOL 512
static void *pool[POOL];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;
/* Samples of the workers' tc_cap_bytes: all bins at base (a trim or aging
 * after a lowered budget), and above the starting budget (growth into a
 * raised one). */
static uint64_t seen_at_base, seen_above_start, changer_rounds;

static bool budget_changes_seen(void)
{
    return __atomic_load_n(&seen_at_base, __ATOMIC_RELAXED) && __atomic_load_n(&seen_above_start, __ATOMIC_RELAXED) &&
           __atomic_load_n(&changer_rounds, __ATOMIC_RELAXED) >= 3;
}

static size_t random_size(uint64_t *s)
{
    uint64_t r = t_rand(s);
    if (r % 100 == 0)
        return 32769 + (size_t)(r >> 20) % (200 << 10);     /* large */
    unsigned c = 1 + (unsigned)((r >> 8) % fly_nclasses);
    return fly_classes[c].cl_size - (size_t)(r >> 40) % 16;
}

static void *worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    enum { LIVE = 1500 };
    void **live = calloc(LIVE, sizeof(void *));       /* glibc's */
    CHECK(live != NULL, "calloc");
    /* 60000 iterations, and on until the budget changes have reached the
     * workers both ways (a loaded machine may run the changer late), for
     * at most 30 s. */
    uint64_t deadline = fly_now_ms() + 30000;
    for (int it = 0; it < 60000 || (!budget_changes_seen() && fly_now_ms() < deadline); it++) {
        size_t i = t_rand(&seed) % LIVE;
        if (live[i] && t_rand(&seed) % 8 == 0) {
            /* Hand it over: another thread frees it. */
            pthread_mutex_lock(&pool_lock);
            size_t k = t_rand(&seed) % POOL;
            void *old = pool[k];
            pool[k] = live[i];
            pthread_mutex_unlock(&pool_lock);
            fly_free(old);
        } else {
            fly_free(live[i]);
        }
        live[i] = fly_malloc(random_size(&seed));
        CHECK(live[i] != NULL, "malloc");
        if (it % 9000 == 8999)
            flush();
        if (it % 13000 == 12999) {
            fly_tc->tc_next_gc = 0;
            fly_tcache_tick_os(fly_tc);
        }
        if (it % 256 == 0) {
            uint64_t cb = fly_tc->tc_cap_bytes;
            if (cb == fly_heap_default.hp_depot.dp_mag_base_bytes)
                __atomic_fetch_add(&seen_at_base, 1, __ATOMIC_RELAXED);
            if (cb > fly_heap_default.hp_policy.po_tcache_bytes)
                __atomic_fetch_add(&seen_above_start, 1, __ATOMIC_RELAXED);
        }
    }
    for (size_t i = 0; i < LIVE; i++)
        fly_free(live[i]);
    free(live);
    return NULL;
}

static void *short_lived(void *arg)
{
    uint64_t seed = (uintptr_t)arg + 77;
    void *mine[300];
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 300; i++)
            mine[i] = fly_malloc(random_size(&seed));
        for (int i = 0; i < 300; i++)
            fly_free(mine[i]);
    }
    for (int i = 0; i < 100; i++)
        mine[i] = fly_malloc(random_size(&seed));
    for (int i = 0; i < 100; i += 2)
        fly_free(mine[i]);
    /* Half are freed, the rest left in flight: the cache drains at exit. */
    pthread_mutex_lock(&pool_lock);
    for (int i = 1; i < 100; i += 2) {
        size_t k = (size_t)(t_rand(&seed) % POOL);
        void *old = pool[k];
        pool[k] = mine[i];
        mine[i] = old;
    }
    pthread_mutex_unlock(&pool_lock);
    for (int i = 1; i < 100; i += 2)
        fly_free(mine[i]);
    return NULL;
}

static fly_heap_t *second_heap;

static void *heap_mover(void *arg)
{
    (void)arg;
    for (unsigned c = 1; c <= fly_nclasses; c += 3)
        churn(c, FLY_MIN((size_t)2 * DC(c)->dc_mag_cap + 1, (size_t)600));
    CHECK(fly_tcache_attach_os(second_heap) && fly_tc->tc_heap == second_heap, "attach to the second heap");
    for (unsigned c = 1; c <= fly_nclasses; c += 2) {
        for (int i = 0; i < 3; i++)
            churn(c, FLY_MIN((size_t)3 * second_heap->hp_depot.dp_class[c].dc_mag_cap + 1, (size_t)800));
    }
    CHECK(fly_tcache_attach_os(&fly_heap_default) && fly_tc->tc_heap == &fly_heap_default, "attach back");
    for (unsigned c = 2; c <= fly_nclasses; c += 3)
        churn(c, FLY_MIN((size_t)2 * DC(c)->dc_mag_cap + 1, (size_t)600));
    return NULL;
}

static void *budget_changer(void *arg)
{
    (void)arg;
    uint64_t start = fly_heap_default.hp_tcache_budget, low = fly_heap_default.hp_depot.dp_mag_base_bytes / 2,
             high = fly_heap_default.hp_depot.dp_mag_cap_bytes;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        set_budget(low);
        usleep(3000);
        set_budget(high);
        usleep(3000);
        set_budget(start);
        usleep(3000);
        __atomic_fetch_add(&changer_rounds, 1, __ATOMIC_RELAXED);
    }
    set_budget(start);
    return NULL;
}

static void threads(void)
{
    pthread_t w[4], ch;
    CHECK(pthread_create(&ch, NULL, budget_changer, NULL) == 0, "pthread_create");
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&w[i], NULL, worker, (void *)(i + 1)) == 0, "pthread_create");
    for (uintptr_t i = 0; i < 48; i += 4) {
        pthread_t t[4];
        for (uintptr_t k = 0; k < 4; k++)
            CHECK(pthread_create(&t[k], NULL, short_lived, (void *)(i + k)) == 0, "pthread_create");
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(ch, NULL);
    t_log("workers' capacity samples: %llu at base, %llu above the starting budget\n",
          (unsigned long long)seen_at_base, (unsigned long long)seen_above_start);
    CHECK(seen_at_base > 0 && seen_above_start > 0, "the budget changes did not reach the workers");
    for (int k = 0; k < POOL; k++) {
        fly_free(pool[k]);
        pool[k] = NULL;
    }
    flush();

    second_heap = fly_heap_create_os(&fly_heap_default.hp_policy);
    CHECK(second_heap != NULL, "fly_heap_create_os");
    pthread_t m;
    CHECK(pthread_create(&m, NULL, heap_mover, NULL) == 0, "pthread_create");
    pthread_join(m, NULL);
}

/* ---- the assertions are live ------------------------------------------ */

static void corrupt_cap_bytes(void)
{
    fly_tc->tc_cap_bytes += 32;
    fly_tcache_tick_os(fly_tc);
}

static void corrupt_tb_cap(void)
{
    unsigned c = fly_class_of(256);
    churn(c, 3);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    fly_mag_t *prev = fly_tcbin_prev(b);
    b->tb_cap = DC(c)->dc_mag_cap + 1;            /* beyond the class's capacity */
    b->tb_flimit = prev->m_objs + b->tb_cap;
    flush();
}

static void expect_assert(const char *name, void (*fn)(void), const char *needle)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        close(fds[0]);
        dup2(fds[1], 2);
        fn();
        _exit(42);
    }
    close(fds[1]);
    char buf[2048] = { 0 };
    ssize_t got = 0, n;
    while ((n = read(fds[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: the broken invariant went unnoticed (status %#x)",
          name, status);
    CHECK(strstr(buf, "flymalloc: fatal: assertion failed: ") && strstr(buf, needle),
          "%s: expected an assertion naming %s, got: %s", name, needle, buf);
    t_log("ok   %s: %s", name, strstr(buf, "flymalloc: fatal:"));
}

int main(void)
{
    fly_free(fly_malloc(1));
    every_class();
    trimmed_overfull();
    threads();
    expect_assert("tc_cap_bytes off by 32", corrupt_cap_bytes, "tc_cap_bytes");
    expect_assert("tb_cap above the class's capacity", corrupt_tb_cap, "tb_cap");
    return 0;
}
