/*
 * sizeclass.h: size to class, and each class's geometry.
 *
 * Classes are 16-byte steps up to 128 bytes, then four per doubling up to
 * 32 KiB (jemalloc's spacing: at most 25 % internal waste), plus one an
 * eighth above 1, 2, 4 and 8 KiB for page-plus-header sizes: 44 classes.
 * Class 0 means "not a small object".  Sizes up to FLY_FAST_MAX map through
 * one table load at 16-byte granularity, larger small sizes through a second
 * table at 128-byte granularity.
 */
#ifndef FLY_SIZECLASS_H
#define FLY_SIZECLASS_H

#include "common.h"
#include "policy.h"

#define FLY_FAST_MAX   1024
#define FLY_SMALL_MAX  32768

typedef struct fly_class {
    uint32_t cl_size;
    uint32_t cl_zone_size;       /* power of two, >= FLY_ZONE_MIN */
    uint32_t cl_nobjs;           /* objects per zone */
    uint64_t cl_magic;           /* off / size == (off * cl_magic) >> CL_MAGIC_SHIFT */
    /* Object test, one multiply and one compare: off is the offset of one of
     * a zone's objects exactly when off * cl_divm mod 2^64 < cl_obj_bound.
     * Lemire, Kaser and Kurz ("Faster remainder by direct computation",
     * 2019) show that for off < 2^32 and cl_divm = ceil(2^64 / size), size
     * divides off exactly when the product is below cl_divm.  For off =
     * k * size the product is k * e, with e = cl_divm * size mod 2^64 in
     * [1, size), so it grows with k and "k < nobjs" is "product < nobjs * e",
     * far below cl_divm.  A power-of-two size has e = 0, so its cl_divm is
     * one more than the ceiling, which makes e = size and keeps every
     * non-multiple's product at 2^64 / size or more. */
    uint64_t cl_divm;
    uint64_t cl_obj_bound;       /* cl_nobjs * (cl_divm * size mod 2^64) */
} fly_class_t;

extern uint8_t fly_class_table[FLY_FAST_MAX / 16 + 1];
extern uint8_t fly_class_table_medium[FLY_SMALL_MAX / 128 + 1];
extern fly_class_t fly_classes[FLY_MAX_CLASSES + 1];
/* Classes in use: 1..fly_nclasses (the class set is process-wide). */
extern uint32_t fly_nclasses;

/* cl_magic's scale: off < 2^24 (a zone of up to 16 MiB) times a magic
 * below 2^40 / 16 + 1 stays below 2^64, and the quotient is exact for
 * every off < 2^24 when the magic is floor(2^40 / size) + 1 (the error,
 * off / 2^40 times at most one, stays below 1 / size). */
#define CL_MAGIC_SHIFT 40

/* Sizes up to FLY_SMALL_MAX; classes above FLY_FAST_MAX are multiples of 128. */
FLY_INLINE unsigned fly_class_of(size_t size)
{
    if (size <= FLY_FAST_MAX)
        return fly_class_table[(size + 15) >> 4];
    return fly_class_table_medium[(size + 127) >> 7];
}

/* Index of the object at offset off of its zone. */
FLY_INLINE uint32_t fly_class_index(const fly_class_t *cl, uint64_t off)
{
    return (uint32_t)((off * cl->cl_magic) >> CL_MAGIC_SHIFT);
}

/* True when off (< 2^32) is the offset of an object of the class within its
 * zone (cl_divm, cl_obj_bound).  bound = 0 (a bin not set up) fails every
 * offset. */
FLY_INLINE bool fly_class_offset_valid(uint32_t off, uint64_t divm, uint64_t bound)
{
    return (uint64_t)off * divm < bound;
}

void fly_sizeclass_init(const fly_policy_t *po);

#endif
