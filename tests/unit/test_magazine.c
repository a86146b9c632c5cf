/*
 * test_magazine.c: proves the thread-cache and depot behaviour.
 *
 *   burst_fill          the first miss fills a whole magazine from the zones
 *                       in one burst;
 *   magazine_exchange   frees beyond two magazines trade a full magazine to
 *                       the depot, and mallocs get it back whole;
 *   depot_bound         the depot holds at most po_depot_bytes per class;
 *                       the rest goes back to the zones at once;
 *   depot_aging         full magazines unused for a reap interval return to
 *                       the zones (working-set reap);
 *   tcache_aging        a bin with no slow-path activity sheds its previous
 *                       magazine and half its rounds at a maintenance tick;
 *   budget              magazine capacity falls with object size and the
 *                       per-thread worst case stays near the byte budget.
 */
#include "check.h"
#include "depot.h"
#include "flymalloc.h"
#include "init.h"
#include "tcache.h"

static void *objs[70000];

static void burst_fill(unsigned c, size_t size)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    uint64_t bursts = sc->sc_bursts;
    void *p = fly_malloc(size);
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    CHECK(sc->sc_bursts == bursts + 1, "one miss should be one burst (%llu)",
          (unsigned long long)(sc->sc_bursts - bursts));
    CHECK(b->tb_rounds == b->tb_cap - 1, "burst filled %u of %u rounds", b->tb_rounds + 1, b->tb_cap);
    fly_free(p);
}

static void magazine_exchange(unsigned c, size_t size)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    uint32_t cap = b->tb_cap, n = 4 * cap;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    uint32_t full_before = sc->sc_nfull;
    for (uint32_t i = 0; i < n; i++)
        fly_free(objs[i]);
    CHECK(sc->sc_nfull >= full_before + 1, "no full magazine reached the depot");
    uint64_t bursts = sc->sc_bursts, exchanges = sc->sc_exchanges;
    for (uint32_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    CHECK(sc->sc_exchanges > exchanges, "mallocs did not take magazines back from the depot");
    CHECK(sc->sc_bursts == bursts, "mallocs went to the zones while the depot had magazines");
    for (uint32_t i = 0; i < n; i++)
        fly_free(objs[i]);
}

static void depot_bound(unsigned c, size_t size)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    uint64_t mag = (uint64_t)fly_classes[c].cl_mag_cap * fly_classes[c].cl_size;
    size_t n = (size_t)(3 * fly_policy.po_depot_bytes / size);
    CHECK(n <= sizeof(objs) / sizeof(objs[0]), "test array too small");
    for (size_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
    CHECK(sc->sc_nfull * mag <= fly_policy.po_depot_bytes, "depot holds %llu bytes",
          (unsigned long long)(sc->sc_nfull * mag));
}

static void depot_aging(unsigned c)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    CHECK(sc->sc_nfull > 2, "depot unexpectedly empty");
    fly_depot_reap_os(false);        /* closes the interval the test ran in */
    uint32_t full = sc->sc_nfull;
    /* This interval uses two magazines: the others are its unused surplus. */
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    size_t size = fly_classes[c].cl_size, n = 2 * b->tb_cap + b->tb_rounds + b->tb_prev->m_rounds;
    for (size_t i = 0; i < n; i++)
        objs[i] = fly_malloc(size);
    for (size_t i = 0; i < n; i++)
        fly_free(objs[i]);
    fly_depot_reap_os(false);
    CHECK(sc->sc_nfull >= 1 && sc->sc_nfull <= 3 && sc->sc_nfull < full,
          "reap kept %u of %u magazines, want about the 2 in use", sc->sc_nfull, full);
    fly_depot_reap_os(false);        /* an idle interval: nothing is needed */
    CHECK(sc->sc_nfull == 0, "unused full magazines survived a reap (%u)", sc->sc_nfull);
}

static void tcache_aging(unsigned c, size_t size)
{
    fly_tcbin_t *b = &fly_tc->tc_bins[c];
    for (int i = 0; i < 10; i++)
        objs[i] = fly_malloc(size);
    for (int i = 0; i < 10; i++)
        fly_free(objs[i]);
    uint32_t rounds = b->tb_rounds;
    CHECK(rounds >= 2, "expected cached rounds");
    /* Two maintenance passes with no slow-path use of the class between. */
    fly_tc->tc_next_gc = 0;
    fly_tcache_tick(fly_tc);
    fly_tc->tc_next_gc = 0;
    fly_tcache_tick(fly_tc);
    CHECK(b->tb_rounds <= rounds / 2, "idle bin kept %u of %u rounds", b->tb_rounds, rounds);
    CHECK(b->tb_prev->m_rounds == 0, "idle bin kept its previous magazine");
}

static void budget(void)
{
    uint64_t worst = 0;
    for (unsigned c = 1; c <= fly_policy.po_nclasses; c++)
        worst += 2ull * fly_classes[c].cl_mag_cap * fly_classes[c].cl_size;
    /* Classes bigger than a magazine's share still get one round each. */
    uint64_t floor = 0;
    for (unsigned c = 1; c <= fly_policy.po_nclasses; c++)
        if (fly_classes[c].cl_mag_cap == 1)
            floor += 2ull * fly_classes[c].cl_size;
    CHECK(worst <= fly_policy.po_tcache_bytes + floor, "per-thread worst case %llu > budget %llu + %llu",
          (unsigned long long)worst, (unsigned long long)fly_policy.po_tcache_bytes,
          (unsigned long long)floor);
}

int main(void)
{
    fly_free(fly_malloc(1));
    unsigned c = fly_class_of(48);
    burst_fill(c, 48);
    magazine_exchange(c, 48);
    depot_bound(c, 48);
    depot_aging(c);
    tcache_aging(fly_class_of(200), 200);
    budget();
    return 0;
}
