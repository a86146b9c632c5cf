/*
 * test_sparse.c: sparse zones give their free pages back (src/slab.c),
 * under the compact policy, which asks for it (po_zone_purge_pages; the
 * test re-executes itself with the policy set).  A phase fills zones of
 * one class and frees most of its objects, keeping one in KEEP_EVERY; the
 * next phase allocates another class, which needs new zones while the
 * first class's zones are mostly free.
 *
 *   purge       the second phase's zone making runs a pass: pages of the
 *               first class's zones whose every slot is free are purged
 *               (the slab's purge count, fewer resident pages than the
 *               zones have) and closed (page class none); a zone's
 *               partial-list head is left alone
 *   kept        every kept object still holds its pattern, and so does
 *               every object of the second phase
 *   reopen      allocating the first class again reopens closed pages:
 *               every object handed out is distinct from the kept ones,
 *               writable, and its page has the class again; once
 *               everything is freed, every slot is free in its zone or in
 *               a cache (none lost in a closed page) and no more zones
 *               are left than the depot's bound can hold
 *   bad cases   (forked children) freeing a slot of a closed page panics
 *               "invalid pointer"; freeing a kept object twice still
 *               panics "double free"
 */
#include "badcase.h"
#include "check.h"
#include "flymalloc.h"
#include "freemark.h"
#include "heap.h"
#include "os.h"
#include "slab.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLAB (&fly_heap_default.hp_slab)
#define SC(c) (&fly_heap_default.hp_slab.sl_class[c])
#define FIRST_SIZE 640
#define SECOND_SIZE 1024
#define FIRST_ZONES 40
#define KEEP_EVERY 16
#define SECOND_COUNT (24 * 64)

static char *first[FIRST_ZONES * 128];
static char *first_addr[FIRST_ZONES * 128];     /* also of the freed ones */
static char *second[SECOND_COUNT];
static char *again[FIRST_ZONES * 128];
static unsigned nfirst, nagain;

static unsigned page_class_of(const void *p)
{
    return fly_region_of(p)->r_pageclass[fly_page_index(p)];
}

static void fill(char *p, size_t n, unsigned seed)
{
    memset(p, (int)(seed * 7 + 1) & 0xff, n);
}

static bool intact(const char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != ((seed * 7 + 1) & 0xff))
            return false;
    return true;
}

static void flush(void)
{
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "flush");
}

/* First phase: FIRST_ZONES zones of FIRST_SIZE, all but one in KEEP_EVERY
 * freed. */
static void sparse_first_class(void)
{
    unsigned c = fly_class_of(FIRST_SIZE);
    nfirst = FIRST_ZONES * fly_classes[c].cl_nobjs;
    for (unsigned i = 0; i < nfirst; i++) {
        first[i] = first_addr[i] = fly_malloc(FIRST_SIZE);
        CHECK(first[i] != NULL, "malloc");
        fill(first[i], FIRST_SIZE, i);
    }
    for (unsigned i = 0; i < nfirst; i++)
        if (i % KEEP_EVERY) {
            fly_free(first[i]);
            first[i] = NULL;
        }
    flush();
}

static uint64_t resident_zone_bytes(unsigned c)
{
    uint64_t total = 0;
    size_t zone = fly_classes[c].cl_zone_size;
    for (unsigned i = 0; i < nfirst; i += KEEP_EVERY) {
        uintptr_t base = (uintptr_t)first[i] & ~(uintptr_t)(zone - 1);
        if (i == 0 || base != ((uintptr_t)first[i - KEEP_EVERY] & ~(uintptr_t)(zone - 1)))
            total += fly_os_resident_bytes((void *)base, zone);
    }
    return total;
}

static void purge(void)
{
    unsigned c = fly_class_of(FIRST_SIZE);
    uint64_t zone_bytes = (uint64_t)FIRST_ZONES * fly_classes[c].cl_zone_size;
    uint64_t before = resident_zone_bytes(c);
    uint64_t purges = SLAB->sl_page_purges;
    CHECK(before > zone_bytes * 9 / 10, "first class: %llu of %llu bytes resident before",
          (unsigned long long)before, (unsigned long long)zone_bytes);
    for (unsigned i = 0; i < SECOND_COUNT; i++) {
        second[i] = fly_malloc(SECOND_SIZE);
        CHECK(second[i] != NULL, "malloc");
        fill(second[i], SECOND_SIZE, i + 1000);
    }
    uint64_t after = resident_zone_bytes(c);
    CHECK(SLAB->sl_page_purges > purges, "no page purged (%llu)",
          (unsigned long long)SLAB->sl_page_purges);
    CHECK(after < before / 2, "first class: resident %llu -> %llu bytes", (unsigned long long)before,
          (unsigned long long)after);
    unsigned closed = 0;
    for (fly_zone_t *z = SC(c)->sc_partial; z; z = z->z_next)
        closed += z != SC(c)->sc_partial && z->z_closed != 0;
    CHECK(closed >= FIRST_ZONES / 2, "only %u zones have closed pages", closed);
    CHECK(SC(c)->sc_partial == NULL || SC(c)->sc_partial->z_closed == 0, "the head zone was closed");
    /* A closed page's class is none; a kept object's page keeps its class. */
    for (unsigned i = 0; i < nfirst; i += KEEP_EVERY)
        CHECK(page_class_of(first[i]) == c, "kept object %u: page class %u", i, page_class_of(first[i]));
}

static void kept(void)
{
    for (unsigned i = 0; i < nfirst; i += KEEP_EVERY)
        CHECK(intact(first[i], FIRST_SIZE, i), "kept object %u lost its contents", i);
    for (unsigned i = 0; i < SECOND_COUNT; i++)
        CHECK(intact(second[i], SECOND_SIZE, i + 1000), "second-phase object %u lost its contents", i);
}

static void reopen(void)
{
    unsigned c = fly_class_of(FIRST_SIZE);
    nagain = nfirst - nfirst / KEEP_EVERY;
    for (unsigned i = 0; i < nagain; i++) {
        again[i] = fly_malloc(FIRST_SIZE);
        CHECK(again[i] != NULL, "malloc");
        CHECK(page_class_of(again[i]) == c, "object %u in a page of class %u", i, page_class_of(again[i]));
        fill(again[i], FIRST_SIZE, i + 5000);
    }
    for (unsigned i = 0; i < nfirst; i += KEEP_EVERY)
        CHECK(intact(first[i], FIRST_SIZE, i), "kept object %u changed by the reopening", i);
    for (unsigned i = 0; i < nagain; i++)
        CHECK(intact(again[i], FIRST_SIZE, i + 5000), "object %u shared", i);
    for (unsigned i = 0; i < nagain; i++)
        fly_free(again[i]);
    for (unsigned i = 0; i < nfirst; i += KEEP_EVERY)
        fly_free(first[i]);
    flush();
    /* Every slot is free in its zone or held by a cache: none is lost in
     * a closed page, and no zone has a closed page left behind unfree. */
    uint64_t free_slots = 0;
    for (fly_zone_t *z = SC(c)->sc_partial; z; z = z->z_next)
        free_slots += z->z_nfree;
    CHECK(SC(c)->sc_nzones * fly_classes[c].cl_nobjs == free_slots + SC(c)->sc_objs_out,
          "first class: %llu zones of %u slots, %llu free, %llu out", (unsigned long long)SC(c)->sc_nzones,
          fly_classes[c].cl_nobjs, (unsigned long long)free_slots, (unsigned long long)SC(c)->sc_objs_out);
    CHECK(SC(c)->sc_nzones <= 3, "first class: %llu zones left after every object was freed",
          (unsigned long long)SC(c)->sc_nzones);
}

/* ---- bad cases (run first, in children, on the state after purge) ---- */

static char *closed_slot;

static void free_closed_slot(void)
{
    bad_expect(closed_slot);
    fly_free(closed_slot);
}

static void free_kept_twice(void)
{
    bad_expect(first[0]);
    fly_free(first[0]);
    fly_free(first[0]);
}

static char *find_closed_slot(void)
{
    for (unsigned i = 0; i < nfirst; i++)
        if (i % KEEP_EVERY && page_class_of(first_addr[i]) == FLY_PC_NONE)
            return first_addr[i];
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *policy = getenv("FLYMALLOC_POLICY");
    if (policy == NULL || strcmp(policy, "compact") != 0) {
        setenv("FLYMALLOC_POLICY", "compact", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "execv");
    }
    fly_free(fly_malloc(16));
    CHECK(fly_heap_default.hp_policy.po_zone_purge_pages != 0, "compact asks for no passes");
    sparse_first_class();
    purge();
    kept();
    closed_slot = find_closed_slot();
    CHECK(closed_slot != NULL, "no freed slot lies in a closed page");
    bad_case("free of a slot in a closed page", "free", "invalid pointer", free_closed_slot);
    bad_case("double free of a kept object", "free", "double free", free_kept_twice);
    reopen();
    return bad_finish();
}
