/*
 * test_free_sized_api: free_sized and free_aligned_sized hold the program
 * to its promise that the size is the one the block was allocated with.
 *
 * Proves (each case in a forked child, through the prefixed API): a size
 * larger than the block (small, large, huge, and an aligned block), or for
 * a small block a size of another class, aborts with
 * "flymalloc: free_sized(): wrong size for block 0x..." (or
 * free_aligned_sized()); a second free_sized of a block says "double free";
 * and the right sizes (every range, calloc's product, a realloc's new size,
 * 0 for malloc(0), an aligned block's size) are accepted.
 */
#include "badcase.h"
#include "flymalloc.h"

static void *sink;

static void small_too_big(void)
{
    char *p = fly_malloc(t_opaque(100));
    bad_expect(p);
    fly_free_sized(p, t_opaque(1000));
}

static void small_other_class(void)
{
    char *p = fly_malloc(t_opaque(100));
    bad_expect(p);
    fly_free_sized(p, t_opaque(10));
}

static void large_too_big(void)
{
    char *p = fly_malloc(t_opaque(1u << 20));
    bad_expect(p);
    fly_free_sized(p, t_opaque(2u << 20));
}

static void huge_too_big(void)
{
    char *p = fly_malloc(t_opaque(100u << 20));
    bad_expect(p);
    fly_free_sized(p, t_opaque(200u << 20));
}

static void aligned_too_big(void)
{
    char *p = fly_aligned_alloc(64, t_opaque(100));
    bad_expect(p);
    fly_free_aligned_sized(p, 64, t_opaque(5000));
}

static void large_double(void)
{
    char *p = fly_malloc(t_opaque(1u << 20));
    fly_free_sized(p, 1u << 20);
    bad_expect(p);
    fly_free_sized(t_launder(p), 1u << 20);
}

static void small_double(void)
{
    char *p = fly_malloc(t_opaque(100)), *q = fly_malloc(t_opaque(100));
    fly_free_sized(p, 100);
    fly_free_sized(q, 100);
    bad_expect(p);
    fly_free_sized(t_launder(p), 100);
}

int main(void)
{
    /* The right sizes pass. */
    size_t sizes[] = { 0, 1, 16, 17, 100, 128, 129, 1000, 4096, 32768, 32769, 1u << 20, 70u << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fly_free_sized(fly_malloc(sizes[i]), sizes[i]);
        fly_free_sized(fly_calloc(3, sizes[i] / 3), 3 * (sizes[i] / 3));
        char *p = fly_malloc(sizes[i] / 2 + 1);
        p = fly_realloc(p, sizes[i] + 1);
        fly_free_sized(p, sizes[i] + 1);
        fly_free_aligned_sized(fly_aligned_alloc(256, sizes[i]), 256, sizes[i]);
    }
    fly_free_sized(NULL, 5);
    sink = NULL;
    bad_case("small, size too big", "free_sized", "wrong size for block", small_too_big);
    bad_case("small, size of another class", "free_sized", "wrong size for block", small_other_class);
    bad_case("large, size too big", "free_sized", "wrong size for block", large_too_big);
    bad_case("huge, size too big", "free_sized", "wrong size for block", huge_too_big);
    bad_case("aligned, size too big", "free_aligned_sized", "wrong size for block", aligned_too_big);
    bad_case("large, freed twice", "free_sized", "double free", large_double);
    bad_case("small, freed twice", "free_sized", "double free", small_double);
    return bad_finish();
}
