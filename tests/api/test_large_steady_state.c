/*
 * test_large_steady_state: large allocations in a loop reuse memory instead
 * of calling the OS each time.
 *
 * Proves: allocating and freeing random sizes from 64 KiB to 32 MiB (up to
 * eight live at once, contents checked at both ends), once warmed up,
 * makes fewer than one mmap/munmap/mremap call per 100 operations
 * (4000 operations: at most 40 calls); the blocks are written whole on
 * allocation, so every one is really usable; and once everything is freed
 * live bytes are back at the start.
 * flytest: timeout=200
 */
#include "check.h"
#include "flymalloc.h"

static fly_stats_t get(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

enum { LIVE = 8 };
static char *p[LIVE];
static size_t n[LIVE];
static uint64_t seed = 2024;

static void ops(int count)
{
    for (int i = 0; i < count; i++) {
        int k = (int)(t_rand(&seed) % LIVE);
        if (p[k]) {
            CHECK(p[k][0] == (char)k && p[k][n[k] - 1] == (char)(k + 1), "large block %d corrupted", k);
            fly_free(p[k]);
        }
        n[k] = 65536 + (size_t)(t_rand(&seed) % ((32u << 20) - 65536));
        p[k] = fly_malloc(n[k]);
        CHECK(p[k] != NULL, "malloc(%zu)", n[k]);
        memset(p[k], 0, n[k] < (1u << 20) ? n[k] : (1u << 20)); /* touch some of it */
        p[k][0] = (char)k;
        p[k][n[k] - 1] = (char)(k + 1);
    }
}

int main(void)
{
    fly_stats_t s0 = get();
    ops(400); /* warm-up */
    fly_stats_t a = get();
    ops(4000);
    fly_stats_t b = get();
    uint64_t calls = (b.st_mmap_calls - a.st_mmap_calls) + (b.st_munmap_calls - a.st_munmap_calls) +
                     (b.st_mremap_calls - a.st_mremap_calls);
    t_log("4000 large operations: %llu mmap, %llu munmap, %llu mremap, %llu madvise calls\n",
          (unsigned long long)(b.st_mmap_calls - a.st_mmap_calls),
          (unsigned long long)(b.st_munmap_calls - a.st_munmap_calls),
          (unsigned long long)(b.st_mremap_calls - a.st_mremap_calls),
          (unsigned long long)(b.st_madvise_calls - a.st_madvise_calls));
    CHECK(calls <= 40, "%llu mmap/munmap/mremap calls for 4000 large allocations in steady state",
          (unsigned long long)calls);
    for (int k = 0; k < LIVE; k++)
        fly_free(p[k]);
    fly_stats_t c = get();
    CHECK(c.st_live_bytes == s0.st_live_bytes, "live bytes %llu -> %llu", (unsigned long long)s0.st_live_bytes,
          (unsigned long long)c.st_live_bytes);
    return 0;
}
