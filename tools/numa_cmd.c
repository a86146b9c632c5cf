/*
 * numa_cmd.c: `flymalloc numa`, the NUMA topology as the library finds it
 * (src/numa.c, the same reader): the nodes online, with memory and allowed
 * to this process, each node's CPUs and its row of the distance table.
 * FLYMALLOC_NUMA_TOPOLOGY and FLYMALLOC_NUMA_SYSFS in the environment
 * replace the machine's, as they do for the library.
 */
#include <stdio.h>
#include <stdlib.h>
#include "numa.h"
#include "tools.h"

/* Prints the set bits of a mask as a list ("0-3,8"). */
static void print_list(const uint64_t *m, unsigned nbits)
{
    const char *sep = "";
    int printed = 0;
    for (unsigned i = 0; i < nbits; i++) {
        if (!((m[i / 64] >> (i % 64)) & 1))
            continue;
        unsigned j = i;
        while (j + 1 < nbits && ((m[(j + 1) / 64] >> ((j + 1) % 64)) & 1))
            j++;
        if (j == i)
            printf("%s%u", sep, i);
        else
            printf("%s%u-%u", sep, i, j);
        sep = ",";
        printed = 1;
        i = j;
    }
    if (!printed)
        printf("none");
}

int fly_cmd_numa(int argc, char **argv)
{
    (void)argv;
    if (argc != 0) {
        fprintf(stderr, "usage: flymalloc numa\n");
        return 2;
    }
    fly_numa_set_sources(getenv("FLYMALLOC_NUMA_TOPOLOGY"), getenv("FLYMALLOC_NUMA_SYSFS"));
    const fly_numa_topo_t *t = fly_numa_topo();
    printf("topology: %s\n", t->nt_synthetic ? "synthetic (FLYMALLOC_NUMA_TOPOLOGY or FLYMALLOC_NUMA_SYSFS)"
                                             : "the machine's");
    printf("online: ");
    print_list(&t->nt_online, FLY_NUMA_MAX_NODES);
    printf("\nwith memory: ");
    print_list(&t->nt_memory, FLY_NUMA_MAX_NODES);
    printf("\nallowed to this process: ");
    print_list(&t->nt_allowed, FLY_NUMA_MAX_NODES);
    printf("\n");
    for (unsigned n = 0; n < t->nt_nodes; n++) {
        if (!((t->nt_online >> n) & 1))
            continue;
        uint64_t cpus[FLY_NUMA_MAX_CPUS / 64] = { 0 };
        for (unsigned c = 0; c < FLY_NUMA_MAX_CPUS; c++)
            if (t->nt_cpu_node[c] == (int)n)
                cpus[c / 64] |= 1ull << (c % 64);
        printf("node %u: cpus ", n);
        print_list(cpus, FLY_NUMA_MAX_CPUS);
        printf("; distances");
        for (unsigned m = 0; m < t->nt_nodes; m++)
            if ((t->nt_online >> m) & 1)
                printf(" %u", t->nt_distance[n][m]);
        printf("\n");
    }
    return 0;
}
