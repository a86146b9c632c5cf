/*
 * slab.c: slab zones, runs of pages carved into objects of one size class.
 *
 * A zone's descriptor is out of line, in its region header (r_zone[] slot of
 * the zone's first 64 KiB), and tracks free objects with a bitmap; a second
 * free of an object is also caught here when the bitmap says it is already
 * free (when a magazine is drained to its zone).
 *
 * A zone opens page by page: a page's class byte is set, and the free mark
 * written into the slots that start in it, only when a fill first takes one
 * of those slots (fills take the lowest free slots, so the open pages are a
 * prefix).  A free of an address in a page not yet open finds no class and
 * is refused; and a program that uses a few objects of many classes keeps
 * a page or two of each zone resident, not the whole zone.
 *
 * Zones never hold a lock across a system call (nmalloc held its zone
 * magazine lock across zone allocation and bzero): a fill that runs out of
 * partial zones drops the class lock, takes pages from vmem (which may map
 * memory), initializes the descriptor and page-class bytes with no lock held,
 * then relocks and publishes the zone.  A zone that becomes empty is
 * unlinked under the lock and handed back to vmem after unlocking, as dirty
 * pages: no madvise here; vmem purges it only after it stays idle.
 *
 * Partial zones form one list per class; a zone that gains a free object is
 * pushed at the head, so fills reuse recently freed, cache-warm objects and
 * zones that only lose objects drain and empty.
 *
 * A phase that frees most objects of some classes and then allocates
 * others leaves sparse zones the new classes cannot use.  Where the
 * policy asks for it (compact), when the heap is about to take new memory
 * while its zones hold much free space, a pass purges the pages of sparse
 * zones whose every slot is free and closes them again: the class byte
 * goes back to none (so a free into them is refused, as in a page never
 * opened) and the free marks are written anew when a fill reaches them.
 * The slots on those pages are taken out of the free map while the purge
 * runs unlocked, so no fill hands them out under it.
 *
 * Several heaps each own a slab, and a thread may free another heap's
 * object into its own cache.  Each zone names its slab (z_slab), so
 * whenever objects leave a cache for the zones, those of other slabs go
 * back to their own zones, under their own class locks, one lock held at a
 * time (fly_slab_keep_own); with one slab in the process that step looks
 * at nothing.
 */
#include "slab.h"
#include "random.h"
#include "bump.h"
#include "freemark.h"
#include "os.h"
#include "usage.h"
#include "vmem.h"
#include <string.h>

/* Slabs made so far (atomic): above one, cached objects may be foreign. */
static uint32_t slab_count;

void fly_slab_init(fly_slab_t *sl, fly_vmem_t *vm, bool bump, uint32_t pass_growth)
{
    memset(sl, 0, sizeof(*sl));
    sl->sl_bump = bump;
    sl->sl_pass_growth = pass_growth;
    for (unsigned c = 0; c <= FLY_MAX_CLASSES; c++)
        sl->sl_class[c].sc_lock = (fly_lock_t)FLY_LOCK_INITIALIZER;
    sl->sl_vmem = vm;
    __atomic_fetch_add(&slab_count, 1, __ATOMIC_RELAXED);
}

static void *zone_base(fly_zone_t *z)
{
    fly_region_t *r = fly_region_of(z);
    return (char *)r + ((size_t)(z - r->r_zone) << FLY_ZONE_MIN_SHIFT);
}

static void partial_push(fly_slab_class_t *sc, fly_zone_t *z)
{
    z->z_prev = NULL;
    z->z_next = sc->sc_partial;
    if (sc->sc_partial)
        sc->sc_partial->z_prev = z;
    sc->sc_partial = z;
}

static void partial_unlink(fly_slab_class_t *sc, fly_zone_t *z)
{
    if (z->z_prev)
        z->z_prev->z_next = z->z_next;
    else
        sc->sc_partial = z->z_next;
    if (z->z_next)
        z->z_next->z_prev = z->z_prev;
    z->z_next = z->z_prev = NULL;
}

static void zone_open(fly_zone_t *z, char *base, unsigned c, uint32_t idx);

/* Maps a fresh zone for class c and initializes it; no lock held.  The
 * class's first zone opens as fills reach its pages; a class that needs
 * more zones is busy enough that its zones open whole here, outside the
 * class lock, rather than a page at a time under it. */
static fly_zone_t *zone_create_os(fly_slab_t *sl, unsigned c, bool open_whole)
{
    const fly_class_t *cl = &fly_classes[c];
    size_t pages = cl->cl_zone_size >> FLY_PAGE_SHIFT;
    bool zeroed;
    void *base = fly_vmem_alloc_os(sl->sl_vmem, pages, pages, &zeroed);
    if (base == NULL)
        return NULL;
    fly_region_t *r = fly_region_of(base);
    fly_zone_t *z = fly_zone_slot(r, base);
    z->z_next = z->z_prev = NULL;
    z->z_slab = sl;
    z->z_class = (uint16_t)c;
    z->z_nobjs = (uint16_t)cl->cl_nobjs;
    z->z_nfree = (uint16_t)cl->cl_nobjs;
    z->z_hint = 0;
    z->z_open_pages = z->z_open_slots = 0;
    z->z_closed = 0;
    uint32_t full_words = cl->cl_nobjs / 64, rest = cl->cl_nobjs % 64;
    memset(z->z_freemap, 0xff, full_words * sizeof(uint64_t));
    memset(z->z_freemap + full_words, 0,
           (FLY_ZONE_MAX_OBJS / 64 - full_words) * sizeof(uint64_t));
    if (rest)
        z->z_freemap[full_words] = (1ull << rest) - 1;
    if (fly_slab_secure && !zeroed)
        memset(base, 0, cl->cl_zone_size);
    memset(&r->r_pageclass[fly_page_index(base)], FLY_PC_NONE, pages);
    if (open_whole)
        zone_open(z, base, c, cl->cl_nobjs - 1);
    return z;
}

/* Slots of class cl that start in a zone's first `pages` pages. */
static uint32_t slots_in_pages(const fly_class_t *cl, uint32_t pages)
{
    uint64_t n = (((uint64_t)pages << FLY_PAGE_SHIFT) + cl->cl_size - 1) / cl->cl_size;
    return n < cl->cl_nobjs ? (uint32_t)n : cl->cl_nobjs;
}

/* Opens z's pages through the one where slot idx starts.  Every slot of
 * an open page starts not allocated, so a free of one never handed out is
 * caught like a double free (freemark.h). */
static void zone_open(fly_zone_t *z, char *base, unsigned c, uint32_t idx)
{
    const fly_class_t *cl = &fly_classes[c];
    uint32_t from = z->z_open_pages;
    uint32_t to = (uint32_t)(((uint64_t)idx * cl->cl_size >> FLY_PAGE_SHIFT) + 1);
    uint32_t end = slots_in_pages(cl, to);
    for (uint32_t i = z->z_open_slots; i < end; i++)
        fly_block_mark(base + (size_t)i * cl->cl_size);
    memset(&fly_region_of(base)->r_pageclass[fly_page_index(base) + from], (int)c, to - from);
    z->z_open_pages = (uint16_t)to;
    z->z_open_slots = (uint16_t)end;
}

/* Pages first..last of a zone as a mask (at most 64 pages are tracked). */
static uint64_t page_mask(uint32_t first, uint32_t last)
{
    if (first >= 64)
        return 0;
    if (last >= 63)
        return ~0ull << first;
    return ((2ull << last) - 1) & (~0ull << first);
}

/* Slot idx is being handed out: opens again the closed pages it covers,
 * marking the slots that start in them (all free: a fill takes none
 * without coming here first). */
static void reopen_pages(fly_slab_t *sl, fly_zone_t *z, char *base, unsigned c, uint32_t idx)
{
    const fly_class_t *cl = &fly_classes[c];
    uint64_t start = (uint64_t)idx * cl->cl_size;
    uint64_t pages = z->z_closed & page_mask((uint32_t)(start >> FLY_PAGE_SHIFT),
                                             (uint32_t)((start + cl->cl_size - 1) >> FLY_PAGE_SHIFT));
    uint8_t *pageclass = &fly_region_of(base)->r_pageclass[fly_page_index(base)];
    while (pages) {
        uint32_t pg = (uint32_t)__builtin_ctzll(pages);
        pages &= pages - 1;
        uint64_t from = ((uint64_t)pg << FLY_PAGE_SHIFT) + cl->cl_size - 1;
        for (uint32_t i = (uint32_t)(from / cl->cl_size);
             i < cl->cl_nobjs && ((uint64_t)i * cl->cl_size >> FLY_PAGE_SHIFT) == pg; i++)
            fly_block_mark(base + (size_t)i * cl->cl_size);
        pageclass[pg] = (uint8_t)c;
        z->z_closed &= ~(1ull << pg);
        sl->sl_class[c].sc_reopened++;
        __atomic_fetch_sub(&sl->sl_closed_bytes, (int64_t)FLY_PAGE, __ATOMIC_RELAXED);
    }
}

void fly_slab_release(fly_zone_t *empty)
{
    while (empty) {
        fly_zone_t *next = empty->z_next;
        void *base = zone_base(empty);
        const fly_class_t *cl = &fly_classes[empty->z_class];
        size_t pages = cl->cl_zone_size >> FLY_PAGE_SHIFT;
        memset(&fly_region_of(base)->r_pageclass[fly_page_index(base)], FLY_PC_NONE, pages);
        fly_slab_t *sl = empty->z_slab;
        if (sl->sl_pass_growth)
            __atomic_fetch_sub(&sl->sl_free_bytes, (int64_t)cl->cl_nobjs * cl->cl_size, __ATOMIC_RELAXED);
        if (empty->z_closed)
            __atomic_fetch_sub(&sl->sl_closed_bytes,
                               (int64_t)__builtin_popcountll(empty->z_closed) << FLY_PAGE_SHIFT,
                               __ATOMIC_RELAXED);
        empty->z_class = 0;          /* fly_slab_valid: no object of a released zone is valid */
        fly_vmem_free(sl->sl_vmem, base, pages);
        empty = next;
    }
}

/* Whether sl's fills come from the bump engine now. */
FLY_INLINE bool bump_fills(const fly_slab_t *sl)
{
    return sl->sl_bump && !fly_bump_spilled();
}

bool fly_slab_secure;

/* Fisher-Yates: consecutive mallocs get unrelated slots. */
static void shuffle(void **objs, unsigned n)
{
    for (unsigned i = n; i > 1; i--) {
        unsigned j = fly_random_below(i);
        void *t = objs[i - 1];
        objs[i - 1] = objs[j];
        objs[j] = t;
    }
}

unsigned fly_slab_take_locked(fly_slab_t *sl, unsigned c, void **dst, unsigned want)
{
    if (fly_unlikely(bump_fills(sl)))
        return 0;
    fly_slab_class_t *sc = &sl->sl_class[c];
    const uint32_t size = fly_classes[c].cl_size;
    unsigned got = 0;
    while (got < want && sc->sc_partial) {
        fly_zone_t *z = sc->sc_partial;
        char *base = zone_base(z);
        uint32_t w = z->z_hint;
        while (got < want && z->z_nfree) {
            uint64_t bits = z->z_freemap[w];
            if (bits == 0) {
                w++;
                continue;
            }
            do {
                unsigned bit = (unsigned)__builtin_ctzll(bits);
                bits &= bits - 1;
                uint32_t idx = w * 64 + bit;
                if (fly_unlikely(idx >= z->z_open_slots))
                    zone_open(z, base, c, idx);
                else if (fly_unlikely(z->z_closed))
                    reopen_pages(sl, z, base, c, idx);
                dst[got++] = base + (size_t)idx * size;
                z->z_nfree--;
            } while (bits && got < want);
            z->z_freemap[w] = bits;
        }
        z->z_hint = (uint16_t)w;
        if (z->z_nfree == 0)
            partial_unlink(sc, z);
    }
    if (fly_unlikely(fly_slab_secure))
        shuffle(dst, got);
    sc->sc_objs_out += got;
    if (sl->sl_pass_growth)
        __atomic_fetch_sub(&sl->sl_free_bytes, (int64_t)got * size, __ATOMIC_RELAXED);
    fly_usage_note((int64_t)got * size);
    return got;
}

/* ---- sparse zones: purging their free pages ---- */

/* A pass runs, where the policy asks for passes (po_zone_purge_pages),
 * when the heap is about to take memory (a zone, or a large block), its
 * arena has handed out that many pages of new resident memory since the
 * last pass (pages that were cold or never used: recycled dirty pages do
 * not count, so a heap in steady churn runs none), and the zones' free
 * slots outside closed pages come to at least PASS_MIN_FREE.  A pass
 * closes pages in zones at least (PASS_DENSITY-1)/PASS_DENSITY free, up to
 * PASS_ZONES zones per class, each class in one batch with one purge per
 * run of pages. */
#define PASS_MIN_FREE    ((int64_t)1 << 20)
#define PASS_DENSITY     4
#define PASS_ZONES       FLY_PASS_ZONES
#define PASS_MAX_BACKOFF 63

/* The bits of map word w that lie in lo..hi. */
static uint64_t word_mask(uint32_t w, uint32_t lo, uint32_t hi)
{
    uint64_t m = ~0ull;
    if (w == lo / 64)
        m &= ~0ull << (lo % 64);
    if (w == hi / 64)
        m &= ~0ull >> (63 - hi % 64);
    return m;
}

/* Sets (or clears) the bits lo..hi of map; returns how many changed. */
static uint32_t bits_change(uint64_t *map, uint32_t lo, uint32_t hi, bool set)
{
    uint32_t changed = 0;
    for (uint32_t w = lo / 64; w <= hi / 64; w++) {
        uint64_t m = word_mask(w, lo, hi), old = map[w];
        map[w] = set ? old | m : old & ~m;
        changed += (uint32_t)__builtin_popcountll((old ^ map[w]) & m);
    }
    return changed;
}

/* Whether bits lo..hi of map are all set. */
static bool bits_all_set(const uint64_t *map, uint32_t lo, uint32_t hi)
{
    for (uint32_t w = lo / 64; w <= hi / 64; w++) {
        uint64_t m = word_mask(w, lo, hi);
        if ((map[w] & m) != m)
            return false;
    }
    return true;
}

/* The slots that overlap page pg of a zone of class cl: lo..hi; false if
 * none (a page of the zone's unused tail). */
static bool page_slots(const fly_class_t *cl, uint32_t pg, uint32_t *lo, uint32_t *hi)
{
    uint64_t first = ((uint64_t)pg << FLY_PAGE_SHIFT) / cl->cl_size;
    uint64_t last = (((uint64_t)(pg + 1) << FLY_PAGE_SHIFT) - 1) / cl->cl_size;
    if (first >= cl->cl_nobjs)
        return false;
    *lo = (uint32_t)first;
    *hi = (uint32_t)FLY_MIN(last, (uint64_t)cl->cl_nobjs - 1);
    return true;
}

/* Open pages of z, not closed yet, whose every slot is free. */
static uint64_t free_pages(const fly_zone_t *z, const fly_class_t *cl)
{
    uint64_t pages = 0;
    uint32_t open = FLY_MIN((uint32_t)z->z_open_pages, 64u);
    for (uint32_t pg = 0; pg < open; pg++) {
        uint32_t lo, hi;
        if (!((z->z_closed >> pg) & 1) && page_slots(cl, pg, &lo, &hi) &&
            bits_all_set(z->z_freemap, lo, hi))
            pages |= 1ull << pg;
    }
    return pages;
}

/* Takes (or gives back) the free map's bits of every slot that overlaps
 * the pages; returns how many. */
static uint32_t hold_slots(fly_zone_t *z, const fly_class_t *cl, uint64_t pages, bool give_back)
{
    uint32_t n = 0;
    while (pages) {
        uint32_t pg = (uint32_t)__builtin_ctzll(pages), lo, hi;
        pages &= pages - 1;
        if (page_slots(cl, pg, &lo, &hi))
            n += bits_change(z->z_freemap, lo, hi, give_back);
    }
    return n;
}

/* Whether class c sits this pass out: a class whose fills reopened half
 * the pages its last pass closed reuses its free space itself, so purging
 * it only costs page faults; it waits 1, 3, 7 ... passes (up to
 * PASS_MAX_BACKOFF), and a pass that pays resets the wait.  Class lock
 * held. */
static bool pass_skips(fly_slab_class_t *sc)
{
    if (sc->sc_pass_skip) {
        sc->sc_pass_skip--;
        return true;
    }
    bool wasted = sc->sc_closed_last && sc->sc_reopened * 2 >= sc->sc_closed_last;
    sc->sc_closed_last = sc->sc_reopened = 0;
    if (!wasted) {
        sc->sc_pass_backoff = 0;
        return false;
    }
    sc->sc_pass_backoff = (uint16_t)FLY_MIN(sc->sc_pass_backoff * 2u + 1, PASS_MAX_BACKOFF);
    sc->sc_pass_skip = sc->sc_pass_backoff;
    return true;
}

/* Gives the batch's held slots back to their zones (class lock held);
 * zones that become empty are chained on *empty. */
static void batch_return_locked(fly_slab_t *sl, fly_zone_t **empty)
{
    unsigned c = sl->sl_batch_class;
    fly_slab_class_t *sc = &sl->sl_class[c];
    for (unsigned i = 0; i < sl->sl_batch_n; i++) {
        fly_zone_t *z = sl->sl_batch[i].cz_zone;
        uint32_t back = hold_slots(z, &fly_classes[c], sl->sl_batch[i].cz_pages, true);
        if (z->z_nfree == 0 && back)
            partial_push(sc, z);
        z->z_nfree = (uint16_t)(z->z_nfree + back);
        z->z_hint = 0;
        if (z->z_nfree == z->z_nobjs && empty) {
            partial_unlink(sc, z);
            sc->sc_nzones--;
            sc->sc_zone_releases++;
            z->z_next = *empty;
            *empty = z;
        }
    }
    sl->sl_batch_n = 0;
}

/* Purges the free pages of up to PASS_ZONES sparse zones of class c. */
static void purge_class_os(fly_slab_t *sl, unsigned c)
{
    fly_slab_class_t *sc = &sl->sl_class[c];
    const fly_class_t *cl = &fly_classes[c];
    fly_closing_t *batch = sl->sl_batch;
    unsigned n = 0;
    fly_lock(&sc->sc_lock);
    if (pass_skips(sc)) {
        fly_unlock(&sc->sc_lock);
        return;
    }
    /* The head is the zone fills take from now: left alone. */
    fly_zone_t *z = sc->sc_partial ? sc->sc_partial->z_next : NULL;
    while (z && n < PASS_ZONES) {
        fly_zone_t *next = z->z_next;
        uint64_t pages = (uint32_t)z->z_nfree * PASS_DENSITY >= z->z_nobjs ? free_pages(z, cl) : 0;
        if (pages) {
            uint8_t *pageclass = &fly_region_of(z)->r_pageclass[fly_page_index(zone_base(z))];
            for (uint64_t m = pages; m; m &= m - 1)
                pageclass[__builtin_ctzll(m)] = FLY_PC_NONE;
            z->z_closed |= pages;
            sc->sc_closed_last += (uint32_t)__builtin_popcountll(pages);
            z->z_nfree = (uint16_t)(z->z_nfree - hold_slots(z, cl, pages, false));
            if (z->z_nfree == 0)
                partial_unlink(sc, z);
            batch[n++] = (fly_closing_t){ z, pages };
        }
        z = next;
    }
    sl->sl_batch_class = c;
    sl->sl_batch_n = n;
    fly_unlock(&sc->sc_lock);
    if (n == 0)
        return;
    uint64_t purged = 0;
    for (unsigned i = 0; i < n; i++) {
        char *base = zone_base(batch[i].cz_zone);
        uint64_t pages = batch[i].cz_pages;
        purged += (uint64_t)__builtin_popcountll(pages);
        while (pages) {
            uint32_t first = (uint32_t)__builtin_ctzll(pages);
            uint32_t len = (uint32_t)__builtin_ctzll(~(pages >> first));
            fly_os_purge(base + ((size_t)first << FLY_PAGE_SHIFT), (size_t)len << FLY_PAGE_SHIFT);
            pages &= len + first >= 64 ? 0 : ~0ull << (first + len);
        }
    }
    __atomic_fetch_add(&sl->sl_closed_bytes, (int64_t)(purged << FLY_PAGE_SHIFT), __ATOMIC_RELAXED);
    __atomic_fetch_add(&sl->sl_page_purges, purged, __ATOMIC_RELAXED);
    fly_zone_t *empty = NULL;
    fly_lock(&sc->sc_lock);
    batch_return_locked(sl, &empty);
    fly_unlock(&sc->sc_lock);
    fly_slab_release(empty);
}

void fly_slab_make_room_os(fly_slab_t *sl)
{
    if (sl->sl_pass_growth == 0)
        return;
    uint64_t fresh = __atomic_load_n(&sl->sl_vmem->vm_fresh_pages, __ATOMIC_RELAXED);
    if (fresh - __atomic_load_n(&sl->sl_fresh_seen, __ATOMIC_RELAXED) < sl->sl_pass_growth)
        return;
    int64_t free_bytes = __atomic_load_n(&sl->sl_free_bytes, __ATOMIC_RELAXED) -
                         __atomic_load_n(&sl->sl_closed_bytes, __ATOMIC_RELAXED);
    if (free_bytes < PASS_MIN_FREE || __atomic_exchange_n(&sl->sl_passing, 1, __ATOMIC_ACQUIRE))
        return;
    __atomic_store_n(&sl->sl_fresh_seen, fresh, __ATOMIC_RELAXED);
    for (unsigned c = 1; c <= fly_nclasses; c++)
        purge_class_os(sl, c);
    __atomic_store_n(&sl->sl_passing, 0, __ATOMIC_RELEASE);
}

/* Counts a zone of class c just made (class lock held). */
static void zone_made(fly_slab_t *sl, unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    if (sl->sl_pass_growth)
        __atomic_fetch_add(&sl->sl_free_bytes, (int64_t)cl->cl_nobjs * cl->cl_size, __ATOMIC_RELAXED);
}

unsigned fly_slab_fill_os(fly_slab_t *sl, unsigned c, void **dst, unsigned want)
{
    if (fly_unlikely(bump_fills(sl))) {
        unsigned got = fly_bump_carve_os(fly_classes[c].cl_size, c, dst, want);
        if (got || !fly_bump_spilled())
            return got;
    }
    fly_slab_class_t *sc = &sl->sl_class[c];
    fly_lock(&sc->sc_lock);
    unsigned got = fly_slab_take_locked(sl, c, dst, want);
    while (got < want) {
        bool open_whole = sc->sc_nzones > 0;
        fly_unlock(&sc->sc_lock);
        fly_slab_make_room_os(sl);
        fly_zone_t *z = zone_create_os(sl, c, open_whole);
        fly_lock(&sc->sc_lock);
        if (z == NULL)
            break;
        zone_made(sl, c);
        sc->sc_nzones++;
        sc->sc_zone_creates++;
        partial_push(sc, z);
        got += fly_slab_take_locked(sl, c, dst + got, want - got);
    }
    sc->sc_bursts++;
    fly_unlock(&sc->sc_lock);
    return got;
}

static const char *bad_free_reason(const void *p, unsigned c, fly_zone_t **zp, uint32_t *idxp)
{
    const fly_class_t *cl = &fly_classes[c];
    uintptr_t base = (uintptr_t)p & ~((uintptr_t)cl->cl_zone_size - 1);
    uint64_t off = (uintptr_t)p - base;
    uint32_t idx = fly_class_index(cl, off);
    fly_zone_t *z = fly_zone_slot(fly_region_of(p), (void *)base);
    if ((uint64_t)idx * cl->cl_size != off || idx >= cl->cl_nobjs || z->z_class != c)
        return "invalid pointer";
    *zp = z;
    *idxp = idx;
    return NULL;
}

bool fly_slab_valid(const void *p, unsigned c)
{
    fly_zone_t *z;
    uint32_t idx;
    return bad_free_reason(p, c, &z, &idx) == NULL;
}

fly_slab_t *fly_slab_of(const void *p)
{
    const fly_class_t *cl = &fly_classes[fly_region_of(p)->r_pageclass[fly_page_index(p)]];
    void *base = (void *)((uintptr_t)p & ~((uintptr_t)cl->cl_zone_size - 1));
    return fly_zone_slot(fly_region_of(p), base)->z_slab;
}

void fly_slab_put_locked(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n,
                         fly_zone_t **empty)
{
    fly_slab_class_t *sc = &sl->sl_class[c];
    for (unsigned i = 0; i < n; i++) {
        fly_zone_t *z;
        uint32_t idx;
        const char *bad = bad_free_reason(objs[i], c, &z, &idx);
        if (bad == NULL && (z->z_freemap[idx / 64] >> (idx % 64)) & 1)
            bad = "double free";
        if (bad)
            fly_panic_ptr("free", bad, objs[i]);
        FLY_ASSERT(z->z_slab == sl);
        z->z_freemap[idx / 64] |= 1ull << (idx % 64);
        if (idx / 64 < z->z_hint)
            z->z_hint = (uint16_t)(idx / 64);
        if (++z->z_nfree == 1)
            partial_push(sc, z);
        if (z->z_nfree == z->z_nobjs) {
            partial_unlink(sc, z);
            sc->sc_nzones--;
            sc->sc_zone_releases++;
            z->z_next = *empty;
            *empty = z;
        }
    }
    sc->sc_objs_out -= n;
    if (sl->sl_pass_growth)
        __atomic_fetch_add(&sl->sl_free_bytes, (int64_t)n * fly_classes[c].cl_size, __ATOMIC_RELAXED);
    fly_usage_note(-(int64_t)n * fly_classes[c].cl_size);
}

/* Puts n objects of sl's own zones back: lock, put, unlock, release. */
static void put_own(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n)
{
    fly_zone_t *empty = NULL;
    fly_lock(&sl->sl_class[c].sc_lock);
    fly_slab_put_locked(sl, c, objs, n, &empty);
    fly_unlock(&sl->sl_class[c].sc_lock);
    fly_slab_release(empty);
}

unsigned fly_slab_keep_own(fly_slab_t *sl, unsigned c, void **objs, unsigned n)
{
    if (fly_likely(__atomic_load_n(&slab_count, __ATOMIC_RELAXED) <= 1))
        return n;
    /* Foreign objects are gathered at the back, then sent home one heap at
     * a time: a lock per home, not per object. */
    unsigned own = 0, back = n;
    for (unsigned i = 0; i < back;) {
        void *p = objs[i];
        fly_zone_t *z;
        uint32_t idx;
        const char *bad = bad_free_reason(p, c, &z, &idx);
        if (bad)
            fly_panic_ptr("free", bad, p);
        if (z->z_slab == sl) {
            objs[own++] = p;
            i++;
        } else {
            objs[i] = objs[--back];
            objs[back] = p;
        }
    }
    while (back < n) {
        fly_slab_t *home = fly_slab_of(objs[back]);
        unsigned same = back;
        for (unsigned i = back; i < n; i++) {
            void *p = objs[i];
            if (fly_slab_of(p) == home) {
                objs[i] = objs[same];
                objs[same++] = p;
            }
        }
        put_own(home, c, objs + back, same - back);
        __atomic_fetch_add(&home->sl_came_home, same - back, __ATOMIC_RELAXED);
        back = same;
    }
    return own;
}

fly_slab_t *fly_slab_foreign_home(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n)
{
    if (fly_likely(__atomic_load_n(&slab_count, __ATOMIC_RELAXED) <= 1) || n == 0)
        return NULL;
    fly_slab_t *home = NULL;
    for (unsigned i = 0; i < n; i++) {
        fly_zone_t *z;
        uint32_t idx;
        const char *bad = bad_free_reason(objs[i], c, &z, &idx);
        if (bad)
            fly_panic_ptr("free", bad, objs[i]);
        if (z->z_slab == sl || (home && z->z_slab != home))
            return NULL;
        home = z->z_slab;
    }
    return home;
}

/* Gives the bump engine's objects of objs[0..n) back to it and packs the
 * others at the front; returns how many others. */
static unsigned give_back_bump(void **objs, unsigned n)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < n; i++) {
        if (fly_region_kind(objs[i]) == FLY_REGION_MAP_BUMP)
            fly_bump_give_back(&objs[i], 1);
        else
            objs[kept++] = objs[i];
    }
    return kept;
}

void fly_slab_put(fly_slab_t *sl, unsigned c, void *const *objs, unsigned n)
{
    if (fly_likely(__atomic_load_n(&slab_count, __ATOMIC_RELAXED) <= 1) && !sl->sl_bump) {
        put_own(sl, c, objs, n);
        return;
    }
    /* The caller's array is left as it was: foreign objects are sorted out
     * in batches on the stack. */
    void *batch[64];
    while (n) {
        unsigned k = FLY_MIN(n, 64u);
        memcpy(batch, objs, k * sizeof(void *));
        unsigned kept = sl->sl_bump ? give_back_bump(batch, k) : k;
        unsigned own = fly_slab_keep_own(sl, c, batch, kept);
        if (own)
            put_own(sl, c, batch, own);
        objs += k;
        n -= k;
    }
}

void fly_slab_lock_all(fly_slab_t *sl)
{
    for (unsigned c = 1; c <= FLY_MAX_CLASSES; c++)
        fly_lock(&sl->sl_class[c].sc_lock);
}

void fly_slab_unlock_all(fly_slab_t *sl, bool child)
{
    for (unsigned c = 1; c <= FLY_MAX_CLASSES; c++) {
        if (child)
            fly_lock_reinit(&sl->sl_class[c].sc_lock);
        else
            fly_unlock(&sl->sl_class[c].sc_lock);
    }
    if (child && sl->sl_passing) {
        /* The thread running a pass is not in the child: its held slots
         * go back (their pages stay closed, as after any pass), an empty
         * zone stays on the partial list. */
        batch_return_locked(sl, NULL);
        sl->sl_passing = 0;
    }
}
