/*
 * depot.c: the magazine depot, Bonwick's middle layer.
 *
 * Per class, under the class lock it shares with the zones: a list of full
 * magazines and a list of empty ones.  A thread whose two magazines are
 * both empty trades one for a full magazine; if there is none, the empty
 * magazine is burst-filled from the zones under the same lock acquisition.
 * A thread whose two magazines are both full trades one for an empty one.
 * So a thread visits the depot at most once per magazine's worth of
 * operations, and moves a whole magazine each time.
 *
 * Bounds and aging:
 *   - the depot holds at most po_depot_bytes of objects in full magazines
 *     per class;
 *     a full magazine beyond that is drained to its zones at once, so a
 *     burst of frees turns into empty zones, then dirty pages, then (after
 *     the decay time) pages given back to the OS;
 *   - sc_full_min tracks the fewest full magazines the depot held during the
 *     current interval: that many were not needed, and the reap returns them
 *     to the zones (Bonwick's working-set reap; the interval is
 *     po_gc_interval_ms, run from the maintenance tick).  A class whose
 *     depot nobody took a magazine from for a whole interval is drained
 *     entirely, so memory freed in a burst does not wait two intervals.
 */
#include "depot.h"
#include "meta.h"
#include "policy.h"
#include "tcache.h"

/* Whether the depot may take full magazine m: its bound counts objects
 * (magazines fill to their bin's capacity, not to m_cap). */
static bool depot_has_room(const fly_slab_class_t *sc, unsigned c, const fly_mag_t *m)
{
    return (sc->sc_full_rounds + m->m_rounds) * fly_classes[c].cl_size <= fly_classes[c].cl_depot_bytes;
}

static void push_empty_locked(fly_slab_class_t *sc, fly_mag_t *m)
{
    m->m_rounds = 0;
    m->m_next = sc->sc_empty;
    sc->sc_empty = m;
    sc->sc_nempty++;
}

static void push_full_locked(fly_slab_class_t *sc, fly_mag_t *m)
{
    m->m_next = sc->sc_full;
    sc->sc_full = m;
    sc->sc_nfull++;
    sc->sc_full_rounds += m->m_rounds;
    sc->sc_exchanges++;
}

/* The class lock, counting the times another thread held it (contention). */
static void lock_counted(fly_slab_class_t *sc)
{
    if (!fly_trylock(&sc->sc_lock)) {
        fly_lock(&sc->sc_lock);
        sc->sc_contended++;
    }
}

fly_mag_t *fly_depot_empty_mag_os(unsigned c)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    fly_lock(&sc->sc_lock);
    fly_mag_t *m = sc->sc_empty;
    if (m) {
        sc->sc_empty = m->m_next;
        sc->sc_nempty--;
    }
    fly_unlock(&sc->sc_lock);
    if (m == NULL) {
        uint32_t cap = fly_classes[c].cl_mag_cap;
        m = fly_meta_alloc_os(sizeof(fly_mag_t) + cap * sizeof(void *));
        if (m == NULL)
            return NULL;
        m->m_cap = cap;
    }
    m->m_next = NULL;
    m->m_rounds = 0;
    m->m_guard = NULL;
    return m;
}

void fly_depot_return_empty(unsigned c, fly_mag_t *m)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    fly_lock(&sc->sc_lock);
    while (m) {
        fly_mag_t *next = m->m_next;
        push_empty_locked(sc, m);
        m = next;
    }
    fly_unlock(&sc->sc_lock);
}

static fly_mag_t *pop_full_locked(fly_slab_class_t *sc)
{
    fly_mag_t *m = sc->sc_full;
    if (m) {
        sc->sc_full = m->m_next;
        sc->sc_nfull--;
        sc->sc_full_rounds -= m->m_rounds;
        sc->sc_last_pop = __atomic_load_n(&fly_epoch_ms, __ATOMIC_RELAXED);
        if (sc->sc_nfull < sc->sc_full_min)
            sc->sc_full_min = sc->sc_nfull;
    }
    return m;
}

fly_mag_t *fly_depot_refill_os(unsigned c, fly_mag_t *empty, unsigned burst)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    lock_counted(sc);
    fly_mag_t *full = pop_full_locked(sc);
    if (full) {
        push_empty_locked(sc, empty);
        sc->sc_exchanges++;
        fly_unlock(&sc->sc_lock);
        return full;
    }
    empty->m_rounds = fly_slab_take_locked(sc, c, empty->m_objs, burst);
    if (empty->m_rounds)
        sc->sc_bursts++;
    fly_unlock(&sc->sc_lock);
    if (empty->m_rounds == 0)
        empty->m_rounds = fly_slab_fill_os(c, empty->m_objs, burst);
    return empty;
}

fly_mag_t *fly_depot_exchange_full_os(unsigned c, fly_mag_t *full)
{
    fly_slab_class_t *sc = &fly_slab_classes[c];
    fly_zone_t *released = NULL;
    lock_counted(sc);
    fly_mag_t *empty = sc->sc_empty;
    if (empty && depot_has_room(sc, c, full)) {
        sc->sc_empty = empty->m_next;
        sc->sc_nempty--;
        empty->m_rounds = 0;
        empty->m_next = NULL;
        push_full_locked(sc, full);
        fly_unlock(&sc->sc_lock);
        return empty;
    }
    if (empty == NULL && depot_has_room(sc, c, full)) {
        /* Room in the depot but no spare magazine: make one unlocked. */
        fly_unlock(&sc->sc_lock);
        fly_mag_t *fresh = fly_depot_empty_mag_os(c);
        if (fresh) {
            fly_lock(&sc->sc_lock);
            push_full_locked(sc, full);
            fly_unlock(&sc->sc_lock);
            return fresh;
        }
        fly_lock(&sc->sc_lock);
    }
    /* At the bound (or out of memory): the rounds go back to their zones. */
    fly_slab_put_locked(sc, c, full->m_objs, full->m_rounds, &released);
    full->m_rounds = 0;
    fly_unlock(&sc->sc_lock);
    fly_slab_release_os(released);
    return full;
}

void fly_depot_drain_mag_os(unsigned c, fly_mag_t *m)
{
    if (m->m_rounds) {
        fly_slab_put_os(c, m->m_objs, m->m_rounds);
        m->m_rounds = 0;
    }
}

void fly_depot_reap_os(bool force)
{
    uint64_t now = __atomic_load_n(&fly_epoch_ms, __ATOMIC_RELAXED);
    for (unsigned c = 1; c <= fly_policy.po_nclasses; c++) {
        fly_slab_class_t *sc = &fly_slab_classes[c];
        fly_zone_t *released = NULL;
        fly_lock(&sc->sc_lock);
        /* A depot nobody took from for a whole interval is not needed. */
        bool idle = now - sc->sc_last_pop >= fly_policy.po_gc_interval_ms;
        uint32_t n = force || idle ? sc->sc_nfull : sc->sc_full_min;
        while (n--) {
            fly_mag_t *m = pop_full_locked(sc);
            fly_slab_put_locked(sc, c, m->m_objs, m->m_rounds, &released);
            push_empty_locked(sc, m);
        }
        sc->sc_full_min = sc->sc_nfull;
        if (force || idle)
            fly_slab_shed_spares_locked(sc, &released);
        fly_unlock(&sc->sc_lock);
        fly_slab_release_os(released);
    }
}

void fly_depot_lock_all(void)
{
    for (unsigned c = 1; c <= FLY_MAX_CLASSES; c++)
        fly_lock(&fly_slab_classes[c].sc_lock);
}

void fly_depot_unlock_all(bool child)
{
    for (unsigned c = 1; c <= FLY_MAX_CLASSES; c++) {
        if (child)
            fly_lock_reinit(&fly_slab_classes[c].sc_lock);
        else
            fly_unlock(&fly_slab_classes[c].sc_lock);
    }
}
