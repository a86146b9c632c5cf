/*
 * node.h: a heap per NUMA node, and which heap a thread allocates from
 * under the placement the user asked for (node.c).
 *
 * A node's heap is made on first use, with the default heap's policy on
 * the slab engine, and every region its arena maps is bound to the node
 * (FLYMALLOC_NUMA_BIND) before anything touches it, so binding is per
 * 64 MiB region, never per object.  Under `local` a thread's cache is made
 * on the heap of the node it runs on when it first allocates, and moves
 * (tcache.c) when its aging pass, once a second, finds it on another; under
 * `fixed:N`, on node N's; under `interleave` the default heap's regions
 * are spread over the allowed nodes a page at a time, and under `weighted`
 * their 2 MiB spans are dealt to the nodes by weight.  A block freed on
 * another node's thread enters that thread's magazines and goes back to
 * its own heap's zones, a magazine at a time, when it leaves them (the
 * slab layer finds its heap from its region in O(1)).
 */
#ifndef FLY_NODE_H
#define FLY_NODE_H

#include "heap.h"
#include "numa.h"

/* The placement (fly_init, before the first region is mapped). */
void fly_node_init(const fly_numa_policy_t *np, uint32_t bind);
/* Places huge block p of size bytes, mapped for heap h, as h's regions
 * are: on h's node, or spread under `interleave` and `weighted`; nothing
 * otherwise.  A huge mapping is reused across heaps, so this is done at
 * each handout. */
void fly_node_place_huge_os(const fly_heap_t *h, void *p, size_t size);
/* Node node's heap, made on first use; NULL with errno EINVAL for a node
 * the process may not use, ENOMEM when none can be made. */
fly_heap_t *fly_node_heap_os(int node);
/* The heap a thread about to make its cache should use: cur, or a node's
 * heap under `local` and `fixed`. */
fly_heap_t *fly_node_home_heap_os(fly_heap_t *cur);
/* The heap of the node the calling thread runs on, or NULL if that node
 * is not usable (no counting: the periodic check of `local`). */
fly_heap_t *fly_node_heap_here_os(void);
/* The node the calling thread runs on, or -1. */
int fly_node_current(void);
/* Threads that `local` or `fixed` could not put on a node's heap (a CPU
 * of no usable node, a node the process may not use, no heap to be had):
 * they stayed on the heap they were on. */
uint64_t fly_node_fallbacks(void);
/* FLYMALLOC_NUMA's mode (FLY_NUMA_*) and binding (FLY_NUMA_BIND_*). */
uint32_t fly_node_mode(void);
uint32_t fly_node_bind(void);

#endif
