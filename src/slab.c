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
#include "usage.h"
#include "vmem.h"
#include <string.h>

/* Slabs made so far (atomic): above one, cached objects may be foreign. */
static uint32_t slab_count;

void fly_slab_init(fly_slab_t *sl, fly_vmem_t *vm, bool bump)
{
    memset(sl, 0, sizeof(*sl));
    sl->sl_bump = bump;
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

void fly_slab_release(fly_zone_t *empty)
{
    while (empty) {
        fly_zone_t *next = empty->z_next;
        void *base = zone_base(empty);
        const fly_class_t *cl = &fly_classes[empty->z_class];
        size_t pages = cl->cl_zone_size >> FLY_PAGE_SHIFT;
        memset(&fly_region_of(base)->r_pageclass[fly_page_index(base)], FLY_PC_NONE, pages);
        empty->z_class = 0;          /* fly_slab_valid: no object of a released zone is valid */
        fly_vmem_free(empty->z_slab->sl_vmem, base, pages);
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
    fly_usage_note((int64_t)got * size);
    return got;
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
        fly_zone_t *z = zone_create_os(sl, c, open_whole);
        fly_lock(&sc->sc_lock);
        if (z == NULL)
            break;
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
}
