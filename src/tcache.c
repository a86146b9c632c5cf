/*
 * tcache.c: per-thread magazine caches, the layer that makes malloc cheap.
 *
 * 1. Sizing.  Magazine capacity is inverse to object size (sizeclass.c) and
 *    bounded per thread by a byte budget (po_tcache_bytes, 4 MiB): the sum
 *    of 2 * capacity * size over the thread's classes never exceeds it, so
 *    a thread cannot tie up more than that.  A bin starts at its class's
 *    base capacity, its share of a quarter of the budget split evenly (16-
 *    byte objects get 256 rounds, 4 KiB objects 2), reserved for every
 *    class; each time it visits the depot in the other direction than last
 *    time (for rounds after giving a full magazine, or the other way round)
 *    it doubles, up to a magazine of po_mag_max_bytes (or of
 *    po_mag_min_rounds, if more: sizeclass.c), while the budget has room.
 *    So the classes a thread keeps busy share the other three quarters,
 *    and aging (3.) returns an idle bin to its base.  A bin that only
 *    allocates or only frees (a pipeline's producer or consumer) stays at
 *    its base: it visits the depot once per magazine however big, and a
 *    big one only holds more objects in the producer, the consumer and the
 *    depot at once.  (docs/design.md, section 6, has the measurements.)
 * 2. Burst fill.  A miss with both magazines empty trades with the depot or
 *    fills a whole magazine from the zones under one lock (depot.c).
 *    Split magazines: malloc pops from the loaded magazine and free pushes
 *    onto the previous one (Bonwick's loaded magazine serves both).  When
 *    the loaded one is empty and the previous one holds rounds, or the
 *    previous one is full and the loaded one empty, the two swap; the
 *    depot sees only full and empty magazines, as before.  Why: with one
 *    stack, free's store of the new top and malloc's load of it are the
 *    same word, and free learns which bin it is late (two dependent loads
 *    from p), so a malloc that runs ahead of it is most likely cancelled
 *    and replayed whenever the two classes match; mimalloc likewise keeps
 *    malloc's and free's lists apart (its local-free list).  Swaps come once per
 *    magazine of mallocs, and no longer every other call when the live
 *    count wanders around the point where Bonwick's rule swaps.
 * 3. Aging.  Every po_tick_events mallocs the thread runs a maintenance tick
 *    (an event counter, not a clock read, on the fast path).  When
 *    po_gc_interval_ms has passed, each bin that saw no allocation and no
 *    slow-path visit since the last pass gives its previous magazine and
 *    half its loaded rounds back to the zones, so a class the thread stopped using drains in
 *    a few intervals; the tick then calls the maintenance layer
 *    (maintain.c), which reaps depots and purges arenas when they are due.
 *    No background thread is involved (an optional one, background.c,
 *    runs the maintenance layer's part of the tick).
 * 4. Frees from other threads need no atomics: an object simply enters the
 *    freeing thread's magazine (zones are shared, so no owner is needed),
 *    except a thread's first free of a class, which goes back to the zone
 *    (fly_tcache_free_slow_os: passive false sharing).
 * 5. Thread exit (pthread key destructor) drains the cache to the zones and
 *    leaves the thread on fly_tcache_dead, which serves any later request
 *    straight from the zones.
 * 6. Heaps.  A cache takes magazines from, and gives them back to, its
 *    heap's depot (tc_heap); fly_tcache_attach_os moves a thread to another
 *    heap.  An object of another heap freed here enters this cache like any
 *    other; when it leaves for a depot or the zones, the slab layer sends it
 *    back to its own heap's zones (slab.c), and a full magazine wholly of
 *    one other heap goes to that heap's depot (depot.c).
 * 7. The owner policy (po_owner_heaps): a new thread's cache is made on
 *    the owner heap (heap.h) with the fewest live caches, so each thread
 *    has a heap of its own while there are heaps to go round, and before a
 *    magazine of frees becomes the one malloc pops (a swap), its rounds of
 *    other heaps go back to their zones: a thread never reuses what another
 *    thread's heap handed out, and a block comes back to the heap, and the
 *    cache lines, of the thread that allocated it.
 *
 * Registry: every live cache is on one list (for statistics and fork) under
 * tc_registry_lock; caches of exited threads are kept on a free list for reuse.
 *
 * Debug builds (-DFLY_DEBUG) state the bins' invariants wherever a bin
 * changes ("Invariants" below); FLY_ASSERT compiles to nothing otherwise,
 * so the release build's code is the same with or without them.
 */
#define _GNU_SOURCE            /* sched_getaffinity */
#include "tcache.h"
#include "bump.h"
#include "depot.h"
#include "freemark.h"
#include "maintain.h"
#include "node.h"
#include "meta.h"
#include "sample.h"
#include "trace_hook.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

__thread fly_tcache_t *fly_tc __attribute__((tls_model("initial-exec"))) = &fly_tcache_empty;
fly_tcache_t fly_tcache_empty = FLY_TCACHE_INIT(FLY_TC_EMPTY);
fly_tcache_t fly_tcache_dead = FLY_TCACHE_INIT(FLY_TC_DEAD);
fly_mag_t fly_mag_none;
uint16_t fly_bin_table[FLY_FAST_MAX / 16 + 1] = { [0 ... FLY_FAST_MAX / 16] = FLY_BIN_OFFSET(0) };
uint16_t fly_bin_table_medium[FLY_SMALL_MAX / 128 + 1] = { [0 ... FLY_SMALL_MAX / 128] = FLY_BIN_OFFSET(0) };

static fly_lock_t tc_registry_lock = FLY_LOCK_INITIALIZER;
static fly_tcache_t *tc_live, *tc_free;          /* guarded by tc_registry_lock */
/* Counters of exited threads, forgotten caches and uncached mallocs (atomic). */
static fly_tcache_counts_t tc_retired;
pthread_key_t fly_thread_key;                    /* created by fly_init, destructor thread exit */
static FLY_NOINLINE void tcache_gc(fly_tcache_t *tc);
static void retire_counts(const fly_tcache_t *tc);

/* Threads with a cache now, and the most at once (guarded by the registry
 * lock; the peak is read at exit for the program's profile). */
static uint32_t tc_nlive, tc_nlive_peak;

static void registry_insert(fly_tcache_t *tc)
{
    tc->tc_prev = NULL;
    tc->tc_next = tc_live;
    if (tc_live)
        tc_live->tc_prev = tc;
    tc_live = tc;
    __atomic_store_n(&tc_nlive, tc_nlive + 1, __ATOMIC_RELAXED);   /* budget_of reads it */
    if (tc_nlive > tc_nlive_peak)
        __atomic_store_n(&tc_nlive_peak, tc_nlive, __ATOMIC_RELAXED);
}

static void registry_remove(fly_tcache_t *tc)
{
    if (tc->tc_prev)
        tc->tc_prev->tc_next = tc->tc_next;
    else
        tc_live = tc->tc_next;
    if (tc->tc_next)
        tc->tc_next->tc_prev = tc->tc_prev;
    __atomic_store_n(&tc_nlive, tc_nlive - 1, __ATOMIC_RELAXED);
}

static uint64_t budget_of(const fly_tcache_t *tc);

uint64_t fly_tcache_budget(void)
{
    fly_tcache_t *tc = fly_tc;
    return tc->tc_state == FLY_TC_LIVE ? budget_of(tc) : 0;
}

uint32_t fly_tcache_peak_threads(void)
{
    return __atomic_load_n(&tc_nlive_peak, __ATOMIC_RELAXED);
}

/* The depot class c's magazines come from, for cache tc. */
static fly_depot_class_t *depot_class(const fly_tcache_t *tc, unsigned c)
{
    return &tc->tc_heap->hp_depot.dp_class[c];
}

static fly_depot_t *depot_of(const fly_tcache_t *tc)
{
    return &tc->tc_heap->hp_depot;
}

static uint64_t heap_budget(const fly_tcache_t *tc)
{
    return __atomic_load_n(&tc->tc_heap->hp_tcache_budget, __ATOMIC_RELAXED);
}

/* Up to full_threads threads with a cache (16, or twice the CPUs the
 * process may use if that is more), each may cache its heap's whole
 * budget; past that they share that many budgets, each down to its bins'
 * base, so a pool of hundreds of threads on a few cores does not keep
 * hundreds of full caches (64 threads on 2 CPUs: a quarter each). */
static uint32_t full_threads = 16;

/* The share of a heap budget of heap_bytes for cache tc. */
FLY_INLINE uint64_t share_of(const fly_tcache_t *tc, uint64_t heap_bytes)
{
    uint32_t threads = __atomic_load_n(&tc_nlive, __ATOMIC_RELAXED);
    if (fly_unlikely(threads > full_threads))
        return FLY_MAX(heap_bytes * full_threads / threads, depot_of(tc)->dp_mag_base_bytes);
    return heap_bytes;
}

static uint64_t budget_of(const fly_tcache_t *tc)
{
    return share_of(tc, heap_budget(tc));
}

/* Invariants of a live cache's bin c once set up (tb_cap != 0), checked in
 * debug builds after every change to the bin (load_alloc, load_free, the
 * swaps, bin_set_cap, refill, spill, flush, aging, trim):
 *   - both magazines are this heap's depot's (m_cap is the class's
 *     dc_mag_cap), keep their NULL guard word (malloc's "empty" test) and
 *     are two magazines;
 *   - the loaded magazine holds 0..m_cap rounds: one from the depot may
 *     hold more than tb_cap, filled by a bin with a larger capacity;
 *   - tb_flimit is the previous magazine's slot tb_cap, so the magazine
 *     found from it is a real one and tb_ftop lies in it; it holds
 *     0..tb_cap rounds, except that a trim (a lowered budget) may leave up
 *     to m_cap in a bin it sent back to its base, until its next spill;
 *   - tb_cap lies between the class's base and capacity (dc_mag_base,
 *     dc_mag_cap in the heap's depot);
 *   - the free check's constants are the class's.
 * And of the cache (cap_bytes_check): tc_cap_bytes is the sum over the
 * classes of 2 * capacity * size, a bin not set up counting at its base,
 * so it lies between the depot's dp_mag_base_bytes and dp_mag_cap_bytes.
 * The budget rules: growth never takes tc_cap_bytes past the budget
 * (bin_grow); after a trim the sum fits the budget or every bin is at its
 * base, and what the bins hold fits the budget (tcache_trim). */
#ifdef FLY_DEBUG
static void bin_check(const fly_tcache_t *tc, unsigned c)
{
    const fly_tcbin_t *b = &tc->tc_bins[c];
    const fly_depot_class_t *dc = depot_class(tc, c);
    const fly_class_t *cl = &fly_classes[c];
    FLY_ASSERT(tc->tc_state == FLY_TC_LIVE && c >= 1 && c <= fly_nclasses);
    FLY_ASSERT(b->tb_cap >= dc->dc_mag_base && b->tb_cap <= dc->dc_mag_cap);
    const fly_mag_t *loaded = tc->tc_loaded[c], *prev = fly_tcbin_prev(b);
    FLY_ASSERT(loaded != prev);
    FLY_ASSERT(loaded->m_cap == dc->dc_mag_cap && loaded->m_guard == NULL);
    FLY_ASSERT(prev->m_cap == dc->dc_mag_cap && prev->m_guard == NULL);
    FLY_ASSERT(b->tb_top >= loaded->m_objs && b->tb_top <= loaded->m_objs + loaded->m_cap);
    /* prev is found from tb_flimit less tb_cap: a stale tb_flimit (or
     * tb_cap) shows as a header that is no magazine's, or tb_ftop outside it. */
    FLY_ASSERT(b->tb_ftop >= prev->m_objs && b->tb_ftop <= prev->m_objs + prev->m_cap);
    FLY_ASSERT(fly_tcbin_prev_rounds(b) <= b->tb_cap || b->tb_cap == dc->dc_mag_base);
    FLY_ASSERT(b->tb_divm == cl->cl_divm && b->tb_obj_bound == cl->cl_obj_bound &&
               b->tb_zmask == cl->cl_zone_size - 1);
}

static void cap_bytes_check(const fly_tcache_t *tc)
{
    const fly_depot_t *dp = depot_of(tc);
    uint64_t sum = 0;
    for (unsigned c = 1; c <= fly_nclasses; c++)
        sum += 2ull * FLY_MAX(tc->tc_bins[c].tb_cap, dp->dp_class[c].dc_mag_base) * fly_classes[c].cl_size;
    FLY_ASSERT(tc->tc_cap_bytes == sum);
    FLY_ASSERT(tc->tc_cap_bytes >= dp->dp_mag_base_bytes && tc->tc_cap_bytes <= dp->dp_mag_cap_bytes);
}
#define BIN_CHECK(tc, c) bin_check(tc, c)
#define CAP_BYTES_CHECK(tc) cap_bytes_check(tc)
#else
#define BIN_CHECK(tc, c) ((void)0)
#define CAP_BYTES_CHECK(tc) ((void)0)
#endif

/* How many owner heaps threads are spread over: the policy's, unless a
 * NUMA placement puts threads on their nodes' heaps. */
static uint32_t owner_heaps(void)
{
    uint32_t n = FLY_MIN(fly_heap_default.hp_policy.po_owner_heaps, (uint32_t)FLY_OWNER_HEAPS);
    uint32_t mode = fly_node_mode();
    return mode == FLY_NUMA_LOCAL || mode == FLY_NUMA_FIXED ? 0 : n;
}

/* Owner heaps chosen by threads whose caches are not registered yet, so
 * that two threads starting at once do not both take the emptiest
 * (under tc_registry_lock). */
static uint32_t owner_pending[FLY_OWNER_HEAPS];
#define OWNER_NONE UINT32_MAX

/* The heap a thread about to make its cache should use: under the owner
 * policy, the owner heap with the fewest live caches (the first such, so
 * threads that come and go reuse the same heaps; *slot says which, to be
 * passed to owner_settled once the cache is registered), else the
 * placement's. */
static fly_heap_t *home_heap_os(fly_heap_t *cur, uint32_t *slot)
{
    *slot = OWNER_NONE;
    uint32_t n = owner_heaps();
    if (n <= 1)
        return fly_node_home_heap_os(cur);
    uint32_t users[FLY_MAX_HEAPS] = { 0 };
    uint32_t best = 0, best_users = UINT32_MAX;
    fly_lock(&tc_registry_lock);
    for (fly_tcache_t *tc = tc_live; tc; tc = tc->tc_next)
        users[tc->tc_heap->hp_index]++;
    for (uint32_t i = 0; i < n && best_users > 0; i++) {
        fly_heap_t *h = fly_heap_owner_peek(i);
        uint32_t u = (h ? users[h->hp_index] : 0) + owner_pending[i];
        if (u < best_users) {
            best = i;
            best_users = u;
        }
    }
    owner_pending[best]++;
    fly_unlock(&tc_registry_lock);
    *slot = best;
    fly_heap_t *h = fly_heap_owner_os(best);
    return h ? h : cur;
}

static void owner_settled(uint32_t slot)
{
    if (slot == OWNER_NONE)
        return;
    fly_lock(&tc_registry_lock);
    owner_pending[slot]--;
    fly_unlock(&tc_registry_lock);
}

/* Every bin not set up, the cache on heap h, its tick and aging clock
 * started. */
static void tcache_reset(fly_tcache_t *tc, fly_heap_t *h)
{
    for (unsigned pc = 0; pc < FLY_PC_COUNT; pc++)
        tc->tc_bins[pc] = (fly_tcbin_t)FLY_TCBIN_NONE;
    memset(tc->tc_last_trip, FLY_TRIP_NONE, sizeof(tc->tc_last_trip));
    memset(tc->tc_activity, 0, sizeof(tc->tc_activity));
    memset(tc->tc_activity_seen, 0, sizeof(tc->tc_activity_seen));
    FLY_SET(tc->tc_heap, h);
    tc->tc_send_home = owner_heaps() > 1;
    tc->tc_cap_bytes = h->hp_depot.dp_mag_base_bytes;
    tc->tc_ticks = h->hp_policy.po_tick_events;
    tc->tc_next_gc = fly_now_ms() + h->hp_policy.po_gc_interval_ms;
    fly_lcache_init(&tc->tc_lcache, h->hp_vmem, h->hp_policy.po_large_cache_bytes);
    CAP_BYTES_CHECK(tc);
}

static fly_tcache_t *tcache_create_os(fly_heap_t *h)
{
    fly_lock(&tc_registry_lock);
    fly_tcache_t *tc = tc_free;
    if (tc)
        tc_free = tc->tc_next;
    fly_unlock(&tc_registry_lock);
    if (tc == NULL) {
        tc = fly_meta_alloc_os(sizeof(*tc));
        if (tc == NULL)
            return NULL;
    }
    memset(tc, 0, sizeof(*tc));
    tcache_reset(tc, h);
    tc->tc_state = FLY_TC_LIVE;
    fly_lock(&tc_registry_lock);
    registry_insert(tc);
    fly_unlock(&tc_registry_lock);
    /* Publish before pthread_setspecific, which may itself call malloc. */
    fly_tc = tc;
    pthread_setspecific(fly_thread_key, tc);
    return tc;
}

fly_heap_t *fly_tcache_home_heap_os(void)
{
    fly_tcache_t *tc = fly_tc;
    if (fly_likely(tc->tc_state == FLY_TC_LIVE))
        return tc->tc_heap;
    return fly_node_home_heap_os(tc->tc_heap);
}

void fly_tcache_init(void)
{
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
        full_threads = FLY_MAX(full_threads, 2 * (uint32_t)CPU_COUNT(&cpus));
    for (size_t i = 0; i <= FLY_FAST_MAX / 16; i++)
        fly_bin_table[i] = (uint16_t)FLY_BIN_OFFSET(fly_class_table[i]);
    for (size_t i = 0; i <= FLY_SMALL_MAX / 128; i++)
        fly_bin_table_medium[i] = (uint16_t)FLY_BIN_OFFSET(fly_class_table_medium[i]);
}

/* Makes m, holding `rounds` objects, bin c's loaded magazine (mallocs). */
static void load_alloc(fly_tcache_t *tc, unsigned c, fly_mag_t *m, uint32_t rounds)
{
    FLY_ASSERT(m->m_cap == depot_class(tc, c)->dc_mag_cap && m->m_guard == NULL);
    FLY_ASSERT(rounds <= m->m_cap);
    FLY_SET(tc->tc_loaded[c], m);
    FLY_SET(tc->tc_bins[c].tb_top, m->m_objs + rounds);
}

/* Makes m, holding `rounds` objects, bin b's previous magazine (frees). */
static void load_free(fly_tcbin_t *b, fly_mag_t *m, uint32_t rounds)
{
    FLY_ASSERT(m->m_guard == NULL && b->tb_cap <= m->m_cap);
    FLY_ASSERT(rounds <= b->tb_cap);
    FLY_SET(b->tb_ftop, m->m_objs + rounds);
    FLY_SET(b->tb_flimit, m->m_objs + b->tb_cap);
}

/* Bin c's loaded magazine, its round count stored in it. */
static fly_mag_t *unload_alloc(fly_tcache_t *tc, unsigned c)
{
    fly_mag_t *m = tc->tc_loaded[c];
    m->m_rounds = fly_tcache_loaded_rounds(tc, c);
    return m;
}

/* Bin b's previous magazine, its round count stored in it. */
static fly_mag_t *unload_free(fly_tcbin_t *b)
{
    fly_mag_t *m = fly_tcbin_prev(b);
    m->m_rounds = fly_tcbin_prev_rounds(b);
    return m;
}

/* Sets bin c's capacity (at least its base), keeping tc_cap_bytes the sum
 * of 2 * capacity * size over the classes, a bin not set up counting at its
 * base: every class's base is reserved, and growth shares the rest. */
static void bin_set_cap(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c, uint32_t cap)
{
    uint32_t old = FLY_MAX(b->tb_cap, depot_class(tc, c)->dc_mag_base);
    tc->tc_cap_bytes += 2ull * cap * fly_classes[c].cl_size;
    tc->tc_cap_bytes -= 2ull * old * fly_classes[c].cl_size;
    fly_mag_t *prev = fly_tcbin_prev(b);
    FLY_SET(b->tb_cap, cap);
    FLY_SET(b->tb_flimit, prev->m_objs + cap);
    FLY_ASSERT(fly_tcbin_prev(b) == prev);
    FLY_ASSERT(cap >= depot_class(tc, c)->dc_mag_base && cap <= depot_class(tc, c)->dc_mag_cap);
    CAP_BYTES_CHECK(tc);
}

/* Bin c goes to the depot in direction trip.  If its last visit went the
 * other way, its live count swung by more than a magazine's worth, and a
 * bigger magazine would have absorbed the swing: double its capacity if
 * the budget has room.  A bin whose trips all go one way (a producer's
 * mallocs, a consumer's frees) is a flow; it visits the depot once per
 * magazine of objects whatever the capacity, so it stays at its base and
 * does not hold a big magazine's worth of objects in each of the producer,
 * the consumer and the depot. */
static void bin_grow(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c, uint8_t trip)
{
    uint8_t last = tc->tc_last_trip[c];
    tc->tc_last_trip[c] = trip;
    if (last == trip || last == FLY_TRIP_NONE)
        return;
    uint32_t cap = FLY_MIN(2 * b->tb_cap, depot_class(tc, c)->dc_mag_cap);
    uint64_t more = 2ull * (cap - b->tb_cap) * fly_classes[c].cl_size;
    uint64_t budget;                            /* read once: fly_ctl may change it */
    if (more && tc->tc_cap_bytes + more <= (budget = budget_of(tc))) {
        bin_set_cap(tc, b, c, cap);
        FLY_ASSERT(tc->tc_cap_bytes <= budget);
    }
}

/* First use of class c in this thread: get its two magazines. */
static bool bin_setup_os(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    fly_mag_t *loaded = fly_depot_empty_mag_os(depot_of(tc), c);
    fly_mag_t *prev = loaded ? fly_depot_empty_mag_os(depot_of(tc), c) : NULL;
    if (prev == NULL) {
        if (loaded)
            fly_depot_return_empty(depot_of(tc), c, loaded);
        return false;
    }
    const fly_class_t *cl = &fly_classes[c];
    b->tb_divm = cl->cl_divm;
    b->tb_zmask = cl->cl_zone_size - 1;
    load_alloc(tc, c, loaded, 0);
    load_free(b, prev, 0);                      /* at capacity 0 */
    bin_set_cap(tc, b, c, depot_class(tc, c)->dc_mag_base);
    b->tb_obj_bound = cl->cl_obj_bound;         /* last: frees may now pass the check */
    BIN_CHECK(tc, c);
    return true;
}

/* Bin c's loaded magazine is empty: it swaps with the previous one if that
 * holds rounds, or else trades with the depot (or is burst-filled).
 * Returns false when no memory can be had. */
/* Whether every round of bin b's previous magazine is of tc's heap (one
 * load per round: a heap's regions are its arena's). */
static bool prev_all_own(const fly_tcache_t *tc, const fly_tcbin_t *b)
{
    void *const *objs = fly_tcbin_prev(b)->m_objs;
    const fly_vmem_t *vm = tc->tc_heap->hp_vmem;
    for (uint32_t i = 0, n = fly_tcbin_prev_rounds(b); i < n; i++)
        if (fly_vmem_of(objs[i]) != vm)
            return false;
    return true;
}

/* The owner policy, before a swap: the previous magazine's rounds of
 * other heaps go back to their zones (a lock per heap), its own are
 * packed. */
static void send_home(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    if (prev_all_own(tc, b))
        return;
    void **objs = fly_tcbin_prev(b)->m_objs;
    unsigned own = fly_slab_keep_own(&tc->tc_heap->hp_slab, c, objs, fly_tcbin_prev_rounds(b));
    FLY_SET(b->tb_ftop, objs + own);
}

static bool bin_refill_os(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    FLY_ASSERT(fly_tcache_loaded_rounds(tc, c) == 0);
    if (tc->tc_send_home && fly_tcbin_prev_rounds(b))
        send_home(tc, b, c);
    if (fly_tcbin_prev_rounds(b)) {
        fly_tcbin_swap(tc, b, c);
        FLY_ASSERT(fly_tcache_loaded_rounds(tc, c) != 0 && fly_tcbin_prev_rounds(b) == 0);
        BIN_CHECK(tc, c);
        return true;
    }
    FLY_SET(tc->tc_misses[c], tc->tc_misses[c] + 1);
    bin_grow(tc, b, c, FLY_TRIP_REFILL);
    unsigned burst = FLY_MAX(1u, b->tb_cap / tc->tc_heap->hp_policy.po_burst_div);
    fly_mag_t *m = fly_depot_refill_os(depot_of(tc), c, unload_alloc(tc, c), burst);
    load_alloc(tc, c, m, m->m_rounds);
    BIN_CHECK(tc, c);
    return m->m_rounds != 0;
}

/* Bin c's previous magazine is full: it swaps with the loaded one if that
 * is empty, or else trades with the depot for an empty one. */
static void bin_spill_os(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    FLY_ASSERT(b->tb_ftop >= b->tb_flimit);
    /* The owner policy keeps a full magazine for its mallocs only if it is
     * all its own; otherwise the depot sends it, or its foreign rounds,
     * home (a magazine wholly of one heap goes to that heap's depot). */
    if (fly_tcache_loaded_rounds(tc, c) == 0 && (!tc->tc_send_home || prev_all_own(tc, b))) {
        fly_tcbin_swap(tc, b, c);
        FLY_ASSERT(fly_tcache_loaded_rounds(tc, c) >= b->tb_cap && fly_tcbin_prev_rounds(b) == 0);
        BIN_CHECK(tc, c);
        return;
    }
    bin_grow(tc, b, c, FLY_TRIP_SPILL);
    if (b->tb_ftop < b->tb_flimit) {            /* the capacity grew */
        BIN_CHECK(tc, c);
        return;
    }
    load_free(b, fly_depot_exchange_full_os(depot_of(tc), c, unload_free(b)), 0);
    BIN_CHECK(tc, c);
}

/* A thread without a cache (exiting, or none could be made) is served by
 * the zones of the heap it was on. */
static void *uncached_malloc_os(fly_tcache_t *tc, size_t size, unsigned c)
{
    return fly_tcache_malloc_from_os(tc->tc_heap, size, c);
}

void *fly_tcache_malloc_from_os(fly_heap_t *h, size_t size, unsigned c)
{
    void *p;
    __atomic_fetch_add(&tc_retired.nmalloc[c], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&tc_retired.requested[c], size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&tc_retired.misses[c], 1, __ATOMIC_RELAXED);
    if (fly_slab_fill_os(&h->hp_slab, c, &p, 1))
        return fly_block_unmark_known(p);
    errno = ENOMEM;
    return NULL;
}

/* Returns the thread's cache with bin c ready, or NULL to go uncached. */
static fly_tcache_t *tcache_for_os(unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    if (fly_unlikely(tc->tc_state != FLY_TC_LIVE)) {
        if (tc->tc_state == FLY_TC_DEAD)
            return NULL;
        uint32_t slot;
        fly_heap_t *h = home_heap_os(tc->tc_heap, &slot);
        tc = tcache_create_os(h);
        owner_settled(slot);
        if (tc == NULL)
            return NULL;
    }
    fly_tcbin_t *b = &tc->tc_bins[c];
    if (fly_unlikely(b->tb_cap == 0) && !bin_setup_os(tc, b, c))
        return NULL;
    tc->tc_activity[c]++;
    return tc;
}

/* malloc's general slow path: the loaded magazine is empty and the
 * previous one too (a depot visit or a burst fill), or a tick is due, or
 * the thread has no cache yet.  (The commonest miss, a swap, never gets
 * here: the API's miss does it inline, fly_tcache_swap_pop.) */
void *fly_tcache_malloc_slow_os(size_t size, unsigned c)
{
    fly_trace_touch_shared();
    fly_heap_t *move = fly_tc->tc_move_to;
    if (fly_unlikely(move != NULL)) {
        fly_tc->tc_move_to = NULL;
        fly_tcache_attach_os(move);
    }
    fly_tcache_t *tc = tcache_for_os(c);
    if (tc == NULL)
        return uncached_malloc_os(fly_tc, size, c);
    if (tc->tc_ticks <= 0)
        fly_tcache_tick_os(tc);
    FLY_SET(tc->tc_ticks, tc->tc_ticks - 1);
    fly_tcbin_t *b = &tc->tc_bins[c];
    FLY_SET(b->tb_nmalloc, b->tb_nmalloc + 1);
    FLY_SET(b->tb_requested, b->tb_requested + size);
    if (fly_tcache_loaded_rounds(tc, c) == 0 && !bin_refill_os(tc, b, c)) {
        errno = ENOMEM;
        return NULL;
    }
    FLY_SET(b->tb_top, b->tb_top - 1);
    BIN_CHECK(tc, c);
    return fly_block_unmark_known(*b->tb_top);
}

/* Under FLYMALLOC_PROFILE=1: a sampled block for this malloc of class c
 * if the thread has made FLY_SAMPLE_MALLOCS small mallocs since its last
 * sample and c is at most a page (sample.h), else NULL.  Ticks come every
 * po_tick_events mallocs, so samples come at about that granularity. */
static void *sample_os(fly_tcache_t *tc, unsigned c)
{
    if (fly_classes[c].cl_size > FLY_PAGE)
        return NULL;
    uint64_t made = 0;
    for (unsigned k = 1; k <= fly_nclasses; k++)
        made += tc->tc_bins[k].tb_nmalloc;
    if (made - tc->tc_sampled_at < FLY_SAMPLE_MALLOCS)
        return NULL;
    tc->tc_sampled_at = made;
    return fly_sample_malloc_os(tc->tc_heap->hp_vmem, &tc->tc_lcache);
}

/* The fast path had a round for this malloc, but the tick counter ran out.
 * Only a live cache has rounds, so the tick runs here directly, without the
 * general slow path's checks, which would cost more than the tick itself.  The bin counts as active, so the tick's
 * aging leaves it alone, but a trim may still empty it. */
void *fly_tcache_malloc_tick_os(size_t size, unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    fly_tcbin_t *b = &tc->tc_bins[c];
    tc->tc_activity[c]++;
    fly_trace_touch_shared();
    fly_tcache_tick_os(tc);
    if (fly_unlikely(fly_sample_on)) {
        void *s = sample_os(tc, c);
        if (s)
            return s;
    }
    void *p = b->tb_top[-1];
    if (fly_unlikely(p == NULL || tc->tc_move_to != NULL))
        return fly_tcache_malloc_slow_os(size, c);      /* which moves the thread first */
    FLY_SET(tc->tc_ticks, tc->tc_ticks - 1);
    FLY_SET(b->tb_nmalloc, b->tb_nmalloc + 1);
    FLY_SET(b->tb_requested, b->tb_requested + size);
    FLY_SET(b->tb_top, b->tb_top - 1);
    BIN_CHECK(tc, c);
    return fly_block_unmark_known(p);
}

/* free found the previous magazine full (or p on top). */
static FLY_NOINLINE void free_slow_os(void *p, unsigned c)
{
    /* An object freed by a thread that has not used its class yet was most
     * likely handed over by another thread, and its neighbours are still
     * that thread's.  Cached, it would be this thread's next malloc and put
     * both threads' writes on one cache line (passive false sharing, Hoard's
     * cache-scratch); the zone takes it back instead, at the cost of one
     * lock per class and thread.  The bin is set up all the same. */
    bool handed_over = fly_tc->tc_state != FLY_TC_LIVE || fly_tc->tc_bins[c].tb_cap == 0;
    fly_tcache_t *tc = tcache_for_os(c);
    if (tc == NULL || handed_over) {
        fly_slab_put(&fly_tc->tc_heap->hp_slab, c, &p, 1);
        return;
    }
    fly_tcbin_t *b = &tc->tc_bins[c];
    if (b->tb_ftop[-1] == p)                    /* the guard, NULL, when empty */
        fly_panic_ptr("free", "double free", p);
    /* A lowered capacity may leave more rounds than it. */
    bool full = b->tb_ftop >= b->tb_flimit;
    if (full)
        bin_spill_os(tc, b, c);
    FLY_ASSERT(b->tb_ftop < b->tb_flimit);
    *b->tb_ftop = p;
    FLY_SET(b->tb_ftop, b->tb_ftop + 1);
    BIN_CHECK(tc, c);
    /* Frees count toward maintenance too, a magazine's worth at each full
     * one, so a program whose last act is a long run of frees still ages
     * its cache and purges what has been idle long enough. */
    if (full) {
        FLY_SET(tc->tc_ticks, tc->tc_ticks - (int64_t)b->tb_cap);
        if (tc->tc_ticks <= 0)
            fly_tcache_tick_os(tc);
    }
}

/* As for malloc, the common case is a swap: the previous magazine is full
 * and the loaded one empty.  A bin not set up has tb_cap 0. */
void fly_tcache_free_slow_os(void *p, unsigned c)
{
    fly_tcache_t *tc = fly_tc;
    fly_tcbin_t *b = &tc->tc_bins[c];
    if (fly_unlikely(b->tb_cap == 0 || b->tb_ftop < b->tb_flimit || b->tb_ftop[-1] == p ||
                     fly_tcache_loaded_rounds(tc, c) != 0 || tc->tc_ticks <= (int64_t)b->tb_cap)) {
        free_slow_os(p, c);
        return;
    }
    fly_tcbin_swap(tc, b, c);
    FLY_ASSERT(fly_tcbin_prev_rounds(b) == 0);
    *b->tb_ftop = p;
    FLY_SET(b->tb_ftop, b->tb_ftop + 1);
    FLY_SET(tc->tc_ticks, tc->tc_ticks - (int64_t)b->tb_cap);
    tc->tc_activity[c]++;
    BIN_CHECK(tc, c);
}

/* Gives back everything bin c caches; keeps its (now empty) magazines. */
static void bin_flush(fly_tcache_t *tc, fly_tcbin_t *b, unsigned c)
{
    fly_mag_t *alloc = unload_alloc(tc, c), *prev = unload_free(b);
    fly_depot_drain_mag(depot_of(tc), c, alloc);
    fly_depot_drain_mag(depot_of(tc), c, prev);
    load_alloc(tc, c, alloc, 0);
    load_free(b, prev, 0);
    FLY_ASSERT(fly_tcache_loaded_rounds(tc, c) == 0 && fly_tcbin_prev_rounds(b) == 0);
    BIN_CHECK(tc, c);
}

/* Bytes bin c holds. */
static uint64_t bin_bytes(const fly_tcache_t *tc, unsigned c)
{
    const fly_tcbin_t *b = &tc->tc_bins[c];
    return (uint64_t)(fly_tcache_loaded_rounds(tc, c) + fly_tcbin_prev_rounds(b)) * fly_classes[c].cl_size;
}

void fly_tcache_flush(void)
{
    fly_tcache_t *tc = fly_tc;
    if (tc->tc_state != FLY_TC_LIVE)
        return;
    for (unsigned c = 1; c <= fly_nclasses; c++)
        if (tc->tc_bins[c].tb_cap)
            bin_flush(tc, &tc->tc_bins[c], c);
}

void fly_tcache_flush_thread(void)
{
    fly_tcache_flush();
    if (fly_tc->tc_state == FLY_TC_LIVE)
        fly_large_flush(&fly_tc->tc_lcache);
}

/* Gives the magazines of every bin set up back to the depot as empties. */
static void return_mags(fly_tcache_t *tc)
{
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        fly_tcbin_t *b = &tc->tc_bins[c];
        if (b->tb_cap == 0)
            continue;
        /* The depot takes them as empties: anything left in them would be lost. */
        FLY_ASSERT(fly_tcache_loaded_rounds(tc, c) == 0 && fly_tcbin_prev_rounds(b) == 0);
        fly_mag_t *mags = tc->tc_loaded[c];
        mags->m_next = fly_tcbin_prev(b);
        mags->m_next->m_next = NULL;
        fly_depot_return_empty(depot_of(tc), c, mags);
    }
}

bool fly_tcache_attach_os(fly_heap_t *h)
{
    fly_tcache_t *tc = fly_tc;
    if (tc->tc_state == FLY_TC_LIVE) {
        if (tc->tc_heap == h)
            return true;
        fly_tcache_flush_thread();
        return_mags(tc);
        /* Statistics read the bins under the registry lock.  The counters
         * go with the retired ones: they count what the thread did on its
         * old heap. */
        fly_lock(&tc_registry_lock);
        retire_counts(tc);
        memset(tc->tc_misses, 0, sizeof(tc->tc_misses));
        tcache_reset(tc, h);
        fly_unlock(&tc_registry_lock);
        return true;
    }
    if (tc->tc_state == FLY_TC_DEAD)
        return false;
    if (tcache_create_os(h) == NULL) {
        errno = ENOMEM;
        return false;
    }
    return true;
}

/* opt.tcache_bytes was lowered: bins that grew go back to their base
 * capacity, then whole bins are given back, biggest objects first, until
 * what the thread caches fits the budget. */
static FLY_NOINLINE void tcache_trim(fly_tcache_t *tc, uint64_t budget)
{
    uint64_t bytes = 0;
    for (unsigned c = fly_nclasses; c >= 1; c--) {
        fly_tcbin_t *b = &tc->tc_bins[c];
        uint32_t base = depot_class(tc, c)->dc_mag_base;
        if (b->tb_cap > base && tc->tc_cap_bytes > budget)
            bin_set_cap(tc, b, c, base);
        if (b->tb_cap)
            bytes += bin_bytes(tc, c);
    }
    for (unsigned c = fly_nclasses; c >= 1 && bytes > budget; c--) {
        fly_tcbin_t *b = &tc->tc_bins[c];
        if (b->tb_cap == 0)
            continue;
        bytes -= bin_bytes(tc, c);
        bin_flush(tc, b, c);
    }
#ifdef FLY_DEBUG
    /* The capacities fit the budget, or every bin is at its base; what the
     * bins hold fits it. */
    FLY_ASSERT(tc->tc_cap_bytes <= budget || tc->tc_cap_bytes == depot_of(tc)->dp_mag_base_bytes);
    uint64_t held = 0;
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        if (tc->tc_bins[c].tb_cap == 0)
            continue;
        BIN_CHECK(tc, c);
        held += bin_bytes(tc, c);
    }
    FLY_ASSERT(held == bytes && held <= budget);
#endif
}

/* Aging of one thread's cache: idle bins shed their rounds. */
static FLY_NOINLINE void tcache_gc(fly_tcache_t *tc)
{
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        fly_tcbin_t *b = &tc->tc_bins[c];
        if (b->tb_cap == 0)
            continue;
        uint64_t activity = b->tb_nmalloc + tc->tc_activity[c];
        if (activity == tc->tc_activity_seen[c]) {
            fly_mag_t *prev = unload_free(b);
            fly_depot_drain_mag(depot_of(tc), c, prev);
            load_free(b, prev, 0);
            bin_set_cap(tc, b, c, depot_class(tc, c)->dc_mag_base);
            uint32_t rounds = fly_tcache_loaded_rounds(tc, c), keep = rounds / 2;
            if (rounds > keep) {
                fly_mag_t *m = tc->tc_loaded[c];
                fly_slab_put(&tc->tc_heap->hp_slab, c, m->m_objs + keep, rounds - keep);
                load_alloc(tc, c, m, keep);
            }
            FLY_ASSERT(fly_tcbin_prev_rounds(b) == 0 && b->tb_cap == depot_class(tc, c)->dc_mag_base);
            BIN_CHECK(tc, c);
        }
        tc->tc_activity_seen[c] = activity;
    }
    fly_large_flush(&tc->tc_lcache);
}


void fly_tcache_tick_os(fly_tcache_t *tc)
{
    const fly_policy_t *po = &tc->tc_heap->hp_policy;
    FLY_SET(tc->tc_ticks, (int64_t)po->po_tick_events);
    uint64_t now = fly_now_ms();
    if (now >= tc->tc_next_gc) {
        tc->tc_next_gc = now + po->po_gc_interval_ms;
        tcache_gc(tc);
        /* A thread that migrated to another node moves to its heap at its
         * next slow path, where no bin is in use. */
        if (fly_unlikely(fly_node_mode() == FLY_NUMA_LOCAL)) {
            fly_heap_t *here = fly_node_heap_here_os();
            if (here && here != tc->tc_heap)
                tc->tc_move_to = here;
        }
    }
    uint64_t heap_bytes = heap_budget(tc), budget = share_of(tc, heap_bytes);
    if (fly_unlikely(heap_bytes < po->po_tcache_bytes || tc->tc_cap_bytes > budget))
        tcache_trim(tc, budget);
    CAP_BYTES_CHECK(tc);
    fly_maintain_tick_os(now);
}

bool fly_tcache_thread_exit_os(void *arg)
{
    fly_tcache_t *tc = arg;
    if (tc == NULL || tc->tc_state != FLY_TC_LIVE)
        return false;
    fly_tc = tc;
    fly_tcache_flush_thread();
    return_mags(tc);
    fly_bump_thread_retire_os();
    fly_tc = &fly_tcache_dead;
    fly_lock(&tc_registry_lock);
    retire_counts(tc);
    registry_remove(tc);
    tc->tc_state = FLY_TC_DEAD;
    tc->tc_next = tc_free;
    tc_free = tc;
    fly_unlock(&tc_registry_lock);
    return true;
}

/* Rounds another thread's bin c caches: its owner may be changing the
 * fields read here, so each magazine's count is only kept within bounds
 * (computed from addresses alone, nothing is dereferenced). */
static uint32_t racy_rounds(const fly_tcache_t *tc, unsigned c)
{
    const fly_tcbin_t *b = &tc->tc_bins[c];
    int64_t max = FLY_GET(tc->tc_heap)->hp_depot.dp_class[c].dc_mag_cap;
    fly_mag_t *loaded = FLY_GET(tc->tc_loaded[c]);
    int64_t alloc = (int64_t)((uintptr_t)FLY_GET(b->tb_top) - (uintptr_t)loaded->m_objs) /
                    (int64_t)sizeof(void *);
    uintptr_t ftop = (uintptr_t)FLY_GET(b->tb_ftop), flimit = (uintptr_t)FLY_GET(b->tb_flimit);
    int64_t freed = (int64_t)FLY_GET(b->tb_cap) - ((int64_t)(flimit - ftop) / (int64_t)sizeof(void *));
    return (uint32_t)(FLY_MAX(0, FLY_MIN(alloc, max)) + FLY_MAX(0, FLY_MIN(freed, max)));
}

/* Adds one cache's counters to out (cached objects only if with_cached). */
static void add_counts(const fly_tcache_t *tc, fly_tcache_counts_t *out, bool with_cached)
{
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        const fly_tcbin_t *b = &tc->tc_bins[c];
        if (with_cached)
            out->cached[c] += FLY_GET(tc->tc_held[c]);
        if (FLY_GET(b->tb_cap) == 0)
            continue;
        if (with_cached)
            out->cached[c] += racy_rounds(tc, c);
        out->nmalloc[c] += FLY_GET(b->tb_nmalloc);
        out->requested[c] += FLY_GET(b->tb_requested);
        out->misses[c] += FLY_GET(tc->tc_misses[c]);
    }
    out->reallocs += FLY_GET(tc->tc_reallocs);
}

/* With tc_registry_lock held (or in a fork child): a cache leaves the
 * registry; its counters stay in the totals. */
static void retire_counts(const fly_tcache_t *tc)
{
    fly_tcache_counts_t mine;
    memset(&mine, 0, sizeof(mine));
    add_counts(tc, &mine, false);
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        __atomic_fetch_add(&tc_retired.nmalloc[c], mine.nmalloc[c], __ATOMIC_RELAXED);
        __atomic_fetch_add(&tc_retired.requested[c], mine.requested[c], __ATOMIC_RELAXED);
        __atomic_fetch_add(&tc_retired.misses[c], mine.misses[c], __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&tc_retired.reallocs, mine.reallocs, __ATOMIC_RELAXED);
}

void fly_tcache_note_realloc(void)
{
    fly_tcache_t *tc = fly_tc;
    if (tc->tc_state == FLY_TC_LIVE)
        FLY_SET(tc->tc_reallocs, tc->tc_reallocs + 1);
    else
        __atomic_fetch_add(&tc_retired.reallocs, 1, __ATOMIC_RELAXED);
}

void fly_tcache_counts(const fly_heap_t *h, fly_tcache_counts_t *out)
{
    fly_lock(&tc_registry_lock);
    for (unsigned c = 1; c <= fly_nclasses && (h == NULL || h == &fly_heap_default); c++) {
        out->nmalloc[c] += __atomic_load_n(&tc_retired.nmalloc[c], __ATOMIC_RELAXED);
        out->requested[c] += __atomic_load_n(&tc_retired.requested[c], __ATOMIC_RELAXED);
        out->misses[c] += __atomic_load_n(&tc_retired.misses[c], __ATOMIC_RELAXED);
    }
    if (h == NULL || h == &fly_heap_default)
        out->reallocs += __atomic_load_n(&tc_retired.reallocs, __ATOMIC_RELAXED);
    for (fly_tcache_t *tc = tc_live; tc; tc = tc->tc_next)
        if (h == NULL || FLY_GET(tc->tc_heap) == h)
            add_counts(tc, out, true);
    fly_unlock(&tc_registry_lock);
}

void fly_tcache_lock_all(void)
{
    fly_lock(&tc_registry_lock);
}

/* In the child only the forking thread exists.  The other threads' caches
 * may have been caught halfway through a swap or an exchange (those steps
 * hold no lock), so they cannot be drained safely: they are dropped from
 * the registry and their contents, at most the cache budget per thread,
 * stay unused in the child. */
void fly_tcache_unlock_all(bool child)
{
    if (!child) {
        fly_unlock(&tc_registry_lock);
        return;
    }
    fly_lock_reinit(&tc_registry_lock);
    memset(owner_pending, 0, sizeof(owner_pending));    /* their threads are gone */
    fly_tcache_t *self = fly_tc, *tc = tc_live;
    while (tc) {
        fly_tcache_t *next = tc->tc_next;
        if (tc != self) {
            retire_counts(tc);
            registry_remove(tc);
        }
        tc = next;
    }
}
