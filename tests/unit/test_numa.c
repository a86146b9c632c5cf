/*
 * test_numa.c: the NUMA topology, the placement policies and the node API
 * (src/numa.c, src/node.c, src/placement.c).  Each scenario runs in its own
 * process (the test re-executes itself with the scenario's settings, which
 * are read at start-up):
 *
 *   parse        CPU lists; synthetic topology strings (two nodes with a
 *                distance table, a memory-only node, malformed ones); sysfs
 *                trees of 1, 2 and 4 nodes, with a memory-only node and
 *                offline CPUs, and malformed trees, each read as written;
 *   api          under the synthetic topology "0/1;10,21/21,10": node count,
 *                CPU nodes, distances, the snapshot; fly_malloc_node,
 *                fly_calloc_node and fly_aligned_alloc_node give blocks of
 *                that node's heap (small, large, huge; zeroed, aligned),
 *                whose regions were bound to it; a node that does not exist
 *                gives NULL and EINVAL; fly_thread_set_node moves a thread;
 *                blocks freed by a thread of the other node go home (the
 *                node heaps hold nothing once everything is freed); the
 *                numa.* fly_ctl names, per-node resident bytes among them;
 *   local        FLYMALLOC_NUMA=local: a thread pinned to CPU 0 gets node
 *                0's blocks, one on CPU 1 node 1's, and one that moves
 *                from CPU 0 to CPU 1 gets node 1's within a second (needs
 *                two CPUs);
 *   fixed        FLYMALLOC_NUMA=fixed:1: every thread gets node 1's blocks,
 *                huge ones included;
 *   fallback     fixed:1 where only node 0 exists: threads stay on the
 *                default heap and numa.fallbacks counts them;
 *   interleave   the default heap's pages (large and huge blocks) go to
 *                nodes 0 and 1 in turn; weighted:3,1 puts 3 of every 4 of
 *                its 2 MiB spans on node 0;
 *   real         the machine's topology: fly_malloc_node(…, 0) under strict
 *                binding is on node 0 by move_pages; an absent node is
 *                EINVAL; FLYMALLOC_NUMA=os binds nothing;
 *   malformed    a bad FLYMALLOC_NUMA warns once and runs `os`;
 *   kept         under numactl --preferred=0, FLYMALLOC_NUMA=os leaves the
 *                kernel's policy on every block (the default too); fixed:0
 *                with strict binding does not, which proves the check.
 */
#define _GNU_SOURCE
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "numa.h"
#include "os.h"
#include "stats.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static const char *self;

/* ---- parse ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *tree(const char *name)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/numa-%s-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name, getpid());
    mkdir(dir, 0755);
    return dir;
}

static void parse(void)
{
    uint64_t m[16] = { 0 };
    CHECK(fly_numa_parse_list("0-3,8,10-11\n", 12, m, 1024) && m[0] == 0xd0f, "list: %#llx",
          (unsigned long long)m[0]);
    memset(m, 0, sizeof m);
    CHECK(!fly_numa_parse_list("3-1", 3, m, 1024) && !fly_numa_parse_list("1,,2", 4, m, 1024) &&
              !fly_numa_parse_list("2000", 4, m, 1024) && !fly_numa_parse_list("a", 1, m, 1024),
          "malformed lists accepted");

    fly_numa_topo_t t;
    CHECK(fly_numa_parse_topology("0-1/2-3;10,21/21,10", &t), "two-node topology");
    CHECK(t.nt_nodes == 2 && t.nt_online == 3 && t.nt_memory == 3 && t.nt_synthetic &&
              t.nt_cpu_node[1] == 0 && t.nt_cpu_node[2] == 1 && t.nt_cpu_node[4] == -1 &&
              t.nt_distance[0][1] == 21 && t.nt_distance[1][1] == 10,
          "two-node topology read wrong");
    CHECK(fly_numa_parse_topology("0/1/", &t) && t.nt_nodes == 3 && t.nt_cpu_node[1] == 1 &&
              t.nt_distance[2][0] == 20,
          "a memory-only node");
    CHECK(!fly_numa_parse_topology("0/0", &t) && !fly_numa_parse_topology("0/1;10,20", &t) &&
              !fly_numa_parse_topology("0-x", &t) && !fly_numa_parse_topology("0/1;10,300/20,10", &t),
          "malformed topologies accepted");

    /* One node, as a kernel shows it. */
    char *d = tree("one");
    write_file(d, "online", "0\n");
    write_file(d, "has_memory", "0\n");
    write_file(d, "node0/cpulist", "0-1\n");
    write_file(d, "node0/distance", "10\n");
    CHECK(fly_numa_read_sysfs(d, &t, true) && t.nt_nodes == 1 && t.nt_memory == 1 && t.nt_allowed == 1 &&
              t.nt_cpu_node[0] == 0 && t.nt_cpu_node[1] == 0 && t.nt_cpu_node[2] == -1,
          "one-node tree");
    /* Four nodes, node 3 memory-only, CPU 5 offline (in no list). */
    d = tree("four");
    write_file(d, "online", "0-3\n");
    write_file(d, "has_memory", "0-3\n");
    write_file(d, "node0/cpulist", "0-1\n");
    write_file(d, "node1/cpulist", "2-3\n");
    write_file(d, "node2/cpulist", "4,6\n");
    write_file(d, "node3/cpulist", "\n");
    write_file(d, "node0/distance", "10 16 16 32\n");
    write_file(d, "node1/distance", "16 10 32 16\n");
    write_file(d, "node2/distance", "16 32 10 16\n");
    write_file(d, "node3/distance", "32 16 16 10\n");
    CHECK(fly_numa_read_sysfs(d, &t, true), "four-node tree");
    CHECK(t.nt_nodes == 4 && t.nt_memory == 15 && t.nt_cpu_node[6] == 2 && t.nt_cpu_node[5] == -1 &&
              t.nt_distance[0][3] == 32 && t.nt_distance[3][1] == 16,
          "four-node tree read wrong");
    /* Two nodes, node 1 without memory. */
    d = tree("two");
    write_file(d, "online", "0-1\n");
    write_file(d, "has_memory", "0\n");
    write_file(d, "node0/cpulist", "0\n");
    write_file(d, "node1/cpulist", "1\n");
    CHECK(fly_numa_read_sysfs(d, &t, true) && t.nt_memory == 1 && t.nt_online == 3 && !fly_numa_usable(&t, 1) &&
              fly_numa_usable(&t, 0),
          "a node without memory is not usable");
    /* Malformed: a bad list, a node without its cpulist, a bad distance. */
    d = tree("bad1");
    write_file(d, "online", "0-z\n");
    CHECK(!fly_numa_read_sysfs(d, &t, true), "a bad online list accepted");
    d = tree("bad2");
    write_file(d, "online", "0-1\n");
    write_file(d, "node0/cpulist", "0\n");
    CHECK(!fly_numa_read_sysfs(d, &t, true), "a node without cpulist accepted");
    d = tree("bad3");
    write_file(d, "online", "0\n");
    write_file(d, "node0/cpulist", "0\n");
    write_file(d, "node0/distance", "10 abc\n");
    CHECK(!fly_numa_read_sysfs(d, &t, true), "a bad distance accepted");
    CHECK(!fly_numa_read_sysfs("/nonexistent-numa-tree", &t, true), "a missing synthetic tree accepted");

    fly_numa_policy_t np;
    CHECK(fly_numa_parse_policy("local", &np) && np.np_mode == FLY_NUMA_LOCAL, "local");
    CHECK(fly_numa_parse_policy("fixed:3", &np) && np.np_mode == FLY_NUMA_FIXED && np.np_node == 3, "fixed");
    CHECK(fly_numa_parse_policy("weighted:3,0,1", &np) && np.np_weight[0] == 3 && np.np_weight[2] == 1,
          "weighted");
    CHECK(!fly_numa_parse_policy("fixed:", &np) && !fly_numa_parse_policy("weighted:0,0", &np) &&
              !fly_numa_parse_policy("weighted:1,,2", &np) && !fly_numa_parse_policy("bogus", &np) &&
              !fly_numa_parse_policy("fixed:64", &np),
          "malformed placements accepted");
}

/* ---- synthetic two nodes ---- */

static int heap_small_out(int node)
{
    /* Objects of node's heap outside its zones after every cache is flushed. */
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        if (fly_heap_at(i)->hp_node == node) {
            fly_heap_stats_t hs;
            fly_stats_heap(i, &hs);
            return (int)(hs.hs_small_bytes / 16);
        }
    return -1;
}

static void *blocks[2][2000];

static void *free_others(void *arg)
{
    void **b = arg;
    for (int i = 0; i < 2000; i++)
        fly_free(b[i]);
    fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    return NULL;
}

static void api(void)
{
    CHECK(fly_numa_node_count() == 2, "node count %d", fly_numa_node_count());
    CHECK(fly_numa_node_of_cpu(0) == 0 && fly_numa_node_of_cpu(1) == 1 && fly_numa_node_of_cpu(7) == -1 &&
              fly_numa_node_of_cpu(-1) == -1,
          "CPU nodes");
    CHECK(fly_numa_distance(0, 1) == 21 && fly_numa_distance(1, 1) == 10 && fly_numa_distance(0, 2) == -1,
          "distances");
    static fly_numa_info_t info;
    CHECK(fly_numa_topology(&info) == 0 && info.ni_nodes == 2 && info.ni_synthetic && info.ni_allowed == 3 &&
              info.ni_cpu_node[1] == 1 && info.ni_distance[1][0] == 21,
          "snapshot");
    int cur = fly_numa_current_node();
    CHECK(cur == 0 || cur == 1, "current node %d", cur);
    CHECK(fly_numa_node_of(NULL) == -1 && fly_numa_node_of(&info) == -1, "not ours");

    size_t sizes[] = { 1, 100, 4000, 30000, 100000, 5 << 20, 80 << 20 };
    for (int node = 0; node < 2; node++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            char *p = fly_malloc_node(sizes[i], node);
            CHECK(p && fly_numa_node_of(p) == node, "malloc_node(%zu, %d) on node %d", sizes[i], node,
                  p ? fly_numa_node_of(p) : -2);
            memset(p, 1, sizes[i]);
            char *z = fly_calloc_node(1, sizes[i], node);
            CHECK(z && fly_numa_node_of(z) == node, "calloc_node(%zu, %d)", sizes[i], node);
            for (size_t k = 0; k < sizes[i]; k += 997)
                CHECK(z[k] == 0, "calloc_node not zeroed");
            char *a = fly_aligned_alloc_node(4096, sizes[i], node);
            CHECK(a && ((uintptr_t)a & 4095) == 0 && fly_numa_node_of(a) == node, "aligned_alloc_node(%zu, %d)",
                  sizes[i], node);
            fly_free(p);
            fly_free(z);
            fly_free(a);
        }
    errno = 0;
    CHECK(fly_malloc_node(10, 2) == NULL && errno == EINVAL, "node 2 should be EINVAL");
    errno = 0;
    CHECK(fly_malloc_node(10, -1) == NULL && errno == EINVAL, "node -1 should be EINVAL");
    errno = 0;
    CHECK(fly_thread_set_node(5) == -1 && errno == EINVAL, "thread_set_node(5)");

    /* Blocks of both nodes, freed by a thread moved to the other node. */
    for (int node = 0; node < 2; node++)
        for (int i = 0; i < 2000; i++)
            blocks[node][i] = fly_malloc_node(16 + (size_t)(i % 4) * 16, node);
    CHECK(fly_thread_set_node(1) == 0, "thread_set_node(1)");
    char *mine = fly_malloc(64);
    CHECK(fly_numa_node_of(mine) == 1, "after thread_set_node(1) a block from node %d", fly_numa_node_of(mine));
    fly_free(mine);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_others, blocks[0]) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(pthread_create(&t, NULL, free_others, blocks[1]) == 0, "pthread_create");
    pthread_join(t, NULL);
    fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    fly_malloc_trim(0);
    CHECK(heap_small_out(0) == 0 && heap_small_out(1) == 0, "blocks did not go home: node 0 holds %d, node 1 %d",
          heap_small_out(0), heap_small_out(1));
    for (uint32_t i = 0; i < fly_heap_count(); i++) {
        fly_heap_stats_t hs;
        fly_stats_heap(i, &hs);
        if (fly_heap_at(i)->hp_node >= 0)
            CHECK(hs.hs_came_home >= 2000, "node %d's heap counts %llu blocks come home, want 2000 or more",
                  fly_heap_at(i)->hp_node, (unsigned long long)hs.hs_came_home);
    }
    fly_os_counters_t oc;
    fly_os_counters(&oc);
    CHECK(oc.oc_bind_calls >= 2 && oc.oc_bind_errors == 0, "binds %llu, errors %llu",
          (unsigned long long)oc.oc_bind_calls, (unsigned long long)oc.oc_bind_errors);

    /* fly_ctl's numa names. */
    uint32_t nodes = 0;
    size_t len = sizeof nodes;
    CHECK(fly_ctl("numa.nodes", &nodes, &len, NULL, 0) == 0 && nodes == 2, "numa.nodes %u", nodes);
    char text[32];
    len = sizeof text;
    CHECK(fly_ctl("numa.policy", text, &len, NULL, 0) == 0 && strcmp(text, "os") == 0, "numa.policy %s", text);
    len = sizeof text;
    CHECK(fly_ctl("numa.bind", text, &len, NULL, 0) == 0 && strcmp(text, "advisory") == 0, "numa.bind %s", text);
    uint64_t binds = 0;
    len = sizeof binds;
    CHECK(fly_ctl("numa.binds", &binds, &len, NULL, 0) == 0 && binds == oc.oc_bind_calls, "numa.binds");
    uint64_t remote = 0, remote0 = 0, remote1 = 0;
    CHECK(fly_ctl("numa.remote_frees", &remote, &len, NULL, 0) == 0 &&
              fly_ctl("numa.node.0.remote_frees", &remote0, &len, NULL, 0) == 0 &&
              fly_ctl("numa.node.1.remote_frees", &remote1, &len, NULL, 0) == 0 && remote0 >= 2000 &&
              remote1 >= 2000 && remote == remote0 + remote1,
          "numa.remote_frees %llu, node 0 %llu, node 1 %llu", (unsigned long long)remote,
          (unsigned long long)remote0, (unsigned long long)remote1);
    int seen = 0;
    for (uint32_t i = 0; i < fly_heap_count(); i++) {
        char name[64];
        int32_t node = -2;
        len = sizeof node;
        snprintf(name, sizeof name, "numa.heaps.%u.node", i);
        CHECK(fly_ctl(name, &node, &len, NULL, 0) == 0 && node == fly_heap_at(i)->hp_node, "%s", name);
        seen |= node >= 0 ? 1 << node : 0;
    }
    CHECK(seen == 3 && fly_ctl("numa.heaps.99.node", &seen, &len, NULL, 0) == ENOENT, "heaps of both nodes");

    /* Per node: 4 MiB touched on node 1 is resident there. */
    char *big = fly_malloc_node(4u << 20, 1);
    memset(big, 3, 4u << 20);
    uint64_t res = 0, mapped = 0, none = 1;
    len = sizeof res;
    CHECK(fly_ctl("numa.node.1.resident_bytes", &res, &len, NULL, 0) == 0 && res >= (4u << 20),
          "node 1 resident %llu", (unsigned long long)res);
    CHECK(fly_ctl("numa.node.1.mapped_bytes", &mapped, &len, NULL, 0) == 0 && mapped >= res,
          "node 1 mapped %llu, resident %llu", (unsigned long long)mapped, (unsigned long long)res);
    CHECK(fly_ctl("numa.node.7.used_bytes", &none, &len, NULL, 0) == 0 && none == 0, "a node without a heap");
    CHECK(fly_ctl("numa.node.64.used_bytes", &none, &len, NULL, 0) == ENOENT &&
              fly_ctl("numa.node.1.live", &none, &len, NULL, 0) == ENOENT,
          "bad numa.node names");
    fly_free(big);
}

static void *pinned_worker(void *arg)
{
    int cpu = (int)(intptr_t)arg;
    int want = fly_numa_node_of_cpu(cpu);
    for (int i = 0; i < 200; i++) {
        size_t n = i % 3 == 0 ? 100000 : 24 + (size_t)i * 8;
        char *p = fly_malloc(n);
        CHECK(p && fly_numa_node_of(p) == want, "a thread on CPU %d (node %d) got a block of node %d", cpu, want,
              fly_numa_node_of(p));
        fly_free(p);
    }
    return NULL;
}

/* A thread that starts on CPU 0 and moves to CPU 1 gets node 1's blocks
 * within a second and some allocations (its aging pass notices). */
static void *migrating_worker(void *arg)
{
    (void)arg;
    char *p = fly_malloc(64);
    CHECK(p && fly_numa_node_of(p) == 0, "before moving: node %d", fly_numa_node_of(p));
    fly_free(p);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    CHECK(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0, "move to CPU 1");
    struct timespec ts = { 1, 200 * 1000000L };
    nanosleep(&ts, NULL);
    int moved_at = -1;
    for (int i = 0; i < 20000 && moved_at < 0; i++) {
        p = fly_malloc(64);
        if (fly_numa_node_of(p) == 1)
            moved_at = i;
        fly_free(p);
    }
    CHECK(moved_at >= 0, "the thread still allocates on node 0 after moving to CPU 1");
    for (int i = 0; i < 1000; i++) {
        p = fly_malloc(16 + (size_t)i % 500);
        CHECK(fly_numa_node_of(p) == 1, "after the move a block of node %d", fly_numa_node_of(p));
        fly_free(p);
    }
    t_log("migrated: node 1's blocks from allocation %d after the move\n", moved_at);
    return NULL;
}

static void local(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity");
    if (!CPU_ISSET(0, &set) || !CPU_ISSET(1, &set)) {
        t_log("local: needs CPUs 0 and 1, skipped\n");
        return;
    }
    /* Pinned from its start: a thread's heap is chosen when it first
     * allocates, which may be before its own code runs. */
    for (int cpu = 0; cpu < 2; cpu++) {
        pthread_attr_t attr;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_attr_init(&attr);
        CHECK(pthread_attr_setaffinity_np(&attr, sizeof one, &one) == 0, "pin to CPU %d", cpu);
        pthread_t t;
        CHECK(pthread_create(&t, &attr, pinned_worker, (void *)(intptr_t)cpu) == 0, "pthread_create");
        pthread_join(t, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_attr_t attr;
    cpu_set_t zero;
    CPU_ZERO(&zero);
    CPU_SET(0, &zero);
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof zero, &zero);
    pthread_t t;
    CHECK(pthread_create(&t, &attr, migrating_worker, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
}

static void *free_others_none(void *arg)
{
    (void)arg;
    char *p = fly_malloc(100);
    CHECK(p && fly_numa_node_of(p) == 0, "a fallback thread's block is on node %d", fly_numa_node_of(p));
    fly_free(p);
    return NULL;
}

static void *fixed_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        char *p = fly_malloc(40 + (size_t)i * 100);
        CHECK(p && fly_numa_node_of(p) == 1, "fixed:1 gave a block of node %d", fly_numa_node_of(p));
        fly_free(p);
    }
    char *huge = fly_malloc((size_t)100 << 20);
    CHECK(huge && fly_numa_node_of(huge) == 1, "fixed:1 gave a huge block of node %d", fly_numa_node_of(huge));
    fly_free(huge);
    return NULL;
}

static void fixed(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, fixed_worker, NULL) == 0, "pthread_create");
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
}

/* fixed:1 on a machine whose only node is 0: threads stay on the default
 * heap, and each counts as a fallback. */
static void fallback(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, free_others_none, NULL) == 0, "pthread_create");
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint64_t n = 0;
    size_t len = sizeof n;
    CHECK(fly_ctl("numa.fallbacks", &n, &len, NULL, 0) == 0 && n >= 2, "numa.fallbacks %llu", (unsigned long long)n);
}

/* The share of node 0 among the pages of a large block (32 MiB) and of
 * the first region of a huge one (100 MiB), against weights w0:w1:
 * `interleave` spreads pages, so to within a page; `weighted` deals 2 MiB
 * spans, so to within a span. */
static void interleave(unsigned w0, unsigned w1)
{
    const size_t sizes[2] = { (size_t)32 << 20, (size_t)100 << 20 };
    const double slack = w0 == w1 ? 1 : (2 << 20) / 4096;
    for (int k = 0; k < 2; k++) {
        char *p = fly_malloc(sizes[k]);
        CHECK(p != NULL, "malloc %zu", sizes[k]);
        size_t pages = FLY_MIN(sizes[k], (size_t)64 << 20) / 4096;
        unsigned on[2] = { 0, 0 };
        for (size_t i = 0; i < pages; i++) {
            int node = fly_numa_node_of(p + i * 4096);
            CHECK(node == 0 || node == 1, "page %zu of the %zu-byte block on node %d", i, sizes[k], node);
            on[node]++;
        }
        double want0 = (double)pages * w0 / (w0 + w1);
        t_log("interleave %u:%u, %zu-byte block: %u pages on node 0, %u on node 1 (want %.0f on node 0)\n", w0,
              w1, sizes[k], on[0], on[1], want0);
        CHECK(on[0] >= want0 - slack && on[0] <= want0 + slack, "%u pages on node 0, want %.0f", on[0], want0);
        fly_free(p);
    }
}

/* ---- the machine's topology ---- */

static void real(void)
{
    const char *bind = getenv("FLYMALLOC_NUMA_BIND");
    char *p = fly_malloc_node(1 << 20, 0);
    CHECK(p != NULL, "malloc_node(1 MiB, 0): errno %d", errno);
    memset(p, 7, 1 << 20);
    void *page = p;
    int status = -1;
    long rc = syscall(SYS_move_pages, 0, 1ul, &page, NULL, &status, 0);
    if (rc != 0) {
        t_log("real: move_pages unavailable (errno %d), placement not checked\n", errno);
    } else {
        CHECK(status == 0, "move_pages says the block is on node %d", status);
    }
    CHECK(fly_numa_node_of(p) == 0, "node_of %d", fly_numa_node_of(p));
    fly_os_counters_t oc;
    fly_os_counters(&oc);
    CHECK(oc.oc_bind_calls >= 1 && oc.oc_bind_errors == 0, "strict binding on the real kernel: %llu calls, %llu errors",
          (unsigned long long)oc.oc_bind_calls, (unsigned long long)oc.oc_bind_errors);
    fly_free(p);
    int absent = fly_numa_node_count();
    fly_numa_info_t *info = malloc(sizeof *info);
    fly_numa_topology(info);
    while (absent < 64 && ((info->ni_memory >> absent) & 1))
        absent++;
    free(info);
    errno = 0;
    CHECK(fly_malloc_node(10, absent) == NULL && errno == EINVAL, "node %d (absent) should be EINVAL", absent);
    CHECK(bind && strcmp(bind, "strict") == 0, "run with FLYMALLOC_NUMA_BIND=strict");
}

static void os_policy(void)
{
    void *p = fly_malloc(100), *q = fly_malloc(10 << 20);
    fly_os_counters_t oc;
    fly_os_counters(&oc);
    CHECK(oc.oc_bind_calls == 0, "FLYMALLOC_NUMA=os made %llu bindings", (unsigned long long)oc.oc_bind_calls);
    fly_free(p);
    fly_free(q);
}

/* Under numactl --preferred=0 the process's policy stays MPOL_PREFERRED
 * (1), and with FLYMALLOC_NUMA=os no block (small, large, huge) has a
 * policy of its own (the kernel answers MPOL_DEFAULT, 0, by address), so
 * numactl's governs them all; fixed:0 with strict binding gives them
 * MPOL_BIND (2), which proves the check (T_WANT_MODE: the mode wanted). */
static void kept(void)
{
    const char *want_s = getenv("T_WANT_MODE");
    CHECK(want_s != NULL, "T_WANT_MODE");
    int want = atoi(want_s), process = -1;
    CHECK(syscall(SYS_get_mempolicy, &process, NULL, 0ul, NULL, 0ul) == 0 && (process & 0xff) == 1,
          "the process's policy is %d, not numactl's MPOL_PREFERRED", process);
    const size_t sizes[] = { 100, 200000, (size_t)100 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = fly_malloc(sizes[i]);
        CHECK(p != NULL, "malloc %zu", sizes[i]);
        p[0] = 1;
        int mode = -1;
        long rc = syscall(SYS_get_mempolicy, &mode, NULL, 0ul, p, 2ul /* MPOL_F_ADDR */);
        CHECK(rc == 0, "get_mempolicy: errno %d", errno);
        t_log("kept: a %zu-byte block is under memory policy mode %d (want %d)\n", sizes[i], mode & 0xff, want);
        CHECK((mode & 0xff) == want, "a %zu-byte block is under mode %d, want %d", sizes[i], mode & 0xff, want);
        fly_free(p);
    }
}

/* ---- the driver ---- */

/* Runs scenario in a child with env added, under the command wrapper
 * (NULL-terminated, or NULL for none). */
static void run_wrapped(const char *scenario, const char *const *env, const char *expect_stderr,
                        const char *const *wrapper)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        unsetenv("FLYMALLOC_NUMA");
        unsetenv("FLYMALLOC_NUMA_BIND");
        unsetenv("FLYMALLOC_NUMA_TOPOLOGY");
        unsetenv("FLYMALLOC_NUMA_SYSFS");
        for (const char *const *e = env; *e; e++)
            putenv((char *)*e);
        const char *argv[16];
        int argc = 0;
        for (const char *const *w = wrapper; w && *w; w++)
            argv[argc++] = *w;
        argv[argc++] = self;
        argv[argc++] = scenario;
        argv[argc] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char out[8192];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof out - 1 && (k = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fds[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    t_log("%s:\n%s", scenario, out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scenario %s failed", scenario);
    if (expect_stderr)
        CHECK(strstr(out, expect_stderr) != NULL, "scenario %s: no \"%s\" on stderr", scenario, expect_stderr);
}

static void run(const char *scenario, const char *const *env, const char *expect_stderr)
{
    run_wrapped(scenario, env, expect_stderr, NULL);
}

int main(int argc, char **argv)
{
    self = "/proc/self/exe";
    if (argc > 1) {
        const char *s = argv[1];
        if (!strcmp(s, "parse"))
            parse();
        else if (!strcmp(s, "api"))
            api();
        else if (!strcmp(s, "local"))
            local();
        else if (!strcmp(s, "fixed"))
            fixed();
        else if (!strcmp(s, "fallback"))
            fallback();
        else if (!strcmp(s, "interleave"))
            interleave(1, 1);
        else if (!strcmp(s, "weighted"))
            interleave(3, 1);
        else if (!strcmp(s, "real"))
            real();
        else if (!strcmp(s, "kept"))
            kept();
        else if (!strcmp(s, "os") || !strcmp(s, "malformed"))
            os_policy();
        else
            CHECK(0, "no scenario %s", s);
        return 0;
    }
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink");
    exe[n] = '\0';
    self = exe;
    const char *none[] = { NULL };
    const char *two[] = { "FLYMALLOC_NUMA_TOPOLOGY=0/1;10,21/21,10", NULL };
    const char *local_env[] = { "FLYMALLOC_NUMA_TOPOLOGY=0/1", "FLYMALLOC_NUMA=local", NULL };
    const char *fixed_env[] = { "FLYMALLOC_NUMA_TOPOLOGY=0/1", "FLYMALLOC_NUMA=fixed:1", NULL };
    const char *inter_env[] = { "FLYMALLOC_NUMA_TOPOLOGY=0/1", "FLYMALLOC_NUMA=interleave", NULL };
    const char *weight_env[] = { "FLYMALLOC_NUMA_TOPOLOGY=0/1", "FLYMALLOC_NUMA=weighted:3,1", NULL };
    const char *real_env[] = { "FLYMALLOC_NUMA_BIND=strict", NULL };
    const char *os_env[] = { "FLYMALLOC_NUMA=os", NULL };
    const char *bad_env[] = { "FLYMALLOC_NUMA=sideways", NULL };
    run("parse", none, NULL);
    run("api", two, NULL);
    run("local", local_env, NULL);
    run("fixed", fixed_env, NULL);
    const char *fallback_env[] = { "FLYMALLOC_NUMA_TOPOLOGY=0-1", "FLYMALLOC_NUMA=fixed:1", NULL };
    run("fallback", fallback_env, NULL);
    run("interleave", inter_env, NULL);
    run("weighted", weight_env, NULL);
    run("real", real_env, NULL);
    run("os", os_env, NULL);
    run("malformed", bad_env, "FLYMALLOC_NUMA");
    if (access("/usr/bin/numactl", X_OK) == 0) {
        const char *numactl[] = { "/usr/bin/numactl", "--preferred=0", NULL };
        const char *kept_env[] = { "FLYMALLOC_NUMA=os", "T_WANT_MODE=0", NULL };
        const char *bound_env[] = { "FLYMALLOC_NUMA=fixed:0", "FLYMALLOC_NUMA_BIND=strict", "T_WANT_MODE=2", NULL };
        run_wrapped("kept", kept_env, NULL, numactl);
        run_wrapped("kept", bound_env, NULL, numactl);
    } else {
        t_log("numactl not installed: the numactl --preferred=0 scenario is skipped\n");
    }
    return 0;
}
