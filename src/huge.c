/*
 * huge.c: blocks bigger than a region's usable part, each in its own mapping.
 *
 * A huge block's mapping is aligned to 64 MiB (or to a larger requested
 * alignment) and the block starts at its first byte, so the region map marks
 * its first 64 MiB as FLY_REGION_MAP_HUGE and nothing is stored in it: the
 * block's length and state live in a small table here (a few entries at
 * most; every operation on it also costs a system call, so a linear scan is
 * cheap).  Freed mappings are cached, up to po_huge_cache_bytes, and reused
 * (trimmed with mremap when much larger than needed); a cached mapping idle
 * for the decay time is unmapped.  realloc grows a huge block with mremap:
 * in place when the address space after it is free, otherwise by moving its
 * pages to a new aligned reservation, without copying.
 */
#define _GNU_SOURCE
#include "huge.h"
#include "trace_hook.h"
#include "lock.h"
#include "os.h"
#include "region.h"
#include <errno.h>
#include <string.h>

#define HUGE_MAX_BLOCKS 4096
#define HB_LIVE   1
#define HB_CACHED 2

typedef struct huge_block {
    char *hb_ptr;
    size_t hb_size;          /* mapping length, a multiple of FLY_PAGE */
    uint32_t hb_state;
    uint64_t hb_freed_at;
} huge_block_t;

static fly_lock_t huge_lock = FLY_LOCK_INITIALIZER;
static huge_block_t huge_blocks[HUGE_MAX_BLOCKS];   /* guarded by huge_lock */
static uint32_t huge_nblocks;
static uint64_t huge_cached, huge_live, huge_nalloc, huge_nlive;   /* huge_lock */
static uint64_t huge_requested, huge_usable_total;                       /* atomic */
/* Fixed at fly_huge_init: */
static uint64_t huge_cache_limit;
static fly_huge_import_fail_fn huge_import_failed;

/* A cached mapping more than this fraction larger than a request is
 * trimmed to it: a quarter bounds the excess a reuse keeps at 25 %, the
 * same as the worst rounding of the small classes. */
#define HUGE_TRIM_DIV 4

void fly_huge_init(uint64_t cache_bytes, fly_huge_import_fail_fn hook)
{
    huge_cache_limit = cache_bytes;
    huge_import_failed = hook;
}

static huge_block_t *find_locked(const void *p)
{
    for (uint32_t i = 0; i < huge_nblocks; i++)
        if (huge_blocks[i].hb_ptr == p)
            return &huge_blocks[i];
    return NULL;
}

static void remove_locked(huge_block_t *hb)
{
    *hb = huge_blocks[--huge_nblocks];
}

static void set_map(const void *p, uintptr_t kind)
{
    __atomic_store_n(&fly_region_map[(uintptr_t)p >> FLY_REGION_SHIFT], kind, __ATOMIC_RELEASE);
}

static bool insert_locked(char *p, size_t size)
{
    if (huge_nblocks == HUGE_MAX_BLOCKS)
        return false;
    huge_blocks[huge_nblocks++] = (huge_block_t){ p, size, HB_LIVE, 0 };
    huge_live += size;
    huge_nalloc++;
    huge_nlive++;
    fly_usage_note((int64_t)size);
    return true;
}

/* Takes a cached mapping of at least size bytes and alignment, or NULL. */
static char *cache_take_locked(size_t size, size_t align, size_t *got)
{
    huge_block_t *best = NULL;
    for (uint32_t i = 0; i < huge_nblocks; i++) {
        huge_block_t *hb = &huge_blocks[i];
        if (hb->hb_state == HB_CACHED && hb->hb_size >= size &&
            ((uintptr_t)hb->hb_ptr & (align - 1)) == 0 &&
            (best == NULL || hb->hb_size < best->hb_size))
            best = hb;
    }
    if (best == NULL)
        return NULL;
    best->hb_state = HB_LIVE;
    huge_cached -= best->hb_size;
    huge_live += best->hb_size;
    huge_nalloc++;
    huge_nlive++;
    fly_usage_note((int64_t)best->hb_size);
    *got = best->hb_size;
    return best->hb_ptr;
}

static void set_size_locked(char *p, size_t size)
{
    huge_block_t *hb = find_locked(p);
    huge_live = huge_live - hb->hb_size + size;
    fly_usage_note((int64_t)size - (int64_t)hb->hb_size);
    hb->hb_size = size;
}

void *fly_huge_alloc_os(size_t size, size_t align, bool zero)
{
    fly_trace_touch_shared();
    if (size > PTRDIFF_MAX - FLY_REGION) {
        errno = ENOMEM;
        return NULL;
    }
    __atomic_fetch_add(&huge_requested, size, __ATOMIC_RELAXED);
    size = FLY_ALIGN_UP(size, FLY_PAGE);
    __atomic_fetch_add(&huge_usable_total, size, __ATOMIC_RELAXED);
    align = FLY_MAX(align, FLY_REGION);
    size_t got;
    fly_lock(&huge_lock);
    char *p = cache_take_locked(size, align, &got);
    fly_unlock(&huge_lock);
    if (p) {
        /* Trim a much larger cached mapping rather than keep its excess. */
        if (got - size > size / HUGE_TRIM_DIV && fly_os_resize_inplace(p, got, size)) {
            fly_lock(&huge_lock);
            set_size_locked(p, size);
            fly_unlock(&huge_lock);
            got = size;
        }
        if (zero)
            memset(p, 0, size);
        return p;
    }
    p = fly_os_map_aligned(size, align);
    if (p == NULL && huge_import_failed && huge_import_failed())
        p = fly_os_map_aligned(size, align);
    if (p == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    fly_lock(&huge_lock);
    bool ok = insert_locked(p, size);
    fly_unlock(&huge_lock);
    if (!ok) {
        fly_os_unmap(p, size);
        errno = ENOMEM;
        return NULL;
    }
    set_map(p, FLY_REGION_MAP_HUGE);
    return p;
}

void fly_huge_free_os(void *p, const char *fname)
{
    fly_lock(&huge_lock);
    huge_block_t *hb = find_locked(p);
    if (hb == NULL || hb->hb_state != HB_LIVE) {
        fly_unlock(&huge_lock);
        fly_panic_ptr(fname, hb ? "double free" : "invalid pointer", p);
    }
    size_t size = hb->hb_size;
    huge_live -= size;
    huge_nlive--;
    fly_usage_note(-(int64_t)size);
    if (huge_cached + size <= huge_cache_limit) {
        hb->hb_state = HB_CACHED;
        hb->hb_freed_at = fly_now_ms();
        huge_cached += size;
        fly_unlock(&huge_lock);
        return;
    }
    remove_locked(hb);
    set_map(p, FLY_REGION_MAP_NONE);
    fly_unlock(&huge_lock);
    fly_os_unmap(p, size);
}

/* p's size if it is a live huge block, else 0; *known says whether p
 * is a huge block's start at all. */
static size_t live_size(const void *p, bool *known)
{
    fly_lock(&huge_lock);
    huge_block_t *hb = find_locked(p);
    size_t size = hb && hb->hb_state == HB_LIVE ? hb->hb_size : 0;
    fly_unlock(&huge_lock);
    *known = hb != NULL;
    return size;
}

size_t fly_huge_usable(const void *p, const char *fname)
{
    bool known;
    size_t size = live_size(p, &known);
    if (size == 0)
        fly_panic_ptr(fname, known ? "use after free" : "invalid pointer", p);
    return size;
}

size_t fly_huge_live_size(const void *p)
{
    bool known;
    return live_size(p, &known);
}

void *fly_huge_realloc_os(void *p, size_t newsize)
{
    fly_trace_touch_shared();
    size_t old = fly_huge_usable(p, "realloc");
    if (newsize > PTRDIFF_MAX - FLY_REGION) {
        errno = ENOMEM;
        return NULL;
    }
    newsize = FLY_ALIGN_UP(newsize, FLY_PAGE);
    if (newsize == old)
        return p;
    if (fly_os_resize_inplace(p, old, newsize)) {
        fly_lock(&huge_lock);
        set_size_locked(p, newsize);
        fly_unlock(&huge_lock);
        return p;
    }
    /* Move the pages to a fresh aligned reservation, without copying. */
    char *dst = fly_os_map_aligned(newsize, FLY_REGION);
    if (dst == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (!fly_os_move(p, old, dst, newsize)) {
        fly_os_unmap(dst, newsize);
        errno = ENOMEM;
        return NULL;
    }
    fly_lock(&huge_lock);
    huge_block_t *hb = find_locked(p);
    huge_live = huge_live - old + newsize;
    fly_usage_note((int64_t)newsize - (int64_t)old);
    hb->hb_ptr = dst;
    hb->hb_size = newsize;
    set_map(p, FLY_REGION_MAP_NONE);
    set_map(dst, FLY_REGION_MAP_HUGE);
    fly_unlock(&huge_lock);
    return dst;
}

bool fly_huge_maintain_os(uint64_t now, uint64_t decay, bool force)
{
    bool unmapped = false;
    for (;;) {
        fly_lock(&huge_lock);
        huge_block_t *victim = NULL;
        for (uint32_t i = 0; i < huge_nblocks && victim == NULL; i++)
            if (huge_blocks[i].hb_state == HB_CACHED &&
                (force || huge_blocks[i].hb_freed_at + decay <= now))
                victim = &huge_blocks[i];
        if (victim == NULL) {
            fly_unlock(&huge_lock);
            return unmapped;
        }
        char *p = victim->hb_ptr;
        size_t size = victim->hb_size;
        huge_cached -= size;
        remove_locked(victim);
        set_map(p, FLY_REGION_MAP_NONE);
        fly_unlock(&huge_lock);
        fly_os_unmap(p, size);
        unmapped = true;
    }
}

void fly_huge_counts(fly_block_counts_t *out)
{
    fly_lock(&huge_lock);
    out->bc_nalloc = huge_nalloc;
    out->bc_nlive = huge_nlive;
    out->bc_live_bytes = huge_live;
    out->bc_cached_bytes = huge_cached;
    fly_unlock(&huge_lock);
    out->bc_requested = __atomic_load_n(&huge_requested, __ATOMIC_RELAXED);
    out->bc_usable = __atomic_load_n(&huge_usable_total, __ATOMIC_RELAXED);
}

void fly_huge_lock_all(void)
{
    fly_lock(&huge_lock);
}

void fly_huge_unlock_all(bool child)
{
    if (child)
        fly_lock_reinit(&huge_lock);
    else
        fly_unlock(&huge_lock);
}
