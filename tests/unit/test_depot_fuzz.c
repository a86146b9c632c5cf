/*
 * test_depot_fuzz.c: model-based fuzzing of magazines and the depot
 * (src/depot.c, src/mag.h) on the default heap, for four classes nothing
 * else in this process uses (16 B: 256-round magazines; 384 B; 4608 B;
 * 32 KiB: a depot bound of one whole magazine).
 *
 * A seeded random sequence of 30000 operations: the depot's own
 * (fly_depot_empty_mag_os, fly_depot_refill_os with a random burst,
 * fly_depot_exchange_full_os, fly_depot_drain_mag,
 * fly_depot_return_empty, fly_depot_reap with and without force) and
 * what a thread does between them (pop rounds off a magazine it holds,
 * push them back onto one with room, free loose objects straight to their
 * zones).  The model knows where every object is: in the test's hands (a
 * held magazine or loose), in a full magazine in the depot, or free in
 * its zone; and every magazine: held, on the depot's full list (with a
 * copy of its rounds) or on its empty list, in stack order.  It predicts
 * each call's result and, after every step, proves:
 *
 *   - each call returns the magazine the model says: the depot's top full
 *     magazine with exactly the rounds it was given (refill), the top empty
 *     one or a fresh one (exchange, empty_mag), or the caller's own; a
 *     fresh magazine is empty, of the class's capacity, with its NULL
 *     guard; a burst fill gives min(burst, free objects in partial zones)
 *     objects when partial zones have any, else exactly burst;
 *   - a full magazine goes to the depot exactly when the depot's bound has
 *     room for its rounds, and otherwise its rounds go back to the zones;
 *   - the counters agree with the model: dc_nfull, dc_nempty,
 *     dc_full_rounds, dc_full_min (the low-water mark), dc_pops,
 *     dc_pops_at_reap, dc_exchanges, no contention, the list heads, and
 *     sc_objs_out equals the objects in hands and in the depot;
 *   - dc_full_rounds * size never exceeds dc_bound_bytes;
 *   - the reap returns to the zones the model's working-set surplus (the
 *     low-water mark, or every full magazine when forced or when nobody
 *     took one since the last reap), last pushed first;
 *   - no object is ever handed out twice (a hash set of every object in
 *     hands or in the depot), every handed-out object is a valid object of
 *     its class, and every object returned to the zones is free in its
 *     zone's bitmap (or its zone was released);
 *   - every 250 steps, the depot's whole full and empty lists match the
 *     model magazine by magazine and round by round, and every object the
 *     model places in hands or in the depot is marked used in its zone.
 *
 * At the end everything goes back and every class's zones are released.
 * Deterministic (fixed seed), well under a second.
 */
#include "check.h"
#include "depot.h"
#include "flymalloc.h"
#include "heap.h"
#include "slab.h"

#define DP (&fly_heap_default.hp_depot)
#define SL (&fly_heap_default.hp_slab)
#define NCLASS 4
#define MAX_HELD 8
#define MAX_LOOSE 8192
#define STEPS 30000

/* ---- a hash set of pointers (objects live in hands or the depot) ------ */

#define SET_SLOTS (1u << 18)
#define TOMB ((void *)1)
static void *obj_set[SET_SLOTS];
static size_t obj_count;

static size_t set_slot(void *const *set, const void *p, bool *found)
{
    size_t i = (size_t)(((uintptr_t)p * 0x9E3779B97F4A7C15ull) >> 46) & (SET_SLOTS - 1), tomb = SIZE_MAX;
    for (;; i = (i + 1) & (SET_SLOTS - 1)) {
        if (set[i] == p) {
            *found = true;
            return i;
        }
        if (set[i] == TOMB && tomb == SIZE_MAX)
            tomb = i;
        if (set[i] == NULL) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
    }
}

static void obj_add(void *p, int step)
{
    bool found;
    size_t i = set_slot(obj_set, p, &found);
    CHECK(!found, "step %d: object %p handed out twice", step, p);
    CHECK(obj_count < SET_SLOTS / 2, "object set full");
    obj_set[i] = p;
    obj_count++;
}

static void obj_del(void *p, int step)
{
    bool found;
    size_t i = set_slot(obj_set, p, &found);
    CHECK(found, "step %d: object %p is not in hands or in the depot", step, p);
    obj_set[i] = TOMB;
    obj_count--;
}

/* ---- the model --------------------------------------------------------- */

typedef struct {
    fly_mag_t *m;
    uint32_t rounds;
    void **snap;              /* its rounds when it went to the depot full */
} fullrec_t;

typedef struct {
    unsigned c;
    uint32_t size;
    fly_depot_class_t *dc;
    fly_slab_class_t *sc;
    fullrec_t *full;          /* the depot's full list, bottom first */
    size_t nfull, full_cap;
    fly_mag_t **empty;        /* its empty list, bottom first */
    size_t nempty, empty_cap;
    uint64_t full_rounds, full_min, pops, pops_at_reap, exchanges, contended;
    fly_mag_t *held[MAX_HELD];
    unsigned nheld;
    void *loose[MAX_LOOSE];
    size_t nloose;
    uint64_t in_hands;        /* objects in held magazines and loose */
    /* Coverage: the branches the fuzz took. */
    uint64_t cov_refill_full, cov_burst_partial, cov_burst_new, cov_ex_empty, cov_ex_fresh, cov_ex_bound,
        cov_reap_some, cov_max_full;
    uint64_t objs_out_base;
    size_t max_loose;         /* MAX_LOOSE, or 4 MiB of objects */
} model_t;

static model_t models[NCLASS];
static uint64_t seed = 0xdeb07f022;
static int step;

static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(t_rand(&seed) % n);
}

static fly_mag_t *all_mags[1 << 16];  /* every magazine seen, to tell fresh ones */
static size_t nall_mags;

static bool known_mag(const fly_mag_t *m)
{
    for (size_t i = 0; i < nall_mags; i++)
        if (all_mags[i] == m)
            return true;
    return false;
}

static void remember_mag(fly_mag_t *m)
{
    CHECK(nall_mags < sizeof all_mags / sizeof all_mags[0], "too many magazines");
    all_mags[nall_mags++] = m;
}

static void push_full(model_t *md, fly_mag_t *m)
{
    if (md->nfull == md->full_cap) {
        md->full_cap = md->full_cap ? 2 * md->full_cap : 64;
        md->full = realloc(md->full, md->full_cap * sizeof(fullrec_t));
        CHECK(md->full != NULL, "realloc");
        memset(md->full + md->nfull, 0, (md->full_cap - md->nfull) * sizeof(fullrec_t));
    }
    fullrec_t *f = &md->full[md->nfull++];
    f->m = m;
    f->rounds = m->m_rounds;
    f->snap = realloc(f->snap, (m->m_rounds + 1) * sizeof(void *));
    CHECK(f->snap != NULL, "realloc");
    memcpy(f->snap, m->m_objs, m->m_rounds * sizeof(void *));
    md->full_rounds += m->m_rounds;
}

/* Pops the top full magazine as pop_full_locked does: the low-water mark
 * and the pop count move. */
static fullrec_t *pop_full(model_t *md)
{
    fullrec_t *f = &md->full[--md->nfull];
    md->full_rounds -= f->rounds;
    md->pops++;
    if (md->nfull < md->full_min)
        md->full_min = md->nfull;
    return f;
}

static void push_empty(model_t *md, fly_mag_t *m)
{
    if (md->nempty == md->empty_cap) {
        md->empty_cap = md->empty_cap ? 2 * md->empty_cap : 64;
        md->empty = realloc(md->empty, md->empty_cap * sizeof(fly_mag_t *));
        CHECK(md->empty != NULL, "realloc");
    }
    md->empty[md->nempty++] = m;
}

static void check_fresh_mag(const model_t *md, const fly_mag_t *m, const char *what)
{
    CHECK(m != NULL, "step %d: %s gave no magazine", step, what);
    CHECK(m->m_rounds == 0 && m->m_cap == md->dc->dc_mag_cap && m->m_guard == NULL && m->m_next == NULL,
          "step %d: %s: magazine rounds %u cap %u (class cap %u) guard %p next %p", step, what, m->m_rounds,
          m->m_cap, md->dc->dc_mag_cap, m->m_guard, (void *)m->m_next);
}

static bool free_in_zone(const void *p, unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    uintptr_t base = (uintptr_t)p & ~((uintptr_t)cl->cl_zone_size - 1);
    fly_zone_t *z = fly_zone_slot(fly_region_of(p), (void *)base);
    uint32_t idx = (uint32_t)(((uintptr_t)p - base) / cl->cl_size);
    return (z->z_freemap[idx / 64] >> (idx % 64)) & 1;
}

static unsigned pageclass(const void *p)
{
    return fly_region_of(p)->r_pageclass[fly_page_index(p)];
}

/* Objects that just went back to the zones: out of the set, and free
 * there (or their zone was released). */
static void returned(model_t *md, void *const *objs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        obj_del(objs[i], step);
        unsigned pc = pageclass(objs[i]);
        CHECK(pc == FLY_PC_NONE || (pc == md->c && free_in_zone(objs[i], md->c)),
              "step %d: object %p went back but its zone (page class %u) does not have it free", step, objs[i], pc);
    }
}

/* Objects in the zones' partial lists: what a burst can take without
 * making a zone. */
static uint64_t partial_free(const model_t *md)
{
    uint64_t n = 0;
    for (fly_zone_t *z = md->sc->sc_partial; z; z = z->z_next)
        n += z->z_nfree;
    return n;
}

static void check_counters(const model_t *md)
{
    const fly_depot_class_t *dc = md->dc;
    CHECK(dc->dc_nfull == md->nfull && dc->dc_nempty == md->nempty && dc->dc_full_rounds == md->full_rounds,
          "step %d, class %u: depot has %u full (%llu rounds), %u empty; model %zu (%llu), %zu", step, md->c,
          dc->dc_nfull, (unsigned long long)dc->dc_full_rounds, dc->dc_nempty, md->nfull,
          (unsigned long long)md->full_rounds, md->nempty);
    CHECK(dc->dc_full_min == md->full_min && dc->dc_pops == md->pops && dc->dc_pops_at_reap == md->pops_at_reap,
          "step %d, class %u: full_min %u pops %llu at reap %llu; model %llu %llu %llu", step, md->c,
          dc->dc_full_min, (unsigned long long)dc->dc_pops, (unsigned long long)dc->dc_pops_at_reap,
          (unsigned long long)md->full_min, (unsigned long long)md->pops, (unsigned long long)md->pops_at_reap);
    CHECK(dc->dc_exchanges == md->exchanges && dc->dc_contended == md->contended,
          "step %d, class %u: exchanges %llu (model %llu), contended %llu", step, md->c,
          (unsigned long long)dc->dc_exchanges, (unsigned long long)md->exchanges,
          (unsigned long long)dc->dc_contended);
    CHECK(dc->dc_full_rounds * md->size <= dc->dc_bound_bytes, "step %d, class %u: depot holds %llu bytes, bound %llu",
          step, md->c, (unsigned long long)(dc->dc_full_rounds * md->size), (unsigned long long)dc->dc_bound_bytes);
    CHECK(dc->dc_full == (md->nfull ? md->full[md->nfull - 1].m : NULL) &&
              dc->dc_empty == (md->nempty ? md->empty[md->nempty - 1] : NULL),
          "step %d, class %u: list heads differ from the model", step, md->c);
    CHECK(md->sc->sc_objs_out == md->objs_out_base + md->in_hands + md->full_rounds,
          "step %d, class %u: sc_objs_out %llu, model %llu in hands + %llu in the depot", step, md->c,
          (unsigned long long)md->sc->sc_objs_out, (unsigned long long)md->in_hands,
          (unsigned long long)md->full_rounds);
}

/* The depot's whole lists against the model, and every object placed in
 * hands or in the depot used in its zone. */
static void check_deep(const model_t *md)
{
    size_t i = md->nfull;
    for (fly_mag_t *m = md->dc->dc_full; m; m = m->m_next) {
        CHECK(i > 0, "step %d, class %u: the depot's full list is longer than the model's", step, md->c);
        const fullrec_t *f = &md->full[--i];
        CHECK(m == f->m && m->m_rounds == f->rounds &&
                  memcmp(m->m_objs, f->snap, f->rounds * sizeof(void *)) == 0,
              "step %d, class %u: full magazine %zu differs from the model", step, md->c, i);
        for (uint32_t k = 0; k < f->rounds; k++)
            CHECK(pageclass(f->snap[k]) == md->c && !free_in_zone(f->snap[k], md->c),
                  "step %d: an object in the depot is free in its zone", step);
    }
    CHECK(i == 0, "step %d, class %u: the depot's full list is shorter than the model's", step, md->c);
    i = md->nempty;
    for (fly_mag_t *m = md->dc->dc_empty; m; m = m->m_next) {
        CHECK(i > 0 && m == md->empty[--i] && m->m_rounds == 0, "step %d, class %u: empty list differs", step,
              md->c);
    }
    CHECK(i == 0, "step %d, class %u: the empty list is shorter than the model's", step, md->c);
    for (unsigned h = 0; h < md->nheld; h++) {
        const fly_mag_t *m = md->held[h];
        for (uint32_t k = 0; k < m->m_rounds; k++)
            CHECK(pageclass(m->m_objs[k]) == md->c && !free_in_zone(m->m_objs[k], md->c),
                  "step %d: an object in a held magazine is free in its zone", step);
    }
    for (size_t k = 0; k < md->nloose; k++)
        CHECK(pageclass(md->loose[k]) == md->c && !free_in_zone(md->loose[k], md->c),
              "step %d: a loose object is free in its zone", step);
}

/* ---- operations -------------------------------------------------------- */

/* A held magazine with (want_rounds) or without rounds; -1 if none. */
static int pick_held(model_t *md, bool want_rounds)
{
    int cand[MAX_HELD], n = 0;
    for (unsigned i = 0; i < md->nheld; i++)
        if ((md->held[i]->m_rounds > 0) == want_rounds)
            cand[n++] = (int)i;
    return n ? cand[rnd((uint32_t)n)] : -1;
}

static void unhold(model_t *md, int i)
{
    md->held[i] = md->held[--md->nheld];
}

static void op_empty_mag(model_t *md)
{
    if (md->nheld == MAX_HELD)
        return;
    fly_mag_t *want = md->nempty ? md->empty[md->nempty - 1] : NULL;
    fly_mag_t *m = fly_depot_empty_mag_os(DP, md->c);
    check_fresh_mag(md, m, "empty_mag");
    if (want) {
        CHECK(m == want, "step %d: empty_mag gave %p, the depot's top empty is %p", step, (void *)m, (void *)want);
        md->nempty--;
    } else {
        CHECK(!known_mag(m), "step %d: empty_mag made a magazine that already exists", step);
        remember_mag(m);
    }
    md->held[md->nheld++] = m;
}

static void op_refill(model_t *md)
{
    int i = pick_held(md, false);
    if (i < 0)
        return;
    fly_mag_t *m = md->held[i];
    unsigned burst = 1 + rnd(m->m_cap);
    if (md->nfull) {
        fullrec_t *f = &md->full[md->nfull - 1];
        fly_mag_t *want = f->m;
        uint32_t rounds = f->rounds;
        fly_mag_t *r = fly_depot_refill_os(DP, md->c, m, burst);
        CHECK(r == want, "step %d: refill gave %p, the depot's top full is %p", step, (void *)r, (void *)want);
        CHECK(r->m_rounds == rounds && memcmp(r->m_objs, f->snap, rounds * sizeof(void *)) == 0,
              "step %d: the full magazine came back with %u rounds (gave %u) or other objects", step, r->m_rounds,
              rounds);
        pop_full(md);
        push_empty(md, m);
        md->exchanges++;
        md->cov_refill_full++;
        md->held[i] = r;
        md->in_hands += rounds;
        CHECK(m->m_rounds == 0, "step %d: the traded empty magazine has %u rounds", step, m->m_rounds);
        return;
    }
    uint64_t avail = partial_free(md);
    fly_mag_t *r = fly_depot_refill_os(DP, md->c, m, burst);
    CHECK(r == m, "step %d: a burst fill returned another magazine", step);
    uint32_t want = avail ? (uint32_t)FLY_MIN((uint64_t)burst, avail) : burst;
    if (avail)
        md->cov_burst_partial++;
    else
        md->cov_burst_new++;
    CHECK(r->m_rounds == want, "step %d, class %u: burst of %u with %llu free in partial zones gave %u", step, md->c,
          burst, (unsigned long long)avail, r->m_rounds);
    for (uint32_t k = 0; k < r->m_rounds; k++) {
        CHECK(fly_slab_valid(r->m_objs[k], md->c) && pageclass(r->m_objs[k]) == md->c &&
                  !free_in_zone(r->m_objs[k], md->c),
              "step %d: burst object %p is not a used object of class %u", step, r->m_objs[k], md->c);
        obj_add(r->m_objs[k], step);
    }
    md->in_hands += r->m_rounds;
}

static void op_exchange(model_t *md)
{
    int i = pick_held(md, true);
    if (i < 0)
        return;
    fly_mag_t *m = md->held[i];
    uint32_t rounds = m->m_rounds;
    static void *copy[256];
    memcpy(copy, m->m_objs, rounds * sizeof(void *));
    bool room = (md->full_rounds + rounds) * md->size <= md->dc->dc_bound_bytes;
    fly_mag_t *want = room && md->nempty ? md->empty[md->nempty - 1] : NULL;
    fly_mag_t *r = fly_depot_exchange_full_os(DP, md->c, m);
    if (room) {
        if (want) {
            CHECK(r == want, "step %d: exchange gave %p, the top empty is %p", step, (void *)r, (void *)want);
            md->nempty--;
            md->cov_ex_empty++;
            CHECK(r->m_rounds == 0 && r->m_next == NULL, "step %d: the empty magazine traded has %u rounds", step,
                  r->m_rounds);
        } else {
            check_fresh_mag(md, r, "exchange");
            CHECK(!known_mag(r), "step %d: exchange with no empty magazine gave a known one", step);
            remember_mag(r);
            md->cov_ex_fresh++;
        }
        CHECK(m->m_rounds == rounds, "step %d: the magazine given lost rounds (%u of %u)", step, m->m_rounds, rounds);
        push_full(md, m);
        md->exchanges++;
        md->in_hands -= rounds;
        md->held[i] = r;
        md->cov_max_full = FLY_MAX(md->cov_max_full, (uint64_t)md->nfull);
    } else {
        CHECK(r == m && m->m_rounds == 0, "step %d, class %u: over the bound, exchange gave %p (own %p) with %u rounds",
              step, md->c, (void *)r, (void *)m, r->m_rounds);
        md->in_hands -= rounds;
        returned(md, copy, rounds);
        md->cov_ex_bound++;
    }
}

static void op_drain(model_t *md)
{
    int i = pick_held(md, true);
    if (i < 0)
        return;
    fly_mag_t *m = md->held[i];
    uint32_t rounds = m->m_rounds;
    static void *copy[256];
    memcpy(copy, m->m_objs, rounds * sizeof(void *));
    fly_depot_drain_mag(DP, md->c, m);
    CHECK(m->m_rounds == 0, "step %d: drained magazine has %u rounds", step, m->m_rounds);
    md->in_hands -= rounds;
    returned(md, copy, rounds);
}

static void op_return_empty(model_t *md)
{
    fly_mag_t *chain = NULL, *order[MAX_HELD];
    unsigned n = 0, want = 1 + rnd(3);
    for (int i = (int)md->nheld - 1; i >= 0 && n < want; i--) {
        if (md->held[i]->m_rounds == 0) {
            order[n++] = md->held[i];
            unhold(md, i);
        }
    }
    if (n == 0)
        return;
    for (unsigned k = n; k-- > 0;) {      /* chain order: order[0] first */
        order[k]->m_next = chain;
        chain = order[k];
    }
    fly_depot_return_empty(DP, md->c, chain);
    for (unsigned k = 0; k < n; k++)
        push_empty(md, order[k]);
}

static void op_reap(bool force)
{
    /* Predict, then reap, then compare the objects that went back. */
    static void **gone[NCLASS];
    static size_t ngone[NCLASS], gone_cap[NCLASS];
    for (int k = 0; k < NCLASS; k++) {
        model_t *md = &models[k];
        bool idle = md->pops == md->pops_at_reap;
        size_t n = force || idle ? md->nfull : (size_t)md->full_min;
        ngone[k] = 0;
        if (n && !force)
            md->cov_reap_some++;
        while (n--) {
            fullrec_t *f = pop_full(md);
            if (ngone[k] + f->rounds > gone_cap[k]) {
                gone_cap[k] = 2 * (ngone[k] + f->rounds);
                gone[k] = realloc(gone[k], gone_cap[k] * sizeof(void *));
                CHECK(gone[k] != NULL, "realloc");
            }
            memcpy(gone[k] + ngone[k], f->snap, f->rounds * sizeof(void *));
            ngone[k] += f->rounds;
            push_empty(md, f->m);
        }
        md->full_min = md->nfull;
        md->pops_at_reap = md->pops;
    }
    fly_depot_reap(DP, force);
    for (int k = 0; k < NCLASS; k++)
        returned(&models[k], gone[k], ngone[k]);
}

static void op_pop(model_t *md)
{
    int i = pick_held(md, true);
    if (i < 0)
        return;
    fly_mag_t *m = md->held[i];
    uint32_t k = rnd(2) ? m->m_rounds : 1 + rnd(m->m_rounds);      /* all of it, half the time */
    while (k-- && md->nloose < md->max_loose)
        md->loose[md->nloose++] = m->m_objs[--m->m_rounds];
}

static void op_push(model_t *md)
{
    if (md->nheld == 0 || md->nloose == 0)
        return;
    fly_mag_t *m = md->held[rnd(md->nheld)];
    uint32_t k = 1 + rnd(m->m_cap);
    while (k-- && md->nloose && m->m_rounds < m->m_cap) {
        size_t j = rnd((uint32_t)md->nloose);
        m->m_objs[m->m_rounds++] = md->loose[j];
        md->loose[j] = md->loose[--md->nloose];
    }
}

static void op_free_loose(model_t *md)
{
    if (md->nloose == 0)
        return;
    size_t k = 1 + rnd((uint32_t)FLY_MIN(md->nloose, (size_t)64));
    void **objs = md->loose + md->nloose - k;
    fly_slab_put(SL, md->c, objs, (unsigned)k);
    md->in_hands -= k;
    returned(md, objs, k);
    md->nloose -= k;
}

static void setup(model_t *md, size_t size)
{
    memset(md, 0, sizeof *md);
    md->c = fly_class_of(size);
    md->size = fly_classes[md->c].cl_size;
    md->dc = &DP->dp_class[md->c];
    md->sc = &SL->sl_class[md->c];
    CHECK(md->size == size, "no class of exactly %zu bytes", size);
    CHECK(md->dc->dc_nfull == 0 && md->dc->dc_nempty == 0 && md->sc->sc_objs_out == 0,
          "class %u was used before the test", md->c);
    md->full_min = md->dc->dc_full_min;
    md->pops = md->dc->dc_pops;
    md->pops_at_reap = md->dc->dc_pops_at_reap;
    md->exchanges = md->dc->dc_exchanges;
    md->contended = md->dc->dc_contended;
    md->objs_out_base = md->sc->sc_objs_out;
    md->max_loose = FLY_MIN((size_t)MAX_LOOSE, ((size_t)4 << 20) / md->size);
}

int main(void)
{
    fly_free(fly_malloc(200));         /* initialized (a class not fuzzed) */
    size_t sizes[NCLASS] = { 16, 384, 4608, 32768 };
    for (int k = 0; k < NCLASS; k++)
        setup(&models[k], sizes[k]);
    CHECK(models[3].dc->dc_bound_bytes == (uint64_t)models[3].dc->dc_mag_cap * 32768,
          "the 32 KiB class's bound is not one magazine");
    /* Start every class's interval afresh. */
    op_reap(true);
    uint64_t counts[12] = { 0 };
    for (step = 0; step < STEPS; step++) {
        model_t *md = &models[rnd(NCLASS)];
        /* Phases of 1500 steps: balanced, hoarding (the test takes
         * objects: bursts, full magazines from the depot), spilling (it
         * hands full magazines in, up to the depot's bound and beyond). */
        static const uint16_t weights[3][10] = {
            /* empty refill exchange drain return pop push free reap forced */
            { 90, 200, 200, 50, 80, 150, 150, 55, 20, 5 },
            { 150, 400, 0, 0, 0, 300, 150, 0, 0, 0 },
            { 100, 0, 500, 0, 50, 0, 350, 0, 0, 0 },
        };
        const uint16_t *w = weights[(step / 1500) % 3];
        uint32_t r = rnd(1000);
        int op = 0;
        while (r >= w[op]) {
            r -= w[op];
            op++;
        }
        counts[op]++;
        switch (op) {
        case 0: op_empty_mag(md); break;
        case 1: op_refill(md); break;
        case 2: op_exchange(md); break;
        case 3: op_drain(md); break;
        case 4: op_return_empty(md); break;
        case 5: op_pop(md); break;
        case 6: op_push(md); break;
        case 7: op_free_loose(md); break;
        case 8: op_reap(false); break;
        case 9: op_reap(true); break;
        }
        for (int k = 0; k < NCLASS; k++) {
            check_counters(&models[k]);
            if (step % 250 == 0)
                check_deep(&models[k]);
        }
    }
    /* The fuzz reached every state that matters. */
    for (int k = 0; k < NCLASS; k++) {
        const model_t *md = &models[k];
        t_log("class %u (%u B): refill from depot %llu, burst partial %llu / new %llu, exchange for empty %llu / "
              "fresh %llu / over bound %llu, reaps that returned %llu, most full %llu\n",
              md->c, md->size, (unsigned long long)md->cov_refill_full, (unsigned long long)md->cov_burst_partial,
              (unsigned long long)md->cov_burst_new, (unsigned long long)md->cov_ex_empty,
              (unsigned long long)md->cov_ex_fresh, (unsigned long long)md->cov_ex_bound,
              (unsigned long long)md->cov_reap_some, (unsigned long long)md->cov_max_full);
        CHECK(md->cov_refill_full && md->cov_burst_partial && md->cov_burst_new && md->cov_ex_empty &&
                  md->cov_ex_fresh && md->cov_ex_bound && md->cov_reap_some && md->cov_max_full >= 2,
              "class %u: the fuzz missed a branch", md->c);
    }

    /* Everything back: drain and return what the test holds, reap all. */
    for (int k = 0; k < NCLASS; k++) {
        model_t *md = &models[k];
        while (md->nloose)
            op_free_loose(md);
        for (unsigned i = 0; i < md->nheld; i++) {
            fly_mag_t *m = md->held[i];
            uint32_t rounds = m->m_rounds;
            static void *copy[256];
            memcpy(copy, m->m_objs, rounds * sizeof(void *));
            fly_depot_drain_mag(DP, md->c, m);
            md->in_hands -= rounds;
            returned(md, copy, rounds);
        }
        while (md->nheld)
            op_return_empty(md);
    }
    op_reap(true);
    for (int k = 0; k < NCLASS; k++) {
        model_t *md = &models[k];
        check_counters(md);
        check_deep(md);
        CHECK(md->dc->dc_nfull == 0 && md->sc->sc_objs_out == 0 && md->sc->sc_nzones == 0 && md->in_hands == 0,
              "class %u not empty at the end: %u full, %llu objects out, %llu zones", md->c, md->dc->dc_nfull,
              (unsigned long long)md->sc->sc_objs_out, (unsigned long long)md->sc->sc_nzones);
    }
    CHECK(obj_count == 0, "%zu objects unaccounted for", obj_count);
    t_log("%d steps: empty %llu refill %llu exchange %llu drain %llu return %llu pop %llu push %llu free %llu "
          "reap %llu forced %llu\n",
          STEPS, (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2],
          (unsigned long long)counts[3], (unsigned long long)counts[4], (unsigned long long)counts[5],
          (unsigned long long)counts[6], (unsigned long long)counts[7], (unsigned long long)counts[8],
          (unsigned long long)counts[9]);
    return 0;
}
