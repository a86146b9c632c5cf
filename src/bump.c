/*
 * bump.c: the bump engine (bump.h), the `arena` policy's allocator.
 *
 * A bump region is FLY_REGION bytes, aligned to its size and marked
 * FLY_REGION_MAP_BUMP in the region map.  Its first two chunks hold the
 * header: two bitmaps with a bit per 16-byte granule of the region and the
 * chunk descriptors.  Every other 1 MiB chunk is owned by one thread while
 * it carves from it.
 *
 * Start bits: the owner sets a bit at the end of each block it hands out,
 * which is the start of the next one; the chunk's first bit is set when it
 * is taken.  So a block is a set bit followed, within its chunk, by another
 * set bit, and its size is their distance.  The last granule of a chunk is
 * never handed out, so the end bit of its last block stays in the chunk.
 * Only the owner writes start bits (relaxed atomic stores, read by other
 * threads' frees); freed bits are set by whichever thread frees, with an
 * atomic or whose old value catches a double free.
 *
 * A chunk's ch_pending counts, atomically, the bytes of its blocks not yet
 * freed, plus PENDING_OWNED while a thread owns it (the owner's count of
 * what it handed out is added when it lets go), so exactly one thread
 * sees it reach zero: the last free, or the owner letting go of a chunk
 * whose blocks were all freed.  That thread clears the chunk's bits and
 * keeps it for reuse: resident while fewer than DIRTY_CHUNKS_KEPT are,
 * else given back to the OS first.
 */
#include "bump.h"
#include "lock.h"
#include "os.h"
#include "region.h"
#include "usage.h"
#include <errno.h>
#include <string.h>

#define GRAIN_SHIFT   4
#define GRAIN         ((size_t)1 << GRAIN_SHIFT)
#define CHUNK_SHIFT   20
#define CHUNK         ((size_t)1 << CHUNK_SHIFT)
#define CHUNKS        (FLY_REGION / CHUNK)                      /* 64 */
#define BITMAP_WORDS  (FLY_REGION / GRAIN / 64)                 /* 65536 */
#define CHUNK_WORDS   (CHUNK / GRAIN / 64)                      /* 1024 */
#define HEADER_CHUNKS 2
#define PENDING_OWNED ((uint64_t)1 << 62)
#define DIRTY_CHUNKS_KEPT 8          /* free chunks kept resident; more are purged */

typedef struct bump_chunk {
    uint64_t ch_pending;                   /* atomic, see above */
    uint64_t ch_used;                      /* bytes handed out, written when let go */
    /* Written by the owner (relaxed), read by statistics: */
    uint64_t ch_nmalloc, ch_requested, ch_bytes;
    uint64_t ch_nrollback, ch_rollback_bytes;   /* frees of the owner's last block */
    struct bump_chunk *ch_next;            /* free list, under bump_lock */
} FLY_ALIGNED_CL bump_chunk_t;

typedef struct bump_region {
    uint64_t br_start[BITMAP_WORDS];
    uint64_t br_freed[BITMAP_WORDS];
    bump_chunk_t br_chunk[CHUNKS];
    struct bump_region *br_next;           /* list of regions, newest first */
    uint32_t br_fresh;                     /* chunks never used start here */
} bump_region_t;
_Static_assert(sizeof(bump_region_t) <= HEADER_CHUNKS * CHUNK, "bump header too big");

/* The calling thread's chunk: blocks are carved at bt_top, up to bt_end. */
typedef struct bump_thread {
    uintptr_t bt_top, bt_end;
    bump_chunk_t *bt_chunk;
    uint64_t bt_gap_bytes;                 /* alignment padding in this chunk */
} bump_thread_t;

static __thread bump_thread_t bump_tls;

static fly_lock_t bump_lock = FLY_LOCK_INITIALIZER;
static bump_region_t *bump_regions;        /* atomic head; appended under bump_lock */
static bump_region_t *bump_current;        /* where fresh chunks come from; bump_lock */
/* Chunks all of whose blocks were freed, under bump_lock: resident ones
 * (reused first, newest first), and those given back to the OS. */
static bump_chunk_t *bump_dirty, *bump_cold;
static uint32_t bump_dirty_count;

/* Atomic totals: */
static uint64_t g_nfree, g_freed_bytes;    /* frees of blocks not the owner's last */
static uint64_t g_used_retired;            /* bytes of chunks let go */
static uint64_t g_reclaimed;               /* of them, in chunks reused */
static uint64_t g_chunks, g_chunks_reused;
static fly_bump_counts_t g_folded;         /* counters of reused chunks */
static bool g_spilled;
static uint32_t g_limit_permille = 500;
static uint64_t g_limit_floor = (uint64_t)32 << 20;

void fly_bump_init(uint32_t permille, uint64_t floor_bytes)
{
    g_limit_permille = permille;
    g_limit_floor = floor_bytes;
}

FLY_INLINE bump_region_t *region_of(uintptr_t a)
{
    return (bump_region_t *)(a & ~(FLY_REGION - 1));
}

FLY_INLINE size_t bit_of(uintptr_t a)
{
    return (a & (FLY_REGION - 1)) >> GRAIN_SHIFT;
}

FLY_INLINE bump_chunk_t *chunk_of(uintptr_t a)
{
    return &region_of(a)->br_chunk[(a & (FLY_REGION - 1)) >> CHUNK_SHIFT];
}

FLY_INLINE uintptr_t chunk_base(const bump_chunk_t *ch)
{
    bump_region_t *r = region_of((uintptr_t)ch);
    return (uintptr_t)r + ((size_t)(ch - r->br_chunk) << CHUNK_SHIFT);
}

FLY_INLINE bool test_bit(const uint64_t *map, size_t i)
{
    return (__atomic_load_n(&map[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
}

/* Owner only: start bits have no other writer. */
FLY_INLINE void put_start(uintptr_t a, bool on)
{
    bump_region_t *r = region_of(a);
    size_t i = bit_of(a);
    uint64_t w = __atomic_load_n(&r->br_start[i >> 6], __ATOMIC_RELAXED);
    uint64_t m = (uint64_t)1 << (i & 63);
    __atomic_store_n(&r->br_start[i >> 6], on ? w | m : w & ~m, __ATOMIC_RELAXED);
}

FLY_INLINE void count_add(uint64_t *field, uint64_t v)
{
    __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* The end of the block starting at granule bit i: the next start bit in
 * its chunk; 0 if there is none (i is the chunk's free space). */
static uintptr_t block_end(const bump_region_t *r, size_t i)
{
    size_t w = i >> 6, last = (i | (CHUNK / GRAIN - 1)) >> 6;
    uint64_t m = __atomic_load_n(&r->br_start[w], __ATOMIC_RELAXED) & ~((2ull << (i & 63)) - 1);
    while (m == 0) {
        if (++w > last)
            return 0;
        m = __atomic_load_n(&r->br_start[w], __ATOMIC_RELAXED);
    }
    return (uintptr_t)r + (((w << 6) + (size_t)__builtin_ctzll(m)) << GRAIN_SHIFT);
}

/* The size of the allocated block at p, or a panic naming fname. */
static size_t block_size(const void *p, const char *fname)
{
    uintptr_t a = (uintptr_t)p;
    bump_region_t *r = region_of(a);
    size_t i = bit_of(a);
    if ((a & (GRAIN - 1)) || (a & (FLY_REGION - 1)) < HEADER_CHUNKS * CHUNK ||
        !test_bit(r->br_start, i))
        fly_panic_ptr(fname, "invalid pointer", p);
    uintptr_t end = block_end(r, i);
    if (end == 0)
        fly_panic_ptr(fname, "invalid pointer", p);
    if (test_bit(r->br_freed, i))
        fly_panic_ptr(fname, "double free", p);
    return end - a;
}

static void chunk_clear(bump_chunk_t *ch)
{
    uintptr_t base = chunk_base(ch);
    bump_region_t *r = region_of(base);
    size_t w = bit_of(base) >> 6;
    memset(&r->br_start[w], 0, CHUNK_WORDS * sizeof(uint64_t));
    memset(&r->br_freed[w], 0, CHUNK_WORDS * sizeof(uint64_t));
}

/* Every block of ch was freed and no thread owns it: back to the free
 * list, its counters folded into the totals. */
static void chunk_reuse_os(bump_chunk_t *ch)
{
    uint64_t used = __atomic_load_n(&ch->ch_used, __ATOMIC_ACQUIRE);
    chunk_clear(ch);
    __atomic_fetch_add(&g_reclaimed, used, __ATOMIC_RELAXED);
    fly_usage_note(-(int64_t)used);
    fly_lock(&bump_lock);
    g_folded.bc_nmalloc += ch->ch_nmalloc;
    g_folded.bc_requested += ch->ch_requested;
    g_folded.bc_bytes += ch->ch_bytes;
    g_folded.bc_nfree += ch->ch_nrollback;
    g_folded.bc_freed_bytes += ch->ch_rollback_bytes;
    ch->ch_nmalloc = ch->ch_requested = ch->ch_bytes = 0;
    ch->ch_nrollback = ch->ch_rollback_bytes = 0;
    bool purge = bump_dirty_count >= DIRTY_CHUNKS_KEPT;
    if (!purge) {
        ch->ch_next = bump_dirty;
        bump_dirty = ch;
        bump_dirty_count++;
    }
    fly_unlock(&bump_lock);
    if (!purge)
        return;
    fly_os_purge((void *)chunk_base(ch), CHUNK);
    fly_lock(&bump_lock);
    ch->ch_next = bump_cold;
    bump_cold = ch;
    fly_unlock(&bump_lock);
}

/* The owner lets go of its chunk: what it handed out joins the pending
 * count, and the chunk is reused if that was all freed already. */
static void chunk_release_os(bump_thread_t *t)
{
    bump_chunk_t *ch = t->bt_chunk;
    if (ch == NULL)
        return;
    uint64_t used = t->bt_top - chunk_base(ch) - t->bt_gap_bytes;
    fly_usage_note(-(int64_t)(CHUNK - used));
    __atomic_fetch_add(&g_used_retired, used, __ATOMIC_RELAXED);
    __atomic_store_n(&ch->ch_used, used, __ATOMIC_RELAXED);
    memset(t, 0, sizeof(*t));
    if (__atomic_add_fetch(&ch->ch_pending, used - PENDING_OWNED, __ATOMIC_ACQ_REL) == 0)
        chunk_reuse_os(ch);
}

void fly_bump_thread_retire(void)
{
    chunk_release_os(&bump_tls);
}

bool fly_bump_spilled(void)
{
    return __atomic_load_n(&g_spilled, __ATOMIC_RELAXED);
}

/* The guard rail, for a run that frees more than its profile said: past
 * the floor, either the bytes freed (not counting the owner's last blocks,
 * which cost nothing) pass the limit's share of those handed out, or the
 * dead bytes (freed, in chunks let go and not reused: their space waits
 * until the whole chunk is free) pass that share of the chunks' bytes.
 * The first keeps free-heavy runs off an engine whose frees take atomics
 * and whose space comes back a chunk at a time; the second bounds the
 * footprint. */
static bool guard_rail_tripped(void)
{
    uint64_t reclaimed = __atomic_load_n(&g_reclaimed, __ATOMIC_RELAXED);
    uint64_t freed = __atomic_load_n(&g_freed_bytes, __ATOMIC_RELAXED);
    uint64_t used = __atomic_load_n(&g_used_retired, __ATOMIC_RELAXED);
    uint64_t dead = freed - reclaimed, held = used - reclaimed;
    if (freed <= g_limit_floor)
        return false;
    return freed / 1000 * 1000 > used / 1000 * g_limit_permille ||
           (dead > g_limit_floor && dead / 1000 * 1000 > held / 1000 * g_limit_permille);
}

/* A chunk for the calling thread: a reused one, a fresh one of the
 * current region, or the first of a new region; NULL if the OS refuses. */
static bump_chunk_t *chunk_take_os(void)
{
    for (;;) {
        fly_lock(&bump_lock);
        bump_chunk_t *ch = bump_dirty ? bump_dirty : bump_cold;
        if (ch == bump_dirty && ch) {
            bump_dirty = ch->ch_next;
            bump_dirty_count--;
        } else if (ch) {
            bump_cold = ch->ch_next;
        }
        if (ch) {
            g_chunks_reused++;
        } else if (bump_current && bump_current->br_fresh < CHUNKS) {
            ch = &bump_current->br_chunk[bump_current->br_fresh++];
        }
        if (ch)
            g_chunks++;
        fly_unlock(&bump_lock);
        if (ch)
            return ch;
        bump_region_t *r = fly_os_map_aligned(FLY_REGION, FLY_REGION);
        if (r == NULL)
            return NULL;
        r->br_fresh = HEADER_CHUNKS;
        __atomic_store_n(&fly_region_map[(uintptr_t)r >> FLY_REGION_SHIFT], FLY_REGION_MAP_BUMP,
                         __ATOMIC_RELEASE);
        fly_lock(&bump_lock);
        r->br_next = bump_regions;
        __atomic_store_n(&bump_regions, r, __ATOMIC_RELEASE);
        if (bump_current == NULL || bump_current->br_fresh == CHUNKS)
            bump_current = r;
        fly_unlock(&bump_lock);
    }
}

/* The thread's chunk has no room for n bytes at alignment align: let go of
 * it and take another, unless the guard rail says to stop. */
static FLY_NOINLINE bool refill_os(bump_thread_t *t)
{
    chunk_release_os(t);
    if (fly_bump_spilled())
        return false;
    if (guard_rail_tripped()) {
        __atomic_store_n(&g_spilled, true, __ATOMIC_RELAXED);
        return false;
    }
    bump_chunk_t *ch = chunk_take_os();
    if (ch == NULL) {
        errno = ENOMEM;
        return false;
    }
    __atomic_store_n(&ch->ch_pending, PENDING_OWNED, __ATOMIC_RELAXED);
    uintptr_t base = chunk_base(ch);
    put_start(base, true);
    t->bt_chunk = ch;
    t->bt_top = base;
    t->bt_end = base + CHUNK - GRAIN;
    t->bt_gap_bytes = 0;
    fly_usage_note((int64_t)CHUNK);
    return true;
}

FLY_INLINE size_t grains(size_t size)
{
    return size == 0 ? GRAIN : FLY_ALIGN_UP(size, GRAIN);
}

/* Hands out [top, top + n) of t's chunk (room checked). */
FLY_INLINE void *carve(bump_thread_t *t, size_t size, size_t n)
{
    uintptr_t p = t->bt_top;
    t->bt_top = p + n;
    put_start(p + n, true);
    bump_chunk_t *ch = t->bt_chunk;
    count_add(&ch->ch_nmalloc, 1);
    count_add(&ch->ch_requested, size);
    count_add(&ch->ch_bytes, n);
    return (void *)p;
}

void *fly_bump_alloc_os(size_t size)
{
    bump_thread_t *t = &bump_tls;
    size_t n = grains(size);
    if (fly_unlikely(t->bt_top + n > t->bt_end) && !refill_os(t))
        return NULL;
    return carve(t, size, n);
}

void *fly_bump_alloc_aligned_os(size_t size, size_t align)
{
    bump_thread_t *t = &bump_tls;
    size_t n = grains(size);
    uintptr_t p = FLY_ALIGN_UP(t->bt_top, align);
    if (p + n > t->bt_end) {
        if (!refill_os(t))
            return NULL;
        p = FLY_ALIGN_UP(t->bt_top, align);       /* a fresh chunk has room for it */
    }
    if (p != t->bt_top) {
        /* The padding is a block born freed: the start bit at the old top
         * is already set, its freed bit says it is no block to free. */
        bump_region_t *r = region_of(p);
        __atomic_fetch_or(&r->br_freed[bit_of(t->bt_top) >> 6], 1ull << (bit_of(t->bt_top) & 63),
                          __ATOMIC_RELAXED);
        put_start(p, true);
        t->bt_gap_bytes += p - t->bt_top;
        t->bt_top = p;
    }
    return carve(t, size, n);
}

void fly_bump_free(void *p, const char *fname)
{
    uintptr_t a = (uintptr_t)p;
    size_t n = block_size(p, fname);
    bump_thread_t *t = &bump_tls;
    if (a + n == t->bt_top) {
        /* The thread's last block: take it back. */
        put_start(a + n, false);
        t->bt_top = a;
        count_add(&t->bt_chunk->ch_nrollback, 1);
        count_add(&t->bt_chunk->ch_rollback_bytes, n);
        return;
    }
    bump_region_t *r = region_of(a);
    size_t i = bit_of(a);
    uint64_t m = 1ull << (i & 63);
    if (__atomic_fetch_or(&r->br_freed[i >> 6], m, __ATOMIC_RELAXED) & m)
        fly_panic_ptr(fname, "double free", p);
    __atomic_fetch_add(&g_nfree, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_freed_bytes, n, __ATOMIC_RELAXED);
    bump_chunk_t *ch = chunk_of(a);
    if (__atomic_sub_fetch(&ch->ch_pending, n, __ATOMIC_ACQ_REL) == 0)
        chunk_reuse_os(ch);
}

size_t fly_bump_usable(const void *p, const char *fname)
{
    return block_size(p, fname);
}

bool fly_bump_resize_inplace(void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    bump_thread_t *t = &bump_tls;
    size_t old = block_size(p, "realloc"), n = grains(size);
    if (a + old == t->bt_top && a + n <= t->bt_end) {
        put_start(a + old, false);
        put_start(a + n, true);
        t->bt_top = a + n;
        count_add(&t->bt_chunk->ch_bytes, n - old);    /* wraps to a decrease when smaller */
        return true;
    }
    return n <= old;
}

void fly_bump_counts(fly_bump_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    fly_lock(&bump_lock);
    *out = g_folded;
    out->bc_chunks = g_chunks;
    out->bc_chunks_reused = g_chunks_reused;
    fly_unlock(&bump_lock);
    for (bump_region_t *r = __atomic_load_n(&bump_regions, __ATOMIC_ACQUIRE); r; r = r->br_next) {
        for (unsigned c = HEADER_CHUNKS; c < CHUNKS; c++) {
            const bump_chunk_t *ch = &r->br_chunk[c];
            out->bc_nmalloc += __atomic_load_n(&ch->ch_nmalloc, __ATOMIC_RELAXED);
            out->bc_requested += __atomic_load_n(&ch->ch_requested, __ATOMIC_RELAXED);
            out->bc_bytes += __atomic_load_n(&ch->ch_bytes, __ATOMIC_RELAXED);
            out->bc_nfree += __atomic_load_n(&ch->ch_nrollback, __ATOMIC_RELAXED);
            out->bc_freed_bytes += __atomic_load_n(&ch->ch_rollback_bytes, __ATOMIC_RELAXED);
        }
    }
    out->bc_nfree += __atomic_load_n(&g_nfree, __ATOMIC_RELAXED);
    out->bc_freed_bytes += __atomic_load_n(&g_freed_bytes, __ATOMIC_RELAXED);
    out->bc_spilled = fly_bump_spilled();
}

void fly_bump_lock_all(void)
{
    fly_lock(&bump_lock);
}

void fly_bump_unlock_all(bool child)
{
    if (child)
        fly_lock_reinit(&bump_lock);
    else
        fly_unlock(&bump_lock);
}
