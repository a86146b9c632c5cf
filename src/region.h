/*
 * region.h: the 64 MiB regions and their out-of-line metadata.
 *
 * Every address flymalloc hands out lies in a region: a FLY_REGION-sized,
 * FLY_REGION-aligned mapping whose first FLY_REGION_HEADER bytes hold all the
 * metadata for the rest.  Nothing the allocator needs lives in pages given to
 * the program, so a purged (cold) span holds no state and reusing it touches
 * no header in it.  From any pointer:
 *
 *   fly_region_map[p >> FLY_REGION_SHIFT]   says whether p is ours (a
 *                                           region, or a huge mapping's
 *                                           first 64 MiB), and for a region
 *                                           leads to p's page class with no
 *                                           masking (see the map below);
 *   p & ~(FLY_REGION - 1)                   is the region header;
 *   r_pageclass[page]                       is the size class of the zone
 *                                           page (1..), FLY_PC_LARGE for the
 *                                           first page of a large block, 0
 *                                           for anything else.
 *
 * Per page, r_span[] holds vmem's boundary tags (valid at the first and last
 * page of every span, free or used); per 64 KiB slot, r_zone[] holds the
 * descriptor of the zone that starts there.  The header is mapped with the
 * region and only the parts in use are ever touched.
 */
#ifndef FLY_REGION_H
#define FLY_REGION_H

#include "common.h"
#include "policy.h"

/* Page classes: 0, the small classes 1..FLY_MAX_CLASSES, then two marks.
 * They are dense so that free() can index a thread cache bin with any page
 * class without a range check: the bins of non-classes fail its validity
 * test and send it to the slow path. */
#define FLY_PC_NONE         0
#define FLY_PC_LARGE        (FLY_MAX_CLASSES + 1)   /* first page of a large block */
#define FLY_PC_FREED_LARGE  (FLY_MAX_CLASSES + 2)   /* was one, now free */
#define FLY_PC_COUNT        (FLY_MAX_CLASSES + 3)

/* Kinds of memory the region map tells apart (fly_region_kind). */
#define FLY_REGION_MAP_NONE 0
#define FLY_REGION_MAP_HEAP 1
#define FLY_REGION_MAP_HUGE 2
#define FLY_REGION_MAP_BUMP 3   /* a region of the bump engine (bump.h) */

/* Span states kept in the boundary tags. */
#define FLY_SPAN_USED   0
#define FLY_SPAN_DIRTY  1   /* free, resident */
#define FLY_SPAN_COLD   2   /* free, returned to the OS (reads as zero) */
#define FLY_SPAN_BUSY   3   /* free but being purged, outside any set */

/* vmem's free sets: one bitmap of span heads per state and size bin. */
#define FLY_VMEM_NSETS   2                        /* dirty, cold */
#define FLY_VMEM_NBINS   15                       /* floor(log2(npages)), 1..16384 */
#define FLY_VMEM_WORDS   (FLY_REGION_PAGES / 64)  /* 256 */
#define FLY_VMEM_SUMMARY (FLY_VMEM_WORDS / 64)    /* 4 */

typedef struct fly_span {
    uint32_t sp_npages;     /* span length, at head and tail */
    uint8_t  sp_state;      /* FLY_SPAN_* */
    uint8_t  sp_zeroed;     /* used span: its pages were cold, so read as zero */
    uint16_t sp_pad;
    uint64_t sp_freed_at;   /* dirty span head: when it was freed (ms) */
} fly_span_t;

/* A slab zone's descriptor.  Guarded by its class lock. */
#define FLY_ZONE_MAX_OBJS 4096
typedef struct fly_zone {
    struct fly_zone *z_next, *z_prev;   /* class's list of partial zones */
    struct fly_slab *z_slab;            /* the slab (so the heap) the zone belongs to */
    uint16_t z_class;
    uint16_t z_nobjs;
    uint16_t z_nfree;
    uint16_t z_hint;                    /* first freemap word that may be nonzero */
    uint16_t z_open_pages;              /* pages with their page class set and slots marked */
    uint16_t z_open_slots;              /* slots that start in those pages */
    uint64_t z_closed;                  /* open pages purged since, closed again (page i: bit i) */
    uint64_t z_freemap[FLY_ZONE_MAX_OBJS / 64];  /* 1 = free object */
} fly_zone_t;

typedef struct fly_region {
    uint8_t  r_pageclass[FLY_REGION_PAGES];      /* read by free(): first */
    struct fly_vmem *r_arena;
    uint32_t r_first_page;                       /* first page after the header */
    uint32_t r_nonempty[FLY_VMEM_NSETS];         /* bins holding a free head */
    uint64_t r_summary[FLY_VMEM_NSETS][FLY_VMEM_NBINS][FLY_VMEM_SUMMARY];
    uint64_t r_heads[FLY_VMEM_NSETS][FLY_VMEM_NBINS][FLY_VMEM_WORDS];
    fly_span_t r_span[FLY_REGION_PAGES];
    fly_zone_t r_zone[FLY_REGION_SLOTS];
    uint64_t *r_trace_keys;                      /* trace.c's shadow, while tracing */
} fly_region_t;

#define FLY_REGION_HEADER ((size_t)1 << 20)
#define FLY_REGION_HEADER_PAGES (FLY_REGION_HEADER >> FLY_PAGE_SHIFT)
_Static_assert(sizeof(fly_region_t) <= FLY_REGION_HEADER, "region header too big");

/* The region map: one word per 64 MiB of address space (16 MiB of zero
 * pages, touched only where there are regions).  0: not ours.
 * FLY_REGION_MAP_HUGE: a huge block starts there.  FLY_REGION_MAP_BUMP: a
 * region of the bump engine, which keeps its own header.  Otherwise it is one of
 * our heap regions, r, and the word is fly_region_map_word(r): the address
 * of r's page-class bytes less r >> FLY_PAGE_SHIFT, so that adding
 * p >> FLY_PAGE_SHIFT gives p's page-class byte with no masking, which is
 * what free() reads first.  Such a word is at least FLY_REGION_MAP_HEAP_MIN
 * (r is a nonzero multiple of 64 MiB). */
extern uintptr_t fly_region_map[FLY_REGION_MAP_LEN];
#define FLY_REGION_MAP_HEAP_MIN ((uintptr_t)FLY_REGION_PAGES)

FLY_INLINE uintptr_t fly_region_map_word(const fly_region_t *r)
{
    return (uintptr_t)r->r_pageclass - ((uintptr_t)r >> FLY_PAGE_SHIFT);
}

/* p's map word; 0 beyond the map. */
FLY_INLINE uintptr_t fly_region_word(const void *p)
{
    uintptr_t i = (uintptr_t)p >> FLY_REGION_SHIFT;
    if (fly_unlikely(i >= FLY_REGION_MAP_LEN))
        return 0;
    return fly_region_map[i];
}

FLY_INLINE unsigned fly_region_kind(const void *p)
{
    uintptr_t w = fly_region_word(p);
    if (w >= FLY_REGION_MAP_HEAP_MIN)
        return FLY_REGION_MAP_HEAP;
    return (unsigned)w;
}

/* The page class of p, in a heap region whose map word is w. */
FLY_INLINE unsigned fly_region_pageclass(uintptr_t w, const void *p)
{
    return *(const uint8_t *)(w + ((uintptr_t)p >> FLY_PAGE_SHIFT));
}

FLY_INLINE fly_region_t *fly_region_of(const void *p)
{
    return (fly_region_t *)((uintptr_t)p & ~(FLY_REGION - 1));
}

FLY_INLINE uint32_t fly_page_index(const void *p)
{
    return (uint32_t)(((uintptr_t)p >> FLY_PAGE_SHIFT) & (FLY_REGION_PAGES - 1));
}

FLY_INLINE void *fly_page_addr(fly_region_t *r, uint32_t page)
{
    return (char *)r + ((size_t)page << FLY_PAGE_SHIFT);
}

FLY_INLINE fly_zone_t *fly_zone_slot(fly_region_t *r, const void *zone_base)
{
    return &r->r_zone[((uintptr_t)zone_base & (FLY_REGION - 1)) >> FLY_ZONE_MIN_SHIFT];
}

#endif
