/*
 * numa.h: the machine's NUMA topology and the placement the user asked for
 * (numa.c).
 *
 * The topology is read once, lazily (the first call that needs it, never
 * on a fast path), from /sys/devices/system/node: the nodes online and
 * those with memory, each node's CPUs and its row of the kernel's distance
 * table, and, from /proc/self/status, the nodes the process may use.  Two
 * test seams replace it: FLYMALLOC_NUMA_SYSFS names a directory laid out
 * like /sys/devices/system/node, and FLYMALLOC_NUMA_TOPOLOGY describes a
 * machine in one string.  With either, the topology is synthetic, and the
 * os layer records bindings instead of making them (fly_os_bind).
 *
 * The placement (FLYMALLOC_NUMA) is parsed at start-up by config.c.
 */
#ifndef FLY_NUMA_H
#define FLY_NUMA_H

#include "common.h"

#define FLY_NUMA_MAX_NODES 64
#define FLY_NUMA_MAX_CPUS  1024

typedef struct fly_numa_topo {
    uint32_t nt_nodes;                        /* the highest node id online, plus one */
    uint64_t nt_online, nt_memory, nt_allowed;   /* node masks */
    bool nt_synthetic;                        /* from a test seam: bindings are simulated */
    int16_t nt_cpu_node[FLY_NUMA_MAX_CPUS];   /* -1: no such CPU */
    uint8_t nt_distance[FLY_NUMA_MAX_NODES][FLY_NUMA_MAX_NODES];   /* 0: unknown */
} fly_numa_topo_t;

/* FLYMALLOC_NUMA */
#define FLY_NUMA_OS         0    /* leave placement to the kernel (the default) */
#define FLY_NUMA_OFF        1    /* no NUMA work at all */
#define FLY_NUMA_LOCAL      2    /* each thread on the heap of the node it runs on */
#define FLY_NUMA_INTERLEAVE 3    /* the default heap's pages over the allowed nodes */
#define FLY_NUMA_WEIGHTED   4    /* its 2 MiB spans over them, by weights */
#define FLY_NUMA_FIXED      5    /* every thread on one node's heap */
/* FLYMALLOC_NUMA_BIND, numbered as the option's words */
#define FLY_NUMA_BIND_NONE     0
#define FLY_NUMA_BIND_ADVISORY 1 /* the kernel prefers the node (MPOL_PREFERRED) */
#define FLY_NUMA_BIND_STRICT   2 /* the kernel binds to it (MPOL_BIND) */

typedef struct fly_numa_policy {
    uint32_t np_mode;                         /* FLY_NUMA_* */
    uint32_t np_node;                         /* FIXED: the node */
    uint8_t np_weight[FLY_NUMA_MAX_NODES];    /* WEIGHTED: per node, 0 to 255 */
} fly_numa_policy_t;

/* Parses a FLYMALLOC_NUMA value ("os", "off", "local", "interleave",
 * "weighted:W0,W1,...", "fixed:N"); false if malformed. */
bool fly_numa_parse_policy(const char *s, fly_numa_policy_t *out);
/* Parses a FLYMALLOC_NUMA_TOPOLOGY value into t: nodes separated by '/',
 * each its CPU list ("0-1/2-3"; an empty list is a node with memory and no
 * CPU), then optionally ';' and the distance table's rows separated by
 * '/' ("0-1/2-3;10,20/20,10"); false if malformed. */
bool fly_numa_parse_topology(const char *s, fly_numa_topo_t *t);
/* Reads a directory laid out like /sys/devices/system/node into t (with
 * the process's allowed nodes unless synthetic); false if it is malformed.
 * A directory with no "online" file is, unless synthetic, one node holding
 * every CPU (a kernel without NUMA). */
bool fly_numa_read_sysfs(const char *dir, fly_numa_topo_t *t, bool synthetic);
/* Parses a CPU or node list ("0-3,8"), setting bits of mask (nbits long);
 * false if malformed or out of range. */
bool fly_numa_parse_list(const char *s, size_t len, uint64_t *mask, unsigned nbits);

/* The seams (FLYMALLOC_NUMA_TOPOLOGY, FLYMALLOC_NUMA_SYSFS; NULL: none),
 * set by config.c before the topology is first read. */
void fly_numa_set_sources(const char *topology, const char *sysfs);
/* The topology, read on first use (thread-safe; no allocation). */
const fly_numa_topo_t *fly_numa_topo(void);
/* The node CPU cpu belongs to, or -1. */
int fly_numa_cpu_node(const fly_numa_topo_t *t, int cpu);
/* Whether node is one the process may allocate on (online, with memory,
 * allowed). */
bool fly_numa_usable(const fly_numa_topo_t *t, int node);

#endif
