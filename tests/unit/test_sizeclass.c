/*
 * test_sizeclass.c: proves the size-class tables and class geometry.
 *
 * Every size maps to the smallest class that holds it; internal waste stays
 * at most 25 % (a 4 KiB page plus header takes the class an eighth above); zones hold at least 8 objects with at most 1/8 wasted; the
 * multiply-shift division and the multiply-compare validity test that free()
 * relies on agree with plain arithmetic for every offset of every zone; and
 * magazine capacities fall as object size grows (the per-thread budget),
 * but never below po_mag_min_rounds, and a class's depot takes at least
 * one magazine at its largest.
 */
#include "check.h"
#include "flymalloc.h"
#include "sizeclass.h"

#define DEPOT_CLASS(c) (&fly_heap_default.hp_depot.dp_class[c])
#include "heap.h"
#include "init.h"

int main(void)
{
    fly_free(fly_malloc(1));                 /* initializes the tables */
    uint32_t n = fly_heap_default.hp_policy.po_nclasses;
    CHECK(n == 44, "expected 44 classes, got %u", n);
    CHECK(!fly_class_offset_valid(0, 0, 0), "a bin not set up (bound 0) must fail every offset");
    for (uint32_t c = 1; c <= n; c++) {
        const fly_class_t *cl = &fly_classes[c];
        CHECK(cl->cl_size % 16 == 0, "class %u size %u not a multiple of 16", c, cl->cl_size);
        if (c > 1)
            CHECK(cl->cl_size > fly_classes[c - 1].cl_size, "classes not increasing at %u", c);
        CHECK(cl->cl_nobjs >= 8, "class %u: %u objects per zone", c, cl->cl_nobjs);
        CHECK((cl->cl_zone_size % cl->cl_size) * 8 <= cl->cl_zone_size, "class %u wastes > 1/8", c);
        CHECK((cl->cl_zone_size & (cl->cl_zone_size - 1)) == 0, "zone size not a power of two");
        CHECK(DEPOT_CLASS(c)->dc_mag_cap >= FLY_MIN(fly_heap_default.hp_policy.po_mag_min_rounds, fly_heap_default.hp_policy.po_mag_max_rounds),
              "class %u: magazines of %u rounds", c, DEPOT_CLASS(c)->dc_mag_cap);
        CHECK(DEPOT_CLASS(c)->dc_bound_bytes >= fly_heap_default.hp_policy.po_depot_bytes &&
              DEPOT_CLASS(c)->dc_bound_bytes >= (uint64_t)DEPOT_CLASS(c)->dc_mag_cap * cl->cl_size,
              "class %u: depot bound %llu", c, (unsigned long long)DEPOT_CLASS(c)->dc_bound_bytes);
        if (c > 1)
            CHECK(DEPOT_CLASS(c)->dc_mag_cap <= DEPOT_CLASS(c - 1)->dc_mag_cap,
                  "magazine capacity grows with size at class %u", c);
        for (uint64_t off = 0; off < cl->cl_zone_size; off++) {
            bool valid = off % cl->cl_size == 0 && off / cl->cl_size < cl->cl_nobjs;
            CHECK(fly_class_offset_valid((uint32_t)off, cl->cl_divm, cl->cl_obj_bound) == valid,
                  "validity test wrong: class %u offset %llu", c, (unsigned long long)off);
            CHECK(fly_class_index(cl, off) == off / cl->cl_size, "division wrong: class %u off %llu",
                  c, (unsigned long long)off);
        }
    }
    CHECK(fly_classes[fly_class_of(4312)].cl_size == 4608,
          "a 4 KiB page with its header (4312 B) should take the 4608-byte class, not %u",
          fly_classes[fly_class_of(4312)].cl_size);
    CHECK(DEPOT_CLASS(1)->dc_mag_cap > 8 * DEPOT_CLASS(n)->dc_mag_cap,
          "16-byte magazines (%u) should be far larger than 32 KiB ones (%u)",
          DEPOT_CLASS(1)->dc_mag_cap, DEPOT_CLASS(n)->dc_mag_cap);
    for (size_t size = 0; size <= FLY_SMALL_MAX; size++) {
        unsigned c = fly_class_of(size);
        CHECK(c >= 1 && c <= n, "size %zu: class %u out of range", size, c);
        CHECK(fly_classes[c].cl_size >= size, "size %zu: class %u too small", size, c);
        CHECK(c == 1 || fly_classes[c - 1].cl_size < size, "size %zu: class %u not the smallest", size, c);
        if (size > 128)
            CHECK((fly_classes[c].cl_size - size) * 4 < fly_classes[c].cl_size + 4,
                  "size %zu wastes more than 25%% in class %u", size, c);
    }
    return 0;
}
