/*
 * test_magazine.c: proves the thread-cache and depot behaviour.
 *
 *   burst_fill          the first miss fills a whole magazine from the zones
 *                       in one burst;
 *   no_thrash           a program going back and forth across the point
 *                       where Bonwick's loaded and previous magazines swap
 *                       does not take the slow path each time (split
 *                       magazines swap once per magazine of mallocs);
 *   magazine_exchange   frees beyond two magazines trade a full magazine to
 *                       the depot, and mallocs get it back whole;
 *   depot_bound         the depot holds at most po_depot_bytes per class;
 *                       the rest goes back to the zones at once;
 *   depot_aging         full magazines unused for a reap interval return to
 *                       the zones (working-set reap);
 *   tcache_aging        a bin with no slow-path activity sheds its previous
 *                       magazine and half its rounds at a maintenance tick,
 *                       and goes back to its base capacity;
 *   bin_growth          a bin whose depot visits change direction (its
 *                       live count swings by more than a magazine) doubles
 *                       its capacity up to the class's largest magazine;
 *   flow                a bin that only allocates (a producer) or only
 *                       frees (a consumer) stays at its base capacity
 *                       however often it visits the depot;
 *   big_class           a 32 KiB class's magazine holds po_mag_min_rounds,
 *                       more than po_mag_max_bytes, and its depot takes a
 *                       whole magazine;
 *   budget              however many classes a thread keeps busy, the sum of
 *                       2 * capacity * size over its bins stays within the
 *                       byte budget; a raised budget lets them grow on up
 *                       to every magazine at its largest, and a lowered one
 *                       shrinks them;
 *   handover            a block freed by a thread that had not used its
 *                       class goes back to its zone, so the thread's next
 *                       malloc is not on the cache line the allocating
 *                       thread still shares (Hoard's passive false sharing).
 */
#include "check.h"
#include "depot.h"
#include "flymalloc.h"
#include "init.h"
#include "tcache.h"
#include <pthread.h>

/* The default heap's state, which these tests exercise. */
#define HEAP (&fly_heap_default)
#define POLICY (fly_heap_default.hp_policy)
#define SLAB_CLASS(c) (&fly_heap_default.hp_slab.sl_class[c])
#define DEPOT_CLASS(c) (&fly_heap_default.hp_depot.dp_class[c])

static void *objs[70000];

static void burst_fill(unsigned c, size_t size)
{
    fly_slab_class_t *sc = SLAB_CLASS(c);
    uint64_t bursts = sc->sc_bursts;
    void *p = fly_malloc(size);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    CHECK(sc->sc_bursts == bursts + 1, "one miss should be one burst (%llu)",
          (unsigned long long)(sc->sc_bursts - bursts));
    uint32_t loaded = fly_tcache_loaded_rounds(fly_tc, c);
    CHECK(loaded == b->tb_cap - 1, "burst filled %u of %u rounds", loaded + 1, b->tb_cap);
    CHECK(b->tb_flimit == fly_tcbin_prev(b)->m_objs + b->tb_cap, "free limit is not slot tb_cap");
    fly_free(p);
}

/* Back and forth at the point where the previous magazine (frees) is full
 * and the loaded one (mallocs) empty.  Bonwick's single loaded magazine
 * swaps with the previous one there twice a cycle (the free finds it full,
 * the second malloc finds the swapped-in one empty); split magazines swap
 * once per magazine of mallocs. */
static void no_thrash(size_t size)
{
    unsigned c = fly_class_of(size);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    fly_free(fly_malloc(size));
    CHECK(b->tb_cap >= 8, "class of %zu bytes: capacity %u", size, b->tb_cap);
    /* The program holds a magazine and one more, the cache is emptied, and
     * the magazine's worth is freed. */
    void *held = fly_malloc(size), *other;
    uint32_t n = 0;
    while (n < b->tb_cap)                         /* the capacity may grow meanwhile */
        objs[n++] = fly_malloc(size);
    fly_tcache_flush();
    for (uint32_t cap = b->tb_cap; cap > 0; cap--)
        fly_free(objs[--n]);
    CHECK(fly_tcache_loaded_rounds(fly_tc, c) == 0 && b->tb_ftop == b->tb_flimit,
          "setup: loaded %u, previous %u of %u", fly_tcache_loaded_rounds(fly_tc, c),
          fly_tcbin_prev_rounds(b), b->tb_cap);
    int64_t ticks = fly_tc->tc_ticks;
    fly_tc->tc_ticks = INT64_MAX / 2;             /* no maintenance tick in the count */
    uint64_t visits = fly_tc->tc_activity[c];
    for (int i = 0; i < 1000; i++) {
        fly_free(held);
        held = fly_malloc(size);
        other = fly_malloc(size);
        fly_free(other);
    }
    visits = fly_tc->tc_activity[c] - visits;
    fly_tc->tc_ticks = ticks;
    CHECK(visits <= 2 * 2000 / b->tb_cap + 2, "1000 cycles across the boundary took the slow path %llu times",
          (unsigned long long)visits);
    fly_free(held);
    while (n > 0)
        fly_free(objs[--n]);
}

static void magazine_exchange(unsigned c, size_t size)
{
    fly_slab_class_t *sc = SLAB_CLASS(c);
    fly_depot_class_t *dc = DEPOT_CLASS(c);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    uint32_t cap = b->tb_cap, n = 4 * cap;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    uint32_t full_before = dc->dc_nfull;
    for (uint32_t i = 0; i < n; i++)
        fly_free(objs[i]);
    CHECK(dc->dc_nfull >= full_before + 1, "no full magazine reached the depot");
    uint64_t bursts = sc->sc_bursts, exchanges = dc->dc_exchanges;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    CHECK(dc->dc_exchanges > exchanges, "mallocs did not take magazines back from the depot");
    CHECK(sc->sc_bursts == bursts, "mallocs went to the zones while the depot had magazines");
    for (uint32_t i = 0; i < n; i++)
        fly_free(objs[i]);
}

static void depot_bound(unsigned c, size_t size)
{
    fly_depot_class_t *dc = DEPOT_CLASS(c);
    uint64_t mag = (uint64_t)DEPOT_CLASS(c)->dc_mag_cap * fly_classes[c].cl_size;
    size_t n = (size_t)(3 * POLICY.po_depot_bytes / size);
    CHECK(n <= sizeof(objs) / sizeof(objs[0]), "test array too small");
    for (size_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
    CHECK(dc->dc_nfull * mag <= POLICY.po_depot_bytes, "depot holds %llu bytes",
          (unsigned long long)(dc->dc_nfull * mag));
}

static void depot_aging(unsigned c)
{
    fly_depot_class_t *dc = DEPOT_CLASS(c);
    CHECK(dc->dc_nfull > 2, "depot unexpectedly empty");
    fly_depot_reap(&HEAP->hp_depot, false);        /* closes the interval the test ran in */
    uint32_t full = dc->dc_nfull;
    /* This interval uses two magazines: the others are its unused surplus. */
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    size_t size = fly_classes[c].cl_size, n = 2 * b->tb_cap + fly_tcache_loaded_rounds(fly_tc, c) +
                                             fly_tcbin_prev_rounds(b);
    for (size_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
    fly_depot_reap(&HEAP->hp_depot, false);
    CHECK(dc->dc_nfull >= 1 && dc->dc_nfull <= 3 && dc->dc_nfull < full,
          "reap kept %u of %u magazines, want about the 2 in use", dc->dc_nfull, full);
    fly_depot_reap(&HEAP->hp_depot, false);        /* an idle interval: nothing is needed */
    CHECK(dc->dc_nfull == 0, "unused full magazines survived a reap (%u)", dc->dc_nfull);
}

static void tcache_aging(unsigned c, size_t size)
{
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    for (int i = 0; i < 10; i++)
        objs[i] = fly_malloc(size);
    for (int i = 0; i < 10; i++)
        fly_free(objs[i]);
    uint32_t rounds = fly_tcache_loaded_rounds(fly_tc, c);
    CHECK(rounds >= 2 && fly_tcbin_prev_rounds(b) >= 2, "expected cached rounds");
    /* Two maintenance passes with no slow-path use of the class between. */
    fly_tc->tc_next_gc = 0;
    fly_tcache_tick_os(fly_tc);
    fly_tc->tc_next_gc = 0;
    fly_tcache_tick_os(fly_tc);
    CHECK(fly_tcache_loaded_rounds(fly_tc, c) <= rounds / 2, "idle bin kept %u of %u rounds",
          fly_tcache_loaded_rounds(fly_tc, c), rounds);
    CHECK(fly_tcbin_prev_rounds(b) == 0, "idle bin kept its previous magazine");
    CHECK(b->tb_cap == DEPOT_CLASS(c)->dc_mag_base, "idle bin kept capacity %u (base %u)", b->tb_cap,
          DEPOT_CLASS(c)->dc_mag_base);
}

/* Mallocs then frees n objects of class c: at least one depot visit each
 * way once n exceeds two magazines. */
static void churn(unsigned c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        objs[i] = fly_malloc(fly_classes[c].cl_size);
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
}

/* A bin not set up yet counts at its base capacity. */
static uint64_t cap_bytes_sum(void)
{
    uint64_t sum = 0;
    for (unsigned c = 1; c <= POLICY.po_nclasses; c++)
        sum += 2ull * FLY_MAX(fly_tc->tc_bins[c].tb_cap, DEPOT_CLASS(c)->dc_mag_base) *
               fly_classes[c].cl_size;
    return sum;
}

static void bin_growth(void)
{
    unsigned c = fly_class_of(4096);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    const fly_depot_class_t *dc = DEPOT_CLASS(c);
    CHECK(dc->dc_mag_cap >= 4 * dc->dc_mag_base, "4 KiB class: capacity %u, base %u", dc->dc_mag_cap,
          dc->dc_mag_base);
    churn(c, 1);
    CHECK(b->tb_cap == dc->dc_mag_base, "fresh bin at capacity %u, base %u", b->tb_cap, dc->dc_mag_base);
    for (int i = 0; i < 8; i++)
        churn(c, 3 * dc->dc_mag_cap);
    CHECK(b->tb_cap == dc->dc_mag_cap, "busy bin at capacity %u of %u", b->tb_cap, dc->dc_mag_cap);
    CHECK(fly_tc->tc_cap_bytes == cap_bytes_sum(), "tc_cap_bytes %llu, bins sum to %llu",
          (unsigned long long)fly_tc->tc_cap_bytes, (unsigned long long)cap_bytes_sum());
}

static struct {
    pthread_barrier_t barrier;
    unsigned c;
    size_t n;
    int rounds;
    uint32_t cap;            /* the consumer's capacity at the end */
} flow_state;

static void *flow_consumer(void *arg)
{
    (void)arg;
    for (int r = 0; r < flow_state.rounds; r++) {
        pthread_barrier_wait(&flow_state.barrier);     /* a batch is ready */
        for (size_t i = 0; i < flow_state.n; i++)
            fly_free(objs[i]);
        pthread_barrier_wait(&flow_state.barrier);     /* the batch is freed */
    }
    flow_state.cap = fly_tc->tc_bins[flow_state.c].tb_cap;
    return NULL;
}

static void flow(void)
{
    unsigned c = fly_class_of(160);
    const fly_class_t *cl = &fly_classes[c];
    fly_depot_class_t *dc = DEPOT_CLASS(c);
    CHECK(fly_tc->tc_bins[c].tb_cap == 0, "the flow class was used before the test");
    CHECK(DEPOT_CLASS(c)->dc_mag_cap >= 2 * DEPOT_CLASS(c)->dc_mag_base, "160-byte class: capacity %u, base %u", DEPOT_CLASS(c)->dc_mag_cap,
          DEPOT_CLASS(c)->dc_mag_base);
    flow_state.c = c;
    flow_state.n = 3 * DEPOT_CLASS(c)->dc_mag_base;
    flow_state.rounds = 20;
    pthread_barrier_init(&flow_state.barrier, NULL, 2);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, flow_consumer, NULL) == 0, "pthread_create");
    uint64_t exchanges = dc->dc_exchanges;
    for (int r = 0; r < flow_state.rounds; r++) {
        for (size_t i = 0; i < flow_state.n; i++)
            objs[i] = fly_malloc(cl->cl_size);
        pthread_barrier_wait(&flow_state.barrier);
        pthread_barrier_wait(&flow_state.barrier);
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&flow_state.barrier);
    CHECK(dc->dc_exchanges >= exchanges + (uint64_t)flow_state.rounds,
          "the flow passed %llu magazines through the depot",
          (unsigned long long)(dc->dc_exchanges - exchanges));
    CHECK(fly_tc->tc_bins[c].tb_cap == DEPOT_CLASS(c)->dc_mag_base, "producer grew to %u rounds (base %u)",
          fly_tc->tc_bins[c].tb_cap, DEPOT_CLASS(c)->dc_mag_base);
    CHECK(flow_state.cap == DEPOT_CLASS(c)->dc_mag_base, "consumer grew to %u rounds (base %u)", flow_state.cap,
          DEPOT_CLASS(c)->dc_mag_base);
}

static void big_class(void)
{
    unsigned c = fly_class_of(32768);
    const fly_class_t *cl = &fly_classes[c];
    fly_depot_class_t *dc = DEPOT_CLASS(c);
    uint64_t mag = (uint64_t)DEPOT_CLASS(c)->dc_mag_cap * cl->cl_size;
    CHECK(DEPOT_CLASS(c)->dc_mag_cap >= POLICY.po_mag_min_rounds && mag > POLICY.po_mag_max_bytes,
          "32 KiB class: %u rounds", DEPOT_CLASS(c)->dc_mag_cap);
    CHECK(DEPOT_CLASS(c)->dc_bound_bytes >= mag, "32 KiB class: depot bound %llu below a magazine",
          (unsigned long long)DEPOT_CLASS(c)->dc_bound_bytes);
    for (int i = 0; i < 6; i++)
        churn(c, 3 * DEPOT_CLASS(c)->dc_mag_cap);
    CHECK(fly_tc->tc_bins[c].tb_cap == DEPOT_CLASS(c)->dc_mag_cap, "32 KiB bin at %u rounds of %u",
          fly_tc->tc_bins[c].tb_cap, DEPOT_CLASS(c)->dc_mag_cap);
    uint64_t held = (uint64_t)dc->dc_full_rounds * cl->cl_size;
    CHECK(held == mag && held <= DEPOT_CLASS(c)->dc_bound_bytes, "32 KiB depot holds %llu bytes, a magazine is %llu",
          (unsigned long long)held, (unsigned long long)mag);
}

static void budget(void)
{
    uint64_t base = 0, worst = 0;
    for (unsigned c = 1; c <= POLICY.po_nclasses; c++) {
        base += 2ull * DEPOT_CLASS(c)->dc_mag_base * fly_classes[c].cl_size;
        worst += 2ull * DEPOT_CLASS(c)->dc_mag_cap * fly_classes[c].cl_size;
    }
    CHECK(base == HEAP->hp_depot.dp_mag_base_bytes && base <= POLICY.po_tcache_bytes / 2,
          "base capacities take %llu of a %llu budget", (unsigned long long)base,
          (unsigned long long)POLICY.po_tcache_bytes);
    CHECK(worst > POLICY.po_tcache_bytes && worst == HEAP->hp_depot.dp_mag_cap_bytes,
          "test needs classes that could outgrow the budget (largest %llu)", (unsigned long long)worst);
    /* Every class busy, in rounds, so all of them ask to grow. */
    for (int round = 0; round < 6; round++)
        for (unsigned c = 1; c <= POLICY.po_nclasses; c++)
            churn(c, FLY_MIN(3 * DEPOT_CLASS(c)->dc_mag_cap, sizeof(objs) / sizeof(objs[0])));
    uint64_t sum = cap_bytes_sum();
    CHECK(sum == fly_tc->tc_cap_bytes, "tc_cap_bytes %llu, bins sum to %llu",
          (unsigned long long)fly_tc->tc_cap_bytes, (unsigned long long)sum);
    CHECK(sum <= POLICY.po_tcache_bytes && sum > POLICY.po_tcache_bytes * 3 / 4,
          "busy thread's capacity %llu, budget %llu", (unsigned long long)sum,
          (unsigned long long)POLICY.po_tcache_bytes);
    /* A raised budget lets the busy bins grow on, up to their largest. */
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &worst, sizeof(worst)) == 0, "raise opt.tcache_bytes");
    uint64_t too_much = worst + 1;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &too_much, sizeof(too_much)) == EINVAL,
          "budget above every magazine at its largest accepted");
    for (int round = 0; round < 6; round++)
        for (unsigned c = 1; c <= POLICY.po_nclasses; c++)
            churn(c, FLY_MIN(3 * DEPOT_CLASS(c)->dc_mag_cap, sizeof(objs) / sizeof(objs[0])));
    sum = cap_bytes_sum();
    CHECK(sum == fly_tc->tc_cap_bytes && sum > POLICY.po_tcache_bytes && sum <= worst,
          "capacity %llu under a budget raised to %llu (start %llu)", (unsigned long long)sum,
          (unsigned long long)worst, (unsigned long long)POLICY.po_tcache_bytes);
    /* A lowered budget takes effect at the next tick. */
    uint64_t lower = POLICY.po_tcache_bytes / 2;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &lower, sizeof(lower)) == 0, "opt.tcache_bytes");
    fly_tcache_tick_os(fly_tc);
    CHECK(fly_tc->tc_cap_bytes <= lower, "capacity %llu after the budget fell to %llu",
          (unsigned long long)fly_tc->tc_cap_bytes, (unsigned long long)lower);
}

static void *handover_thread(void *arg)
{
    void **blocks = arg;
    fly_free(blocks[0]);
    blocks[2] = fly_malloc(32);
    return NULL;
}

static void handover(void)
{
    void *blocks[3];
    blocks[0] = fly_malloc(32);
    blocks[1] = fly_malloc(32);
    uintptr_t a = (uintptr_t)blocks[0], b = (uintptr_t)blocks[1];
    CHECK(a - b == 32 || b - a == 32, "two mallocs in a row should be neighbours (%p %p)", blocks[0],
          blocks[1]);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, handover_thread, blocks) == 0, "pthread_create");
    pthread_join(t, NULL);
    uintptr_t mine = (uintptr_t)blocks[2];
    CHECK(mine != a, "the thread got back the block it was handed (%p)", blocks[2]);
    CHECK(mine / 64 != a / 64 && mine / 64 != b / 64,
          "the thread's block %p shares a cache line with the other thread's %p", blocks[2],
          blocks[1]);
    fly_free(blocks[1]);
    fly_free(blocks[2]);
}

int main(void)
{
    fly_free(fly_malloc(1));
    handover();
    unsigned c = fly_class_of(48);
    burst_fill(c, 48);
    no_thrash(96);
    magazine_exchange(c, 48);
    depot_bound(c, 48);
    depot_aging(c);
    tcache_aging(fly_class_of(200), 200);
    bin_growth();
    flow();
    big_class();
    budget();
    return 0;
}
