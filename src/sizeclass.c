/*
 * sizeclass.c: builds the class tables from the policy.
 *
 * Classes: 16-byte steps to 128, then four per doubling, plus one an
 * eighth above 1, 2, 4 and 8 KiB (policy defaults below).
 *
 * Zone size per class: the smallest power of two of at least 64 KiB that
 * holds FLY_ZONE_MIN_OBJS objects with at most 1/FLY_ZONE_WASTE_DIV of it
 * wasted, so large classes do not churn zones and rounding waste stays
 * small.  Magazine geometry depends on a heap's policy and is built per
 * heap (depot.c).
 */
#include "sizeclass.h"
#include "config.h"
#include "region.h"

uint8_t fly_class_table[FLY_FAST_MAX / 16 + 1];
uint8_t fly_class_table_medium[FLY_SMALL_MAX / 128 + 1];
fly_class_t fly_classes[FLY_MAX_CLASSES + 1];
uint32_t fly_nclasses;

/* A zone holds at least this many objects ... */
#define FLY_ZONE_MIN_OBJS 8
/* ... and wastes at most 1/FLY_ZONE_WASTE_DIV of itself in its tail. */
#define FLY_ZONE_WASTE_DIV 8

void fly_policy_defaults(fly_policy_t *po)
{
    uint32_t n = 0;
    for (uint32_t s = 16; s <= 128; s += 16)
        po->po_class_size[++n] = s;
    for (uint32_t base = 128; base < FLY_SMALL_MAX; base *= 2) {
        /* A power of two plus a small header (a database page and its
         * descriptor: sqlite's 4096-byte pages take 4312 bytes) would waste
         * up to a fifth of itself in the next quarter step: from 1 KiB up,
         * an eighth step first. */
        if (base >= 1024 && base <= 8192)
            po->po_class_size[++n] = base + base / 8;
        for (uint32_t i = 1; i <= 4; i++)
            po->po_class_size[++n] = base + i * (base / 4);
    }
    po->po_nclasses = n;
    /* The two defaults a user can set are the options table's. */
    po->po_tcache_bytes = fly_option_default(FLY_OPT_TCACHE_BYTES);
    po->po_mag_max_rounds = 256;
    po->po_mag_max_bytes = 64u << 10;
    po->po_mag_min_rounds = 8;
    po->po_burst_div = 1;
    po->po_depot_bytes = 64u << 10;
    po->po_decay_ms = fly_option_default(FLY_OPT_DECAY_MS);
    po->po_tick_events = 256;
    po->po_gc_interval_ms = 1000;
    po->po_large_cache_bytes = 1u << 20;
    po->po_huge_cache_bytes = 256u << 20;
    po->po_engine = FLY_ENGINE_SLAB;
    po->po_bump_free_permille = 500;
    po->po_owner_heaps = 0;
    po->po_zone_purge_pages = 0;
}

static unsigned smallest_class(const fly_policy_t *po, size_t size)
{
    unsigned c = 1;
    while (po->po_class_size[c] < size)
        c++;
    return c;
}

void fly_sizeclass_init(const fly_policy_t *po)
{
    fly_nclasses = po->po_nclasses;
    for (uint32_t c = 1; c <= po->po_nclasses; c++) {
        fly_class_t *cl = &fly_classes[c];
        uint32_t size = po->po_class_size[c];
        uint32_t zone = FLY_ZONE_MIN;
        while (zone / size < FLY_ZONE_MIN_OBJS || (zone % size) * FLY_ZONE_WASTE_DIV > zone)
            zone *= 2;
        cl->cl_size = size;
        cl->cl_zone_size = zone;
        cl->cl_nobjs = FLY_MIN(zone / size, FLY_ZONE_MAX_OBJS);
        cl->cl_magic = ((uint64_t)1 << CL_MAGIC_SHIFT) / size + 1;
        cl->cl_divm = UINT64_MAX / size + 1 + ((size & (size - 1)) == 0);
        cl->cl_obj_bound = (uint64_t)cl->cl_nobjs * (cl->cl_divm * size);
    }
    for (size_t i = 0; i <= FLY_FAST_MAX / 16; i++)
        fly_class_table[i] = (uint8_t)smallest_class(po, i * 16);
    for (size_t i = 0; i <= FLY_SMALL_MAX / 128; i++)
        fly_class_table_medium[i] = (uint8_t)smallest_class(po, i * 128);
}
