/*
 * test_slab.c: proves the slab layer's promises (src/slab.c) on the
 * default heap's slab, through classes nothing else in this process uses.
 *
 *   carving        a fill that finds no partial zone creates exactly one
 *                  zone (sc_zone_creates, sc_nzones, the arena's used pages
 *                  up by the zone's pages) and carves it whole: cl_nobjs
 *                  objects, distinct, every one at a multiple of the class
 *                  size from the zone's base, all inside the zone (none in
 *                  its unused tail), the zone aligned to its size; its
 *                  descriptor says class, count and no free object, every
 *                  page of it has the class as page class, and
 *                  sc_objs_out counts the objects;
 *   partial_list   a zone with some objects returned is on sc_partial with
 *                  exactly those free (z_nfree, bitmap), the last zone to
 *                  gain a free object is at the head, a zone with none free
 *                  is not on it, and the next fill hands back exactly the
 *                  returned objects;
 *   zone_release   over three zones returned in random order, at every step
 *                  a zone is on sc_partial exactly when it holds free and
 *                  used objects; returning every object of a zone gives it
 *                  back to the arena (sc_zone_releases up, sc_nzones down,
 *                  used pages down and dirty pages up by the zone's pages,
 *                  its page classes cleared to FLY_PC_NONE);
 *   slab_valid     fly_slab_valid accepts the start of every object of a
 *                  live zone and rejects pointers into an object, into the
 *                  zone's unused tail, and objects of another class's zone
 *                  (also one whose size divides the offset);
 *   bad_puts       (forked children) putting an object back twice panics
 *                  with "flymalloc: free(): double free 0x..." and SIGABRT,
 *                  and putting a pointer into an object back panics with
 *                  "invalid pointer".
 */
#include "badcase.h"
#include "check.h"
#include "flymalloc.h"
#include "freemark.h"
#include "heap.h"
#include "slab.h"
#include "vmem.h"

#define SLAB (&fly_heap_default.hp_slab)
#define VM (fly_heap_default.hp_vmem)
#define SC(c) (&fly_heap_default.hp_slab.sl_class[c])

static void *objs[3 * FLY_ZONE_MAX_OBJS];

static uintptr_t zone_base_of(const void *p, unsigned c)
{
    return (uintptr_t)p & ~((uintptr_t)fly_classes[c].cl_zone_size - 1);
}

static fly_zone_t *zone_of(const void *p, unsigned c)
{
    return fly_zone_slot(fly_region_of(p), (void *)zone_base_of(p, c));
}

static bool on_partial(unsigned c, const fly_zone_t *z)
{
    for (fly_zone_t *q = SC(c)->sc_partial; q; q = q->z_next)
        if (q == z)
            return true;
    return false;
}

static unsigned zone_pageclass(uintptr_t base, unsigned c, bool *uniform)
{
    fly_region_t *r = fly_region_of((void *)base);
    uint32_t first = fly_page_index((void *)base);
    unsigned pc = r->r_pageclass[first];
    *uniform = true;
    for (uint32_t i = 0; i < (fly_classes[c].cl_zone_size >> FLY_PAGE_SHIFT); i++)
        if (r->r_pageclass[first + i] != pc)
            *uniform = false;
    return pc;
}

static bool is_free_in_zone(const void *p, unsigned c)
{
    fly_zone_t *z = zone_of(p, c);
    uint32_t idx = (uint32_t)(((uintptr_t)p - zone_base_of(p, c)) / fly_classes[c].cl_size);
    return (z->z_freemap[idx / 64] >> (idx % 64)) & 1;
}

static void class_unused(unsigned c);

/* A zone opens as fills reach its pages: one object taken from a fresh
 * zone opens its first page alone, with every slot there marked free; the
 * next fill that goes past it opens through the page it reaches. */
static void opens_by_page(unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    class_unused(c);
    CHECK(fly_slab_fill_os(SLAB, c, objs, 1) == 1, "class %u: no object", c);
    uintptr_t base = zone_base_of(objs[0], c);
    fly_zone_t *z = zone_of(objs[0], c);
    const uint8_t *pcs = &fly_region_of((void *)base)->r_pageclass[fly_page_index((void *)base)];
    uint32_t per_page = (uint32_t)((FLY_PAGE + cl->cl_size - 1) / cl->cl_size);
    CHECK(z->z_open_pages == 1 && z->z_open_slots == per_page && pcs[0] == c && pcs[1] == FLY_PC_NONE,
          "class %u: one object opened %u pages, %u slots (page classes %u %u)", c, z->z_open_pages,
          z->z_open_slots, pcs[0], pcs[1]);
    for (uint32_t i = 1; i < per_page; i++)
        CHECK(fly_block_is_marked((char *)base + (size_t)i * cl->cl_size), "class %u: slot %u of the open page "
              "is not marked free", c, i);
    unsigned more = per_page + 1;
    CHECK(fly_slab_fill_os(SLAB, c, objs + 1, more) == more, "class %u: second fill", c);
    uint32_t want = (uint32_t)(((uint64_t)more * cl->cl_size >> FLY_PAGE_SHIFT) + 1);
    CHECK(z->z_open_pages == want && pcs[want - 1] == c && pcs[want] == FLY_PC_NONE,
          "class %u: %u objects opened %u pages, expected %u", c, more + 1, z->z_open_pages, want);
    fly_slab_put(SLAB, c, objs, more + 1);
}

static void class_unused(unsigned c)
{
    CHECK(SC(c)->sc_partial == NULL && SC(c)->sc_nzones == 0 && SC(c)->sc_objs_out == 0,
          "class %u (%u bytes) was used before the test", c, fly_classes[c].cl_size);
}

/* Fills a whole zone of an unused class and checks its carving. */
static void carving(unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    fly_slab_class_t *sc = SC(c);
    class_unused(c);
    uint64_t creates = sc->sc_zone_creates, used = VM->vm_used_pages;
    size_t zpages = cl->cl_zone_size >> FLY_PAGE_SHIFT;
    unsigned got = fly_slab_fill_os(SLAB, c, objs, cl->cl_nobjs);
    CHECK(got == cl->cl_nobjs, "class %u: fill gave %u of %u objects", c, got, cl->cl_nobjs);
    CHECK(sc->sc_zone_creates == creates + 1 && sc->sc_nzones == 1,
          "class %u: a zone's worth made %llu zones (%llu live)", c,
          (unsigned long long)(sc->sc_zone_creates - creates), (unsigned long long)sc->sc_nzones);
    CHECK(VM->vm_used_pages == used + zpages, "class %u: arena used pages %llu -> %llu, zone is %zu",
          c, (unsigned long long)used, (unsigned long long)VM->vm_used_pages, zpages);
    CHECK(sc->sc_objs_out == cl->cl_nobjs, "class %u: sc_objs_out %llu", c,
          (unsigned long long)sc->sc_objs_out);
    uintptr_t base = zone_base_of(objs[0], c);
    CHECK(base % cl->cl_zone_size == 0 && fly_region_kind((void *)base) == FLY_REGION_MAP_HEAP,
          "class %u: zone base %#lx", c, (unsigned long)base);
    static uint64_t seen[FLY_ZONE_MAX_OBJS / 64];
    memset(seen, 0, sizeof seen);
    for (unsigned i = 0; i < got; i++) {
        uintptr_t p = (uintptr_t)objs[i];
        CHECK(p >= base && p < base + cl->cl_zone_size, "class %u: object %#lx outside zone %#lx",
              c, (unsigned long)p, (unsigned long)base);
        uintptr_t off = p - base;
        CHECK(off % cl->cl_size == 0, "class %u: object at offset %lu, size %u", c,
              (unsigned long)off, cl->cl_size);
        CHECK(off + cl->cl_size <= (uintptr_t)cl->cl_nobjs * cl->cl_size,
              "class %u: object at offset %lu is in the zone's tail", c, (unsigned long)off);
        uint32_t idx = (uint32_t)(off / cl->cl_size);
        CHECK(!((seen[idx / 64] >> (idx % 64)) & 1), "class %u: object %u handed out twice", c, idx);
        seen[idx / 64] |= 1ull << (idx % 64);
    }
    fly_zone_t *z = zone_of(objs[0], c);
    CHECK(z->z_class == c && z->z_nobjs == cl->cl_nobjs && z->z_nfree == 0 && z->z_slab == SLAB,
          "class %u: descriptor class %u nobjs %u nfree %u", c, z->z_class, z->z_nobjs, z->z_nfree);
    for (unsigned w = 0; w < FLY_ZONE_MAX_OBJS / 64; w++)
        CHECK(z->z_freemap[w] == 0, "class %u: free bits left in word %u of a carved zone", c, w);
    /* Every page where a slot starts is open (has the class); the tail
     * after the last slot's first page is not. */
    size_t open_pages = (((size_t)cl->cl_nobjs - 1) * cl->cl_size >> FLY_PAGE_SHIFT) + 1;
    const uint8_t *pcs = &fly_region_of((void *)base)->r_pageclass[fly_page_index((void *)base)];
    for (size_t i = 0; i < zpages; i++)
        CHECK(pcs[i] == (i < open_pages ? c : FLY_PC_NONE), "class %u: page %zu of %zu has class %u", c,
              i, zpages, pcs[i]);
    bool uniform;
    unsigned pc;
    CHECK(!on_partial(c, z) && sc->sc_partial == NULL, "class %u: a zone with no free object is on the partial list", c);

    /* Back whole: the zone goes back to the arena. */
    uint64_t releases = sc->sc_zone_releases, dirty = VM->vm_dirty_pages;
    used = VM->vm_used_pages;
    fly_slab_put(SLAB, c, objs, got);
    CHECK(sc->sc_zone_releases == releases + 1 && sc->sc_nzones == 0 && sc->sc_objs_out == 0,
          "class %u: emptied zone not released (releases +%llu, zones %llu)", c,
          (unsigned long long)(sc->sc_zone_releases - releases), (unsigned long long)sc->sc_nzones);
    CHECK(VM->vm_used_pages == used - zpages && VM->vm_dirty_pages >= dirty + zpages,
          "class %u: arena used %llu -> %llu, dirty %llu -> %llu after a %zu-page zone came back", c,
          (unsigned long long)used, (unsigned long long)VM->vm_used_pages,
          (unsigned long long)dirty, (unsigned long long)VM->vm_dirty_pages, zpages);
    pc = zone_pageclass(base, c, &uniform);
    CHECK(uniform && pc == FLY_PC_NONE, "class %u: released zone's page class %u", c, pc);
    CHECK(sc->sc_partial == NULL, "class %u: released zone left on the partial list", c);
    CHECK(!fly_slab_valid(objs[0], c), "class %u: an object of a released zone is still valid", c);
}

static void partial_list(unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    fly_slab_class_t *sc = SC(c);
    class_unused(c);
    /* Two zones, both carved whole. */
    unsigned n = 2 * cl->cl_nobjs;
    CHECK(fly_slab_fill_os(SLAB, c, objs, n) == n, "fill of two zones");
    CHECK(sc->sc_nzones == 2 && sc->sc_partial == NULL, "two full zones: %llu zones, partial %p",
          (unsigned long long)sc->sc_nzones, (void *)sc->sc_partial);
    fly_zone_t *za = zone_of(objs[0], c), *zb = zone_of(objs[n - 1], c);
    CHECK(za != zb, "two zones' worth came from one zone");
    /* Every third object of zone a back. */
    static void *back[FLY_ZONE_MAX_OBJS];
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (zone_of(objs[i], c) == za && i % 3 == 0)
            back[k++] = objs[i];
    fly_slab_put(SLAB, c, back, k);
    CHECK(on_partial(c, za) && !on_partial(c, zb), "zone with %u free: on partial %d; full zone on partial %d",
          k, on_partial(c, za), on_partial(c, zb));
    CHECK(za->z_nfree == k && zb->z_nfree == 0, "z_nfree %u (want %u), full zone's %u", za->z_nfree, k,
          zb->z_nfree);
    for (unsigned i = 0; i < n; i++)
        if (zone_of(objs[i], c) == za)
            CHECK(is_free_in_zone(objs[i], c) == (i % 3 == 0), "object %u's free bit wrong", i);
    /* One object of zone b back: b is now the head. */
    void *one = NULL;
    for (unsigned i = 0; i < n && !one; i++)
        if (zone_of(objs[i], c) == zb)
            one = objs[i];
    fly_slab_put(SLAB, c, &one, 1);
    CHECK(sc->sc_partial == zb && zb->z_next == za && za->z_prev == zb,
          "the zone that last gained a free object is not at the head");
    /* The next fills take exactly the free objects, then the zones leave the list. */
    static void *again[FLY_ZONE_MAX_OBJS + 1];
    uint64_t creates = sc->sc_zone_creates;
    CHECK(fly_slab_fill_os(SLAB, c, again, k + 1) == k + 1, "refill");
    CHECK(sc->sc_zone_creates == creates, "a fill made a zone while partial zones had room");
    CHECK(again[0] == one, "the head zone's free object did not come first");
    for (unsigned i = 1; i <= k; i++)
        CHECK(again[i] == back[i - 1], "refill %u: got %p, returned %p", i, again[i], back[i - 1]);
    CHECK(sc->sc_partial == NULL && za->z_nfree == 0 && zb->z_nfree == 0, "zones with none free left on partial");
    fly_slab_put(SLAB, c, objs, n);
    CHECK(sc->sc_nzones == 0 && sc->sc_objs_out == 0, "class %u not empty at the end", c);
}

/* Three zones; their objects come back in a random order in random-sized
 * batches, and the partial list is checked after each. */
static void zone_release(unsigned c)
{
    const fly_class_t *cl = &fly_classes[c];
    fly_slab_class_t *sc = SC(c);
    class_unused(c);
    unsigned n = 3 * cl->cl_nobjs;
    CHECK(fly_slab_fill_os(SLAB, c, objs, n) == n, "fill of three zones");
    fly_zone_t *zones[3];
    unsigned out[3] = { 0, 0, 0 }, nz = 0;
    uintptr_t bases[3];
    for (unsigned i = 0; i < n; i++) {
        fly_zone_t *z = zone_of(objs[i], c);
        unsigned j = 0;
        while (j < nz && zones[j] != z)
            j++;
        if (j == nz) {
            CHECK(nz < 3, "three zones' worth spread over more than three zones");
            bases[nz] = zone_base_of(objs[i], c);
            zones[nz++] = z;
        }
        out[j]++;
    }
    CHECK(nz == 3, "%u zones", nz);
    uint64_t seed = 0x51ab + c;
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = (unsigned)(t_rand(&seed) % (i + 1));
        void *t = objs[i];
        objs[i] = objs[j];
        objs[j] = t;
    }
    uint64_t releases = sc->sc_zone_releases;
    unsigned released = 0;
    size_t zpages = cl->cl_zone_size >> FLY_PAGE_SHIFT;
    for (unsigned at = 0; at < n;) {
        unsigned batch = 1 + (unsigned)(t_rand(&seed) % 64);
        if (batch > n - at)
            batch = n - at;
        /* Which zones the batch empties, to predict the used pages. */
        unsigned before[3] = { out[0], out[1], out[2] };
        for (unsigned i = at; i < at + batch; i++)
            for (unsigned j = 0; j < 3; j++)
                if (zone_base_of(objs[i], c) == bases[j])
                    out[j]--;
        unsigned emptied = 0;
        for (unsigned j = 0; j < 3; j++)
            emptied += before[j] > 0 && out[j] == 0;
        uint64_t used = VM->vm_used_pages;
        fly_slab_put(SLAB, c, objs + at, batch);
        at += batch;
        released += emptied;
        CHECK(sc->sc_zone_releases == releases + released, "%u zones emptied, %llu released", released,
              (unsigned long long)(sc->sc_zone_releases - releases));
        CHECK(VM->vm_used_pages == used - emptied * zpages, "used pages %llu -> %llu, %u zones emptied",
              (unsigned long long)used, (unsigned long long)VM->vm_used_pages, emptied);
        CHECK(sc->sc_nzones == 3 - released, "sc_nzones %llu", (unsigned long long)sc->sc_nzones);
        for (unsigned j = 0; j < 3; j++) {
            bool uniform;
            unsigned pc = zone_pageclass(bases[j], c, &uniform);
            if (out[j] == 0) {
                CHECK(!on_partial(c, zones[j]), "released zone %u on the partial list", j);
                CHECK(uniform && pc == FLY_PC_NONE, "released zone %u: page class %u", j, pc);
            } else {
                CHECK(on_partial(c, zones[j]) == (out[j] < cl->cl_nobjs),
                      "zone %u with %u of %u out: on partial %d", j, out[j], cl->cl_nobjs,
                      on_partial(c, zones[j]));
                CHECK(zones[j]->z_nfree == cl->cl_nobjs - out[j], "zone %u: z_nfree %u, want %u", j,
                      zones[j]->z_nfree, cl->cl_nobjs - out[j]);
                CHECK(uniform && pc == c, "live zone %u: page class %u", j, pc);
            }
        }
    }
    CHECK(released == 3 && sc->sc_nzones == 0 && sc->sc_partial == NULL && sc->sc_objs_out == 0,
          "class %u not empty at the end", c);
}

static void slab_valid(unsigned c, unsigned other)
{
    const fly_class_t *cl = &fly_classes[c];
    CHECK(fly_slab_fill_os(SLAB, c, objs, cl->cl_nobjs) == cl->cl_nobjs, "fill");
    void *o = NULL;
    CHECK(fly_slab_fill_os(SLAB, other, &o, 1) == 1, "fill of the other class");
    for (unsigned i = 0; i < cl->cl_nobjs; i++) {
        char *p = objs[i];
        CHECK(fly_slab_valid(p, c), "object %p of class %u rejected", (void *)p, c);
        CHECK(!fly_slab_valid(p + 1, c) && !fly_slab_valid(p + cl->cl_size / 2, c) &&
                  !fly_slab_valid(p + cl->cl_size - 1, c),
              "a pointer into object %p accepted", (void *)p);
        CHECK(!fly_slab_valid(p, other), "object %p of class %u accepted as class %u", (void *)p, c,
              other);
    }
    char *base = (char *)zone_base_of(objs[0], c);
    size_t tail = cl->cl_zone_size - (size_t)cl->cl_nobjs * cl->cl_size;
    if (tail >= cl->cl_size / 8 && tail > 0) {
        char *t = base + (size_t)cl->cl_nobjs * cl->cl_size;
        CHECK(!fly_slab_valid(t, c), "the zone's tail %p accepted (tail %zu bytes)", (void *)t, tail);
    }
    CHECK(!fly_slab_valid(o, c), "class %u's object %p accepted as class %u", other, o, c);
    CHECK(fly_slab_valid(o, other), "class %u's object %p rejected", other, o);
    fly_slab_put(SLAB, c, objs, cl->cl_nobjs);
    fly_slab_put(SLAB, other, &o, 1);
}

static unsigned bad_class;

static void double_put(void)
{
    void *two[2];
    CHECK(fly_slab_fill_os(SLAB, bad_class, two, 2) == 2, "fill");
    bad_expect(two[0]);
    fly_slab_put(SLAB, bad_class, two, 1);
    fly_slab_put(SLAB, bad_class, two, 1);
}

static void double_put_in_one_batch(void)
{
    void *three[3];
    CHECK(fly_slab_fill_os(SLAB, bad_class, three, 3) == 3, "fill");
    three[2] = three[1];
    bad_expect(three[1]);
    fly_slab_put(SLAB, bad_class, three, 3);
}

static void interior_put(void)
{
    void *two[2];
    CHECK(fly_slab_fill_os(SLAB, bad_class, two, 2) == 2, "fill");
    void *bad = (char *)two[1] + 16;
    bad_expect(bad);
    fly_slab_put(SLAB, bad_class, &bad, 1);
}

int main(void)
{
    fly_free(fly_malloc(224));        /* initialized, for certain (a class not tested here) */
    /* Classes no other part of this process touches: 16 bytes (4096
     * objects: every bitmap word), 48 (1365: a partial last word), 3072
     * (21 objects and a 1 KiB tail), 32 KiB (8 objects in a 256 KiB zone). */
    unsigned c16 = fly_class_of(16), c48 = fly_class_of(48), c3k = fly_class_of(3072),
             c32k = fly_class_of(32768);
    CHECK(fly_classes[c3k].cl_size == 3072 && fly_classes[c48].cl_size == 48, "class sizes moved");
    opens_by_page(fly_class_of(176));
    carving(c16);
    carving(c48);
    carving(c3k);
    carving(c32k);
    partial_list(fly_class_of(112));
    partial_list(fly_class_of(5120));
    zone_release(fly_class_of(80));
    zone_release(fly_class_of(1280));
    slab_valid(c3k, fly_class_of(1536));      /* 1536 divides 3072's offsets */
    slab_valid(c48, fly_class_of(16));
    slab_valid(fly_class_of(32768), fly_class_of(16384));
    bad_class = fly_class_of(640);
    bad_case("slab double put", "free", "double free", double_put);
    bad_case("slab double put in one batch", "free", "double free", double_put_in_one_batch);
    bad_case("slab put of an interior ptr", "free", "invalid pointer", interior_put);
    return bad_finish();
}
