/*
 * api.c: the C/POSIX/GNU entry points, prefixed (fly_malloc...) and, unless
 * built with FLY_PREFIXED_ONLY, under their standard names too, together
 * with every other symbol glibc's malloc.o defines, so a static link never
 * pulls glibc's allocator in beside this one.
 *
 * Dispatch by size: up to 1 KiB the inline fast path (tcache_inline.h); up
 * to 32 KiB the same through the medium bin table; up to 63 MiB a large
 * block from vmem; beyond, a huge mapping.  free() dispatches on the region
 * map and page-class byte, so it needs no size.
 *
 * Bad input: impossible sizes give NULL with errno ENOMEM; bad alignments
 * EINVAL; freeing what flymalloc did not hand out aborts with
 * "flymalloc: FUNC(): invalid pointer 0x...", a detected double free with
 * "flymalloc: FUNC(): double free 0x..." (so does a small block never
 * handed out: both hold the free mark, freemark.h).
 *
 * Lazy initialization and the tracing decision happen here, at the top,
 * on the slow paths: malloc's miss (fly_malloc_miss_os) and free's slow
 * paths look at them before handing the call to the thread cache, so
 * nothing below the API initializes or records.  Tracing (trace.h) adds
 * nothing to malloc's and free's fast paths; the other entry points test
 * fly_trace_wanted() first and hand the call to their fly_traced_* twin.
 */
#include "flymalloc.h"
#include "background.h"
#include "bump.h"
#include "huge.h"
#include "init.h"
#include "large.h"
#include "maintain.h"
#include "node.h"
#include "sample.h"
#include "secure.h"
#include "sizeclass.h"
#include "slab.h"
#include "stats.h"
#include "tcache_inline.h"
#include "trace.h"
#include <errno.h>
#include <string.h>

FLY_NOINLINE void *fly_malloc_miss_os(size_t size, unsigned c)
{
    if (fly_likely(fly_tcache_can_swap(c)))
        return fly_tcache_swap_pop(size, c);
    if (fly_unlikely(!fly_initialized)) {
        fly_init();
        c = fly_class_of(size);
    }
    if (fly_unlikely(fly_background_wanted))
        fly_background_start();
    if (fly_secure_wanted())
        return fly_secure_malloc_os(size);
    if (fly_trace_wanted())
        return fly_traced_malloc(size);
    return fly_tcache_malloc_slow_os(size, c);
}

/* A large block from the calling thread's heap, through its cache; the
 * heap's sparse zones may give pages back first. */
static void *large_alloc_os(size_t size, size_t align, bool zero)
{
    fly_heap_t *h = fly_tcache_home_heap_os();
    fly_slab_make_room_os(&h->hp_slab);
    return fly_large_alloc_os(h->hp_vmem, fly_tcache_lcache(), size, align, zero);
}

/* A huge block, placed as the thread's heap's regions are (node.h). */
static void *huge_alloc_os(size_t size, size_t align, bool zero)
{
    void *p = fly_huge_alloc_os(size, align, zero);
    if (p)
        fly_node_place_huge_os(fly_tcache_home_heap_os(), p, size);
    return p;
}

static FLY_NOINLINE void *malloc_big_os(size_t size, bool zero)
{
    if (fly_unlikely(!fly_initialized))
        fly_init();
    if (fly_secure_wanted())                   /* calloc is wrapped before it gets here */
        return fly_secure_malloc_os(size);
    if (fly_trace_wanted())
        return fly_traced_malloc(size);        /* calloc is traced before it gets here */
    if (size <= FLY_SMALL_MAX) {
        void *p = fly_malloc_small_inline(size, fly_class_of(size));
        if (p && zero)
            memset(p, 0, fly_classes[fly_class_of(size)].cl_size);
        return p;
    }
    if (size <= FLY_LARGE_MAX)
        return large_alloc_os(size, FLY_PAGE, zero);
    return huge_alloc_os(size, FLY_REGION, zero);
}

FLY_EXPORT void *fly_malloc(size_t size)
{
    if (fly_likely(size <= FLY_FAST_MAX))
        return fly_malloc_bin_inline(size, fly_bin_table[(size + 15) >> 4]);
    if (fly_likely(size <= FLY_SMALL_MAX))
        return fly_malloc_bin_inline(size, fly_bin_table_medium[(size + 127) >> 7]);
    return malloc_big_os(size, false);
}

FLY_EXPORT void fly_free(void *p)
{
    fly_free_inline(p, "free");
}

void fly_free_slow_os(void *p, const char *fname)
{
    if (fly_secure_wanted()) {
        fly_secure_free_os(p, fname);
        return;
    }
    if (fly_trace_wanted()) {
        fly_traced_free(p, fname);
        return;
    }
    fly_trace_touch_shared();
    if (p == NULL)
        return;
    unsigned kind = fly_region_kind(p);
    if (kind == FLY_REGION_MAP_HUGE) {
        fly_huge_free_os(p, fname);
        return;
    }
    if (kind == FLY_REGION_MAP_BUMP) {
        fly_bump_free_os(p, fname);
        return;
    }
    if (kind != FLY_REGION_MAP_HEAP)
        fly_panic_ptr(fname, "invalid pointer", p);
    unsigned pc = fly_region_of(p)->r_pageclass[fly_page_index(p)];
    bool page_aligned = ((uintptr_t)p & (FLY_PAGE - 1)) == 0;
    if (pc >= 1 && pc <= fly_nclasses) {
        if (!fly_slab_valid(p, pc))
            fly_panic_ptr(fname, "invalid pointer", p);
        if (fly_block_is_marked(p))
            fly_panic_ptr(fname, "double free", p);
        fly_block_mark(p);
        fly_tcache_free_slow_os(p, pc);
    } else if (pc == FLY_PC_LARGE && page_aligned) {
        fly_large_free(fly_tcache_lcache(), p);
    } else {
        fly_panic_ptr(fname, pc == FLY_PC_FREED_LARGE && page_aligned ? "double free"
                                                                      : "invalid pointer", p);
    }
}

FLY_NOINLINE void fly_free_bin_slow_os(void *p, const fly_tcbin_t *b, const char *fname)
{
    if (fly_trace_wanted()) {
        fly_block_unmark_known(p);      /* the traced free frees it again */
        fly_traced_free(p, fname);
        return;
    }
    fly_trace_touch_shared();
    fly_tcache_free_slow_os(p, (unsigned)(b - fly_tc->tc_bins));
}

/* Usable size of a block we handed out; panics (naming fname) otherwise. */
size_t fly_block_usable(const void *p, const char *fname)
{
    unsigned kind = fly_region_kind(p);
    if (kind == FLY_REGION_MAP_HUGE)
        return fly_huge_usable(p, fname);
    if (kind == FLY_REGION_MAP_BUMP)
        return fly_bump_usable(p, fname);
    if (kind == FLY_REGION_MAP_HEAP) {
        unsigned pc = fly_region_of(p)->r_pageclass[fly_page_index(p)];
        if (pc >= 1 && pc <= fly_nclasses && fly_slab_valid(p, pc)) {
            if (fly_block_is_marked(p))
                fly_panic_ptr(fname, "double free", p);
            return fly_classes[pc].cl_size;
        }
        if (pc == FLY_PC_LARGE && ((uintptr_t)p & (FLY_PAGE - 1)) == 0)
            return fly_large_usable(p);
        if (pc == FLY_PC_FREED_LARGE && ((uintptr_t)p & (FLY_PAGE - 1)) == 0)
            fly_panic_ptr(fname, "double free", p);
    }
    fly_panic_ptr(fname, "invalid pointer", p);
}

/* The same, or in the secure mode the size the program asked for. */
static size_t usable_size(const void *p, const char *fname)
{
    if (fly_secure_wanted())
        return fly_secure_usable(p, fname);
    return fly_block_usable(p, fname);
}

FLY_EXPORT void *fly_calloc(size_t nmemb, size_t size)
{
    if (fly_secure_wanted())
        return fly_secure_calloc_os(nmemb, size);
    if (fly_trace_wanted())
        return fly_traced_calloc(nmemb, size);
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total <= FLY_FAST_MAX) {
        void *p = fly_malloc(total);
        if (p)
            memset(p, 0, total);
        return p;
    }
    return malloc_big_os(total, true);
}

static void *realloc_move_os(void *p, size_t old, size_t size)
{
    void *q = fly_malloc(size);
    if (q == NULL)
        return NULL;
    if (fly_unlikely(fly_trace_inside))
        fly_trace_realloc_mid();
    memcpy(q, p, FLY_MIN(old, size));
    fly_free_inline(p, "realloc");
    return q;
}

FLY_EXPORT void *fly_realloc(void *p, size_t size)
{
    if (fly_secure_wanted())
        return fly_secure_realloc_os(p, size);
    if (fly_trace_wanted())
        return fly_traced_realloc(p, size);
    if (fly_unlikely(fly_sample_on))
        fly_tcache_note_realloc();
    if (p == NULL)
        return fly_malloc(size);
    if (size == 0) {
        fly_free_inline(p, "realloc");
        return NULL;
    }
    size_t old = usable_size(p, "realloc");
    unsigned kind = fly_region_kind(p);
    if (kind == FLY_REGION_MAP_HUGE) {
        if (size > FLY_LARGE_MAX)
            return fly_huge_realloc_os(p, size);
        return realloc_move_os(p, old, size);
    }
    if (kind == FLY_REGION_MAP_BUMP) {
        if (size <= FLY_BUMP_MAX && fly_class_of(size) == fly_class_of(old))
            return p;
        return realloc_move_os(p, old, size);
    }
    if (old <= FLY_SMALL_MAX) {
        if (size <= FLY_SMALL_MAX && fly_class_of(size) == fly_class_of(old))
            return p;
        return realloc_move_os(p, old, size);
    }
    if (size > FLY_SMALL_MAX && fly_large_resize_inplace(p, size))
        return p;
    return realloc_move_os(p, old, size);
}

FLY_EXPORT void *fly_reallocarray(void *p, size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return fly_realloc(p, total);
}

/* align: a power of two. */
static void *aligned_alloc_os(size_t align, size_t size, const char *fname)
{
    if (fly_secure_wanted())
        return fly_secure_aligned_os(align, size, fname);
    if (align <= 16)
        return fly_malloc(size);
    if (fly_unlikely(!fly_initialized))
        fly_init();
    /* A bump heap's magazines may hold bump blocks, which are not laid at
     * multiples of their size: the engine serves these itself. */
    bool bump = fly_tcache_heap()->hp_slab.sl_bump;
    if (bump && size <= FLY_BUMP_MAX && align <= FLY_BUMP_ALIGN_MAX) {
        void *p = fly_bump_alloc_aligned_os(size, align, fly_class_of(FLY_MAX(size, 1)));
        if (p || !fly_bump_spilled())
            return p;
    }
    if (!bump && size <= FLY_SMALL_MAX && align <= FLY_SMALL_MAX) {
        /* Objects sit at multiples of their size in zones aligned to at
         * least 64 KiB: a class whose size is a multiple of align works. */
        unsigned c = fly_class_of(FLY_MAX(size, align));
        while (c <= fly_nclasses && fly_classes[c].cl_size % align)
            c++;
        if (c <= fly_nclasses)
            return fly_malloc_small_inline(fly_classes[c].cl_size, c);
    }
    if (size <= FLY_LARGE_MAX && align <= FLY_REGION / 4)
        return large_alloc_os(FLY_MAX(size, FLY_SMALL_MAX + 1), align, false);
    return huge_alloc_os(size, align, false);
}

static bool power_of_two(size_t x)
{
    return x && (x & (x - 1)) == 0;
}

FLY_EXPORT int fly_posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (fly_trace_wanted())
        return fly_traced_posix_memalign(memptr, alignment, size);
    if (!power_of_two(alignment) || alignment % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = aligned_alloc_os(alignment, size, "posix_memalign");
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *memptr = p;
    return 0;
}

FLY_EXPORT void *fly_aligned_alloc(size_t alignment, size_t size)
{
    if (fly_trace_wanted())
        return fly_traced_aligned(FLY_ALIGNED_ALLOC, alignment, size);
    if (!power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_alloc_os(alignment, size, "aligned_alloc");
}

FLY_EXPORT void *fly_memalign(size_t alignment, size_t size)
{
    if (fly_trace_wanted())
        return fly_traced_aligned(FLY_MEMALIGN, alignment, size);
    /* glibc's rules: round a non-power-of-two up; refuse absurd ones. */
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!power_of_two(alignment))
        alignment = alignment < 2 ? 1 : (size_t)1 << (64 - __builtin_clzll(alignment));
    return aligned_alloc_os(alignment, size, "memalign");
}

FLY_EXPORT void *fly_valloc(size_t size)
{
    if (fly_trace_wanted())
        return fly_traced_aligned(FLY_VALLOC, FLY_PAGE, size);
    return aligned_alloc_os(FLY_PAGE, size, "valloc");
}

FLY_EXPORT void *fly_pvalloc(size_t size)
{
    if (fly_trace_wanted())
        return fly_traced_aligned(FLY_PVALLOC, FLY_PAGE, size);
    if (size > SIZE_MAX - FLY_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_alloc_os(FLY_PAGE, FLY_ALIGN_UP(FLY_MAX(size, 1), FLY_PAGE), "pvalloc");
}

FLY_EXPORT size_t fly_malloc_usable_size(void *p)
{
    return p ? usable_size(p, "malloc_usable_size") : 0;
}

/* free_sized's promise (C23): size is what p was allocated with.  A size
 * the block cannot have been asked for aborts: larger than the block, or,
 * for a small block from malloc, calloc or realloc, of another class. */
static void check_size(void *p, size_t size, bool aligned, const char *fname)
{
    /* A huge block that is not live is left to free, which says what it is. */
    if (fly_region_kind(p) == FLY_REGION_MAP_HUGE && fly_huge_live_size(p) == 0)
        return;
    size_t usable = usable_size(p, fname);
    bool ok = size <= usable;
    /* A large block may be as small as a page (a profile's sample). */
    bool large = fly_region_kind(p) == FLY_REGION_MAP_HEAP &&
                 fly_region_of(p)->r_pageclass[fly_page_index(p)] == FLY_PC_LARGE;
    if (ok && !aligned && usable <= FLY_SMALL_MAX && !large)
        ok = fly_class_of(FLY_MAX(size, 1)) == fly_class_of(usable);
    if (!ok)
        fly_panic_ptr(fname, "wrong size for block", p);
}

FLY_EXPORT void fly_free_sized(void *p, size_t size)
{
    if (p)
        check_size(p, size, false, "free_sized");
    fly_free_inline(p, "free_sized");
}

FLY_EXPORT void fly_free_aligned_sized(void *p, size_t alignment, size_t size)
{
    (void)alignment;
    if (p)
        check_size(p, size, true, "free_aligned_sized");
    fly_free_inline(p, "free_aligned_sized");
}

FLY_EXPORT int fly_malloc_trim(size_t pad)
{
    (void)pad;
    if (!fly_initialized)
        return 0;
    fly_stats_t before, after;
    fly_stats_get(&before, sizeof(before));
    bool traced = fly_trace_wanted();
    if (traced)
        fly_trace_enter();
    if (fly_secure_wanted())
        fly_secure_flush_thread_os("malloc_trim");
    else
        fly_tcache_flush_thread();
    if (traced)
        fly_trace_leave();
    fly_maintain_trim_os();
    fly_stats_get(&after, sizeof(after));
    return after.st_madvise_bytes + after.st_munmap_bytes >
           before.st_madvise_bytes + before.st_munmap_bytes;
}

FLY_EXPORT struct mallinfo2 fly_mallinfo2(void)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    fly_frag_t fr;
    fly_frag_compute(&st, &fr);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof(mi));
    mi.arena = st.st_mapped_bytes;
    mi.ordblks = st.st_zones;
    mi.uordblks = st.st_live_bytes;
    mi.fordblks = fr.fr_zone_free + fr.fr_cached + fr.fr_dirty;
    mi.hblkhd = st.st_huge_bytes;
    mi.hblks = st.st_huge_blocks;
    mi.usmblks = st.st_peak_bytes;
    mi.keepcost = st.st_dirty_bytes;
    return mi;
}

#ifndef FLY_PREFIXED_ONLY
#include "api_glibc.h"
#endif
