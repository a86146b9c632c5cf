/*
 * placement.c: the NUMA entry points of flymalloc.h: the topology as the
 * program sees it, blocks from a given node's heap, and a thread's home
 * node.  None of it is on malloc's or free's path: a block from a node's
 * heap is freed by free() like any other, and goes back to its own heap's
 * zones when it leaves the freeing thread's magazines (node.h).
 */
#include "flymalloc.h"
#include "huge.h"
#include "init.h"
#include "large.h"
#include "node.h"
#include "os.h"
#include "region.h"
#include "secure.h"
#include "sizeclass.h"
#include "tcache.h"
#include <errno.h>
#include <string.h>

_Static_assert(FLY_NUMA_MAX_NODES == 64 && FLY_NUMA_MAX_CPUS == 1024, "flymalloc.h's NUMA bounds");

static const fly_numa_topo_t *topology(void)
{
    if (fly_unlikely(!fly_initialized))
        fly_init();
    return fly_numa_topo();
}

FLY_EXPORT int fly_numa_topology(fly_numa_info_t *info)
{
    if (info == NULL)
        return -1;
    const fly_numa_topo_t *t = topology();
    memset(info, 0, sizeof(*info));
    info->ni_nodes = (int)t->nt_nodes;
    info->ni_synthetic = t->nt_synthetic;
    info->ni_online = t->nt_online;
    info->ni_memory = t->nt_memory;
    info->ni_allowed = t->nt_allowed;
    for (int c = 0; c < FLY_NUMA_MAX_CPUS; c++)
        info->ni_cpu_node[c] = t->nt_cpu_node[c];
    memcpy(info->ni_distance, t->nt_distance, sizeof(info->ni_distance));
    return 0;
}

FLY_EXPORT int fly_numa_node_count(void)
{
    return __builtin_popcountll(topology()->nt_memory);
}

FLY_EXPORT int fly_numa_node_of_cpu(int cpu)
{
    return fly_numa_cpu_node(topology(), cpu);
}

FLY_EXPORT int fly_numa_current_node(void)
{
    topology();
    return fly_node_current();
}

FLY_EXPORT int fly_numa_distance(int a, int b)
{
    const fly_numa_topo_t *t = topology();
    if (a < 0 || b < 0 || a >= (int)t->nt_nodes || b >= (int)t->nt_nodes ||
        !((t->nt_online >> a) & 1) || !((t->nt_online >> b) & 1) || t->nt_distance[a][b] == 0)
        return -1;
    return t->nt_distance[a][b];
}

FLY_EXPORT int fly_numa_node_of(const void *p)
{
    unsigned kind = fly_region_kind(p);
    if (p == NULL || kind == FLY_REGION_MAP_NONE)
        return -1;
    const fly_numa_topo_t *t = topology();
    if (kind == FLY_REGION_MAP_HEAP && fly_heap_of(p)->hp_node >= 0)
        return fly_heap_of(p)->hp_node;
    int node = fly_os_node_of(p);
    if (node >= 0)
        return node;
    /* Placed by nobody: the kernel's first choice. */
    uint64_t usable = t->nt_memory & t->nt_allowed;
    return usable ? __builtin_ctzll(usable) : 0;
}

/* A block of size bytes aligned to align (a power of two, at least 16)
 * from heap h, zeroed if zero. */
static void *heap_alloc_os(fly_heap_t *h, size_t size, size_t align, bool zero)
{
    if (size <= FLY_SMALL_MAX && align <= FLY_SMALL_MAX) {
        unsigned c = fly_class_of(FLY_MAX(size, align));
        while (c <= fly_nclasses && fly_classes[c].cl_size % align)
            c++;
        if (c <= fly_nclasses) {
            void *p = fly_tcache_malloc_from_os(h, size, c);
            if (p && zero)
                memset(p, 0, fly_classes[c].cl_size);
            return p;
        }
    }
    if (size <= FLY_LARGE_MAX && align <= FLY_REGION / 4)
        return fly_large_alloc_os(h->hp_vmem, NULL, FLY_MAX(size, FLY_SMALL_MAX + 1), FLY_MAX(align, FLY_PAGE),
                                  zero);
    void *p = fly_huge_alloc_os(size, FLY_MAX(align, FLY_REGION), zero);
    if (p)
        fly_node_place_huge_os(h, p, size);
    return p;
}

static void *node_alloc_os(size_t size, size_t align, bool zero, int node)
{
    if (fly_unlikely(!fly_initialized))
        fly_init();
    fly_heap_t *h = fly_node_heap_os(node);
    if (h == NULL)
        return NULL;
    if (size > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (fly_secure_wanted())
        return fly_secure_arm_os(heap_alloc_os(h, fly_secure_request(size, align), align, zero), size,
                              zero ? "fly_calloc_node" : "fly_malloc_node");
    return heap_alloc_os(h, size, align, zero);
}

FLY_EXPORT void *fly_malloc_node(size_t size, int node)
{
    return node_alloc_os(size, 16, false, node);
}

FLY_EXPORT void *fly_calloc_node(size_t nmemb, size_t size, int node)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return node_alloc_os(total, 16, true, node);
}

FLY_EXPORT void *fly_aligned_alloc_node(size_t alignment, size_t size, int node)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return node_alloc_os(size, FLY_MAX(alignment, 16), false, node);
}

FLY_EXPORT int fly_thread_set_node(int node)
{
    if (fly_unlikely(!fly_initialized))
        fly_init();
    fly_heap_t *h = fly_node_heap_os(node);
    if (h == NULL)
        return -1;
    bool secure = fly_secure_wanted();
    if (secure)
        fly_secure_enter();
    bool attached = fly_tcache_attach_os(h);
    if (secure)
        fly_secure_leave();
    return attached ? 0 : -1;
}
