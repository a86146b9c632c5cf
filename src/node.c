/*
 * node.c: heaps per NUMA node and thread placement (node.h).
 */
#define _GNU_SOURCE                 /* sched_getcpu */
#include "node.h"
#include "lock.h"
#include "os.h"
#include <errno.h>
#include <sched.h>
#include <string.h>

static fly_numa_policy_t node_policy;
static uint32_t node_binding;
static fly_heap_t *node_heaps[FLY_NUMA_MAX_NODES];    /* published with a CAS */
static fly_lock_t node_lock = FLY_LOCK_INITIALIZER;
static int32_t node_credit[FLY_NUMA_MAX_NODES];       /* weighted turns, node_lock */
static uint64_t node_fallbacks;                       /* atomic */
static void place_interleaved_os(void *h, void *region, size_t size);

/* What `weighted` deals out: a huge page, so transparent huge pages stay
 * whole. */
#define FLY_NUMA_SPAN ((size_t)2 << 20)

void fly_node_init(const fly_numa_policy_t *np, uint32_t bind)
{
    node_policy = *np;
    node_binding = bind;
    if (np->np_mode == FLY_NUMA_INTERLEAVE || np->np_mode == FLY_NUMA_WEIGHTED)
        fly_heap_default.hp_vmem->vm_place = place_interleaved_os;
}

uint32_t fly_node_mode(void)
{
    return node_policy.np_mode;
}

uint32_t fly_node_bind(void)
{
    return node_binding;
}

/* How regions are bound; interleaving with no binding asked for still
 * prefers each region's node, or it would not interleave. */
static int bind_how(bool interleaving)
{
    if (node_binding == FLY_NUMA_BIND_STRICT)
        return FLY_OS_BIND_STRICT;
    if (node_binding == FLY_NUMA_BIND_ADVISORY || interleaving)
        return FLY_OS_BIND_PREFERRED;
    return 0;
}

static void place_on_node_os(void *owner, void *region, size_t size)
{
    int how = bind_how(false);
    if (how)
        fly_os_bind(region, size, 1ull << ((fly_heap_t *)owner)->hp_node, how);
}

/* The next node in turn: smooth weighted round robin over the usable
 * nodes with a weight (a node without one gets no turn).  node_lock. */
static int next_node(const fly_numa_topo_t *t)
{
    int best = -1;
    int32_t total = 0;
    for (int n = 0; n < (int)t->nt_nodes; n++) {
        int32_t w = fly_numa_usable(t, n) ? node_policy.np_weight[n] : 0;
        if (w == 0)
            continue;
        node_credit[n] += w;
        total += w;
        if (best < 0 || node_credit[n] > node_credit[best])
            best = n;
    }
    if (best >= 0)
        node_credit[best] -= total;
    return best;
}

/* `interleave`: the kernel spreads the region's pages over the usable
 * nodes one page at a time (MPOL_INTERLEAVE), the finest spread there is,
 * in one call and one mapping.  `weighted`: the kernel has no per-process
 * weights, so the region is cut into FLY_NUMA_SPAN pieces dealt to the
 * nodes by their weights; neighbours dealt to the same node are bound in
 * one call, so the kernel keeps as few mappings as the weights allow. */
static void place_interleaved_os(void *owner, void *region, size_t size)
{
    (void)owner;
    const fly_numa_topo_t *t = fly_numa_topo();
    if (node_policy.np_mode == FLY_NUMA_INTERLEAVE) {
        uint64_t usable = t->nt_memory & t->nt_allowed;
        if (usable)
            fly_os_bind(region, size, usable, FLY_OS_BIND_INTERLEAVE);
        return;
    }
    int dealt[FLY_REGION / FLY_NUMA_SPAN];
    size_t spans = (size + FLY_NUMA_SPAN - 1) / FLY_NUMA_SPAN;
    fly_lock(&node_lock);
    for (size_t i = 0; i < spans; i++)
        dealt[i] = next_node(t);
    fly_unlock(&node_lock);
    for (size_t i = 0, j; i < spans; i = j) {
        for (j = i + 1; j < spans && dealt[j] == dealt[i]; j++)
            ;
        if (dealt[i] >= 0)
            fly_os_bind((char *)region + i * FLY_NUMA_SPAN, FLY_MIN(j * FLY_NUMA_SPAN, size) - i * FLY_NUMA_SPAN,
                        1ull << dealt[i], bind_how(true));
    }
}

void fly_node_place_huge_os(const fly_heap_t *h, void *p, size_t size)
{
    size = FLY_ALIGN_UP(size, FLY_PAGE);
    if (h->hp_node >= 0) {
        int how = bind_how(false);
        if (how)
            fly_os_bind(p, size, 1ull << h->hp_node, how);
    } else if (h == &fly_heap_default && (node_policy.np_mode == FLY_NUMA_INTERLEAVE ||
                                          node_policy.np_mode == FLY_NUMA_WEIGHTED)) {
        for (size_t off = 0; off < size; off += FLY_REGION)
            place_interleaved_os(NULL, (char *)p + off, FLY_MIN(size - off, FLY_REGION));
    }
}

fly_heap_t *fly_node_heap_os(int node)
{
    if (!fly_numa_usable(fly_numa_topo(), node)) {
        errno = EINVAL;
        return NULL;
    }
    fly_heap_t *h = __atomic_load_n(&node_heaps[node], __ATOMIC_ACQUIRE);
    if (h)
        return h;
    fly_policy_t po = fly_heap_default.hp_policy;
    po.po_engine = FLY_ENGINE_SLAB;
    fly_heap_t *made = fly_heap_create_placed_os(&po, node, place_on_node_os);
    if (made == NULL)
        return NULL;
    /* Two threads may make one at once: the loser's stays unused (heaps
     * are never freed). */
    if (__atomic_compare_exchange_n(&node_heaps[node], &h, made, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return made;
    return h;
}

int fly_node_current(void)
{
    return fly_numa_cpu_node(fly_numa_topo(), sched_getcpu());
}

fly_heap_t *fly_node_heap_here_os(void)
{
    int node = fly_node_current();
    return node >= 0 && fly_numa_usable(fly_numa_topo(), node) ? fly_node_heap_os(node) : NULL;
}

fly_heap_t *fly_node_home_heap_os(fly_heap_t *cur)
{
    int node;
    switch (node_policy.np_mode) {
    case FLY_NUMA_LOCAL:
        node = fly_node_current();
        break;
    case FLY_NUMA_FIXED:
        node = (int)node_policy.np_node;
        break;
    default:
        return cur;
    }
    fly_heap_t *h = node >= 0 ? fly_node_heap_os(node) : NULL;
    if (h == NULL) {
        __atomic_fetch_add(&node_fallbacks, 1, __ATOMIC_RELAXED);
        return cur;
    }
    return h;
}

uint64_t fly_node_fallbacks(void)
{
    return __atomic_load_n(&node_fallbacks, __ATOMIC_RELAXED);
}
