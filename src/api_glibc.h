/*
 * api_glibc.h: the standard names, as aliases of the fly_ functions, and
 * every other symbol glibc's malloc.o exports (included by api.c only).
 *
 * A program linked statically against libflymalloc.a resolves all of these
 * here, so the linker never pulls glibc's malloc.o (which would bring a
 * second allocator and duplicate symbols).  glibc's internal fork hooks are
 * no-ops: fork safety comes from our pthread_atfork handlers (fork.c).
 */
#ifndef FLY_API_GLIBC_H
#define FLY_API_GLIBC_H

#include <stdio.h>

#define FLY_ALIAS(name, target) \
    extern __typeof__(target) name __attribute__((alias(#target), visibility("default")))

FLY_ALIAS(malloc, fly_malloc);
FLY_ALIAS(free, fly_free);
FLY_ALIAS(calloc, fly_calloc);
FLY_ALIAS(realloc, fly_realloc);
FLY_ALIAS(reallocarray, fly_reallocarray);
FLY_ALIAS(posix_memalign, fly_posix_memalign);
FLY_ALIAS(aligned_alloc, fly_aligned_alloc);
FLY_ALIAS(memalign, fly_memalign);
FLY_ALIAS(valloc, fly_valloc);
FLY_ALIAS(pvalloc, fly_pvalloc);
FLY_ALIAS(malloc_usable_size, fly_malloc_usable_size);
FLY_ALIAS(free_sized, fly_free_sized);
FLY_ALIAS(free_aligned_sized, fly_free_aligned_sized);
FLY_ALIAS(malloc_trim, fly_malloc_trim);
FLY_ALIAS(mallinfo2, fly_mallinfo2);

FLY_ALIAS(__libc_malloc, fly_malloc);
FLY_ALIAS(__libc_free, fly_free);
FLY_ALIAS(__libc_calloc, fly_calloc);
FLY_ALIAS(__libc_realloc, fly_realloc);
FLY_ALIAS(__libc_memalign, fly_memalign);
FLY_ALIAS(__libc_valloc, fly_valloc);
FLY_ALIAS(__libc_pvalloc, fly_pvalloc);
FLY_ALIAS(__libc_mallinfo2, fly_mallinfo2);
FLY_ALIAS(__malloc, fly_malloc);
FLY_ALIAS(__free, fly_free);
FLY_ALIAS(__calloc, fly_calloc);
FLY_ALIAS(__realloc, fly_realloc);
FLY_ALIAS(__memalign, fly_memalign);
FLY_ALIAS(__valloc, fly_valloc);
FLY_ALIAS(__pvalloc, fly_pvalloc);
FLY_ALIAS(__posix_memalign, fly_posix_memalign);
FLY_ALIAS(__malloc_usable_size, fly_malloc_usable_size);
FLY_ALIAS(__malloc_trim, fly_malloc_trim);
FLY_ALIAS(__mallinfo2, fly_mallinfo2);

/* The old int-sized mallinfo, saturating. */
static struct mallinfo fly_mallinfo(void)
{
    struct mallinfo2 m2 = fly_mallinfo2();
    struct mallinfo m;
#define SAT(x) ((int)((x) > INT32_MAX ? INT32_MAX : (x)))
    m.arena = SAT(m2.arena);
    m.ordblks = SAT(m2.ordblks);
    m.smblks = SAT(m2.smblks);
    m.hblks = SAT(m2.hblks);
    m.hblkhd = SAT(m2.hblkhd);
    m.usmblks = SAT(m2.usmblks);
    m.fsmblks = SAT(m2.fsmblks);
    m.uordblks = SAT(m2.uordblks);
    m.fordblks = SAT(m2.fordblks);
    m.keepcost = SAT(m2.keepcost);
#undef SAT
    return m;
}
FLY_ALIAS(mallinfo, fly_mallinfo);
FLY_ALIAS(__mallinfo, fly_mallinfo);
FLY_ALIAS(__libc_mallinfo, fly_mallinfo);

/* mallopt: glibc's tuning knobs have no meaning here; accepted, ignored. */
static int fly_mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1;
}
FLY_ALIAS(mallopt, fly_mallopt);
FLY_ALIAS(__mallopt, fly_mallopt);
FLY_ALIAS(__libc_mallopt, fly_mallopt);

static void fly_malloc_stats(void)
{
    fly_stats_print(2, FLY_STATS_TEXT);
}
FLY_ALIAS(malloc_stats, fly_malloc_stats);
FLY_ALIAS(__malloc_stats, fly_malloc_stats);

/* glibc's XML shape, with our figures: one <size> line per size class
 * (free objects in its zones and caches), totals for the slab ("rest"),
 * huge blocks ("mmap") and the address space.  Called by the program,
 * never from inside the allocator, so stdio is allowed here. */
static int fly_malloc_info(int options, FILE *fp)
{
    if (options != 0 || fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    unsigned long long free_objs = 0, free_bytes = 0;
    fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
    for (unsigned i = 0; i < st.st_nclasses; i++) {
        const fly_class_stats_t *cs = &st.st_class[i];
        unsigned long long n = cs->cs_capacity > cs->cs_live ? cs->cs_capacity - cs->cs_live : 0;
        if (n == 0)
            continue;
        unsigned long long from = i ? st.st_class[i - 1].cs_size + 1 : 1;
        fprintf(fp, "<size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
                from, (unsigned long long)cs->cs_size, n * cs->cs_size, n);
        free_objs += n;
        free_bytes += n * cs->cs_size;
    }
    unsigned long long rest = free_bytes + st.st_dirty_bytes;
    unsigned long long mapped = st.st_mapped_bytes;
    fprintf(fp,
            "</sizes>\n"
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n"
            "<system type=\"current\" size=\"%llu\"/>\n"
            "<system type=\"max\" size=\"%llu\"/>\n"
            "<aspace type=\"total\" size=\"%llu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%llu\"/>\n"
            "</heap>\n"
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n"
            "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n"
            "<system type=\"current\" size=\"%llu\"/>\n"
            "<system type=\"max\" size=\"%llu\"/>\n"
            "<aspace type=\"total\" size=\"%llu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%llu\"/>\n"
            "</malloc>\n",
            free_objs, rest, mapped, mapped, mapped, mapped, free_objs, rest,
            (unsigned long long)st.st_huge_blocks, (unsigned long long)st.st_huge_bytes,
            mapped, mapped, mapped, mapped);
    return 0;
}
FLY_ALIAS(malloc_info, fly_malloc_info);
FLY_ALIAS(__malloc_info, fly_malloc_info);

static void fly_glibc_hook_noop(void)
{
}
FLY_ALIAS(__malloc_fork_lock_parent, fly_glibc_hook_noop);
FLY_ALIAS(__malloc_fork_unlock_parent, fly_glibc_hook_noop);
FLY_ALIAS(__malloc_fork_unlock_child, fly_glibc_hook_noop);
FLY_ALIAS(__malloc_arena_thread_freeres, fly_glibc_hook_noop);

static void *fly_glibc_morecore(ptrdiff_t increment)
{
    (void)increment;
    return NULL;
}
FLY_ALIAS(__glibc_morecore, fly_glibc_morecore);

#endif
