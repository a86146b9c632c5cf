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

void fly_os_counters(fly_os_counters_t *out)
{
    uint64_t *dst = (uint64_t *)out, *src = (uint64_t *)&os_count;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
