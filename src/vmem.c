/*
 * vmem.c: the page arena.
 *
 * Big theory statement.
 *
 * 1. What it manages.  Spans of whole pages inside 64 MiB regions (region.h).
 *    The slab layer takes zones from here and the large-object layer takes
 *    blocks from here, so pages freed by one serve the other.  Only requests
 *    bigger than a region's usable part bypass it (huge.c).
 *
 * 2. Boundary tags, out of line.  The pages of a region's usable part are
 *    always partitioned into spans; the first and last page of each span
 *    carry its length and state in r_span[] (in the region header, never in
 *    the span).  Freeing a span looks at the tag just before it and the tag
 *    just after it: a free neighbour in the same state is merged in O(1).
 *
 * 3. Free sets.  A free span is either DIRTY (freed, still resident) or COLD
 *    (given back to the OS, reads as zero).  Each set is, per region and per
 *    size bin (floor(log2(npages))), a bitmap with one bit per page marking
 *    span heads, plus a 4-word summary of non-empty bitmap words and a mask
 *    of non-empty bins.  Scanning a bitmap from its low end visits spans in
 *    address order, so allocation is address-ordered first fit (Johnstone and
 *    Wilson): among fitting spans of the preferred state, the lowest address
 *    wins.  Bins above the request's own bin always fit (without alignment),
 *    so the search is an instant fit on the bitmaps in the common case.
 *    All of this is compact, lives in the header, and touches no free page.
 *
 * 4. Dirty before cold.  Allocation tries the dirty set first (no page
 *    faults), then the cold set, then maps a new region.  Mapping is done
 *    with the arena lock dropped (Bonwick's import protocol: unlock, map,
 *    relock, publish, search again).
 *
 * 5. Decay.  A dirty span is stamped when freed (a merged span takes the
 *    page-weighted mean of its parts' stamps).  fly_vmem_purge_os() moves spans idle for at least the decay
 *    time to COLD: under the lock it takes them out of the dirty set (state
 *    BUSY, so nobody merges into them), drops the lock, madvises each span,
 *    which is a maximal contiguous run of dirty pages, with one call, then
 *    relocks and frees them into the cold set, merging cold neighbours.
 *    A span that is a whole region (but the arena's first) is unmapped
 *    instead, with the region's header: the same one call, and the span
 *    and zone tables the region touched while it was full go back too.
 *    There is no background thread: callers run the pass from slow paths
 *    when vm_next_purge has passed.
 *
 * Locking: vm_lock guards the region list, every region's r_span, bitmaps
 * and counters.  No system call is made with it held.
 */
#include "vmem.h"
#include "os.h"
#include <string.h>

/* Regions fly_vmem_release_empty_os unmaps per call: they are gathered
 * under the lock and unmapped after it, so the list lives on the stack. */
#define RELEASE_BATCH 16

/* Pages of a region vmem hands out lie below this: the last page is a
 * guard in the secure mode (fly_vmem_guard_regions). */
static uint32_t region_end = FLY_REGION_PAGES;

/* The header's last page is never used, so it can be a guard too. */
_Static_assert(sizeof(fly_region_t) <= FLY_REGION_HEADER - FLY_PAGE, "no room for the header's guard");

void fly_vmem_guard_regions(void)
{
    region_end = FLY_REGION_PAGES - 1;
}

void fly_vmem_init(fly_vmem_t *vm, void *owner, uint64_t decay_ms, fly_vmem_import_fail_fn hook)
{
    memset(vm, 0, sizeof(*vm));
    vm->vm_lock = (fly_lock_t)FLY_LOCK_INITIALIZER;
    vm->vm_next_purge = UINT64_MAX;
    vm->vm_decay_ms = decay_ms;
    vm->vm_import_failed = hook;
    vm->vm_owner = owner;
}

#define SET_DIRTY 0
#define SET_COLD  1
#define PURGE_BATCH 64
/* Spans examined per bin whose members may not fit, before moving on. */
#define SCAN_BUDGET 64

static unsigned bin_of(uint32_t npages)
{
    return 31u - (unsigned)__builtin_clz(npages);
}

static void set_tags(fly_region_t *r, uint32_t page, uint32_t n, uint8_t state,
                     bool zeroed, uint64_t freed_at)
{
    fly_span_t *h = &r->r_span[page], *t = &r->r_span[page + n - 1];
    h->sp_npages = t->sp_npages = n;
    h->sp_state = t->sp_state = state;
    h->sp_zeroed = t->sp_zeroed = zeroed;
    h->sp_freed_at = t->sp_freed_at = freed_at;
}

static uint64_t *set_count(fly_vmem_t *vm, unsigned si)
{
    return si == SET_DIRTY ? &vm->vm_dirty_pages : &vm->vm_cold_pages;
}

static void set_insert(fly_vmem_t *vm, fly_region_t *r, uint32_t page, uint32_t n,
                       unsigned si, uint64_t freed_at)
{
    set_tags(r, page, n, si == SET_DIRTY ? FLY_SPAN_DIRTY : FLY_SPAN_COLD,
             si == SET_COLD, freed_at);
    unsigned b = bin_of(n);
    r->r_heads[si][b][page >> 6] |= 1ull << (page & 63);
    r->r_summary[si][b][page >> 12] |= 1ull << ((page >> 6) & 63);
    r->r_nonempty[si] |= 1u << b;
    *set_count(vm, si) += n;
}

static void set_remove(fly_vmem_t *vm, fly_region_t *r, uint32_t page)
{
    uint32_t n = r->r_span[page].sp_npages;
    unsigned si = r->r_span[page].sp_state == FLY_SPAN_DIRTY ? SET_DIRTY : SET_COLD;
    unsigned b = bin_of(n);
    uint64_t *word = &r->r_heads[si][b][page >> 6];
    FLY_ASSERT(*word & (1ull << (page & 63)));
    *word &= ~(1ull << (page & 63));
    if (*word == 0) {
        uint64_t *sum = r->r_summary[si][b];
        sum[page >> 12] &= ~(1ull << ((page >> 6) & 63));
        if ((sum[0] | sum[1] | sum[2] | sum[3]) == 0)
            r->r_nonempty[si] &= ~(1u << b);
    }
    *set_count(vm, si) -= n;
}

/* The idle stamp of a merged dirty span: the page-weighted mean of its
 * parts.  Taking the newer stamp would let a stream of small fresh frees
 * keep a large idle neighbour from ever being purged; taking the older
 * would purge fresh pages at once.  The mean ages the span by its bulk. */
static uint64_t merged_stamp(uint64_t freed_at, uint32_t n, const fly_span_t *other)
{
    return (freed_at * n + other->sp_freed_at * other->sp_npages) / (n + other->sp_npages);
}

/* Frees [page, page+n) into set si, merging neighbours of the same state. */
static void free_span(fly_vmem_t *vm, fly_region_t *r, uint32_t page, uint32_t n,
                      unsigned si, uint64_t freed_at)
{
    uint8_t state = si == SET_DIRTY ? FLY_SPAN_DIRTY : FLY_SPAN_COLD;
    if (page > r->r_first_page && r->r_span[page - 1].sp_state == state) {
        uint32_t left = page - r->r_span[page - 1].sp_npages;
        freed_at = merged_stamp(freed_at, n, &r->r_span[left]);
        n += r->r_span[left].sp_npages;
        set_remove(vm, r, left);
        page = left;
        vm->vm_coalesces++;
    }
    if (page + n < region_end && r->r_span[page + n].sp_state == state) {
        uint32_t right = page + n;
        freed_at = merged_stamp(freed_at, n, &r->r_span[right]);
        n += r->r_span[right].sp_npages;
        set_remove(vm, r, right);
        vm->vm_coalesces++;
    }
    set_insert(vm, r, page, n, si, freed_at);
}

/* Lowest head in set si of region r whose span holds n pages aligned to a;
 * UINT32_MAX if none. */
static uint32_t find_in_region(fly_region_t *r, unsigned si, uint32_t n, uint32_t a)
{
    unsigned nbin = bin_of(n);
    uint32_t bins = r->r_nonempty[si] & ~((1u << nbin) - 1);
    uint32_t best = UINT32_MAX;
    while (bins) {
        unsigned b = (unsigned)__builtin_ctz(bins);
        bins &= bins - 1;
        /* Every span in a bin of at least n + a - 1 pages fits. */
        bool all_fit = ((uint64_t)1 << b) >= (uint64_t)n + a - 1;
        unsigned budget = SCAN_BUDGET;
        for (unsigned sw = 0; sw < FLY_VMEM_SUMMARY; sw++) {
            uint64_t s = r->r_summary[si][b][sw];
            while (s) {
                uint32_t w = sw * 64 + (uint32_t)__builtin_ctzll(s);
                s &= s - 1;
                uint64_t bits = r->r_heads[si][b][w];
                while (bits) {
                    uint32_t head = w * 64 + (uint32_t)__builtin_ctzll(bits);
                    bits &= bits - 1;
                    if (head >= best)
                        goto next_bin;
                    uint32_t len = r->r_span[head].sp_npages;
                    uint32_t start = FLY_ALIGN_UP(head, a);
                    if (all_fit || (uint64_t)start + n <= (uint64_t)head + len) {
                        best = head;
                        goto next_bin;
                    }
                    if (--budget == 0)
                        goto next_bin;
                }
            }
        }
next_bin:;
    }
    return best;
}

static void *carve(fly_vmem_t *vm, fly_region_t *r, unsigned si, uint32_t head,
                   uint32_t n, uint32_t a, bool *zeroed)
{
    uint32_t len = r->r_span[head].sp_npages;
    uint64_t freed_at = r->r_span[head].sp_freed_at;
    uint32_t start = FLY_ALIGN_UP(head, a);
    set_remove(vm, r, head);
    /* The pieces keep the state; their outer neighbours are not free in the
     * same state (or they would have merged), so no merge is needed. */
    if (start > head)
        set_insert(vm, r, head, start - head, si, freed_at);
    if (start + n < head + len)
        set_insert(vm, r, start + n, head + len - start - n, si, freed_at);
    set_tags(r, start, n, FLY_SPAN_USED, si == SET_COLD, 0);
    vm->vm_used_pages += n;
    *zeroed = si == SET_COLD;
    return fly_page_addr(r, start);
}

static bool region_publish(fly_vmem_t *vm, fly_region_t *r)
{
    if (vm->vm_nregions == FLY_VMEM_MAX_REGIONS)
        return false;
    uint32_t i = vm->vm_nregions;
    while (i > 0 && vm->vm_regions[i - 1] > r) {
        vm->vm_regions[i] = vm->vm_regions[i - 1];
        i--;
    }
    vm->vm_regions[i] = r;
    vm->vm_nregions++;
    r->r_arena = vm;
    r->r_first_page = FLY_REGION_HEADER_PAGES;
    set_insert(vm, r, FLY_REGION_HEADER_PAGES, region_end - FLY_REGION_HEADER_PAGES, SET_COLD, 0);
    __atomic_store_n(&fly_region_map[(uintptr_t)r >> FLY_REGION_SHIFT], fly_region_map_word(r),
                     __ATOMIC_RELEASE);
    return true;
}

void *fly_vmem_alloc_os(fly_vmem_t *vm, size_t npages, size_t align_pages, bool *zeroed)
{
    if (npages == 0 || npages > region_end - FLY_REGION_HEADER_PAGES ||
        align_pages > FLY_REGION_PAGES)
        return NULL;
    uint32_t n = (uint32_t)npages, a = (uint32_t)FLY_MAX(align_pages, 1);
    fly_lock(&vm->vm_lock);
    for (;;) {
        for (unsigned si = SET_DIRTY; si <= SET_COLD; si++) {
            for (uint32_t i = 0; i < vm->vm_nregions; i++) {
                fly_region_t *r = vm->vm_regions[i];
                if ((r->r_nonempty[si] >> bin_of(n)) == 0)
                    continue;
                uint32_t head = find_in_region(r, si, n, a);
                if (head != UINT32_MAX) {
                    void *p = carve(vm, r, si, head, n, a, zeroed);
                    if (*zeroed)
                        __atomic_fetch_add(&vm->vm_fresh_pages, n, __ATOMIC_RELAXED);
                    fly_unlock(&vm->vm_lock);
                    return p;
                }
            }
        }
        fly_unlock(&vm->vm_lock);
        fly_region_t *r = fly_os_map_aligned(FLY_REGION, FLY_REGION);
        if (r == NULL && vm->vm_import_failed && vm->vm_import_failed())
            r = fly_os_map_aligned(FLY_REGION, FLY_REGION);
        if (r == NULL)
            return NULL;
        if (region_end < FLY_REGION_PAGES) {
            fly_os_protect(fly_page_addr(r, FLY_REGION_HEADER_PAGES - 1), FLY_PAGE, true);
            fly_os_protect(fly_page_addr(r, region_end), FLY_PAGE, true);
        }
        if (vm->vm_place)
            vm->vm_place(vm->vm_owner, r, FLY_REGION);
        fly_lock(&vm->vm_lock);
        if (!region_publish(vm, r)) {
            fly_unlock(&vm->vm_lock);
            fly_os_unmap(r, FLY_REGION);
            return NULL;
        }
    }
}

static void note_dirty(fly_vmem_t *vm, uint64_t deadline)
{
    if (deadline < __atomic_load_n(&vm->vm_next_purge, __ATOMIC_RELAXED))
        __atomic_store_n(&vm->vm_next_purge, deadline, __ATOMIC_RELAXED);
}

static uint64_t decay_of(const fly_vmem_t *vm)
{
    return __atomic_load_n(&vm->vm_decay_ms, __ATOMIC_RELAXED);
}

void fly_vmem_free(fly_vmem_t *vm, void *p, size_t npages)
{
    fly_region_t *r = fly_region_of(p);
    uint32_t page = fly_page_index(p);
    uint64_t now = fly_now_ms();
    fly_lock(&vm->vm_lock);
    FLY_ASSERT(r->r_span[page].sp_state == FLY_SPAN_USED && r->r_span[page].sp_npages == npages);
    vm->vm_used_pages -= npages;
    free_span(vm, r, page, (uint32_t)npages, SET_DIRTY, now);
    note_dirty(vm, now + decay_of(vm));
    fly_unlock(&vm->vm_lock);
}

void fly_vmem_shrink(fly_vmem_t *vm, void *p, size_t npages, size_t newpages)
{
    fly_region_t *r = fly_region_of(p);
    uint32_t page = fly_page_index(p);
    uint64_t now = fly_now_ms();
    fly_lock(&vm->vm_lock);
    bool zeroed = r->r_span[page].sp_zeroed;
    set_tags(r, page, (uint32_t)newpages, FLY_SPAN_USED, zeroed, 0);
    vm->vm_used_pages -= npages - newpages;
    free_span(vm, r, page + (uint32_t)newpages, (uint32_t)(npages - newpages), SET_DIRTY, now);
    note_dirty(vm, now + decay_of(vm));
    fly_unlock(&vm->vm_lock);
}

bool fly_vmem_grow(fly_vmem_t *vm, void *p, size_t npages, size_t newpages)
{
    fly_region_t *r = fly_region_of(p);
    uint32_t page = fly_page_index(p), next = page + (uint32_t)npages;
    if (page + newpages > region_end)
        return false;
    bool grown = false;
    fly_lock(&vm->vm_lock);
    if (next < region_end) {
        fly_span_t *nb = &r->r_span[next];
        uint32_t need = (uint32_t)(newpages - npages);
        if ((nb->sp_state == FLY_SPAN_DIRTY || nb->sp_state == FLY_SPAN_COLD) &&
            nb->sp_npages >= need) {
            uint32_t len = nb->sp_npages;
            unsigned si = nb->sp_state == FLY_SPAN_DIRTY ? SET_DIRTY : SET_COLD;
            uint64_t freed_at = nb->sp_freed_at;
            set_remove(vm, r, next);
            if (len > need)
                set_insert(vm, r, next + need, len - need, si, freed_at);
            set_tags(r, page, (uint32_t)newpages, FLY_SPAN_USED, false, 0);
            vm->vm_used_pages += need;
            grown = true;
        }
    }
    fly_unlock(&vm->vm_lock);
    return grown;
}

size_t fly_vmem_span_pages(const void *p)
{
    return fly_region_of(p)->r_span[fly_page_index(p)].sp_npages;
}

typedef struct purge_run {
    fly_region_t *pr_region;
    uint32_t pr_page, pr_npages;
    bool pr_unmap;            /* the whole region: unmapped, header and all */
} purge_run_t;

/* Whether region r is wholly free and may be unmapped: not while a
 * recorder's shadow of it exists (trace.c maps one per region it sees and
 * keeps it for the process). */
static bool releasable(const fly_region_t *r)
{
    const fly_span_t *h = &r->r_span[r->r_first_page];
    return h->sp_npages == region_end - r->r_first_page &&
           (h->sp_state == FLY_SPAN_DIRTY || h->sp_state == FLY_SPAN_COLD) &&
           __atomic_load_n(&r->r_trace_keys, __ATOMIC_RELAXED) == NULL;
}

/* Takes region i, wholly free, out of the arena: out of its free set, the
 * region map and the region list (vm_lock held; the caller unmaps it). */
static void region_detach(fly_vmem_t *vm, uint32_t i)
{
    fly_region_t *r = vm->vm_regions[i];
    set_remove(vm, r, r->r_first_page);
    __atomic_store_n(&fly_region_map[(uintptr_t)r >> FLY_REGION_SHIFT], (uintptr_t)0, __ATOMIC_RELEASE);
    memmove(&vm->vm_regions[i], &vm->vm_regions[i + 1], (vm->vm_nregions - i - 1) * sizeof(vm->vm_regions[0]));
    vm->vm_nregions--;
}

/* Takes up to PURGE_BATCH idle dirty spans out of the dirty set, in address
 * order.  Returns how many; sets *more when some were left for later.  A
 * span that is a whole region other than the arena's first takes the
 * region out of the arena: unmapping it costs one call, as madvise would,
 * and gives back its header too (up to 880 KiB of span and zone tables
 * that a region touched while it was full). */
static unsigned purge_collect(fly_vmem_t *vm, uint64_t now, uint64_t decay_ms, bool force,
                              purge_run_t *runs, bool *more)
{
    unsigned nr = 0;
    uint64_t next = UINT64_MAX;
    *more = false;
    for (uint32_t i = 0; i < vm->vm_nregions; i++) {
        fly_region_t *r = vm->vm_regions[i];
        fly_span_t *whole = &r->r_span[r->r_first_page];
        if (i > 0 && releasable(r) && whole->sp_state == FLY_SPAN_DIRTY &&
            (force || whole->sp_freed_at + decay_ms <= now)) {
            if (nr == PURGE_BATCH) {
                *more = true;
                goto out;
            }
            runs[nr++] = (purge_run_t){ r, r->r_first_page, whole->sp_npages, true };
            region_detach(vm, i--);
            continue;
        }
        uint32_t bins = r->r_nonempty[SET_DIRTY];
        while (bins) {
            unsigned b = (unsigned)__builtin_ctz(bins);
            bins &= bins - 1;
            for (uint32_t w = 0; w < FLY_VMEM_WORDS; w++) {
                uint64_t bits = r->r_heads[SET_DIRTY][b][w];
                while (bits) {
                    uint32_t head = w * 64 + (uint32_t)__builtin_ctzll(bits);
                    bits &= bits - 1;
                    fly_span_t *h = &r->r_span[head];
                    if (!force && h->sp_freed_at + decay_ms > now) {
                        next = FLY_MIN(next, h->sp_freed_at + decay_ms);
                        continue;
                    }
                    if (nr == PURGE_BATCH) {
                        *more = true;
                        goto out;
                    }
                    uint32_t n = h->sp_npages;
                    set_remove(vm, r, head);
                    set_tags(r, head, n, FLY_SPAN_BUSY, false, 0);
                    runs[nr++] = (purge_run_t){ r, head, n, false };
                }
            }
        }
    }
out:
    __atomic_store_n(&vm->vm_next_purge, *more ? now : next, __ATOMIC_RELAXED);
    return nr;
}

void fly_vmem_purge_os(fly_vmem_t *vm, uint64_t now, bool force)
{
    uint64_t decay_ms = decay_of(vm);
    purge_run_t runs[PURGE_BATCH];
    bool more = true;
    while (more) {
        if (!force && now < __atomic_load_n(&vm->vm_next_purge, __ATOMIC_RELAXED))
            return;
        fly_lock(&vm->vm_lock);
        unsigned nr = purge_collect(vm, now, decay_ms, force, runs, &more);
        fly_unlock(&vm->vm_lock);
        if (nr == 0)
            return;
        for (unsigned i = 0; i < nr; i++) {
            if (runs[i].pr_unmap)
                fly_os_unmap(runs[i].pr_region, FLY_REGION);
            else
                fly_os_purge(fly_page_addr(runs[i].pr_region, runs[i].pr_page),
                             (size_t)runs[i].pr_npages << FLY_PAGE_SHIFT);
        }
        fly_lock(&vm->vm_lock);
        for (unsigned i = 0; i < nr; i++) {
            if (!runs[i].pr_unmap)
                free_span(vm, runs[i].pr_region, runs[i].pr_page, runs[i].pr_npages, SET_COLD, 0);
            vm->vm_purged_pages += runs[i].pr_npages;
        }
        vm->vm_purges += nr;
        fly_unlock(&vm->vm_lock);
    }
}

size_t fly_vmem_release_empty_os(fly_vmem_t *vm)
{
    fly_region_t *gone[RELEASE_BATCH];
    size_t n = 0;
    fly_lock(&vm->vm_lock);
    for (uint32_t i = 0; i < vm->vm_nregions && n < RELEASE_BATCH;) {
        fly_region_t *r = vm->vm_regions[i];
        if (!releasable(r)) {
            i++;
            continue;
        }
        region_detach(vm, i);
        gone[n++] = r;
    }
    fly_unlock(&vm->vm_lock);
    for (size_t i = 0; i < n; i++)
        fly_os_unmap(gone[i], FLY_REGION);
    return n;
}

void fly_vmem_stats(fly_vmem_t *vm, fly_vmem_stats_t *out)
{
    fly_lock(&vm->vm_lock);
    out->vs_dirty_bytes = vm->vm_dirty_pages << FLY_PAGE_SHIFT;
    out->vs_cold_bytes = vm->vm_cold_pages << FLY_PAGE_SHIFT;
    out->vs_used_bytes = vm->vm_used_pages << FLY_PAGE_SHIFT;
    out->vs_mapped_bytes = (uint64_t)vm->vm_nregions * FLY_REGION;
    out->vs_purges = vm->vm_purges;
    out->vs_purged_bytes = vm->vm_purged_pages << FLY_PAGE_SHIFT;
    out->vs_coalesces = vm->vm_coalesces;
    out->vs_regions = vm->vm_nregions;
    fly_unlock(&vm->vm_lock);
}

uint64_t fly_vmem_resident_bytes_os(fly_vmem_t *vm)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0;; i++) {
        fly_lock(&vm->vm_lock);
        fly_region_t *r = i < vm->vm_nregions ? vm->vm_regions[i] : NULL;
        fly_unlock(&vm->vm_lock);
        if (r == NULL)
            return bytes;
        bytes += fly_os_resident_bytes(r, FLY_REGION);
    }
}

void fly_vmem_lock_all(fly_vmem_t *vm)
{
    fly_lock(&vm->vm_lock);
}

void fly_vmem_unlock_all(fly_vmem_t *vm, bool child)
{
    if (child)
        fly_lock_reinit(&vm->vm_lock);
    else
        fly_unlock(&vm->vm_lock);
}
