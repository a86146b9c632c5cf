/*
 * test_free_sized: the C23 sized frees release exactly what they are given.
 *
 * Proves: fly_free_sized(p, n) with n the size passed to malloc/calloc (not
 * the usable size) frees blocks of every class, page sizes, large and huge;
 * fly_free_aligned_sized(p, a, n) frees blocks from fly_aligned_alloc and
 * fly_posix_memalign; both accept NULL; the freed blocks count as frees and
 * live bytes return to their starting value; the memory is reused: the next
 * allocations still pass content checks, and after two warm-up cycles 48
 * more do not grow mapped memory.
 */
#include "check.h"
#include "flymalloc.h"

static fly_stats_t stats(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

enum { N = 2000 };
static void *ptr[N];
static size_t req[N], al[N];

static void cycle(uint64_t seed)
{
    const uint64_t tag = seed * 7919;
    for (int i = 0; i < N; i++) {
        uint64_t r = t_rand(&seed);
        req[i] = (i % 50 == 0) ? r % (5u << 20) : (i % 7 == 0) ? r % 70000 : r % 2000;
        al[i] = 0;
        switch (i % 4) {
        case 0: ptr[i] = fly_malloc(req[i]); break;
        case 1: ptr[i] = fly_calloc(1, req[i]); break;
        case 2:
            al[i] = (size_t)16 << (r % 9);
            ptr[i] = fly_aligned_alloc(al[i], req[i]);
            break;
        case 3:
            al[i] = (size_t)8 << (r % 10);
            CHECK(fly_posix_memalign(&ptr[i], al[i], req[i]) == 0, "posix_memalign");
            break;
        }
        CHECK(ptr[i] != NULL, "allocation %d of %zu", i, req[i]);
        t_fill(ptr[i], req[i] < 4096 ? req[i] : 4096, (uint64_t)i ^ tag);
    }
    for (int i = 0; i < N; i++) {
        size_t chk = req[i] < 4096 ? req[i] : 4096;
        CHECK(t_verify(ptr[i], chk, (uint64_t)i ^ tag) == chk, "block %d corrupted", i);
        if (al[i])
            fly_free_aligned_sized(ptr[i], al[i], req[i]);
        else
            fly_free_sized(ptr[i], req[i]);
    }
}

int main(void)
{
    fly_free_sized(NULL, 0);
    fly_free_sized(NULL, 100);
    fly_free_aligned_sized(NULL, 64, 0);

    fly_stats_t a = stats();
    for (size_t n = 0; n < 5000; n++) {
        void *p = fly_malloc(n);
        CHECK(p != NULL, "malloc(%zu)", n);
        fly_free_sized(p, n);
    }
    fly_stats_t b = stats();
    CHECK(b.st_nfree - a.st_nfree >= 5000, "5000 sized frees counted as %llu frees",
          (unsigned long long)(b.st_nfree - a.st_nfree));
    CHECK(b.st_live_bytes == a.st_live_bytes, "live bytes %llu -> %llu after malloc+free_sized",
          (unsigned long long)a.st_live_bytes, (unsigned long long)b.st_live_bytes);

    cycle(1);
    cycle(1);
    fly_stats_t c = stats();
    CHECK(c.st_live_bytes == a.st_live_bytes, "live bytes %llu -> %llu after sized-free cycle",
          (unsigned long long)a.st_live_bytes, (unsigned long long)c.st_live_bytes);
    for (int k = 0; k < 48; k++)
        cycle(1);
    fly_stats_t d = stats();
    CHECK(d.st_live_bytes == a.st_live_bytes, "live bytes %llu -> %llu after 48 more cycles",
          (unsigned long long)a.st_live_bytes, (unsigned long long)d.st_live_bytes);
    CHECK(d.st_mapped_bytes <= c.st_mapped_bytes + (64u << 20),
          "mapped bytes grew from %llu to %llu over 48 identical cycles: sized frees not reused",
          (unsigned long long)c.st_mapped_bytes, (unsigned long long)d.st_mapped_bytes);
    return 0;
}
