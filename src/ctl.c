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
 *   opt.NAME                      uint64, read-write: the options of
 *                                 options.def marked run-time changeable,
 *                                 NAME their name in lower case without
 *                                 FLYMALLOC_, in the table's range; a write
 *                                 applies to every heap, a read shows the
 *                                 default heap's:
 *   opt.decay_ms                  idle time before purge
 *   opt.tcache_bytes              per-thread cache budget; lowering it
 *                                 makes every thread give back what exceeds
 *                                 it at its next tick; raising it lets busy
 *                                 bins grow further, up to every magazine at
 *                                 its largest (the base capacities stay as
 *                                 sized at start)
 *   policy.name                   char[], read-only: the running policy
 *                                 (policies.def); *oldlen is the buffer
 *                                 size in, length out
 *   policy.source                 char[], read-only: what chose it: env
 *                                 (FLYMALLOC_POLICY), seed (linked into the
 *                                 program), profile (its stored profile) or
 *                                 default
 *   numa.nodes                    uint32: NUMA nodes with memory
 *   numa.policy, numa.bind        char[]: FLYMALLOC_NUMA's mode (os, off,
 *                                 local, interleave, weighted, fixed) and
 *                                 FLYMALLOC_NUMA_BIND (none, advisory,
 *                                 strict)
 *   numa.binds, numa.bind_errors  uint64: regions bound to a node, and
 *                                 bindings the kernel refused
 *   numa.fallbacks                uint64: threads local or fixed placement
 *                                 left on their heap (no usable node)
 *   numa.heaps.N.node             int32: the node heap N is bound to, or -1
 *   numa.node.N.mapped_bytes,     uint64: node N's heap's arena: mapped,
 *   numa.node.N.used_bytes,       handed out (zones, large blocks), and
 *   numa.node.N.resident_bytes    resident now (mincore; 0 without a heap)
 *   numa.node.N.remote_frees,     uint64: blocks of node N's heap (of
 *   numa.remote_frees             every node's) freed by a thread of
 *                                 another heap that have gone home
 *   thread.tcache.budget          uint64, read-only: what the calling thread's
 *                                 cache may hold now (opt.tcache_bytes, or
 *                                 its share when many threads have caches)
 *   thread.tcache.flush           action: the calling thread's caches go back
 *   arena.purge                   action: every idle page goes back to the OS
 *   background.enable             uint64, read-write: 1 while the background
 *                                 thread gives idle memory back (set by
 *                                 FLYMALLOC_BACKGROUND=1 too); writing 1
 *                                 starts it (background.c), 0 stops its work
 * Errors: ENOENT unknown name, EINVAL wrong size or value, EPERM a write
 * to a read-only name or a read of an action.
 */
#include "flymalloc.h"
#include "stats.h"
#include "background.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "node.h"
#include "os.h"
#include "secure.h"
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

/* "N." at *name (heaps count from 0): N, and *name moved past it. */
static bool heap_number(const char **name, unsigned *i)
{
    if (**name == '0' && (*name)[1] == '.') {
        *name += 2;
        *i = 0;
        return true;
    }
    return (*i = class_number(name)) != 0;
}

static int ctl_stats_os(const char *name, void *old, size_t *oldlen, const void *new_)
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
        unsigned i;
        if (!heap_number(&field, &i))
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

/* Run-time options (the rows of options.def marked RUNTIME): a read shows
 * the default heap's value; a change applies to every heap, through
 * opt_apply alone. */
static uint64_t opt_get(fly_opt_t id)
{
    const fly_heap_t *h = &fly_heap_default;
    switch (id) {
    case FLY_OPT_DECAY_MS:
        return fly_heap_decay_ms(h);
    case FLY_OPT_TCACHE_BYTES:
        return __atomic_load_n(&h->hp_tcache_budget, __ATOMIC_RELAXED);
    default:        /* read once at start-up: fly_option_by_ctl_name never gives it */
        break;
    }
    return 0;
}

/* The table's upper bound, narrowed where a heap cannot use more: a cache
 * budget beyond every magazine at its largest (or the start budget, if
 * more) has nothing to grow into. */
static uint64_t opt_max(fly_opt_t id)
{
    const fly_heap_t *h = &fly_heap_default;
    uint64_t hi = fly_options[id].op_max;
    if (id == FLY_OPT_TCACHE_BYTES)
        hi = FLY_MIN(hi, FLY_MAX(h->hp_policy.po_tcache_bytes, h->hp_depot.dp_mag_cap_bytes));
    return hi;
}

static void opt_apply(fly_opt_t id, uint64_t v)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++) {
        fly_heap_t *h = fly_heap_at(i);
        switch (id) {
        case FLY_OPT_DECAY_MS:
            fly_heap_set_decay_ms(h, v);
            break;
        case FLY_OPT_TCACHE_BYTES:
            __atomic_store_n(&h->hp_tcache_budget, v, __ATOMIC_RELAXED);
            break;
        default:
            break;
        }
    }
}

/* opt.NAME: a uint64 read through old/oldlen, set through new_/newlen
 * (checked against the range before anything changes). */
static int ctl_option(fly_opt_t id, void *old, size_t *oldlen, const void *new_, size_t newlen)
{
    uint64_t v = 0, cur = opt_get(id);
    if (new_) {
        if (newlen != sizeof(v))
            return EINVAL;
        memcpy(&v, new_, sizeof(v));
        if (v < fly_options[id].op_min || v > opt_max(id))
            return EINVAL;
    }
    int err = read_value(old, oldlen, &cur, sizeof(cur));
    if (err)
        return err;
    if (new_)
        opt_apply(id, v);
    return 0;
}

static int ctl_background(void *old, size_t *oldlen, const void *new_, size_t newlen)
{
    uint64_t v = 0, cur = fly_background_enabled();
    if (new_) {
        if (newlen != sizeof(v))
            return EINVAL;
        memcpy(&v, new_, sizeof(v));
        if (v > 1)
            return EINVAL;
    }
    int err = read_value(old, oldlen, &cur, sizeof(cur));
    if (err)
        return err;
    if (new_)
        fly_background_enable(v == 1);
    return 0;
}

static int ctl_action(void (*action)(void), void *old, size_t *oldlen, const void *new_)
{
    if (old || oldlen || new_)
        return EPERM;
    action();
    return 0;
}

/* What the calling thread's real cache may hold (the secure mode's
 * sentinel stands in for it between calls). */
static uint64_t thread_budget(void)
{
    bool secure = fly_secure_wanted();
    if (secure)
        fly_secure_enter();
    uint64_t v = fly_tcache_budget();
    if (secure)
        fly_secure_leave();
    return v;
}

/* The calling thread's cached blocks go back (its quarantine too, in the
 * secure mode, whose sentinel cache holds nothing). */
static void flush_thread_os(void)
{
    if (fly_secure_wanted())
        fly_secure_flush_thread_os("fly_ctl");
    else
        fly_tcache_flush_thread();
}

static void purge_all_os(void)
{
    fly_malloc_trim(0);
}

/* A read-only string: as much as fits in *oldlen bytes with its NUL;
 * *oldlen becomes the length copied. */
static int read_text(const char *text, void *old, size_t *oldlen, const void *new_)
{
    if (new_)
        return EPERM;
    if (old == NULL || oldlen == NULL || *oldlen == 0)
        return EINVAL;
    size_t n = FLY_MIN(strlen(text), *oldlen - 1);
    memcpy(old, text, n);
    ((char *)old)[n] = '\0';
    *oldlen = n;
    return 0;
}

static const char *const numa_modes[] = {
    [FLY_NUMA_OS] = "os", [FLY_NUMA_OFF] = "off", [FLY_NUMA_LOCAL] = "local",
    [FLY_NUMA_INTERLEAVE] = "interleave", [FLY_NUMA_WEIGHTED] = "weighted", [FLY_NUMA_FIXED] = "fixed",
};
static const char *const numa_binds[] = { "none", "advisory", "strict" };

/* numa.node.N.FIELD summed over node's heaps (every node heap's for node
 * -1: numa.remote_frees). */
static int read_node_field_os(int32_t node, const char *field, void *old, size_t *oldlen)
{
    uint64_t v = 0;
    bool resident = strcmp(field, "resident_bytes") == 0, remote = strcmp(field, "remote_frees") == 0;
    if (!resident && !remote && strcmp(field, "mapped_bytes") != 0 && strcmp(field, "used_bytes") != 0)
        return ENOENT;
    for (uint32_t i = 0; i < fly_heap_count(); i++) {
        fly_heap_t *h = fly_heap_at(i);
        if (h->hp_node < 0 || (node >= 0 && h->hp_node != node))
            continue;
        fly_vmem_stats_t vs;
        fly_vmem_stats(h->hp_vmem, &vs);
        v += remote     ? __atomic_load_n(&h->hp_slab.sl_came_home, __ATOMIC_RELAXED)
             : resident ? fly_vmem_resident_bytes_os(h->hp_vmem)
             : field[0] == 'm' ? vs.vs_mapped_bytes : vs.vs_used_bytes;
    }
    return read_value(old, oldlen, &v, sizeof(v));
}

/* numa.nodes, numa.policy, numa.bind, numa.binds, numa.bind_errors,
 * numa.fallbacks, numa.remote_frees, numa.heaps.N.node,
 * numa.node.N.{mapped,used,resident}_bytes, numa.node.N.remote_frees. */
static int ctl_numa_os(const char *name, void *old, size_t *oldlen, const void *new_)
{
    if (strcmp(name, "policy") == 0)
        return read_text(numa_modes[fly_node_mode()], old, oldlen, new_);
    if (strcmp(name, "bind") == 0)
        return read_text(numa_binds[fly_node_bind()], old, oldlen, new_);
    if (new_)
        return EPERM;
    if (strcmp(name, "nodes") == 0) {
        uint32_t n = (uint32_t)__builtin_popcountll(fly_numa_topo()->nt_memory);
        return read_value(old, oldlen, &n, sizeof(n));
    }
    fly_os_counters_t oc;
    fly_os_counters(&oc);
    if (strcmp(name, "binds") == 0)
        return read_value(old, oldlen, &oc.oc_bind_calls, sizeof(uint64_t));
    if (strcmp(name, "bind_errors") == 0)
        return read_value(old, oldlen, &oc.oc_bind_errors, sizeof(uint64_t));
    if (strcmp(name, "fallbacks") == 0) {
        uint64_t n = fly_node_fallbacks();
        return read_value(old, oldlen, &n, sizeof(n));
    }
    if (strncmp(name, "node.", 5) == 0) {
        const char *field = name + 5;
        unsigned node;
        if (!heap_number(&field, &node) || node >= FLY_NUMA_MAX_NODES)
            return ENOENT;
        return read_node_field_os((int32_t)node, field, old, oldlen);
    }
    if (strcmp(name, "remote_frees") == 0)
        return read_node_field_os(-1, name, old, oldlen);
    if (strncmp(name, "heaps.", 6) == 0) {
        const char *field = name + 6;
        unsigned i;
        if (!heap_number(&field, &i))
            return ENOENT;
        if (strcmp(field, "node") != 0 || i >= fly_heap_count())
            return ENOENT;
        int32_t node = fly_heap_at(i)->hp_node;
        return read_value(old, oldlen, &node, sizeof(node));
    }
    return ENOENT;
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
        return ctl_stats_os(name + 6, old, oldlen, new_);
    fly_opt_t opt = fly_option_by_ctl_name(name);
    if (opt != FLY_OPT_COUNT)
        return ctl_option(opt, old, oldlen, new_, newlen);
    if (strcmp(name, "policy.name") == 0)
        return read_text(fly_policy_catalog[fly_settings.se_policy].pe_name, old, oldlen, new_);
    if (strcmp(name, "policy.source") == 0)
        return read_text(fly_policy_source_name(fly_settings.se_policy_source), old, oldlen, new_);
    if (strncmp(name, "numa.", 5) == 0)
        return ctl_numa_os(name + 5, old, oldlen, new_);
    if (strcmp(name, "thread.tcache.budget") == 0)
        return read_u64(old, oldlen, new_, thread_budget());
    if (strcmp(name, "thread.tcache.flush") == 0)
        return ctl_action(flush_thread_os, old, oldlen, new_);
    if (strcmp(name, "arena.purge") == 0)
        return ctl_action(purge_all_os, old, oldlen, new_);
    if (strcmp(name, "background.enable") == 0)
        return ctl_background(old, oldlen, new_, newlen);
    return ENOENT;
}
