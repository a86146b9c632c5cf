/*
 * stats.c: statistics merged on demand from every layer, and their printing.
 *
 * Nothing here is on the fast path.  The thread caches count allocations
 * and requested bytes per class in each bin (tcache_inline.h); misses, the
 * mallocs that neither of the thread's magazines could serve (a swap is a
 * hit), are counted on the slow path, so hits are allocations minus misses.
 * Frees are derived: allocations minus live objects, where live objects of a
 * class are those outside its zones (sc_objs_out) minus those cached in
 * magazines; this is exact whenever the threads are quiescent and never
 * costs free() an instruction.  The large and huge layers count for
 * themselves.  The peak is tracked on the slow paths over bytes handed out
 * by zones (including those still cached) plus large and huge blocks, so it
 * bounds the true peak of live bytes from above by at most the caches'
 * contents.  Printing builds text in a stack buffer: no stdio.
 */
#include "stats.h"
#include "bump.h"
#include "config.h"
#include "heap.h"
#include "huge.h"
#include "large.h"
#include "meta.h"
#include "os.h"
#include "tcache.h"
#include "usage.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* The process's resident set, from /proc/self/statm (no allocation). */
static uint64_t resident_bytes(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *s = buf;
    while (*s && *s != ' ')          /* first field: total program size */
        s++;
    uint64_t pages = 0;
    for (s++; *s >= '0' && *s <= '9'; s++)
        pages = pages * 10 + (uint64_t)(*s - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Adds class c's slab and depot figures of heap h to cs, and returns the
 * objects its depot holds. */
static uint64_t add_heap_class(fly_heap_t *h, unsigned c, fly_class_stats_t *cs, uint64_t *out)
{
    fly_slab_class_t *sc = &h->hp_slab.sl_class[c];
    const fly_depot_class_t *dc = &h->hp_depot.dp_class[c];
    fly_lock(&sc->sc_lock);
    *out += sc->sc_objs_out;
    uint64_t depot = dc->dc_full_rounds;
    cs->cs_bursts += sc->sc_bursts;
    cs->cs_exchanges += dc->dc_exchanges;
    cs->cs_contended += dc->dc_contended;
    cs->cs_zones += sc->sc_nzones;
    fly_unlock(&sc->sc_lock);
    return depot;
}

static void class_stats(fly_stats_t *st, const fly_tcache_counts_t *tcc)
{
    st->st_nclasses = fly_nclasses;
    uint32_t nheaps = fly_heap_count();
    uint64_t bump_out[FLY_MAX_CLASSES + 1] = { 0 }, bump_n[FLY_MAX_CLASSES + 1] = { 0 };
    uint64_t bump_req[FLY_MAX_CLASSES + 1] = { 0 };
    fly_bump_class_counts(fly_nclasses, bump_out, bump_n, bump_req);
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        const fly_class_t *cl = &fly_classes[c];
        fly_class_stats_t *cs = &st->st_class[c - 1];
        uint64_t out = bump_out[c], cached = tcc->cached[c];
        for (uint32_t i = 0; i < nheaps; i++)
            cached += add_heap_class(fly_heap_at(i), c, cs, &out);
        cs->cs_size = cl->cl_size;
        cs->cs_cached = FLY_MIN(cached, out);
        cs->cs_live = out - cs->cs_cached;
        cs->cs_nmalloc = tcc->nmalloc[c] + bump_n[c];
        cs->cs_nfree = cs->cs_nmalloc > cs->cs_live ? cs->cs_nmalloc - cs->cs_live : 0;
        cs->cs_requested = tcc->requested[c] + bump_req[c];
        cs->cs_misses = FLY_MIN(tcc->misses[c] + bump_n[c], cs->cs_nmalloc);
        cs->cs_hits = cs->cs_nmalloc - cs->cs_misses;
        cs->cs_zone_bytes = cs->cs_zones * cl->cl_zone_size;
        cs->cs_capacity = cs->cs_zones * cl->cl_nobjs;

        st->st_nmalloc += cs->cs_nmalloc;
        st->st_nfree += cs->cs_nfree;
        st->st_requested_bytes += cs->cs_requested;
        st->st_usable_bytes += cs->cs_nmalloc * cl->cl_size;
        st->st_small_bytes += cs->cs_live * cl->cl_size;
        st->st_cached_bytes += cs->cs_cached * cl->cl_size;
        st->st_zone_bytes += cs->cs_zone_bytes;
        st->st_cache_hits += cs->cs_hits;
        st->st_cache_misses += cs->cs_misses;
        st->st_bursts += cs->cs_bursts;
        st->st_depot_exchanges += cs->cs_exchanges;
        st->st_depot_contended += cs->cs_contended;
        st->st_zones += cs->cs_zones;
    }
}

uint32_t fly_stats_heaps(void)
{
    return fly_heap_count();
}

int fly_stats_heap(uint32_t i, fly_heap_stats_t *hs)
{
    memset(hs, 0, sizeof(*hs));
    if (i >= fly_stats_heaps())
        return -1;
    fly_heap_t *h = fly_heap_at(i);
    fly_tcache_counts_t tcc;
    memset(&tcc, 0, sizeof(tcc));
    fly_tcache_counts(h, &tcc);
    uint64_t bump_out[FLY_MAX_CLASSES + 1] = { 0 };
    if (h->hp_slab.sl_bump)
        fly_bump_class_counts(fly_nclasses, bump_out, NULL, NULL);
    for (unsigned c = 1; c <= fly_nclasses; c++) {
        fly_class_stats_t cs;
        memset(&cs, 0, sizeof(cs));
        uint64_t out = bump_out[c], cached = tcc.cached[c] + add_heap_class(h, c, &cs, &out);
        cached = FLY_MIN(cached, out);
        hs->hs_small_bytes += (out - cached) * fly_classes[c].cl_size;
        hs->hs_cached_bytes += cached * fly_classes[c].cl_size;
        hs->hs_zone_bytes += cs.cs_zones * fly_classes[c].cl_zone_size;
    }
    fly_vmem_stats_t vs;
    fly_vmem_stats(h->hp_vmem, &vs);
    hs->hs_used_bytes = vs.vs_used_bytes;
    hs->hs_dirty_bytes = vs.vs_dirty_bytes;
    hs->hs_cold_bytes = vs.vs_cold_bytes;
    hs->hs_mapped_bytes = vs.vs_mapped_bytes;
    hs->hs_purges = vs.vs_purges;
    hs->hs_purged_bytes = vs.vs_purged_bytes;
    hs->hs_reaps = __atomic_load_n(&h->hp_reaps, __ATOMIC_RELAXED);
    hs->hs_came_home = __atomic_load_n(&h->hp_slab.sl_came_home, __ATOMIC_RELAXED);
    return 0;
}

static void add_blocks(fly_stats_t *st, const fly_block_counts_t *bc)
{
    st->st_nmalloc += bc->bc_nalloc;
    st->st_nfree += bc->bc_nalloc > bc->bc_nlive ? bc->bc_nalloc - bc->bc_nlive : 0;
    st->st_requested_bytes += bc->bc_requested;
    st->st_usable_bytes += bc->bc_usable;
    st->st_cached_bytes += bc->bc_cached_bytes;
}

FLY_EXPORT int fly_stats_get(fly_stats_t *st, size_t size)
{
    if (st == NULL || size < sizeof(*st))
        return -1;
    memset(st, 0, sizeof(*st));
    st->st_version = FLY_STATS_VERSION;
    st->st_size = sizeof(*st);
    st->st_resident_bytes = resident_bytes();
    if (fly_heap_count() == 0)        /* not initialized yet: nothing to count */
        return 0;
    fly_tcache_counts_t tcc;
    memset(&tcc, 0, sizeof(tcc));
    fly_tcache_counts(NULL, &tcc);
    class_stats(st, &tcc);

    fly_block_counts_t large, huge;
    fly_large_counts(&large);
    fly_huge_counts(&huge);
    add_blocks(st, &large);
    add_blocks(st, &huge);

    st->st_large_bytes = large.bc_live_bytes;
    st->st_huge_bytes = huge.bc_live_bytes;
    st->st_huge_blocks = huge.bc_nlive;
    st->st_live_bytes = st->st_small_bytes + st->st_large_bytes + st->st_huge_bytes;
    st->st_peak_bytes = FLY_MAX(fly_usage_peak(), st->st_live_bytes);

    for (uint32_t i = 0; i < fly_heap_count(); i++) {
        fly_vmem_stats_t vs;
        fly_vmem_stats(fly_heap_at(i)->hp_vmem, &vs);
        st->st_dirty_bytes += vs.vs_dirty_bytes;
        st->st_cold_bytes += vs.vs_cold_bytes;
        st->st_purges += vs.vs_purges;
        st->st_purged_bytes += vs.vs_purged_bytes;
        /* and the free pages sparse zones gave back (slab.c) */
        st->st_purged_bytes += __atomic_load_n(&fly_heap_at(i)->hp_slab.sl_page_purges, __ATOMIC_RELAXED)
                               << FLY_PAGE_SHIFT;
        st->st_coalesces += vs.vs_coalesces;
    }
    st->st_meta_bytes = fly_meta_bytes();

    fly_os_counters_t oc;
    fly_os_counters(&oc);
    st->st_mapped_bytes = oc.oc_mapped_bytes;
    st->st_mmap_calls = oc.oc_mmap_calls;
    st->st_mmap_bytes = oc.oc_mmap_bytes;
    st->st_munmap_calls = oc.oc_munmap_calls;
    st->st_munmap_bytes = oc.oc_munmap_bytes;
    st->st_madvise_calls = oc.oc_madvise_calls;
    st->st_madvise_bytes = oc.oc_madvise_bytes;
    st->st_mremap_calls = oc.oc_mremap_calls;
    st->st_mremap_bytes = oc.oc_mremap_bytes;
    return 0;
}

static void print_json(fly_text_t *t, const fly_stats_t *st)
{
    const char *sep = "{";
#define X(name, field) fly_text_put(t, sep); fly_text_put(t, "\"" #name "\": "); \
    fly_text_u64(t, st->field); sep = ", ";
    FLY_STATS_FIELDS(X)
#undef X
    fly_text_put(t, ", \"policy\": \"");
    fly_text_put(t, fly_policy_catalog[fly_settings.se_policy].pe_name);
    fly_text_put(t, "\", \"policy_source\": \"");
    fly_text_put(t, fly_policy_source_name(fly_settings.se_policy_source));
    fly_text_put(t, "\", \"classes\": [");
    for (unsigned i = 0; i < st->st_nclasses; i++) {
        const fly_class_stats_t *cs = &st->st_class[i];
        sep = i ? ", {" : "{";
#define X(name, field) fly_text_put(t, sep); fly_text_put(t, "\"" #name "\": "); \
    fly_text_u64(t, cs->field); sep = ", ";
        FLY_CLASS_STATS_FIELDS(X)
#undef X
        fly_text_put(t, "}");
    }
    fly_text_put(t, "], \"heaps\": [");
    for (uint32_t i = 0; i < fly_stats_heaps(); i++) {
        fly_heap_stats_t hs;
        fly_stats_heap(i, &hs);
        sep = i ? ", {" : "{";
#define X(name, field) fly_text_put(t, sep); fly_text_put(t, "\"" #name "\": "); \
    fly_text_u64(t, hs.field); sep = ", ";
        FLY_HEAP_STATS_FIELDS(X)
#undef X
        fly_text_put(t, "}");
    }
    fly_frag_t fr;
    fly_frag_compute(st, &fr);
    fly_text_put(t, "], \"fragmentation\": ");
    sep = "{";
#define X(name, field) fly_text_put(t, sep); fly_text_put(t, "\"" #name "\": "); \
    fly_text_u64(t, fr.field); sep = ", ";
    FLY_FRAG_FIELDS(X)
#undef X
    char summary[1024];
    fly_frag_summary(st, summary, sizeof(summary));
    fly_text_put(t, ", \"summary\": \"");
    fly_text_put(t, summary);          /* plain ASCII without quotes or backslashes */
    fly_text_put(t, "\"}}\n");
}

/* Right-aligns v in a field of width w. */
static void put_col(fly_text_t *t, uint64_t v, unsigned w)
{
    char num[24];
    size_t n = fly_fmt_u64(num, v);
    num[n] = '\0';
    for (; n < w; n++)
        fly_text_put(t, " ");
    fly_text_put(t, num);
}

static void print_text(fly_text_t *t, const fly_stats_t *st)
{
#define X(name, field) fly_text_put(t, "flymalloc: " #name " "); \
    fly_text_u64(t, st->field); fly_text_put(t, "\n");
    FLY_STATS_FIELDS(X)
#undef X
    fly_text_put(t, "flymalloc: policy ");
    fly_text_put(t, fly_policy_catalog[fly_settings.se_policy].pe_name);
    fly_text_put(t, " (");
    fly_text_put(t, fly_policy_source_name(fly_settings.se_policy_source));
    fly_text_put(t, ")\n");
    fly_text_put(t, "flymalloc: class      size    allocs     frees      live    cached"
                    "  miss%   zones  util%\n");
    for (unsigned i = 0; i < st->st_nclasses; i++) {
        const fly_class_stats_t *cs = &st->st_class[i];
        if (cs->cs_nmalloc == 0 && cs->cs_zones == 0)
            continue;
        fly_text_put(t, "flymalloc: ");
        put_col(t, i + 1, 5);
        put_col(t, cs->cs_size, 10);
        put_col(t, cs->cs_nmalloc, 10);
        put_col(t, cs->cs_nfree, 10);
        put_col(t, cs->cs_live, 10);
        put_col(t, cs->cs_cached, 10);
        put_col(t, cs->cs_nmalloc ? cs->cs_misses * 100 / cs->cs_nmalloc : 0, 7);
        put_col(t, cs->cs_zones, 8);
        put_col(t, cs->cs_capacity ? (cs->cs_live + cs->cs_cached) * 100 / cs->cs_capacity : 0, 7);
        fly_text_put(t, "\n");
    }
    /* With more than one heap, a line each (the totals above cover all). */
    for (uint32_t i = 0; fly_stats_heaps() > 1 && i < fly_stats_heaps(); i++) {
        fly_heap_stats_t hs;
        fly_stats_heap(i, &hs);
        fly_text_put(t, "flymalloc: heap ");
        fly_text_u64(t, i);
#define X(name, field) fly_text_put(t, " " #name " "); fly_text_u64(t, hs.field);
        FLY_HEAP_STATS_FIELDS(X)
#undef X
        fly_text_put(t, "\n");
    }
    char summary[1024];
    fly_frag_summary(st, summary, sizeof(summary));
    fly_text_put(t, "flymalloc: ");
    fly_text_put(t, summary);
    fly_text_put(t, "\n");
}

FLY_EXPORT void fly_stats_print(int fd, int flags)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    char buf[2048];
    fly_text_t t = { buf, 0, sizeof(buf), fd };
    if (flags & FLY_STATS_JSON)
        print_json(&t, &st);
    else
        print_text(&t, &st);
    fly_text_flush(&t);
}
