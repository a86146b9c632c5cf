/*
 * test_impossible_sizes: requests no machine can satisfy fail cleanly.
 *
 * Proves: fly_malloc, fly_realloc, fly_reallocarray, fly_aligned_alloc,
 * fly_memalign, fly_valloc and fly_pvalloc return NULL with errno ENOMEM for
 * SIZE_MAX, PTRDIFF_MAX+1, PTRDIFF_MAX and sizes just below SIZE_MAX (which
 * catch overflow in size rounding: a wrapped round-up would "succeed" with
 * a tiny block); fly_posix_memalign returns ENOMEM and leaves *memptr
 * unmodified or NULL; a failed realloc leaves the old block valid and
 * unchanged; reallocarray's nmemb*size overflow is ENOMEM; and the allocator
 * still works afterwards.
 */
#include "check.h"
#include "flymalloc.h"

static const size_t bad_sizes[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 4095, SIZE_MAX - 65536,
    SIZE_MAX - (1u << 20), SIZE_MAX - (64u << 20), SIZE_MAX / 2 + 1,
    (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 4095,
    (size_t)1 << 62, (size_t)1 << 48,
};
#define NBAD (sizeof bad_sizes / sizeof bad_sizes[0])

#define EXPECT_ENOMEM(call, n)                                                         \
    do {                                                                               \
        errno = 0;                                                                     \
        void *r_ = (call);                                                             \
        CHECK(r_ == NULL, "%s with size %#zx returned %p", #call, (size_t)(n), r_);    \
        CHECK(errno == ENOMEM, "%s with size %#zx: errno %d (%s), expected ENOMEM",    \
              #call, (size_t)(n), errno, strerror(errno));                             \
    } while (0)

int main(void)
{
    char *keep = fly_malloc(100);
    CHECK(keep != NULL, "malloc(100)");
    t_fill(keep, 100, 7);
    char *big = fly_malloc(3u << 20);
    CHECK(big != NULL, "malloc(3 MiB)");
    t_fill(big, 3u << 20, 8);

    for (size_t i = 0; i < NBAD; i++) {
        size_t n = t_opaque(bad_sizes[i]);
        EXPECT_ENOMEM(fly_malloc(n), n);
        EXPECT_ENOMEM(fly_aligned_alloc(64, n), n);
        EXPECT_ENOMEM(fly_aligned_alloc(1u << 20, n), n);
        EXPECT_ENOMEM(fly_memalign(4096, n), n);
        EXPECT_ENOMEM(fly_valloc(n), n);
        EXPECT_ENOMEM(fly_pvalloc(n), n);
        EXPECT_ENOMEM(fly_calloc(1, n), n);

        void *m = (void *)0x1234;
        int rc = fly_posix_memalign(&m, 4096, n);
        CHECK(rc == ENOMEM, "posix_memalign(4096, %#zx) = %d, expected ENOMEM", n, rc);
        CHECK(m == (void *)0x1234 || m == NULL, "posix_memalign failure wrote %p to *memptr", m);
        m = (void *)0x1234;
        rc = fly_posix_memalign(&m, 1u << 20, n);
        CHECK(rc == ENOMEM, "posix_memalign(1 MiB, %#zx) = %d, expected ENOMEM", n, rc);
        CHECK(m == (void *)0x1234 || m == NULL, "posix_memalign failure wrote %p to *memptr", m);

        /* failed realloc: old block still valid with its content */
        EXPECT_ENOMEM(fly_realloc(keep, n), n);
        CHECK(t_verify(keep, 100, 7) == 100, "small block changed by failed realloc to %#zx", n);
        EXPECT_ENOMEM(fly_realloc(big, n), n);
        CHECK(t_verify(big, 3u << 20, 8) == 3u << 20, "3 MiB block changed by failed realloc to %#zx", n);
        EXPECT_ENOMEM(fly_realloc(NULL, n), n);
    }

    /* reallocarray: overflow of nmemb * size */
    EXPECT_ENOMEM(fly_reallocarray(keep, t_opaque(SIZE_MAX), 2), SIZE_MAX);
    EXPECT_ENOMEM(fly_reallocarray(keep, (size_t)1 << 33, t_opaque((size_t)1 << 33)), 0);
    EXPECT_ENOMEM(fly_reallocarray(NULL, t_opaque(SIZE_MAX / 8 + 1), 8), 0);
    EXPECT_ENOMEM(fly_reallocarray(big, 2, t_opaque(SIZE_MAX / 2 + 1)), 0);
    CHECK(t_verify(keep, 100, 7) == 100, "small block changed by failed reallocarray");
    CHECK(t_verify(big, 3u << 20, 8) == 3u << 20, "large block changed by failed reallocarray");

    /* reallocarray that does not overflow behaves like realloc */
    char *r = fly_reallocarray(keep, 25, 8);
    CHECK(r != NULL, "reallocarray(p, 25, 8)");
    CHECK(fly_malloc_usable_size(r) >= 200, "reallocarray usable %zu < 200", fly_malloc_usable_size(r));
    CHECK(t_verify(r, 100, 7) == 100, "reallocarray lost content");
    char *r2 = fly_reallocarray(NULL, 10, 10);
    CHECK(r2 != NULL && fly_malloc_usable_size(r2) >= 100, "reallocarray(NULL, 10, 10)");

    /* still working */
    for (int i = 0; i < 1000; i++) {
        void *p = fly_malloc((size_t)i * 37);
        CHECK(p != NULL, "malloc after failures");
        fly_free(p);
    }
    fly_free(r);
    fly_free(r2);
    fly_free(big);
    return 0;
}
