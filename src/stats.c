/*
 * stats.c: statistics merged on demand from every layer, and their printing.
 *
 * Nothing here is on the fast path.  Allocation counts come from the thread
 * caches' tick counters (every malloc decrements one) plus the large and
 * huge layers' counters; live bytes are what the zones handed out minus what
 * sits in magazines, plus live large and huge blocks; frees are allocations
 * minus live objects.  The peak is tracked on the slow paths over bytes
 * handed out by zones (including those still cached) plus large and huge
 * blocks, so it bounds the true peak of live bytes from above by at most
 * the caches' contents.  Printing builds text in a stack buffer: no stdio.
 */
#include "stats.h"
#include "init.h"
#include "large.h"
#include "meta.h"
#include "os.h"
#include "slab.h"
#include "tcache.h"
#include "vmem.h"
#include <string.h>

static int64_t stats_out_bytes, stats_peak_bytes;     /* atomic */

void fly_stats_note_out(int64_t delta)
{
    int64_t now = __atomic_add_fetch(&stats_out_bytes, delta, __ATOMIC_RELAXED);
    int64_t peak = __atomic_load_n(&stats_peak_bytes, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&stats_peak_bytes, &peak, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

FLY_EXPORT int fly_stats_get(fly_stats_t *st, size_t size)
{
    if (st == NULL || size < sizeof(*st))
        return -1;
    memset(st, 0, sizeof(*st));
    st->st_version = FLY_STATS_VERSION;
    st->st_size = sizeof(*st);
    if (!fly_initialized)
        return 0;
    uint64_t cached[FLY_MAX_CLASSES + 1] = { 0 };
    fly_tcache_cached_objs(cached);
    uint64_t live_objs = 0;
    for (unsigned c = 1; c <= fly_policy.po_nclasses; c++) {
        fly_slab_class_t *sc = &fly_slab_classes[c];
        fly_lock(&sc->sc_lock);
        uint64_t out = sc->sc_objs_out;
        cached[c] += (uint64_t)sc->sc_nfull * fly_classes[c].cl_mag_cap;
        fly_unlock(&sc->sc_lock);
        uint64_t live = out > cached[c] ? out - cached[c] : 0;
        live_objs += live;
        st->st_live_bytes += live * fly_classes[c].cl_size;
        st->st_cached_bytes += cached[c] * fly_classes[c].cl_size;
    }
    uint64_t l_nalloc, l_nlive, h_nalloc, h_nlive, h_cached;
    fly_large_counts(&l_nalloc, &l_nlive, &st->st_large_bytes);
    fly_huge_counts(&h_nalloc, &h_nlive, &st->st_huge_bytes, &h_cached);
    st->st_huge_blocks = h_nlive;
    st->st_live_bytes += st->st_large_bytes + st->st_huge_bytes;
    st->st_cached_bytes += h_cached;
    live_objs += l_nlive + h_nlive;
    st->st_nmalloc = fly_tcache_nmalloc() + l_nalloc + h_nalloc;
    st->st_nfree = st->st_nmalloc > live_objs ? st->st_nmalloc - live_objs : 0;
    int64_t peak = __atomic_load_n(&stats_peak_bytes, __ATOMIC_RELAXED);
    st->st_peak_bytes = FLY_MAX((uint64_t)(peak > 0 ? peak : 0), st->st_live_bytes);

    fly_vmem_stats_t vs;
    fly_vmem_stats(&fly_vmem_main, &vs);
    st->st_dirty_bytes = vs.vs_dirty_bytes;
    st->st_cold_bytes = vs.vs_cold_bytes;
    st->st_purges = vs.vs_purges;
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

typedef struct outbuf {
    char ob_buf[2048];
    size_t ob_len;
} outbuf_t;

static void put(outbuf_t *o, const char *s)
{
    size_t n = strlen(s);
    if (o->ob_len + n > sizeof(o->ob_buf))
        n = sizeof(o->ob_buf) - o->ob_len;
    memcpy(o->ob_buf + o->ob_len, s, n);
    o->ob_len += n;
}

static void put_u64(outbuf_t *o, uint64_t v)
{
    char num[24];
    num[fly_fmt_u64(num, v)] = '\0';
    put(o, num);
}

/* Each figure once: name for JSON, label for text. */
#define FLY_STATS_FIELDS(X)                                           \
    X(allocations, st_nmalloc, "allocations")                          \
    X(frees, st_nfree, "frees")                                        \
    X(live_bytes, st_live_bytes, "live bytes")                         \
    X(peak_bytes, st_peak_bytes, "peak bytes")                         \
    X(mapped_bytes, st_mapped_bytes, "mapped bytes")                   \
    X(dirty_bytes, st_dirty_bytes, "dirty bytes")                      \
    X(cold_bytes, st_cold_bytes, "cold bytes")                         \
    X(cached_bytes, st_cached_bytes, "cached bytes")                   \
    X(large_bytes, st_large_bytes, "large bytes")                      \
    X(huge_bytes, st_huge_bytes, "huge bytes")                         \
    X(meta_bytes, st_meta_bytes, "metadata bytes")                     \
    X(purges, st_purges, "purges")                                     \
    X(mmap_calls, st_mmap_calls, "mmap calls")                         \
    X(mmap_bytes, st_mmap_bytes, "mmap bytes")                         \
    X(munmap_calls, st_munmap_calls, "munmap calls")                   \
    X(munmap_bytes, st_munmap_bytes, "munmap bytes")                   \
    X(madvise_calls, st_madvise_calls, "madvise calls")                \
    X(madvise_bytes, st_madvise_bytes, "madvise bytes")                \
    X(mremap_calls, st_mremap_calls, "mremap calls")                   \
    X(mremap_bytes, st_mremap_bytes, "mremap bytes")

FLY_EXPORT void fly_stats_print(int fd, int flags)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    outbuf_t o = { .ob_len = 0 };
    if (flags & FLY_STATS_JSON) {
        const char *sep = "{";
#define X(name, field, label) put(&o, sep); put(&o, "\"" #name "\": "); put_u64(&o, st.field); sep = ", ";
        FLY_STATS_FIELDS(X)
#undef X
        put(&o, "}\n");
    } else {
#define X(name, field, label) put(&o, "flymalloc: " label " "); put_u64(&o, st.field); put(&o, "\n");
        FLY_STATS_FIELDS(X)
#undef X
    }
    fly_write_all(fd, o.ob_buf, o.ob_len);
}
