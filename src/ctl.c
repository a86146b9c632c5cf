/*
 * ctl.c: fly_ctl, named reads, settings and actions (jemalloc's mallctl
 * shape: name, old value out, new value in, sizes checked).
 *
 * Names:
 *   version                       uint32, FLY_STATS_VERSION (read)
 *   stats.NAME                    uint64, each fly_stats_t figure (stats.h)
 *   stats.classes                 uint32, number of size classes
 *   stats.classes.N.NAME          uint64, class N (1-based) figures
 *   stats.fragmentation.NAME      uint64, fly_frag_t figures (stats.h)
 *   stats.fragmentation.summary   char[], the plain-words summary;
 *                                 *oldlen is the buffer size in, length out
 *   stats.heaps                   uint32, number of heaps
 *   stats.heaps.N.NAME            uint64, heap N (0: the default) figures
 *                                 (fly_heap_stats_t, stats.h)
 *   opt.decay_ms                  uint64, read-write: idle time before purge,
 *                                 for every heap
 *   opt.tcache_bytes              uint64, read-write: per-thread cache
 *                                 budget; lowering it makes every thread give
 *                                 back what exceeds it at its next tick;
 *                                 raising it lets busy bins grow further, up
 *                                 to every magazine at its largest (the base
 *                                 capacities stay as sized at start)
 *   thread.tcache.flush           action: the calling thread's caches go back
 *   arena.purge                   action: every idle page goes back to the OS
 * Errors: ENOENT unknown name, EINVAL wrong size or value, EPERM a write
 * to a read-only name or a read of an action.
 */
#include "flymalloc.h"
#include "stats.h"
#include "heap.h"
#include "init.h"
#include "tcache.h"
#include <errno.h>
#include <string.h>

/* Copies a value out through old/oldlen, which must match its size. */
static int read_value(void *old, size_t *oldlen, const void *val, size_t size)
{
    if (old == NULL && oldlen == NULL)
        return 0;
    if (old == NULL || oldlen == NULL || *oldlen != size)
        return EINVAL;
    memcpy(old, val, size);
    return 0;
}

static int read_u64(void *old, size_t *oldlen, const void *new_, uint64_t v)
{
    if (new_)
        return EPERM;
    return read_value(old, oldlen, &v, sizeof(v));
}

/* Parses a decimal class number followed by '.'; 0 if malformed. */
static unsigned class_number(const char **name)
{
    unsigned n = 0;
    const char *s = *name;
    while (*s >= '0' && *s <= '9' && n < 1000)
        n = n * 10 + (unsigned)(*s++ - '0');
    if (*s != '.' || s == *name)
        return 0;
    *name = s + 1;
    return n;
}

static int ctl_stats(const char *name, void *old, size_t *oldlen, const void *new_)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
#define X(n, field) if (strcmp(name, #n) == 0) return read_u64(old, oldlen, new_, st.field);
    FLY_STATS_FIELDS(X)
#undef X
    if (strcmp(name, "classes") == 0) {
        if (new_)
            return EPERM;
        uint32_t n = st.st_nclasses;
        return read_value(old, oldlen, &n, sizeof(n));
    }
    if (strncmp(name, "classes.", 8) == 0) {
        const char *field = name + 8;
        unsigned c = class_number(&field);
        if (c == 0 || c > st.st_nclasses)
            return ENOENT;
        const fly_class_stats_t *cs = &st.st_class[c - 1];
#define X(n, f) if (strcmp(field, #n) == 0) return read_u64(old, oldlen, new_, cs->f);
        FLY_CLASS_STATS_FIELDS(X)
#undef X
        return ENOENT;
    }
    if (strcmp(name, "fragmentation.summary") == 0) {
        if (new_)
            return EPERM;
        if (old == NULL || oldlen == NULL || *oldlen == 0)
            return EINVAL;
        *oldlen = fly_frag_summary(&st, old, *oldlen);
        return 0;
    }
    if (strcmp(name, "heaps") == 0) {
        if (new_)
            return EPERM;
        uint32_t n = fly_stats_heaps();
        return read_value(old, oldlen, &n, sizeof(n));
    }
    if (strncmp(name, "heaps.", 6) == 0) {
        const char *field = name + 6;
        unsigned i = 0;
        if (*field == '0' && field[1] == '.')
            field += 2;
        else if ((i = class_number(&field)) == 0)
            return ENOENT;
        fly_heap_stats_t hs;
        if (fly_stats_heap(i, &hs) != 0)
            return ENOENT;
#define X(n, f) if (strcmp(field, #n) == 0) return read_u64(old, oldlen, new_, hs.f);
        FLY_HEAP_STATS_FIELDS(X)
#undef X
        return ENOENT;
    }
    if (strncmp(name, "fragmentation.", 14) == 0) {
        fly_frag_t fr;
        fly_frag_compute(&st, &fr);
#define X(n, f) if (strcmp(name + 14, #n) == 0) return read_u64(old, oldlen, new_, fr.f);
        FLY_FRAG_FIELDS(X)
#undef X
    }
    return ENOENT;
}

/* Run-time settings apply to every heap; reads show the default heap's. */
static void set_decay(uint64_t v)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        fly_heap_set_decay_ms(fly_heap_at(i), v);
}

static void set_tcache_budget(uint64_t v)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        __atomic_store_n(&fly_heap_at(i)->hp_tcache_budget, v, __ATOMIC_RELAXED);
}

/* A read-write uint64 setting: cur now, lo..hi allowed, apply to set it. */
static int ctl_setting(uint64_t cur, uint64_t lo, uint64_t hi, void (*apply)(uint64_t),
                       void *old, size_t *oldlen, const void *new_, size_t newlen)
{
    uint64_t v = 0;
    if (new_) {
        if (newlen != sizeof(v))
            return EINVAL;
        memcpy(&v, new_, sizeof(v));
        if (v < lo || v > hi)
            return EINVAL;
    }
    int err = read_value(old, oldlen, &cur, sizeof(cur));
    if (err)
        return err;
    if (new_)
        apply(v);
    return 0;
}

static int ctl_action(void (*action)(void), void *old, size_t *oldlen, const void *new_)
{
    if (old || oldlen || new_)
        return EPERM;
    action();
    return 0;
}

static void purge_all(void)
{
    fly_malloc_trim(0);
}

FLY_EXPORT int fly_ctl(const char *name, void *old, size_t *oldlen, const void *new_,
                       size_t newlen)
{
    if (name == NULL)
        return EINVAL;
    if (!fly_initialized)
        fly_init();
    if (strcmp(name, "version") == 0) {
        if (new_)
            return EPERM;
        uint32_t v = FLY_STATS_VERSION;
        return read_value(old, oldlen, &v, sizeof(v));
    }
    if (strncmp(name, "stats.", 6) == 0)
        return ctl_stats(name + 6, old, oldlen, new_);
    const fly_heap_t *h = &fly_heap_default;
    if (strcmp(name, "opt.decay_ms") == 0)
        return ctl_setting(fly_heap_decay_ms(h), 0, 86400000, set_decay, old, oldlen, new_, newlen);
    if (strcmp(name, "opt.tcache_bytes") == 0)
        return ctl_setting(__atomic_load_n(&h->hp_tcache_budget, __ATOMIC_RELAXED), 0,
                           FLY_MAX(h->hp_policy.po_tcache_bytes, h->hp_depot.dp_mag_cap_bytes),
                           set_tcache_budget, old, oldlen, new_, newlen);
    if (strcmp(name, "thread.tcache.flush") == 0)
        return ctl_action(fly_tcache_flush_thread, old, oldlen, new_);
    if (strcmp(name, "arena.purge") == 0)
        return ctl_action(purge_all, old, oldlen, new_);
    return ENOENT;
}
