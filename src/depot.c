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
 *   - dc_full_min tracks the fewest full magazines the depot held during the
 *     current interval: that many were not needed, and the reap returns them
 *     to the zones (Bonwick's working-set reap; the interval is
 *     po_gc_interval_ms, run from the maintenance tick).  A class whose
 *     depot nobody took a magazine from for a whole interval is drained
 *     entirely, so memory freed in a burst does not wait two intervals
 *     (counted in magazines taken, dc_pops, so the depot reads no clock).
 *
 * Geometry (fly_depot_init): magazine capacity is inverse to object size.
 * The base, where every bin starts, is a quarter of the per-thread budget
 * split evenly over the classes' two magazines; the capacity, up to which
 * a busy bin grows, holds po_mag_max_bytes, or po_mag_min_rounds if that
 * is more.  Both are clamped to [1, po_mag_max_rounds], and rounds fit the
 * bins' 16-bit counts.  The depot's bound per class is po_depot_bytes, or
 * one magazine at the class's capacity if that is more.
 */
#include "depot.h"
#include "meta.h"
#include <string.h>

void fly_depot_init(fly_depot_t *dp, fly_slab_t *sl, const fly_policy_t *po)
{
    memset(dp, 0, sizeof(*dp));
    dp->dp_slab = sl;
    sl->sl_depot = dp;
    /* The base: a quarter of the budget over 2 magazines of every class. */
    uint64_t base_bytes = po->po_tcache_bytes / (4 * 2 * po->po_nclasses);
    uint64_t max_rounds = FLY_MIN(po->po_mag_max_rounds, UINT16_MAX);
    for (uint32_t c = 1; c <= po->po_nclasses; c++) {
        fly_depot_class_t *dc = &dp->dp_class[c];
        uint64_t size = fly_classes[c].cl_size;
        uint64_t base = FLY_MAX((uint64_t)1, FLY_MIN(base_bytes / size, max_rounds));
        uint64_t rounds = FLY_MAX((uint64_t)po->po_mag_max_bytes / size, po->po_mag_min_rounds);
        uint64_t cap = FLY_MAX((uint64_t)1, FLY_MIN(rounds, max_rounds));
        dc->dc_mag_base = (uint32_t)base;
        dc->dc_mag_cap = (uint32_t)FLY_MAX(base, cap);
        dc->dc_bound_bytes = FLY_MAX(po->po_depot_bytes, (uint64_t)dc->dc_mag_cap * size);
        dp->dp_mag_base_bytes += 2 * base * size;
        dp->dp_mag_cap_bytes += 2ull * dc->dc_mag_cap * size;
    }
}

static fly_lock_t *class_lock(fly_depot_t *dp, unsigned c)
{
    return &dp->dp_slab->sl_class[c].sc_lock;
}

/* Whether the depot may take full magazine m: its bound counts objects
 * (magazines fill to their bin's capacity, not to m_cap). */
static bool depot_has_room(const fly_depot_class_t *dc, unsigned c, const fly_mag_t *m)
{
    return (dc->dc_full_rounds + m->m_rounds) * fly_classes[c].cl_size <= dc->dc_bound_bytes;
}

static void push_empty_locked(fly_depot_class_t *dc, fly_mag_t *m)
{
    m->m_rounds = 0;
    m->m_next = dc->dc_empty;
    dc->dc_empty = m;
    dc->dc_nempty++;
}

static void push_full_locked(fly_depot_class_t *dc, fly_mag_t *m)
{
    m->m_next = dc->dc_full;
    dc->dc_full = m;
    dc->dc_nfull++;
    dc->dc_full_rounds += m->m_rounds;
    dc->dc_exchanges++;
}

/* The class lock, counting the times another thread held it (contention). */
static void lock_counted(fly_depot_t *dp, unsigned c)
{
    if (!fly_trylock(class_lock(dp, c))) {
        fly_lock(class_lock(dp, c));
        dp->dp_class[c].dc_contended++;
    }
}

fly_mag_t *fly_depot_empty_mag_os(fly_depot_t *dp, unsigned c)
{
    fly_depot_class_t *dc = &dp->dp_class[c];
    fly_lock(class_lock(dp, c));
    fly_mag_t *m = dc->dc_empty;
    if (m) {
        dc->dc_empty = m->m_next;
        dc->dc_nempty--;
    }
    fly_unlock(class_lock(dp, c));
    if (m == NULL) {
        uint32_t cap = dc->dc_mag_cap;
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

void fly_depot_return_empty(fly_depot_t *dp, unsigned c, fly_mag_t *m)
{
    fly_lock(class_lock(dp, c));
    while (m) {
        fly_mag_t *next = m->m_next;
        push_empty_locked(&dp->dp_class[c], m);
        m = next;
    }
    fly_unlock(class_lock(dp, c));
}

static fly_mag_t *pop_full_locked(fly_depot_class_t *dc)
{
    fly_mag_t *m = dc->dc_full;
    if (m) {
        dc->dc_full = m->m_next;
        dc->dc_nfull--;
        dc->dc_full_rounds -= m->m_rounds;
        dc->dc_pops++;
        if (dc->dc_nfull < dc->dc_full_min)
            dc->dc_full_min = dc->dc_nfull;
    }
    return m;
}

fly_mag_t *fly_depot_refill_os(fly_depot_t *dp, unsigned c, fly_mag_t *empty, unsigned burst)
{
    fly_depot_class_t *dc = &dp->dp_class[c];
    lock_counted(dp, c);
    fly_mag_t *full = pop_full_locked(dc);
    if (full) {
        push_empty_locked(dc, empty);
        dc->dc_exchanges++;
        fly_unlock(class_lock(dp, c));
        return full;
    }
    empty->m_rounds = fly_slab_take_locked(dp->dp_slab, c, empty->m_objs, burst);
    if (empty->m_rounds)
        dp->dp_slab->sl_class[c].sc_bursts++;
    fly_unlock(class_lock(dp, c));
    if (empty->m_rounds == 0)
        empty->m_rounds = fly_slab_fill_os(dp->dp_slab, c, empty->m_objs, burst);
    return empty;
}

fly_mag_t *fly_depot_exchange_full_os(fly_depot_t *dp, unsigned c, fly_mag_t *full)
{
    /* A magazine wholly of another heap (a NUMA node's blocks freed on
     * another node) goes home whole, to that heap's depot, when its
     * magazines are the same size; otherwise foreign rounds go back to
     * their zones. */
    fly_slab_t *home = fly_slab_foreign_home(dp->dp_slab, c, full->m_objs, full->m_rounds);
    fly_depot_t *home_depot = home ? home->sl_depot : NULL;
    if (home_depot && home_depot->dp_class[c].dc_mag_cap == dp->dp_class[c].dc_mag_cap) {
        __atomic_fetch_add(&home->sl_came_home, full->m_rounds, __ATOMIC_RELAXED);
        dp = home_depot;
    } else {
        full->m_rounds = fly_slab_keep_own(dp->dp_slab, c, full->m_objs, full->m_rounds);
        if (full->m_rounds == 0)    /* every round was another heap's: it is empty now */
            return full;
    }
    fly_depot_class_t *dc = &dp->dp_class[c];
    fly_zone_t *released = NULL;
    lock_counted(dp, c);
    fly_mag_t *empty = dc->dc_empty;
    if (empty && depot_has_room(dc, c, full)) {
        dc->dc_empty = empty->m_next;
        dc->dc_nempty--;
        empty->m_rounds = 0;
        empty->m_next = NULL;
        push_full_locked(dc, full);
        fly_unlock(class_lock(dp, c));
        return empty;
    }
    if (empty == NULL && depot_has_room(dc, c, full)) {
        /* Room in the depot but no spare magazine: make one unlocked. */
        fly_unlock(class_lock(dp, c));
        fly_mag_t *fresh = fly_depot_empty_mag_os(dp, c);
        if (fresh) {
            fly_lock(class_lock(dp, c));
            push_full_locked(dc, full);
            fly_unlock(class_lock(dp, c));
            return fresh;
        }
        fly_lock(class_lock(dp, c));
    }
    /* At the bound (or out of memory): the rounds go back to their zones. */
    fly_slab_put_locked(dp->dp_slab, c, full->m_objs, full->m_rounds, &released);
    full->m_rounds = 0;
    fly_unlock(class_lock(dp, c));
    fly_slab_release(released);
    return full;
}

void fly_depot_drain_mag(fly_depot_t *dp, unsigned c, fly_mag_t *m)
{
    if (m->m_rounds) {
        fly_slab_put(dp->dp_slab, c, m->m_objs, m->m_rounds);
        m->m_rounds = 0;
    }
}

void fly_depot_reap(fly_depot_t *dp, bool force)
{
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        fly_depot_class_t *dc = &dp->dp_class[c];
        fly_zone_t *released = NULL;
        fly_lock(class_lock(dp, c));
        /* A depot nobody took from since the last reap (an interval) is
         * not needed. */
        bool idle = dc->dc_pops == dc->dc_pops_at_reap;
        uint32_t n = force || idle ? dc->dc_nfull : dc->dc_full_min;
        while (n--) {
            fly_mag_t *m = pop_full_locked(dc);
            fly_slab_put_locked(dp->dp_slab, c, m->m_objs, m->m_rounds, &released);
            push_empty_locked(dc, m);
        }
        dc->dc_full_min = dc->dc_nfull;
        dc->dc_pops_at_reap = dc->dc_pops;
        fly_unlock(class_lock(dp, c));
        fly_slab_release(released);
    }
}
