/*
 * test_trim_mallinfo: fly_malloc_trim and fly_mallinfo2 behave like glibc's.
 *
 * Proves: fly_malloc_trim returns 0 or 1, with nothing allocated and with
 * live and freed blocks of all sizes around; blocks still live across a
 * trim keep their content and can be freed and reallocated after it; the
 * allocator keeps working after repeated trims with different pads; and
 * fly_mallinfo2 is plausible: uordblks grows by at least 10 MB while 10 MB
 * of 1 KiB blocks are live and drops back by at least 9 MB when they are
 * freed, and uordblks+hblkhd grows by at least 10 MB while ten 1 MiB blocks
 * are live (glibc reports mmapped chunks in hblkhd).
 */
#include "check.h"
#include "flymalloc.h"

enum { NSMALL = 10240 };
static void *blk[NSMALL];

int main(void)
{
    int r = fly_malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) = %d on an idle heap", r);

    /* small: 10 MB of 1 KiB blocks */
    struct mallinfo2 m0 = fly_mallinfo2();
    for (int i = 0; i < NSMALL; i++) {
        blk[i] = fly_malloc(1024);
        CHECK(blk[i] != NULL, "malloc(1024)");
        memset(blk[i], 0x11, 1024);
    }
    struct mallinfo2 m1 = fly_mallinfo2();
    CHECK(m1.uordblks >= m0.uordblks + (size_t)NSMALL * 1024,
          "uordblks %zu -> %zu with 10 MB of 1 KiB blocks live", m0.uordblks, m1.uordblks);
    CHECK(m1.arena + m1.hblkhd >= m1.uordblks,
          "uordblks %zu exceeds arena %zu + hblkhd %zu", m1.uordblks, m1.arena, m1.hblkhd);

    /* free every other block, trim, the others keep their content */
    for (int i = 0; i < NSMALL; i += 2) {
        fly_free(blk[i]);
        blk[i] = NULL;
    }
    r = fly_malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) = %d", r);
    for (int i = 1; i < NSMALL; i += 2)
        for (int k = 0; k < 1024; k++)
            CHECK(((unsigned char *)blk[i])[k] == 0x11, "block %d byte %d changed by trim", i, k);
    for (int i = 1; i < NSMALL; i += 2) {
        fly_free(blk[i]);
        blk[i] = NULL;
    }
    struct mallinfo2 m2 = fly_mallinfo2();
    CHECK(m2.uordblks + (9u << 20) <= m1.uordblks,
          "uordblks %zu -> %zu after freeing 10 MB", m1.uordblks, m2.uordblks);

    /* large: ten 1 MiB blocks */
    void *big[10];
    struct mallinfo2 l0 = fly_mallinfo2();
    for (int i = 0; i < 10; i++) {
        big[i] = fly_malloc(1u << 20);
        CHECK(big[i] != NULL, "malloc(1 MiB)");
        t_fill(big[i], 1u << 20, (uint64_t)i);
    }
    struct mallinfo2 l1 = fly_mallinfo2();
    CHECK(l1.uordblks + l1.hblkhd >= l0.uordblks + l0.hblkhd + (10u << 20),
          "uordblks+hblkhd %zu -> %zu with 10 MiB of 1 MiB blocks live",
          l0.uordblks + l0.hblkhd, l1.uordblks + l1.hblkhd);
    for (size_t pad = 0; pad <= (4u << 20); pad += (1u << 20)) {
        r = fly_malloc_trim(pad);
        CHECK(r == 0 || r == 1, "malloc_trim(%zu) = %d", pad, r);
    }
    for (int i = 0; i < 10; i++) {
        CHECK(t_verify(big[i], 1u << 20, (uint64_t)i) == 1u << 20, "1 MiB block %d changed by trim", i);
        fly_free(big[i]);
    }
    r = fly_malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim(0) = %d", r);

    /* still working after trims: allocate, verify, free */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2000; i++) {
            size_t n = (size_t)(i * 131) % 20000;
            blk[i] = fly_malloc(n);
            CHECK(blk[i] != NULL, "malloc(%zu) after trim", n);
            t_fill(blk[i], n, (uint64_t)i);
        }
        for (int i = 0; i < 2000; i++) {
            size_t n = (size_t)(i * 131) % 20000;
            CHECK(t_verify(blk[i], n, (uint64_t)i) == n, "block %d after trim corrupted", i);
            fly_free(blk[i]);
        }
        fly_malloc_trim(0);
    }
    return 0;
}
