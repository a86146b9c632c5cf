/*
 * memret.c: does memory go back to the system after a mass free?
 *
 * Models a cache or session table that fills up and then expires most of
 * its entries: allocate about --bytes (1 GiB) of small objects of mixed
 * sizes (16 B..1 KiB, uniform), free the oldest 90 % in allocation order,
 * stay idle for --idle-ms (2 s), then make a little allocation traffic
 * (--traffic malloc/free pairs), and read the resident set size from
 * /proc/self/statm.  The figure of merit is
 *     ratio = (RSS_end - RSS_start) / live_bytes
 * where live_bytes is the sum of the requested sizes still allocated.  An
 * allocator that returns the pages the freed objects occupied scores near
 * 1; one that keeps them all scores near 10.  The allocator gets no help:
 * no malloc_trim, and the only activity after the idle period is the small
 * traffic, so an allocator must either purge on its own (a background
 * thread) or when it is next called.
 *
 * The bookkeeping arrays are mapped and touched before RSS_start is read,
 * so only the allocator's memory is measured.
 */
#include <sys/mman.h>

#include "bench_common.h"

static long o_bytes = 1L << 30, o_min = 16, o_max = 1024, o_keep = 10, o_idle_ms = 2000,
            o_traffic = 1000, o_seed = 1;
static int corrupt;

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "bytes", &o_bytes, NULL, "bytes of objects to allocate" },
        { "min", &o_min, NULL, "smallest object (at least 16)" },
        { "max", &o_max, NULL, "largest object" },
        { "keep", &o_keep, NULL, "percent kept (the newest)" },
        { "idle-ms", &o_idle_ms, NULL, "idle time after the mass free" },
        { "traffic", &o_traffic, NULL, "malloc/free pairs after the idle time" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    void **obj;
    uint32_t *len;
    size_t count = 0, nfree, rss_start, rss_peak, rss_freed, rss_end, total = 0, live = 0;
    uint64_t expect = 0, got = 0, keep_expect = 0;
    int bad = 0;
    rng_t r;

    bench_options(argc, argv, opts, &corrupt);
    if (o_bytes < 1 || o_min < 16 || o_max < o_min || o_keep < 1 || o_keep > 100) {
        fprintf(stderr, "memret: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    /* Count the objects first, so the bookkeeping can be set up in advance. */
    rng_seed(&r, (uint64_t)o_seed);
    while (total < (size_t)o_bytes) {
        total += (size_t)rng_range(&r, (uint64_t)o_min, (uint64_t)o_max);
        count++;
    }
    obj = mmap(NULL, count * sizeof *obj, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    len = mmap(NULL, count * sizeof *len, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (obj == MAP_FAILED || len == MAP_FAILED)
        bench_nomem(count * sizeof *obj);
    memset(obj, 0, count * sizeof *obj);
    memset(len, 0, count * sizeof *len);
    free(xmalloc(64)); /* let the allocator initialize itself */
    rss_start = rss_bytes();

    rng_seed(&r, (uint64_t)o_seed);
    for (size_t i = 0; i < count; i++) {
        size_t n = (size_t)rng_range(&r, (uint64_t)o_min, (uint64_t)o_max);
        obj[i] = xmalloc(n);
        len[i] = (uint32_t)n;
        obj_fill(obj[i], n, tag_of(i));
        expect += tag_of(i);
    }
    rss_peak = rss_bytes();

    /* Expire the oldest objects, in the order they were made. */
    nfree = count - count * (size_t)o_keep / 100;
    for (size_t i = 0; i < nfree; i++) {
        got += obj_read(obj[i], len[i], tag_of(i), &bad);
        free(obj[i]);
        obj[i] = NULL;
    }
    for (size_t i = nfree; i < count; i++) {
        live += len[i];
        keep_expect += tag_of(i);
    }
    rss_freed = rss_bytes();
    sleep_ms(o_idle_ms);

    rng_seed(&r, (uint64_t)o_seed + 1);
    for (long i = 0; i < o_traffic; i++) {
        size_t n = (size_t)rng_range(&r, (uint64_t)o_min, (uint64_t)o_max);
        void *p = xmalloc(n);
        obj_fill(p, n, tag_of((uint64_t)i));
        got += obj_read(p, n, tag_of((uint64_t)i), &bad);
        expect += tag_of((uint64_t)i);
        free(p);
    }
    rss_end = rss_bytes();

    if (corrupt)
        obj_corrupt(obj[count - 1]);
    for (size_t i = nfree; i < count; i++) {
        got += obj_read(obj[i], len[i], tag_of(i), &bad);
        free(obj[i]);
    }
    if (bad || got != expect)
        bench_fail("memret: an object lost its contents");
    printf("bench: ops=%zu checksum=%016llx ratio=%.3f live_mib=%.1f rss_start_mib=%.1f "
           "rss_peak_mib=%.1f rss_freed_mib=%.1f rss_end_mib=%.1f\n",
           count, (unsigned long long)(expect ^ keep_expect),
           (double)((long)rss_end - (long)rss_start) / (double)live, live / 1048576.0,
           rss_start / 1048576.0, rss_peak / 1048576.0, rss_freed / 1048576.0,
           rss_end / 1048576.0);
    return 0;
}
