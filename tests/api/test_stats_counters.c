/*
 * test_stats_counters: the statistics count exactly what a known workload
 * did, and fly_ctl reads, sets and acts by name.
 *
 * Proves (one thread, prefixed API, so nothing else allocates from us):
 * 1000 mallocs of 40 bytes show in the 48-byte class as exactly 1000
 * allocations and 40000 requested bytes, hits + misses = allocations with
 * at least one miss and one burst; freeing 600 gives exactly 600 frees and
 * 400 live objects; three 100000-byte blocks add 3 allocations, 300000
 * requested and 3 x 102400 usable bytes to the totals and 307200 large
 * bytes, one free adds one free; a 100 MiB block counts as a huge block;
 * calloc, realloc and aligned allocations count too.  fly_ctl gives the
 * same figures by name ("stats.allocations", "stats.classes.N.FIELD"),
 * ENOENT for unknown names and class numbers, EINVAL for a wrong size,
 * EPERM for writes to figures and for an action given values; opt.decay_ms
 * reads back what was written and refuses out-of-range values;
 * opt.tcache_bytes may be lowered but not raised above its start value;
 * thread.tcache.flush gives back what the thread cached; arena.purge
 * leaves no dirty or cached bytes; the fragmentation summary is a sentence that adds up.
 */
#include "check.h"
#include "flymalloc.h"

#include <errno.h>
#include <string.h>

static fly_stats_t st;

static void snap(void)
{
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    CHECK(st.st_version == FLY_STATS_VERSION, "version %u", st.st_version);
}

static unsigned class_of_size(uint64_t size)
{
    for (unsigned i = 0; i < st.st_nclasses; i++)
        if (st.st_class[i].cs_size == size)
            return i;
    CHECK(0, "no %llu-byte class", (unsigned long long)size);
    return 0;
}

static uint64_t ctl_u64(const char *name)
{
    uint64_t v = 0;
    size_t len = sizeof v;
    int err = fly_ctl(name, &v, &len, NULL, 0);
    CHECK(err == 0, "fly_ctl(%s) = %d", name, err);
    return v;
}

int main(void)
{
    snap();
    unsigned c48 = class_of_size(48);
    fly_stats_t s0 = st;
    fly_class_stats_t k0 = st.st_class[c48];

    static void *p[1000];
    for (int i = 0; i < 1000; i++) {
        p[i] = fly_malloc(40);
        CHECK(p[i], "malloc(40)");
        memset(p[i], i, 40);
    }
    snap();
    fly_class_stats_t k = st.st_class[c48];
    CHECK(k.cs_nmalloc - k0.cs_nmalloc == 1000, "class allocations +%llu",
          (unsigned long long)(k.cs_nmalloc - k0.cs_nmalloc));
    CHECK(k.cs_requested - k0.cs_requested == 40000, "class requested +%llu",
          (unsigned long long)(k.cs_requested - k0.cs_requested));
    CHECK(k.cs_live - k0.cs_live == 1000, "class live +%llu",
          (unsigned long long)(k.cs_live - k0.cs_live));
    CHECK(k.cs_hits + k.cs_misses == k.cs_nmalloc, "hits + misses != allocations");
    CHECK(k.cs_misses > k0.cs_misses && k.cs_bursts > k0.cs_bursts, "no miss or burst counted");
    CHECK(k.cs_zones >= 1 && k.cs_capacity >= k.cs_live + k.cs_cached, "zones do not hold the objects");
    CHECK(st.st_nmalloc - s0.st_nmalloc == 1000, "total allocations +%llu",
          (unsigned long long)(st.st_nmalloc - s0.st_nmalloc));
    CHECK(st.st_usable_bytes - s0.st_usable_bytes == 48000, "usable +%llu",
          (unsigned long long)(st.st_usable_bytes - s0.st_usable_bytes));

    char name[64];
    snprintf(name, sizeof name, "stats.classes.%u.allocations", c48 + 1);
    CHECK(ctl_u64(name) == k.cs_nmalloc, "%s differs from fly_stats_get", name);
    CHECK(ctl_u64("stats.allocations") == st.st_nmalloc, "stats.allocations differs");

    for (int i = 0; i < 600; i++)
        fly_free(p[i]);
    snap();
    k = st.st_class[c48];
    CHECK(k.cs_nfree - k0.cs_nfree == 600, "class frees +%llu",
          (unsigned long long)(k.cs_nfree - k0.cs_nfree));
    CHECK(k.cs_live - k0.cs_live == 400, "class live +%llu after frees",
          (unsigned long long)(k.cs_live - k0.cs_live));
    CHECK(st.st_nfree - s0.st_nfree == 600, "total frees +%llu",
          (unsigned long long)(st.st_nfree - s0.st_nfree));

    fly_stats_t s1 = st;
    void *big[3];
    for (int i = 0; i < 3; i++)
        CHECK((big[i] = fly_malloc(100000)) != NULL, "malloc(100000)");
    snap();
    CHECK(st.st_nmalloc - s1.st_nmalloc == 3, "large allocations +%llu",
          (unsigned long long)(st.st_nmalloc - s1.st_nmalloc));
    CHECK(st.st_requested_bytes - s1.st_requested_bytes == 300000, "large requested +%llu",
          (unsigned long long)(st.st_requested_bytes - s1.st_requested_bytes));
    CHECK(st.st_usable_bytes - s1.st_usable_bytes == 3 * 102400, "large usable +%llu",
          (unsigned long long)(st.st_usable_bytes - s1.st_usable_bytes));
    CHECK(st.st_large_bytes - s1.st_large_bytes == 307200, "large bytes +%llu",
          (unsigned long long)(st.st_large_bytes - s1.st_large_bytes));
    fly_free(big[0]);
    snap();
    CHECK(st.st_nfree - s1.st_nfree == 1, "large free +%llu",
          (unsigned long long)(st.st_nfree - s1.st_nfree));

    fly_stats_t s2 = st;
    void *huge = fly_malloc((size_t)100 << 20);
    CHECK(huge, "malloc(100 MiB)");
    void *z = fly_calloc(10, 10);
    void *r = fly_realloc(NULL, 24);
    void *a = fly_aligned_alloc(64, 64);
    snap();
    CHECK(st.st_huge_blocks == s2.st_huge_blocks + 1, "huge blocks %llu",
          (unsigned long long)st.st_huge_blocks);
    CHECK(st.st_nmalloc - s2.st_nmalloc == 4, "huge+calloc+realloc+aligned: +%llu",
          (unsigned long long)(st.st_nmalloc - s2.st_nmalloc));
    fly_free(huge);
    fly_free(z);
    fly_free(r);
    fly_free(a);

    /* fly_ctl errors */
    uint64_t v = 0;
    size_t len = sizeof v;
    CHECK(fly_ctl("stats.no_such_thing", &v, &len, NULL, 0) == ENOENT, "unknown stat not ENOENT");
    CHECK(fly_ctl("no.such.name", &v, &len, NULL, 0) == ENOENT, "unknown name not ENOENT");
    CHECK(fly_ctl("stats.classes.0.size", &v, &len, NULL, 0) == ENOENT, "class 0 not ENOENT");
    CHECK(fly_ctl("stats.classes.999.size", &v, &len, NULL, 0) == ENOENT, "class 999 not ENOENT");
    CHECK(fly_ctl("stats.classes.1.nothing", &v, &len, NULL, 0) == ENOENT, "bad field not ENOENT");
    len = 4;
    CHECK(fly_ctl("stats.live_bytes", &v, &len, NULL, 0) == EINVAL, "wrong size not EINVAL");
    len = sizeof v;
    CHECK(fly_ctl("stats.live_bytes", &v, &len, &v, sizeof v) == EPERM, "write to a figure not EPERM");
    CHECK(fly_ctl("thread.tcache.flush", &v, &len, NULL, 0) == EPERM, "action with old not EPERM");
    CHECK(fly_ctl(NULL, NULL, NULL, NULL, 0) == EINVAL, "NULL name not EINVAL");
    uint32_t ver = 0;
    size_t vlen = sizeof ver;
    CHECK(fly_ctl("version", &ver, &vlen, NULL, 0) == 0 && ver == FLY_STATS_VERSION, "version");
    uint32_t ncl = 0;
    CHECK(fly_ctl("stats.classes", &ncl, &vlen, NULL, 0) == 0 && ncl == st.st_nclasses,
          "stats.classes");

    /* settings */
    uint64_t old = 0, nv = 250;
    len = sizeof old;
    CHECK(fly_ctl("opt.decay_ms", &old, &len, &nv, sizeof nv) == 0, "set decay");
    CHECK(ctl_u64("opt.decay_ms") == 250, "decay not read back");
    nv = 100000000;
    CHECK(fly_ctl("opt.decay_ms", NULL, NULL, &nv, sizeof nv) == EINVAL, "huge decay accepted");
    CHECK(fly_ctl("opt.decay_ms", NULL, NULL, &nv, 4) == EINVAL, "short value accepted");
    CHECK(fly_ctl("opt.decay_ms", NULL, NULL, &old, sizeof old) == 0, "restore decay");
    uint64_t budget = ctl_u64("opt.tcache_bytes");
    nv = budget * 64;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &nv, sizeof nv) == EINVAL,
          "a budget beyond every magazine at its largest accepted");
    nv = budget + budget / 8;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &nv, sizeof nv) == 0, "raised budget refused");
    CHECK(ctl_u64("opt.tcache_bytes") == nv, "raised budget not read back");
    nv = budget / 2;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &nv, sizeof nv) == 0, "lower budget refused");
    CHECK(ctl_u64("opt.tcache_bytes") == budget / 2, "budget not read back");

    /* actions */
    snap();
    uint64_t cached48 = st.st_class[c48].cs_cached;
    CHECK(fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0, "flush");
    snap();
    CHECK(st.st_class[c48].cs_cached < cached48, "flush kept all %llu cached objects",
          (unsigned long long)cached48);
    CHECK(fly_ctl("arena.purge", NULL, NULL, NULL, 0) == 0, "purge");
    snap();
    for (unsigned i = 0; i < st.st_nclasses; i++)
        CHECK(st.st_class[i].cs_cached == 0, "%llu objects of %llu bytes cached after purge",
              (unsigned long long)st.st_class[i].cs_cached,
              (unsigned long long)st.st_class[i].cs_size);
    CHECK(st.st_dirty_bytes == 0 && st.st_cached_bytes == 0,
          "%llu dirty, %llu cached bytes after arena.purge",
          (unsigned long long)st.st_dirty_bytes, (unsigned long long)st.st_cached_bytes);

    /* fragmentation */
    char summary[1024];
    size_t slen = sizeof summary;
    CHECK(fly_ctl("stats.fragmentation.summary", summary, &slen, NULL, 0) == 0, "summary");
    CHECK(slen == strlen(summary) && strstr(summary, "flymalloc holds "), "summary: %s", summary);
    uint64_t held = ctl_u64("stats.fragmentation.held_bytes");
    uint64_t parts = ctl_u64("stats.fragmentation.live_bytes") +
                     ctl_u64("stats.fragmentation.zone_free_bytes") +
                     ctl_u64("stats.fragmentation.cached_bytes") +
                     ctl_u64("stats.fragmentation.dirty_bytes") +
                     ctl_u64("stats.fragmentation.meta_bytes");
    CHECK(held == parts, "held %llu != parts %llu", (unsigned long long)held,
          (unsigned long long)parts);
    slen = 8;
    CHECK(fly_ctl("stats.fragmentation.summary", summary, &slen, NULL, 0) == 0 && slen == 7,
          "short buffer: length %zu", slen);
    for (int i = 600; i < 1000; i++)
        fly_free(p[i]);
    fly_free(big[1]);
    fly_free(big[2]);
    return 0;
}
