/*
 * test_memalign: the aligned allocation functions honour their alignment.
 *
 * Proves: fly_posix_memalign returns 0 and a block aligned to every power of
 * two from sizeof(void*) to 64 MiB, for sizes below, at and above the
 * alignment, writable over its usable size and freeable (also through
 * realloc, which keeps content); bad alignments (0, 1, 2, 3, sizeof(void*)/2,
 * 12, 24, 48, 3 MiB, SIZE_MAX) give EINVAL and leave *memptr untouched;
 * fly_aligned_alloc accepts every power of two (1 .. 64 MiB) and returns
 * NULL with errno EINVAL for 0, 3, 24, 48 and 3 MiB; fly_memalign aligns to
 * powers of two (and to at least 16 for smaller ones); fly_valloc is page
 * aligned; fly_pvalloc is page aligned with usable size rounded up to a
 * whole page; blocks of mixed alignments live side by side without overlap.
 */
#include "check.h"
#include "flymalloc.h"

static size_t page;

static void check_aligned(void *p, size_t align, size_t n, const char *what)
{
    CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL", what, align, n);
    CHECK(((uintptr_t)p & (align - 1)) == 0, "%s(align %zu, size %zu) = %p misaligned",
          what, align, n, p);
    CHECK(((uintptr_t)p & 15) == 0, "%s(align %zu, size %zu) = %p not 16-aligned", what, align, n, p);
    size_t u = fly_malloc_usable_size(p);
    CHECK(u >= n, "%s(align %zu, size %zu): usable %zu", what, align, n, u);
    /* write the first and last usable byte and every page in small blocks */
    char *c = p;
    if (u <= (1u << 20))
        t_fill(c, u, (uintptr_t)p);
    else {
        c[0] = 1;
        c[u - 1] = 2;
        c[u / 2] = 3;
    }
}

static void bad_posix(size_t align)
{
    void *m = (void *)0x4321;
    int rc = fly_posix_memalign(&m, t_opaque(align), 64);
    CHECK(rc == EINVAL, "posix_memalign(align %zu) = %d, expected EINVAL", align, rc);
    CHECK(m == (void *)0x4321, "posix_memalign(align %zu) failed but wrote %p to *memptr", align, m);
}

static void bad_aligned_alloc(size_t align)
{
    errno = 0;
    void *p = fly_aligned_alloc(t_opaque(align), 64);
    CHECK(p == NULL, "aligned_alloc(align %zu) = %p, expected NULL", align, p);
    CHECK(errno == EINVAL, "aligned_alloc(align %zu): errno %d, expected EINVAL", align, errno);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);

    for (size_t a = sizeof(void *); a <= (64u << 20); a <<= 1) {
        size_t sizes[] = { 1, 8, 16, a > 1 ? a - 1 : 1, a, a + 1, 3 * a, 100000 };
        int nsizes = a >= (1u << 20) ? 6 : 8; /* skip 3a and 100000 for huge alignments */
        for (int i = 0; i < nsizes; i++) {
            void *p = (void *)0x1;
            int rc = fly_posix_memalign(&p, a, sizes[i]);
            CHECK(rc == 0, "posix_memalign(align %zu, size %zu) = %d", a, sizes[i], rc);
            check_aligned(p, a, sizes[i], "posix_memalign");
            void *q = fly_aligned_alloc(a, sizes[i]);
            check_aligned(q, a, sizes[i], "aligned_alloc");
            void *r = fly_memalign(a, sizes[i]);
            check_aligned(r, a, sizes[i], "memalign");
            CHECK(p != q && q != r && p != r, "aligned allocations not distinct");
            /* realloc of an aligned block keeps content */
            size_t u = fly_malloc_usable_size(p);
            if (u <= (1u << 20)) {
                char *g = fly_realloc(p, u + 5000);
                CHECK(g != NULL, "realloc of aligned block");
                CHECK(t_verify(g, u, (uintptr_t)p) == u, "realloc of aligned block lost content");
                p = g;
            }
            fly_free(p);
            fly_free(q);
            fly_free(r);
        }
    }

    /* aligned_alloc with alignments below sizeof(void*), memalign small */
    for (size_t a = 1; a <= 8; a <<= 1) {
        void *q = fly_aligned_alloc(a, 24);
        check_aligned(q, 16, 24, "aligned_alloc"); /* we guarantee 16 anyway */
        void *r = fly_memalign(a, 24);
        check_aligned(r, 16, 24, "memalign");
        fly_free(q);
        fly_free(r);
    }
    /* memalign with a non-power-of-two: glibc rounds up to the next power of
     * two; rejecting with EINVAL is also acceptable */
    errno = 0;
    void *m24 = fly_memalign(t_opaque(24), 100);
    if (m24) {
        check_aligned(m24, 32, 100, "memalign(24)");
        fly_free(m24);
    } else {
        CHECK(errno == EINVAL, "memalign(24) NULL with errno %d", errno);
    }

    bad_posix(0);
    bad_posix(1);
    bad_posix(2);
    bad_posix(sizeof(void *) / 2);
    bad_posix(3);
    bad_posix(12);
    bad_posix(24);
    bad_posix(48);
    bad_posix(3u << 20);
    bad_posix(SIZE_MAX);
    bad_aligned_alloc(0);
    bad_aligned_alloc(3);
    bad_aligned_alloc(24);
    bad_aligned_alloc(48);
    bad_aligned_alloc(3u << 20);
    bad_aligned_alloc(SIZE_MAX);

    /* valloc and pvalloc */
    size_t vs[] = { 0, 1, 100, page - 1, page, page + 1, 5 * page + 3, 1u << 20, (3u << 20) + 5 };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        void *v = fly_valloc(vs[i]);
        check_aligned(v, page, vs[i], "valloc");
        void *pv = fly_pvalloc(vs[i]);
        size_t rounded = (vs[i] + page - 1) / page * page;
        check_aligned(pv, page, rounded, "pvalloc");
        CHECK(fly_malloc_usable_size(pv) >= rounded, "pvalloc(%zu) usable %zu < %zu", vs[i],
              fly_malloc_usable_size(pv), rounded);
        fly_free(v);
        fly_free(pv);
    }

    /* mixed alignments side by side: patterns survive, no overlap */
    enum { N = 3000 };
    static void *ptr[N];
    static size_t usz[N];
    uint64_t seed = 5;
    for (int i = 0; i < N; i++) {
        size_t a = (size_t)16 << (t_rand(&seed) % 9);   /* 16 .. 4096 */
        size_t n = t_rand(&seed) % 3000;
        if (i % 3 == 0)
            CHECK(fly_posix_memalign(&ptr[i], a, n) == 0, "posix_memalign");
        else if (i % 3 == 1)
            ptr[i] = fly_aligned_alloc(a, n);
        else
            ptr[i] = fly_malloc(n);
        CHECK(ptr[i] != NULL, "alloc %d", i);
        usz[i] = fly_malloc_usable_size(ptr[i]);
        t_fill(ptr[i], usz[i], (uint64_t)i);
    }
    for (int i = 0; i < N; i++)
        CHECK(t_verify(ptr[i], usz[i], (uint64_t)i) == usz[i],
              "mixed-alignment block %d (%p, usable %zu) overwritten", i, ptr[i], usz[i]);
    for (int i = 0; i < N; i++)
        fly_free(ptr[i]);
    return 0;
}
