/*
 * test_calloc: fly_calloc always returns zeroed memory, and rejects overflow.
 *
 * Proves: calloc of 0 elements or 0 size returns a freeable pointer; fresh
 * calloc'd blocks of every size class are all zero; memory that was filled
 * with garbage and freed comes back zeroed from calloc, for small sizes
 * (recycled through the thread cache), for page-multiple sizes and for large
 * sizes above 1 MiB (recycled dirty spans and huge mappings); nmemb*size
 * overflow returns NULL with errno ENOMEM, as does a product too large to
 * allocate.
 */
#include "check.h"
#include "flymalloc.h"

static void check_zero(const unsigned char *p, size_t n, const char *when)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == 0, "calloc %s: byte %zu of %zu is 0x%02x", when, i, n, p[i]);
}

/* Dirty n-byte blocks, free them, then calloc the same size and expect zeros. */
static void recycle(size_t nmemb, size_t size, int count)
{
    enum { MAXC = 256 };
    void *b[MAXC];
    size_t n = nmemb * size;
    CHECK(count <= MAXC, "count %d", count);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < count; i++) {
            b[i] = fly_malloc(n);
            CHECK(b[i] != NULL, "malloc(%zu)", n);
            memset(b[i], 0xA5, fly_malloc_usable_size(b[i]));
        }
        for (int i = count - 1; i >= 0; i--)
            fly_free(b[i]);
        for (int i = 0; i < count; i++) {
            b[i] = fly_calloc(nmemb, size);
            CHECK(b[i] != NULL, "calloc(%zu, %zu)", nmemb, size);
            check_zero(b[i], n, "after free of dirty memory");
            memset(b[i], 0x5A, n); /* dirty again for the next round */
        }
        for (int i = 0; i < count; i++)
            fly_free(b[i]);
    }
}

static void overflow(size_t a, size_t b)
{
    errno = 0;
    void *p = fly_calloc(t_opaque(a), t_opaque(b));
    CHECK(p == NULL, "calloc(%#zx, %#zx) = %p, expected NULL", a, b, p);
    CHECK(errno == ENOMEM, "calloc(%#zx, %#zx): errno %d, expected ENOMEM", a, b, errno);
}

int main(void)
{
    void *p0 = fly_calloc(0, 0), *p1 = fly_calloc(0, 16), *p2 = fly_calloc(16, 0);
    CHECK(p0 && p1 && p2, "calloc with a zero argument returned NULL (%p %p %p)", p0, p1, p2);
    CHECK(p0 != p1 && p1 != p2 && p0 != p2, "zero-size callocs not distinct");
    fly_free(p0);
    fly_free(p1);
    fly_free(p2);

    /* fresh blocks of many sizes */
    for (size_t n = 1; n <= 70000; n = n < 64 ? n + 1 : n + n / 5) {
        unsigned char *p = fly_calloc(1, n);
        CHECK(p != NULL, "calloc(1, %zu)", n);
        CHECK(((uintptr_t)p & 15) == 0, "calloc(1, %zu) = %p misaligned", n, p);
        check_zero(p, n, "fresh");
        fly_free(p);
    }

    /* recycled memory: small classes, pages, large, huge */
    static const size_t small[] = { 1, 8, 16, 24, 48, 64, 100, 128, 256, 500, 1024, 2048, 4000 };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        recycle(1, small[i], 200);
    recycle(4, 1024, 64);     /* nmemb > 1 */
    recycle(1, 4096, 64);
    recycle(3, 4096, 32);
    recycle(1, 65536, 32);
    recycle(1, 300000, 16);
    recycle(1, (1u << 20) + 1, 8);
    recycle(2, 1u << 20, 8);   /* 2 MiB */
    recycle(1, 9u << 20, 4);   /* 9 MiB */
    recycle(1, 70u << 20, 2);  /* above a 64 MiB region */

    /* interleaved: large dirty block freed, smaller large calloc reuses it */
    for (int i = 0; i < 8; i++) {
        size_t big = (size_t)(3 + i) << 20;
        unsigned char *d = fly_malloc(big);
        CHECK(d != NULL, "malloc(%zu)", big);
        memset(d, 0xEE, big);
        fly_free(d);
        unsigned char *c = fly_calloc(1, big - 12345);
        CHECK(c != NULL, "calloc(1, %zu)", big - 12345);
        check_zero(c, big - 12345, "large after dirty large free");
        fly_free(c);
    }

    overflow(SIZE_MAX, 2);
    overflow(2, SIZE_MAX);
    overflow((size_t)1 << 32, (size_t)1 << 32);
    overflow(SIZE_MAX / 2 + 1, 2);
    overflow((SIZE_MAX / 16) + 1, 16);
    overflow(SIZE_MAX, SIZE_MAX);
    overflow(1, SIZE_MAX);                        /* no overflow, just impossible */
    overflow(1, (size_t)PTRDIFF_MAX + 1);
    overflow((size_t)PTRDIFF_MAX / 4 + 1, 4);
    return 0;
}
