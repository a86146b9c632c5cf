/*
 * numa.c: reading the NUMA topology and parsing the placement settings
 * (numa.h).  Files are read into stack buffers: nothing here allocates, so
 * it may run inside the allocator.
 */
#include "numa.h"
#include "os.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define SYSFS_NODES "/sys/devices/system/node"

static fly_numa_topo_t topo;
static int topo_state;                 /* 0 unread, 1 reading, 2 read (atomic) */
static const char *src_topology, *src_sysfs;

void fly_numa_set_sources(const char *topology, const char *sysfs)
{
    src_topology = topology;
    src_sysfs = sysfs;
}

/* Reads up to len - 1 bytes of path, NUL-terminated; false if unreadable. */
static bool read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

static bool parse_uint(const char **s, const char *end, unsigned *v)
{
    const char *p = *s;
    unsigned x = 0;
    if (p == end || *p < '0' || *p > '9')
        return false;
    while (p < end && *p >= '0' && *p <= '9') {
        x = x * 10 + (unsigned)(*p - '0');
        if (x > 1u << 20)
            return false;
        p++;
    }
    *s = p;
    *v = x;
    return true;
}

bool fly_numa_parse_list(const char *s, size_t len, uint64_t *mask, unsigned nbits)
{
    const char *end = s + len;
    while (end > s && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    while (s < end) {
        unsigned a, b;
        if (!parse_uint(&s, end, &a))
            return false;
        b = a;
        if (s < end && *s == '-') {
            s++;
            if (!parse_uint(&s, end, &b) || b < a)
                return false;
        }
        if (b >= nbits)
            return false;
        for (unsigned i = a; i <= b; i++)
            mask[i / 64] |= 1ull << (i % 64);
        if (s < end && *s != ',')
            return false;
        if (s < end)
            s++;
    }
    return true;
}

static void set_cpus(fly_numa_topo_t *t, const uint64_t *cpus, unsigned node)
{
    for (unsigned c = 0; c < FLY_NUMA_MAX_CPUS; c++)
        if ((cpus[c / 64] >> (c % 64)) & 1)
            t->nt_cpu_node[c] = (int16_t)node;
}

/* A distance row "10 20" or "10,20" for node a. */
static bool parse_distances(fly_numa_topo_t *t, unsigned a, const char *s, const char *end)
{
    for (unsigned b = 0; s < end; b++) {
        unsigned d;
        while (s < end && (*s == ' ' || *s == ','))
            s++;
        if (s == end || *s == '\n')
            break;
        if (b >= FLY_NUMA_MAX_NODES || !parse_uint(&s, end, &d) || d == 0 || d > 255)
            return false;
        t->nt_distance[a][b] = (uint8_t)d;
    }
    return true;
}

static unsigned highest_bit(uint64_t m)
{
    return m ? 64u - (unsigned)__builtin_clzll(m) : 0;
}

bool fly_numa_parse_topology(const char *s, fly_numa_topo_t *t)
{
    memset(t, 0, sizeof(*t));
    memset(t->nt_cpu_node, 0xff, sizeof(t->nt_cpu_node));
    const char *end = s + strlen(s), *semi = memchr(s, ';', (size_t)(end - s));
    const char *nodes_end = semi ? semi : end;
    unsigned node = 0;
    for (const char *p = s; p <= nodes_end; node++) {
        const char *slash = memchr(p, '/', (size_t)(nodes_end - p));
        const char *e = slash ? slash : nodes_end;
        uint64_t cpus[FLY_NUMA_MAX_CPUS / 64] = { 0 };
        if (node >= FLY_NUMA_MAX_NODES || !fly_numa_parse_list(p, (size_t)(e - p), cpus, FLY_NUMA_MAX_CPUS))
            return false;
        for (unsigned c = 0; c < FLY_NUMA_MAX_CPUS; c++)
            if (((cpus[c / 64] >> (c % 64)) & 1) && t->nt_cpu_node[c] >= 0)
                return false;                /* a CPU on two nodes */
        set_cpus(t, cpus, node);
        t->nt_online |= 1ull << node;
        p = e + 1;
    }
    t->nt_nodes = node;
    t->nt_memory = t->nt_allowed = t->nt_online;
    t->nt_synthetic = true;
    if (semi) {
        const char *p = semi + 1;
        for (unsigned a = 0; a < t->nt_nodes; a++) {
            const char *slash = memchr(p, '/', (size_t)(end - p));
            const char *e = slash ? slash : end;
            if (!parse_distances(t, a, p, e))
                return false;
            if (slash == NULL && a + 1 < t->nt_nodes)
                return false;
            p = e + 1;
        }
    }
    for (unsigned a = 0; a < t->nt_nodes; a++)
        for (unsigned b = 0; b < t->nt_nodes; b++)
            if (t->nt_distance[a][b] == 0)
                t->nt_distance[a][b] = a == b ? 10 : 20;
    return true;
}

/* dir/name into out; false if it does not fit. */
static bool join(char *out, size_t len, const char *dir, const char *name, int node)
{
    size_t n = strlen(dir);
    if (n + 48 >= len)
        return false;
    memcpy(out, dir, n);
    if (node >= 0) {
        memcpy(out + n, "/node", 5);
        n += 5 + fly_fmt_u64(out + n + 5, (uint64_t)node);
    }
    out[n++] = '/';
    memcpy(out + n, name, strlen(name) + 1);
    return true;
}

/* The nodes the process may use, from /proc/self/status. */
static uint64_t mems_allowed(uint64_t fallback)
{
    char buf[4096];
    if (!read_text("/proc/self/status", buf, sizeof(buf)))
        return fallback;
    const char *p = strstr(buf, "Mems_allowed_list:");
    if (p == NULL)
        return fallback;
    p += strlen("Mems_allowed_list:");
    while (*p == '\t' || *p == ' ')
        p++;
    uint64_t m = 0;
    size_t len = strcspn(p, "\n");
    return fly_numa_parse_list(p, len, &m, FLY_NUMA_MAX_NODES) && m ? m : fallback;
}

bool fly_numa_read_sysfs(const char *dir, fly_numa_topo_t *t, bool synthetic)
{
    char path[512], buf[4096];
    memset(t, 0, sizeof(*t));
    memset(t->nt_cpu_node, 0xff, sizeof(t->nt_cpu_node));
    t->nt_synthetic = synthetic;
    if (!join(path, sizeof(path), dir, "online", -1))
        return false;
    if (!read_text(path, buf, sizeof(buf))) {
        if (synthetic)
            return false;
        long n = sysconf(_SC_NPROCESSORS_CONF);
        for (long c = 0; c < n && c < FLY_NUMA_MAX_CPUS; c++)
            t->nt_cpu_node[c] = 0;
        t->nt_nodes = 1;
        t->nt_online = t->nt_memory = t->nt_allowed = 1;
        t->nt_distance[0][0] = 10;
        return true;
    }
    if (!fly_numa_parse_list(buf, strlen(buf), &t->nt_online, FLY_NUMA_MAX_NODES) || t->nt_online == 0)
        return false;
    t->nt_nodes = highest_bit(t->nt_online);
    t->nt_memory = t->nt_online;
    if (join(path, sizeof(path), dir, "has_memory", -1) && read_text(path, buf, sizeof(buf))) {
        uint64_t m = 0;
        if (!fly_numa_parse_list(buf, strlen(buf), &m, FLY_NUMA_MAX_NODES))
            return false;
        t->nt_memory = m & t->nt_online;
    }
    for (unsigned node = 0; node < t->nt_nodes; node++) {
        if (!((t->nt_online >> node) & 1))
            continue;
        uint64_t cpus[FLY_NUMA_MAX_CPUS / 64] = { 0 };
        if (!join(path, sizeof(path), dir, "cpulist", (int)node) || !read_text(path, buf, sizeof(buf)) ||
            !fly_numa_parse_list(buf, strlen(buf), cpus, FLY_NUMA_MAX_CPUS))
            return false;
        set_cpus(t, cpus, node);
        if (join(path, sizeof(path), dir, "distance", (int)node) && read_text(path, buf, sizeof(buf)) &&
            !parse_distances(t, node, buf, buf + strlen(buf)))
            return false;
    }
    t->nt_allowed = synthetic ? t->nt_memory : mems_allowed(t->nt_memory) & t->nt_memory;
    if (t->nt_allowed == 0)
        t->nt_allowed = t->nt_memory;
    return true;
}

static void read_topology(fly_numa_topo_t *t)
{
    if (src_topology) {
        if (fly_numa_parse_topology(src_topology, t))
            return;
        fly_warn("FLYMALLOC_NUMA_TOPOLOGY is malformed; using the machine's topology");
    } else if (src_sysfs) {
        if (fly_numa_read_sysfs(src_sysfs, t, true))
            return;
        fly_warn("FLYMALLOC_NUMA_SYSFS does not hold a readable node directory; using the machine's topology");
    }
    if (!fly_numa_read_sysfs(SYSFS_NODES, t, false))
        fly_numa_read_sysfs("/nonexistent", t, false);    /* one node with every CPU */
}

const fly_numa_topo_t *fly_numa_topo(void)
{
    int s = __atomic_load_n(&topo_state, __ATOMIC_ACQUIRE);
    if (fly_likely(s == 2))
        return &topo;
    int expected = 0;
    if (__atomic_compare_exchange_n(&topo_state, &expected, 1, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_ACQUIRE)) {
        read_topology(&topo);
        if (topo.nt_synthetic)
            fly_os_bind_simulated = true;
        __atomic_store_n(&topo_state, 2, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&topo_state, __ATOMIC_ACQUIRE) != 2)
            ;
    }
    return &topo;
}

int fly_numa_cpu_node(const fly_numa_topo_t *t, int cpu)
{
    if (cpu < 0 || cpu >= FLY_NUMA_MAX_CPUS)
        return -1;
    return t->nt_cpu_node[cpu];
}

bool fly_numa_usable(const fly_numa_topo_t *t, int node)
{
    return node >= 0 && node < FLY_NUMA_MAX_NODES && ((t->nt_allowed & t->nt_memory) >> node) & 1;
}

bool fly_numa_parse_policy(const char *s, fly_numa_policy_t *out)
{
    memset(out, 0, sizeof(*out));
    static const struct { const char *name; uint32_t mode; } plain[] = {
        { "os", FLY_NUMA_OS }, { "off", FLY_NUMA_OFF }, { "local", FLY_NUMA_LOCAL },
        { "interleave", FLY_NUMA_INTERLEAVE },
    };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (strcmp(s, plain[i].name) == 0) {
            out->np_mode = plain[i].mode;
            return true;
        }
    const char *end = s + strlen(s);
    unsigned v;
    if (strncmp(s, "fixed:", 6) == 0) {
        const char *p = s + 6;
        if (!parse_uint(&p, end, &v) || p != end || v >= FLY_NUMA_MAX_NODES)
            return false;
        out->np_mode = FLY_NUMA_FIXED;
        out->np_node = v;
        return true;
    }
    if (strncmp(s, "weighted:", 9) == 0) {
        const char *p = s + 9;
        unsigned n = 0, sum = 0;
        while (p < end) {
            if (n >= FLY_NUMA_MAX_NODES || !parse_uint(&p, end, &v) || v > 255)
                return false;
            out->np_weight[n++] = (uint8_t)v;
            sum += v;
            if (p < end && *p++ != ',')
                return false;
        }
        if (n == 0 || sum == 0)
            return false;
        out->np_mode = FLY_NUMA_WEIGHTED;
        return true;
    }
    return false;
}
