/*
 * fuzz_ops.c: libFuzzer target: an input is a sequence of allocation
 * operations on the prefixed library (fly_*), checked against a model.
 *
 * Each operation is a byte choosing the function and a slot (one of 64),
 * then bytes for a size and an alignment drawn across every range (tiny,
 * small, medium, large, up to 70 MiB rarely) and for impossible values.
 * The model keeps each live block's size, alignment and a content seed.
 * After every operation: a returned block is aligned, its usable size
 * covers the request, it overlaps no other live block, and realloc kept
 * the contents; a refused request left errno at ENOMEM (sizes) or EINVAL
 * (alignments); every live block still holds its pattern.  Any difference
 * aborts, which libFuzzer reports with the input.  fly_ctl actions (cache
 * flush, purge, trim) are operations too, so the slow paths get exercised.
 * Built by tests/fuzz/test_fuzz.sh with the library's sources compiled in
 * (debug assertions on, UBSan, coverage-guided).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flymalloc.h"

#define SLOTS 64

typedef struct {
    unsigned char *p;
    size_t size, align;
    uint8_t seed;
    bool aligned_call;      /* from posix_memalign and the like: freed with
                             * free_aligned_sized, never free_sized (C23) */
} block_t;

static block_t live[SLOTS];

static void fail(const char *what, size_t a, size_t b)
{
    fprintf(stderr, "fuzz_ops: %s (%zu, %zu)\n", what, a, b);
    abort();
}

/* The bytes a pattern covers: all of a small block, the ends of a big one;
 * checked or written, up to limit. */
static void pattern_upto(unsigned char *p, size_t n, uint8_t seed, size_t limit, int write)
{
    size_t head = n < 4096 ? n : 2048, tail = n < 4096 ? n : n - 2048;
    for (size_t i = 0; i < n && i < limit; i = (i + 1 == head && tail > head) ? tail : i + 1) {
        unsigned char v = (unsigned char)(seed + i * 31);
        if (write)
            p[i] = v;
        else if (p[i] != v)
            fail("a block lost its contents", (uintptr_t)p, i);
    }
}

static void pattern(block_t *b, int write)
{
    pattern_upto(b->p, b->size, b->seed, b->size, write);
}

static void check_new(int slot, unsigned char *p, size_t size, size_t align)
{
    if (align && ((uintptr_t)p & (align - 1)))
        fail("misaligned", (uintptr_t)p, align);
    if (((uintptr_t)p & 15) != 0)
        fail("not 16-byte aligned", (uintptr_t)p, 16);
    size_t u = fly_malloc_usable_size(p);
    if (u < size)
        fail("usable size below the request", u, size);
    for (int i = 0; i < SLOTS; i++) {
        if (i == slot || live[i].p == NULL)
            continue;
        uintptr_t a = (uintptr_t)p, b = (uintptr_t)live[i].p;
        if (a < b + live[i].size && b < a + (size ? size : 1))
            fail("overlapping blocks", (size_t)slot, (size_t)i);
    }
}

/* A size from two bytes: mostly small, sometimes large or huge, and now
 * and then impossible. */
static size_t size_of(uint8_t k, uint8_t v)
{
    switch (k % 16) {
    case 0: return v % 17;
    case 1: case 2: case 3: case 4: case 5: return 1 + v;
    case 6: case 7: case 8: return 1 + (size_t)v * 8;
    case 9: case 10: return 1 + (size_t)v * 130;
    case 11: return 32768 + (size_t)v * 1024 - 128 + (k >> 4);
    case 12: return (size_t)(v + 1) << 14;
    case 13: return k & 0x10 ? (size_t)(64 + v % 8) << 20 : (size_t)(v + 1) << 12;
    case 14: return k & 0x10 ? SIZE_MAX - v : PTRDIFF_MAX + (size_t)v;
    default: return (size_t)v * 48;
    }
}

static size_t align_of(uint8_t a)
{
    if ((a & 0xc0) == 0xc0)
        return a % 3 == 0 ? 0 : a % 3 == 1 ? 24 : 3;      /* invalid */
    return (size_t)1 << (a % 22);                          /* 1 .. 2 MiB */
}

static void put(int slot, unsigned char *p, size_t size, size_t align, uint8_t seed)
{
    live[slot] = (block_t){ p, size, align, seed, false };
    pattern(&live[slot], 1);
    /* FLY_FUZZ_BREAK=1: a lost write, as a broken allocator would make, to
     * prove the checks fire (tests/fuzz/test_fuzz.sh). */
    static int broken = -1;
    if (broken < 0)
        broken = getenv("FLY_FUZZ_BREAK") != NULL;
    if (broken && size)
        p[0] ^= 1;
}

static void release(int slot)
{
    if (live[slot].p) {
        pattern(&live[slot], 0);
        fly_free(live[slot].p);
        live[slot].p = NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint8_t op = data[i], k = data[i + 1], v = data[i + 2], a = data[i + 3];
        int slot = op % SLOTS;
        size_t size = size_of(k, v);
        /* Past PTRDIFF_MAX a request must fail; past 1 TiB it may. */
        bool impossible = size >= PTRDIFF_MAX, too_big = size > (size_t)1 << 40;
        errno = 0;
        switch (op >> 6) {
        case 0: {                                   /* malloc or calloc */
            release(slot);
            size_t cn = 1 + (size_t)(a >> 6), cm = size / cn, n = size;
            if ((a & 2) && cm < SIZE_MAX - 2)
                cm += 2;
            if (a & 1) {
                impossible = __builtin_mul_overflow(cn, cm, &n) || n >= PTRDIFF_MAX;
                too_big = impossible || n > (size_t)1 << 40;
            }
            unsigned char *p = (a & 1) ? fly_calloc(cn, cm) : fly_malloc(size);
            if (p == NULL) {
                if (!too_big)
                    fail("an allocation failed", n, 0);
                if (errno != ENOMEM)
                    fail("a refused size without ENOMEM", n, (size_t)errno);
                break;
            }
            if (impossible)
                fail("an impossible size succeeded", n, 0);
            check_new(slot, p, n, 0);
            if (a & 1)
                for (size_t j = 0; j < n && j < 8192; j++)
                    if (p[j])
                        fail("calloc not zeroed", j, n);
            put(slot, p, n, 0, v);
            break;
        }
        case 1: {                                   /* realloc */
            block_t old = live[slot];
            if (old.p)
                pattern(&live[slot], 0);
            unsigned char *p = fly_realloc(old.p, size);
            if (p == NULL) {
                if (size == 0 && old.p) {
                    live[slot].p = NULL;            /* freed */
                    break;
                }
                if (!too_big)
                    fail("a realloc failed", size, 0);
                if (errno != ENOMEM)
                    fail("a refused realloc without ENOMEM", size, (size_t)errno);
                if (old.p)
                    pattern(&live[slot], 0);        /* the old block stays */
                break;
            }
            if (impossible)
                fail("an impossible realloc succeeded", size, 0);
            live[slot].p = NULL;
            check_new(slot, p, size, 0);
            /* The common prefix kept its contents. */
            if (old.p)
                pattern_upto(p, old.size, old.seed, size, 0);
            put(slot, p, size, 0, (uint8_t)(v ^ 0x5a));
            break;
        }
        case 2: {                                   /* aligned allocation */
            release(slot);
            size_t al = align_of(a);
            void *p = NULL;
            int rc = 0;
            switch (k >> 6) {
            case 0: rc = fly_posix_memalign(&p, al, size); break;
            case 1: p = fly_aligned_alloc(al, size); rc = p ? 0 : errno; break;
            case 2: p = fly_memalign(al, size); rc = p ? 0 : errno; break;
            default: p = fly_valloc(size); al = 4096; rc = p ? 0 : errno; break;
            }
            bool bad_align = al == 0 || (al & (al - 1)) || ((k >> 6) == 0 && al % sizeof(void *));
            if (p == NULL) {
                if ((k >> 6) == 2 && bad_align && !too_big)
                    fail("memalign refused an alignment it rounds up", al, size);
                if (!too_big && !bad_align)
                    fail("an aligned allocation failed", al, size);
                if (rc != (bad_align && (k >> 6) != 2 ? EINVAL : ENOMEM) && !(too_big && rc == ENOMEM))
                    fail("wrong error for an aligned allocation", al, (size_t)rc);
                break;
            }
            if (impossible || (bad_align && (k >> 6) < 2))
                fail("an aligned allocation that should fail succeeded", al, size);
            size_t want = bad_align ? 0 : al;
            check_new(slot, p, size, want);
            put(slot, p, size, want, v);
            live[slot].aligned_call = true;
            break;
        }
        default:                                    /* free, sized frees, actions */
            switch (k % 8) {
            case 0: case 1: case 2:
                release(slot);
                break;
            case 3:
                if (live[slot].p) {
                    pattern(&live[slot], 0);
                    if (live[slot].aligned_call)
                        fly_free_aligned_sized(live[slot].p, live[slot].align, live[slot].size);
                    else
                        fly_free_sized(live[slot].p, live[slot].size);
                    live[slot].p = NULL;
                }
                break;
            case 4:
                fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
                break;
            case 5:
                if (v < 16)
                    fly_ctl("arena.purge", NULL, NULL, NULL, 0);
                break;
            case 6:
                if (v < 8)
                    fly_malloc_trim(0);
                break;
            default:
                for (int s = 0; s < SLOTS; s++)
                    if (live[s].p)
                        pattern(&live[s], 0);
                break;
            }
        }
    }
    for (int s = 0; s < SLOTS; s++)
        release(s);
    return 0;
}
