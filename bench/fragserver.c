/*
 * fragserver.c: a long-running server that grows and shrinks, and what its
 * resident memory does compared with its live data.
 *
 * Models a server whose load comes in waves: during a busy phase it builds
 * up state (requests, sessions, cached results), during a quiet phase most
 * of that state is dropped, and each wave uses a somewhat different mix of
 * object sizes (a new kind of request, a new feature), while a small set of
 * long-lived objects made early stays for the whole run and pins whatever
 * pages it sits on.  Frees pick random victims, not the oldest, so the
 * freed space is scattered: this is what external fragmentation is made of.
 *
 * Phase p moves the live data towards a target that alternates high and
 * low (the high target is --peak bytes, the low ones 10..40 % of it); one
 * step in four churns instead (allocates an object and frees random older
 * ones of about the same total size) so that the heap keeps turning over even
 * when its size does not change.  Every --sample steps
 * the workload prints
 *     sample: t=SECONDS live=BYTES rss=BYTES phase=P
 * where live counts the requested bytes of every live object and rss is the
 * heap's resident memory: the process RSS less the RSS before the first
 * allocation and less the resident part of the workload's own bookkeeping
 * array (mapped directly, trimmed as it shrinks).  At the end the summary
 * line reports
 *     peak_ratio   highest sampled heap RSS / highest live bytes
 *     mean_ratio   mean over samples of heap RSS / live bytes
 *     end_ratio    heap RSS / live bytes after the last (low) phase
 */
#include <sys/mman.h>

#include "bench_common.h"

static long o_phases = 12, o_peak = 512L << 20, o_sample = 50000, o_longlived = 2,
            o_seed = 1;
static int corrupt;

typedef struct {
    void *ob_ptr;
    uint32_t ob_len;
    uint64_t ob_tag;
} object_t;

static object_t *live_obj;
static size_t nlive, cap, live_bytes, book_hwm, rss_base;
static uint64_t made, got, next_id;
static int bad;

static size_t pick_size(rng_t *r, long phase)
{
    uint64_t x = rng_next(r);
    /* Each phase favours a different band, on top of a common small mix. */
    static const size_t band_lo[] = { 16, 64, 256, 1024, 48, 4096 };
    static const size_t band_hi[] = { 128, 512, 2048, 8192, 384, 32768 };
    size_t b = (size_t)phase % 6;

    if (x % 100 < 60)
        return (size_t)rng_range(r, 16, 256);
    return (size_t)rng_range(r, band_lo[b], band_hi[b]);
}

static void add_one(rng_t *r, long phase)
{
    size_t n = pick_size(r, phase);
    object_t *o = &live_obj[nlive++];

    if (nlive > cap)
        bench_fail("fragserver: bookkeeping overflow");
    o->ob_ptr = xmalloc(n);
    o->ob_len = (uint32_t)n;
    o->ob_tag = tag_of(next_id++);
    obj_fill(o->ob_ptr, n, o->ob_tag);
    made += o->ob_tag;
    live_bytes += n;
}

static void drop(size_t i)
{
    object_t *o = &live_obj[i];
    got += obj_read(o->ob_ptr, o->ob_len, o->ob_tag, &bad);
    free(o->ob_ptr);
    live_bytes -= o->ob_len;
    *o = live_obj[--nlive];
}

/* Heap RSS: process RSS less the baseline and the bookkeeping in use. */
static size_t heap_rss(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t used = (nlive * sizeof *live_obj + page - 1) / page * page;
    size_t rss;

    if (book_hwm > used)
        madvise((char *)live_obj + used, book_hwm - used, MADV_DONTNEED);
    book_hwm = used;
    rss = rss_bytes();
    return rss > rss_base + used ? rss - rss_base - used : 0;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "phases", &o_phases, NULL, "growth/shrink phases" },
        { "peak", &o_peak, NULL, "live bytes at the top of a wave" },
        { "sample", &o_sample, NULL, "steps between RSS samples" },
        { "longlived", &o_longlived, NULL, "percent of the first wave kept to the end" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    object_t *keep;
    size_t nkeep = 0, keep_cap, peak_live = 0, peak_rss = 0, rss = 0, end_live;
    double t0 = now_sec(), ratio_sum = 0;
    long samples = 0, steps = 0;
    rng_t r;

    bench_options(argc, argv, opts, &corrupt);
    if (o_phases < 2 || o_peak < 65536 || o_sample < 1 || o_longlived < 0 || o_longlived > 50) {
        fprintf(stderr, "fragserver: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    cap = (size_t)o_peak / 16 + 1024;
    keep_cap = cap * (size_t)o_longlived / 100 + 1;
    live_obj = mmap(NULL, cap * sizeof *live_obj, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    keep = mmap(NULL, keep_cap * sizeof *keep, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (live_obj == MAP_FAILED || keep == MAP_FAILED)
        bench_nomem(cap * sizeof *live_obj);
    free(xmalloc(64)); /* let the allocator initialize itself */
    rss_base = rss_bytes();
    rng_seed(&r, (uint64_t)o_seed);

    for (long phase = 0; phase < o_phases; phase++) {
        size_t target = phase % 2 == 0 ? (size_t)o_peak
                                       : (size_t)o_peak / 100 * (size_t)(10 + (phase / 2 * 7) % 31);
        int growing = live_bytes < target;

        while (growing ? live_bytes < target : live_bytes > target) {
            uint64_t x = rng_next(&r);

            if (x % 4 == 0 && nlive > 1) {
                /* Churn: a new object replaces random old ones of the same bytes. */
                size_t before = live_bytes;
                add_one(&r, phase);
                while (live_bytes > before && nlive > 1)
                    drop((size_t)(rng_next(&r) % (nlive - 1)));
            } else if (growing || nlive == 0) {
                add_one(&r, phase);
            } else {
                drop((size_t)((x >> 8) % nlive));
            }
            if (live_bytes > peak_live)
                peak_live = live_bytes;
            if (++steps % o_sample == 0) {
                rss = heap_rss();
                printf("sample: t=%.3f live=%zu rss=%zu phase=%ld\n", now_sec() - t0,
                       live_bytes, rss, phase);
                ratio_sum += (double)rss / (double)(live_bytes ? live_bytes : 1);
                samples++;
                if (rss > peak_rss)
                    peak_rss = rss;
            }
        }
        /* At the end of the first wave, set aside the long-lived objects. */
        if (phase == 0) {
            while (nkeep < keep_cap - 1 && nkeep * 100 < (nlive + nkeep) * (size_t)o_longlived) {
                size_t i = (size_t)(rng_next(&r) % nlive);
                keep[nkeep++] = live_obj[i];
                live_obj[i] = live_obj[--nlive];
            }
        }
        if (corrupt && phase == o_phases / 2 && nlive > 0)
            obj_corrupt(live_obj[0].ob_ptr);
    }
    rss = heap_rss();
    end_live = live_bytes;
    while (nlive > 0)
        drop(nlive - 1);
    for (size_t i = 0; i < nkeep; i++) {
        got += obj_read(keep[i].ob_ptr, keep[i].ob_len, keep[i].ob_tag, &bad);
        free(keep[i].ob_ptr);
    }
    if (bad || got != made)
        bench_fail("fragserver: an object lost its contents");
    printf("bench: ops=%ld checksum=%016llx peak_ratio=%.3f mean_ratio=%.3f end_ratio=%.3f "
           "peak_live_mib=%.1f peak_heap_rss_mib=%.1f end_heap_rss_mib=%.1f samples=%ld\n",
           steps, (unsigned long long)made, (double)peak_rss / (double)peak_live,
           samples ? ratio_sum / (double)samples : 0.0, (double)rss / (double)end_live,
           peak_live / 1048576.0, peak_rss / 1048576.0, rss / 1048576.0, samples);
    return 0;
}
