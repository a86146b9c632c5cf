/*
 * sizeclass.c: builds the class tables from the policy.
 *
 * Classes: 16-byte steps to 128, then four per doubling, plus one an
 * eighth above 1, 2, 4 and 8 KiB (policy defaults below).
 *
 * Zone size per class: the smallest power of two of at least 64 KiB that
 * holds 8 objects with at most 1/8 of it wasted, so large classes do not
 * churn zones and rounding waste stays small.  Magazine capacity is inverse
 * to object size, in two figures (tcache.c, "Sizing"): the base, where every
 * bin starts, is a quarter of the per-thread budget split evenly over the
 * classes' two magazines; the capacity, up to which a busy bin grows, holds
 * po_mag_max_bytes, or po_mag_min_rounds if that is more.  Both are
 * clamped to [1, po_mag_max_rounds], and rounds fit the bins' 16-bit
 * counts.  The depot's bound per class is po_depot_bytes, or one magazine
 * at the class's capacity if that is more.
 *
 * Why a floor on rounds: with magazines of 64 KiB, classes from 16 KiB up
 * had 2-4 rounds and a depot of as many objects, so random sizes of 8-32
 * KiB (randsize --min 8192, pinned, median of 7) went to the depot or the
 * zones every few calls and took 0.154 s against tcmalloc's 0.108; with 8
 * rounds, 0.123 s, and peak RSS fell (st-rand 10.3 -> 8.6 MiB), since fewer
 * objects went back to zones to be carved again elsewhere.
 */
#include "sizeclass.h"
#include "region.h"

uint8_t fly_class_table[FLY_FAST_MAX / 16 + 1];
uint8_t fly_class_table_medium[FLY_SMALL_MAX / 128 + 1];
fly_class_t fly_classes[FLY_MAX_CLASSES + 1];
uint64_t fly_mag_base_bytes, fly_mag_cap_bytes;

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
    po->po_tcache_bytes = 4u << 20;
    po->po_mag_max_rounds = 256;
    po->po_mag_max_bytes = 64u << 10;
    po->po_mag_min_rounds = 8;
    po->po_burst_div = 1;
    po->po_depot_bytes = 64u << 10;
    po->po_zone_spares = 0;
    po->po_decay_ms = 1000;
    po->po_tick_events = 256;
    po->po_gc_interval_ms = 1000;
    po->po_large_cache_bytes = 1u << 20;
    po->po_huge_cache_bytes = 256u << 20;
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
    uint64_t base_bytes = po->po_tcache_bytes / (8 * po->po_nclasses);
    uint64_t max_rounds = FLY_MIN(po->po_mag_max_rounds, UINT16_MAX);
    fly_mag_base_bytes = fly_mag_cap_bytes = 0;
    for (uint32_t c = 1; c <= po->po_nclasses; c++) {
        fly_class_t *cl = &fly_classes[c];
        uint32_t size = po->po_class_size[c];
        uint32_t zone = FLY_ZONE_MIN;
        while (zone / size < 8 || (zone % size) * 8 > zone)
            zone *= 2;
        cl->cl_size = size;
        cl->cl_zone_size = zone;
        cl->cl_nobjs = FLY_MIN(zone / size, FLY_ZONE_MAX_OBJS);
        cl->cl_magic = ((uint64_t)1 << 40) / size + 1;
        cl->cl_divm = UINT64_MAX / size + 1 + ((size & (size - 1)) == 0);
        cl->cl_obj_bound = (uint64_t)cl->cl_nobjs * (cl->cl_divm * size);
        uint64_t base = FLY_MAX((uint64_t)1, FLY_MIN(base_bytes / size, max_rounds));
        uint64_t rounds = FLY_MAX((uint64_t)po->po_mag_max_bytes / size, po->po_mag_min_rounds);
        uint64_t cap = FLY_MAX((uint64_t)1, FLY_MIN(rounds, max_rounds));
        cl->cl_mag_base = (uint32_t)base;
        cl->cl_mag_cap = (uint32_t)FLY_MAX(base, cap);
        cl->cl_depot_bytes = FLY_MAX(po->po_depot_bytes, (uint64_t)cl->cl_mag_cap * size);
        fly_mag_base_bytes += 2 * base * size;
        fly_mag_cap_bytes += 2ull * cl->cl_mag_cap * size;
    }
    for (size_t i = 0; i <= FLY_FAST_MAX / 16; i++)
        fly_class_table[i] = (uint8_t)smallest_class(po, i * 16);
    for (size_t i = 0; i <= FLY_SMALL_MAX / 128; i++)
        fly_class_table_medium[i] = (uint8_t)smallest_class(po, i * 128);
}
