/*
 * test_decay_purge: freed memory stays resident only for the decay time,
 * then goes back to the OS, with no background thread and no eager madvise.
 *
 * The test re-executes itself with FLYMALLOC_DECAY_MS=200 (LD_PRELOAD is
 * inherited).  Proves: after 64 MiB of 256-byte objects and 64 MiB of 1 MiB
 * blocks are touched and freed, nothing is purged at once (fewer than
 * 16 MiB madvised right after the frees: freed zones and spans are kept
 * dirty for reuse); after idling well past the decay time, a little
 * allocation traffic (no trim, no extra thread) brings the resident set
 * back to within 40 MiB of where it started and moves dirty bytes to
 * cold; and the purge is made of few madvise calls (at most 256 for 128
 * MiB), each covering a run of idle pages rather than one zone at a time.
 * flytest: timeout=60
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "flyprobe.h"

static fly_stats_t get(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st;
}

enum { NSMALL = (64 << 20) / 256, NBIG = 64 };

int main(int argc, char **argv)
{
    (void)argc;
    const char *d = getenv("FLYMALLOC_DECAY_MS");
    if (!d || strcmp(d, "200") != 0) {
        setenv("FLYMALLOC_DECAY_MS", "200", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "execv: %s", strerror(errno));
    }
    fly_probe_require_active();

    void **small = malloc(NSMALL * sizeof(void *));
    CHECK(small != NULL, "malloc");
    void *big[NBIG];
    size_t rss0 = t_rss_bytes();
    for (int i = 0; i < NSMALL; i++) {
        small[i] = malloc(256);
        CHECK(small[i] != NULL, "malloc(256)");
        memset(small[i], 1, 256);
    }
    for (int i = 0; i < NBIG; i++) {
        big[i] = malloc(1u << 20);
        CHECK(big[i] != NULL, "malloc(1 MiB)");
        memset(big[i], 2, 1u << 20);
    }
    size_t rss1 = t_rss_bytes();
    CHECK(rss1 >= rss0 + (120u << 20), "RSS %zu -> %zu after touching 128 MiB", rss0, rss1);
    fly_stats_t a = get();
    for (int i = 0; i < NSMALL; i++)
        free(small[i]);
    for (int i = 0; i < NBIG; i++)
        free(big[i]);
    fly_stats_t b = get();
    uint64_t eager = b.st_madvise_bytes - a.st_madvise_bytes;
    CHECK(eager < (16u << 20), "%llu bytes madvised immediately on free (no eager madvise expected)",
          (unsigned long long)eager);

    size_t rss2 = 0;
    for (int round = 0; round < 30; round++) {
        usleep(100000); /* idle: 3 s in all, 15 decay times */
        for (int i = 0; i < 200; i++) {
            void *p = malloc((size_t)(i % 20) * 16 + 16);
            CHECK(p != NULL, "malloc");
            free(p);
        }
        rss2 = t_rss_bytes();
        if (rss2 <= rss0 + (40u << 20) && round >= 5)
            break;
    }
    fly_stats_t c = get();
    t_log("rss: start %zu, touched %zu, after idle %zu; madvise %llu calls %llu bytes; cold %llu -> %llu\n",
          rss0, rss1, rss2, (unsigned long long)(c.st_madvise_calls - b.st_madvise_calls),
          (unsigned long long)(c.st_madvise_bytes - b.st_madvise_bytes), (unsigned long long)b.st_cold_bytes,
          (unsigned long long)c.st_cold_bytes);
    CHECK(rss2 <= rss0 + (40u << 20), "RSS still %zu after idling (started at %zu, %zu with 128 MiB live)",
          rss2, rss0, rss1);
    CHECK(c.st_cold_bytes > b.st_cold_bytes, "cold bytes did not grow (%llu -> %llu)",
          (unsigned long long)b.st_cold_bytes, (unsigned long long)c.st_cold_bytes);
    CHECK(c.st_madvise_calls - b.st_madvise_calls <= 256, "%llu madvise calls to purge 128 MiB",
          (unsigned long long)(c.st_madvise_calls - b.st_madvise_calls));
    free(small);
    return 0;
}
