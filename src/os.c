/*
 * os.c: counted memory system calls (Linux).
 *
 * Alignment is obtained by over-mapping and trimming the excess, which costs
 * one extra munmap per region but keeps the reservation exact.  Purging uses
 * MADV_DONTNEED: the resident set drops at once, which is what users read in
 * top(1); MADV_FREE would leave the pages counted until memory pressure.
 */
#define _GNU_SOURCE
#include "os.h"
#include "lock.h"
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static fly_os_counters_t os_count;
#ifdef FLY_DEBUG
__thread int fly_locks_held;
#endif

#define COUNT(field, n) __atomic_fetch_add(&os_count.field, (n), __ATOMIC_RELAXED)

static void *map_raw_os(size_t size)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    COUNT(oc_mmap_calls, 1);
    errno = saved;
    if (p == MAP_FAILED)
        return NULL;
    COUNT(oc_mmap_bytes, size);
    COUNT(oc_mapped_bytes, size);
    return p;
}

void fly_os_unmap(void *p, size_t size)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    munmap(p, size);
    errno = saved;
    COUNT(oc_munmap_calls, 1);
    COUNT(oc_munmap_bytes, size);
    __atomic_fetch_sub(&os_count.oc_mapped_bytes, size, __ATOMIC_RELAXED);
}

void *fly_os_map_aligned(size_t size, size_t align)
{
    void *p = map_raw_os(size);
    if (p == NULL || ((uintptr_t)p & (align - 1)) == 0)
        return p;
    /* Misaligned: map again with room to trim. */
    fly_os_unmap(p, size);
    if (size + align < size)
        return NULL;
    char *raw = map_raw_os(size + align);
    if (raw == NULL)
        return NULL;
    char *aligned = (char *)FLY_ALIGN_UP((uintptr_t)raw, align);
    size_t head = (size_t)(aligned - raw), tail = align - head;
    if (head)
        fly_os_unmap(raw, head);
    if (tail)
        fly_os_unmap(aligned + size, tail);
    return aligned;
}

void fly_os_purge(void *p, size_t size)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
    COUNT(oc_madvise_calls, 1);
    COUNT(oc_madvise_bytes, size);
}

bool fly_os_protect(void *p, size_t size, bool guard)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    int rc = mprotect(p, size, guard ? PROT_NONE : PROT_READ | PROT_WRITE);
    errno = saved;
    COUNT(oc_mprotect_calls, 1);
    if (rc != 0)
        COUNT(oc_mprotect_errors, 1);
    return rc == 0;
}

bool fly_os_resize_inplace(void *p, size_t oldsize, size_t newsize)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    void *q = mremap(p, oldsize, newsize, 0);
    errno = saved;
    COUNT(oc_mremap_calls, 1);
    if (q == MAP_FAILED)
        return false;
    COUNT(oc_mremap_bytes, newsize);
    if (newsize > oldsize)
        COUNT(oc_mapped_bytes, newsize - oldsize);
    else
        __atomic_fetch_sub(&os_count.oc_mapped_bytes, oldsize - newsize, __ATOMIC_RELAXED);
    return true;
}

bool fly_os_move(void *p, size_t oldsize, void *dst, size_t newsize)
{
    FLY_ASSERT_NO_LOCKS();
    int saved = errno;
    void *q = mremap(p, oldsize, newsize, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    errno = saved;
    COUNT(oc_mremap_calls, 1);
    if (q == MAP_FAILED)
        return false;
    COUNT(oc_mremap_bytes, newsize);
    /* dst's old mapping (newsize) was replaced, p's (oldsize) is gone. */
    __atomic_fetch_sub(&os_count.oc_mapped_bytes, oldsize, __ATOMIC_RELAXED);
    return true;
}

/* The kernel's memory policy modes and get_mempolicy flags (numaif.h,
 * which needs libnuma's headers). */
#define MPOL_PREFERRED  1
#define MPOL_BIND       2
#define MPOL_INTERLEAVE 3
#define MPOL_F_NODE     1
#define MPOL_F_ADDR     2

/* Simulated bindings: a table appended to and never emptied (regions are
 * bound once, when mapped). */
#define SIM_BINDS 4096
static struct { uintptr_t start, end; uint64_t mask; int how; } sim_bind[SIM_BINDS];
static uint32_t sim_count;                 /* atomic: entries published */
static uint32_t sim_claimed;               /* atomic: entries claimed */
bool fly_os_bind_simulated;

bool fly_os_bind(void *p, size_t size, uint64_t mask, int how)
{
    COUNT(oc_bind_calls, 1);
    if (fly_os_bind_simulated) {
        uint32_t i = __atomic_fetch_add(&sim_claimed, 1, __ATOMIC_RELAXED);
        if (i >= SIM_BINDS) {
            COUNT(oc_bind_errors, 1);
            return false;
        }
        sim_bind[i].start = (uintptr_t)p;
        sim_bind[i].end = (uintptr_t)p + size;
        sim_bind[i].mask = mask;
        sim_bind[i].how = how;
        /* Publish in order: a later entry waits for the earlier ones. */
        while (__atomic_load_n(&sim_count, __ATOMIC_ACQUIRE) != i)
            ;
        __atomic_store_n(&sim_count, i + 1, __ATOMIC_RELEASE);
        return true;
    }
    int mode = how == FLY_OS_BIND_STRICT ? MPOL_BIND
             : how == FLY_OS_BIND_INTERLEAVE ? MPOL_INTERLEAVE : MPOL_PREFERRED;
    int saved = errno;
    long rc = syscall(SYS_mbind, p, size, mode, &mask, 65ul, 0u);
    errno = saved;
    if (rc != 0) {
        COUNT(oc_bind_errors, 1);
        return false;
    }
    return true;
}

/* The node a simulated binding puts p's page on: the mask's first node,
 * or under interleaving, as the kernel does, the (page number modulo
 * the mask's nodes)th node of the mask. */
static int sim_node(uint64_t mask, int how, const void *p)
{
    if (mask == 0)
        return -1;
    if (how == FLY_OS_BIND_INTERLEAVE)
        for (uint64_t k = ((uintptr_t)p >> FLY_PAGE_SHIFT) % (uint64_t)__builtin_popcountll(mask); k; k--)
            mask &= mask - 1;
    return __builtin_ctzll(mask);
}

int fly_os_node_of(const void *p)
{
    if (fly_os_bind_simulated) {
        uint32_t n = __atomic_load_n(&sim_count, __ATOMIC_ACQUIRE);
        for (uint32_t i = n; i-- > 0;)
            if ((uintptr_t)p >= sim_bind[i].start && (uintptr_t)p < sim_bind[i].end)
                return sim_node(sim_bind[i].mask, sim_bind[i].how, p);
        return -1;
    }
    int node = -1, saved = errno;
    long rc = syscall(SYS_get_mempolicy, &node, NULL, 0ul, p, (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR));
    errno = saved;
    return rc == 0 ? node : -1;
}

uint64_t fly_os_resident_bytes(const void *p, size_t size)
{
    unsigned char vec[1024];
    const size_t step = sizeof(vec) << FLY_PAGE_SHIFT;
    uint64_t pages = 0;
    int saved = errno;
    for (size_t off = 0; off < size; off += step) {
        size_t n = FLY_MIN(size - off, step);
        if (mincore((char *)p + off, n, vec) != 0)
            continue;
        for (size_t i = 0; i < (n >> FLY_PAGE_SHIFT); i++)
            pages += vec[i] & 1;
    }
    errno = saved;
    return pages << FLY_PAGE_SHIFT;
}

void fly_os_counters(fly_os_counters_t *out)
{
    uint64_t *dst = (uint64_t *)out, *src = (uint64_t *)&os_count;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
