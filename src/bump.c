/*
 * bump.c: the bump engine (bump.h), the `arena` policy's allocator.
 *
 * A bump region is FLY_REGION bytes, aligned to its size and marked
 * FLY_REGION_MAP_BUMP in the region map.  Its first two chunks hold the
 * header: two bitmaps with a bit per 16-byte granule of the region, and
 * the chunk descriptors.  Every other 1 MiB chunk is owned by one thread
 * while it carves from it.
 *
 * Start bits: the owner sets a bit at the end of each block it carves,
 * which is the start of the next one; the chunk's first bit is set when it
 * is taken.  So a block is a set bit followed, within its chunk, by another
 * set bit, and its size is their distance.  The last granule of a chunk is
 * never carved, so the end bit of its last block stays in the chunk.  Only
 * the owner writes start bits (relaxed atomic stores: other threads' frees
 * read them); freed bits are set by whichever thread frees, with an atomic
 * or whose old value catches a double free.  Bits are cleared only when the
 * chunk is reused, once every block in it was freed.
 *
 * A chunk's ch_pending counts, atomically, the bytes of its blocks not yet
 * freed, plus PENDING_OWNED while a thread owns it (the owner's count of
 * what it carved is added when it lets go), so exactly one thread sees it
 * reach zero: the last free, or the owner letting go of a chunk whose
 * blocks were all freed.  That thread clears the chunk's bits and keeps it
 * for reuse: resident while fewer than DIRTY_CHUNKS_KEPT are, else given
 * back to the OS first (never when a cache gives objects back: that path
 * makes no system call).
 */
#include "bump.h"
#include "lock.h"
#include "os.h"
#include "region.h"
#include "sizeclass.h"
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
    uint64_t ch_used;                      /* bytes carved, written when let go */
    struct bump_chunk *ch_next;            /* free lists, under bump_lock */
} bump_chunk_t;

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

static __thread bump_thread_t bump_tls __attribute__((tls_model("initial-exec")));

static fly_lock_t bump_lock = FLY_LOCK_INITIALIZER;
static bump_region_t *bump_regions;        /* atomic head; appended under bump_lock */
static bump_region_t *bump_current;        /* where fresh chunks come from; bump_lock */
/* Chunks all of whose blocks were freed, under bump_lock: resident ones
 * (reused first, newest first), and those given back to the OS. */
static bump_chunk_t *bump_dirty, *bump_cold;
static uint32_t bump_dirty_count;          /* also read without the lock */
static uint64_t g_chunks, g_chunks_reused;   /* bump_lock */

/* Atomic totals: */
static uint64_t g_carved_bytes;
static uint64_t g_nfree, g_freed_bytes;    /* the program's frees */
static uint64_t g_given_back_bytes;
static uint64_t g_used_retired;            /* bytes carved in chunks let go */
static uint64_t g_reclaimed;               /* of them, in chunks reused */
static uint64_t g_class_carved[FLY_MAX_CLASSES + 1], g_class_gone[FLY_MAX_CLASSES + 1];
static uint64_t g_class_aligned[FLY_MAX_CLASSES + 1], g_class_aligned_bytes[FLY_MAX_CLASSES + 1];
static bool g_spilled;
static uint32_t g_limit_permille = 500;
static uint64_t g_limit_floor = (uint64_t)4 << 20;

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

/* Sets a's start bit.  Owner only: start bits have no other writer. */
FLY_INLINE void mark(uintptr_t a)
{
    bump_region_t *r = region_of(a);
    size_t i = bit_of(a);
    uint64_t w = __atomic_load_n(&r->br_start[i >> 6], __ATOMIC_RELAXED);
    __atomic_store_n(&r->br_start[i >> 6], w | (uint64_t)1 << (i & 63), __ATOMIC_RELAXED);
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

/* Clears the bits of ch, all of whose blocks were freed. */
static void chunk_clear(bump_chunk_t *ch)
{
    uintptr_t base = chunk_base(ch);
    bump_region_t *r = region_of(base);
    size_t w = bit_of(base) >> 6;
    memset(&r->br_start[w], 0, CHUNK_WORDS * sizeof(uint64_t));
    memset(&r->br_freed[w], 0, CHUNK_WORDS * sizeof(uint64_t));
    __atomic_fetch_add(&g_reclaimed, __atomic_load_n(&ch->ch_used, __ATOMIC_ACQUIRE), __ATOMIC_RELAXED);
}

/* Every block of ch was freed and no thread owns it: it waits, resident,
 * to be taken again. */
static void chunk_keep(bump_chunk_t *ch)
{
    chunk_clear(ch);
    fly_lock(&bump_lock);
    ch->ch_next = bump_dirty;
    bump_dirty = ch;
    bump_dirty_count++;
    fly_unlock(&bump_lock);
}

/* The same, but given back to the OS first when DIRTY_CHUNKS_KEPT wait
 * resident already. */
static void chunk_reuse_os(bump_chunk_t *ch)
{
    if (__atomic_load_n(&bump_dirty_count, __ATOMIC_RELAXED) < DIRTY_CHUNKS_KEPT) {
        chunk_keep(ch);
        return;
    }
    chunk_clear(ch);
    fly_os_purge((void *)chunk_base(ch), CHUNK);
    fly_lock(&bump_lock);
    ch->ch_next = bump_cold;
    bump_cold = ch;
    fly_unlock(&bump_lock);
}

/* The owner lets go of its chunk: what it carved joins the pending count,
 * and the chunk is reused if that was all freed already. */
static void chunk_release_os(bump_thread_t *t)
{
    bump_chunk_t *ch = t->bt_chunk;
    if (ch == NULL)
        return;
    uint64_t used = t->bt_top - chunk_base(ch) - t->bt_gap_bytes;
    __atomic_fetch_add(&g_used_retired, used, __ATOMIC_RELAXED);
    __atomic_store_n(&ch->ch_used, used, __ATOMIC_RELAXED);
    memset(t, 0, sizeof(*t));
    if (__atomic_add_fetch(&ch->ch_pending, used - PENDING_OWNED, __ATOMIC_ACQ_REL) == 0)
        chunk_reuse_os(ch);
}

void fly_bump_thread_retire_os(void)
{
    chunk_release_os(&bump_tls);
}

bool fly_bump_spilled(void)
{
    return __atomic_load_n(&g_spilled, __ATOMIC_RELAXED);
}

FLY_INLINE bool over_limit(uint64_t part, uint64_t whole)
{
    return part / 1000 * 1000 > whole / 1000 * g_limit_permille;
}

/* The guard rail, for a run that frees more than its profile said: past
 * the floor, either the program's frees pass the limit's share of the
 * bytes handed out, or the dead bytes (freed, in chunks let go and not
 * reused: their space waits until the whole chunk is free) pass that share
 * of those chunks' bytes.  The first keeps free-heavy runs off an engine
 * whose frees take atomics and whose space comes back a chunk at a time;
 * the second bounds the footprint. */
static bool guard_rail_tripped(void)
{
    uint64_t reclaimed = __atomic_load_n(&g_reclaimed, __ATOMIC_RELAXED);
    uint64_t freed = __atomic_load_n(&g_freed_bytes, __ATOMIC_RELAXED);
    uint64_t back = __atomic_load_n(&g_given_back_bytes, __ATOMIC_RELAXED);
    uint64_t carved = __atomic_load_n(&g_carved_bytes, __ATOMIC_RELAXED);
    uint64_t used = __atomic_load_n(&g_used_retired, __ATOMIC_RELAXED);
    if (freed <= g_limit_floor)
        return false;
    uint64_t dead = freed + back > reclaimed ? freed + back - reclaimed : 0;
    uint64_t held = used > reclaimed ? used - reclaimed : 0;
    return over_limit(freed, carved > back ? carved - back : 0) ||
           (dead > g_limit_floor && over_limit(dead, held));
}

/* A chunk for the calling thread: a reused one, a fresh one of the
 * current region, or the first of a new region; NULL if the OS refuses. */
static bump_chunk_t *chunk_take_os(void)
{
    for (;;) {
        fly_lock(&bump_lock);
        bump_chunk_t *ch = NULL;
        if (bump_dirty) {
            ch = bump_dirty;
            bump_dirty = ch->ch_next;
            bump_dirty_count--;
        } else if (bump_cold) {
            ch = bump_cold;
            bump_cold = ch->ch_next;
        }
        if (ch)
            g_chunks_reused++;
        else if (bump_current && bump_current->br_fresh < CHUNKS)
            ch = &bump_current->br_chunk[bump_current->br_fresh++];
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

/* The thread's chunk is full: it lets go of it and takes another, unless
 * the guard rail says to stop (or the OS refuses memory: errno ENOMEM). */
static bool refill_os(bump_thread_t *t)
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
    mark(base);
    t->bt_chunk = ch;
    t->bt_top = base;
    t->bt_end = base + CHUNK - GRAIN;
    return true;
}

static void count_carved(unsigned c, unsigned n, size_t bytes)
{
    __atomic_fetch_add(&g_class_carved[c], n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_carved_bytes, bytes, __ATOMIC_RELAXED);
    fly_usage_note((int64_t)bytes);
}

/* Carves k blocks of size bytes at t's top into dst[0..k), the lowest
 * address last (a magazine pops from the top), with their end bits set a
 * word at a time. */
static void carve_run(bump_thread_t *t, size_t size, void **dst, unsigned k)
{
    uintptr_t a = t->bt_top;
    uint64_t *map = region_of(a)->br_start;
    size_t i = bit_of(a + size), step = size >> GRAIN_SHIFT, w = i >> 6;
    uint64_t bits = __atomic_load_n(&map[w], __ATOMIC_RELAXED);
    for (unsigned j = k; j--; a += size, i += step) {
        dst[j] = (void *)a;
        if (fly_unlikely((i >> 6) != w)) {
            __atomic_store_n(&map[w], bits, __ATOMIC_RELAXED);
            w = i >> 6;
            bits = __atomic_load_n(&map[w], __ATOMIC_RELAXED);
        }
        bits |= (uint64_t)1 << (i & 63);
    }
    __atomic_store_n(&map[w], bits, __ATOMIC_RELAXED);
    t->bt_top = a;
}

unsigned fly_bump_carve_os(size_t size, unsigned c, void **dst, unsigned want)
{
    bump_thread_t *t = &bump_tls;
    size_t room = (t->bt_end - t->bt_top) / size;
    if (room == 0) {
        if (!refill_os(t))
            return 0;
        room = (t->bt_end - t->bt_top) / size;
    }
    unsigned got = (unsigned)FLY_MIN(room, (size_t)want);
    carve_run(t, size, dst, got);
    count_carved(c, got, got * size);
    return got;
}

void *fly_bump_alloc_aligned_os(size_t size, size_t align, unsigned c)
{
    bump_thread_t *t = &bump_tls;
    size_t n = fly_classes[c].cl_size;
    uintptr_t p = FLY_ALIGN_UP(t->bt_top, align);
    if (p + n > t->bt_end) {
        if (!refill_os(t))
            return NULL;
        p = FLY_ALIGN_UP(t->bt_top, align);       /* a fresh chunk has room for it */
    }
    if (p != t->bt_top) {
        /* The padding is a block born freed: the start bit at the old top
         * is already set, its freed bit says it is no block to free. */
        size_t i = bit_of(t->bt_top);
        __atomic_fetch_or(&region_of(p)->br_freed[i >> 6], 1ull << (i & 63), __ATOMIC_RELAXED);
        mark(p);
        t->bt_gap_bytes += p - t->bt_top;
    }
    t->bt_top = p + n;
    mark(p + n);
    count_carved(c, 1, n);
    __atomic_fetch_add(&g_class_aligned[c], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_class_aligned_bytes[c], size, __ATOMIC_RELAXED);
    return (void *)p;
}

/* p's block leaves: its freed bit is set (a double free if it was) and
 * its bytes are counted.  Returns its chunk if that was the chunk's last
 * block, for the caller to reuse. */
static bump_chunk_t *release(void *p, const char *fname, bool program)
{
    uintptr_t a = (uintptr_t)p;
    size_t n = block_size(p, fname);
    bump_region_t *r = region_of(a);
    size_t i = bit_of(a);
    uint64_t m = 1ull << (i & 63);
    if (__atomic_fetch_or(&r->br_freed[i >> 6], m, __ATOMIC_RELAXED) & m)
        fly_panic_ptr(fname, "double free", p);
    __atomic_fetch_add(&g_class_gone[fly_class_of(n)], 1, __ATOMIC_RELAXED);
    if (program) {
        __atomic_fetch_add(&g_nfree, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&g_freed_bytes, n, __ATOMIC_RELAXED);
    } else {
        __atomic_fetch_add(&g_given_back_bytes, n, __ATOMIC_RELAXED);
    }
    fly_usage_note(-(int64_t)n);
    bump_chunk_t *ch = chunk_of(a);
    return __atomic_sub_fetch(&ch->ch_pending, n, __ATOMIC_ACQ_REL) == 0 ? ch : NULL;
}

void fly_bump_free_os(void *p, const char *fname)
{
    bump_chunk_t *ch = release(p, fname, true);
    if (ch)
        chunk_reuse_os(ch);
}

void fly_bump_give_back(void *const *objs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        bump_chunk_t *ch = release(objs[i], "free", false);
        if (ch)
            chunk_keep(ch);
    }
}

size_t fly_bump_usable(const void *p, const char *fname)
{
    return block_size(p, fname);
}

void fly_bump_class_counts(unsigned nclasses, uint64_t *out, uint64_t *nmalloc, uint64_t *requested)
{
    for (unsigned c = 1; c <= nclasses && c <= FLY_MAX_CLASSES; c++) {
        uint64_t carved = __atomic_load_n(&g_class_carved[c], __ATOMIC_RELAXED);
        uint64_t gone = __atomic_load_n(&g_class_gone[c], __ATOMIC_RELAXED);
        out[c] += carved > gone ? carved - gone : 0;
        if (nmalloc)
            nmalloc[c] += __atomic_load_n(&g_class_aligned[c], __ATOMIC_RELAXED);
        if (requested)
            requested[c] += __atomic_load_n(&g_class_aligned_bytes[c], __ATOMIC_RELAXED);
    }
}

void fly_bump_counts(fly_bump_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    fly_lock(&bump_lock);
    out->bc_chunks = g_chunks;
    out->bc_chunks_reused = g_chunks_reused;
    fly_unlock(&bump_lock);
    out->bc_carved_bytes = __atomic_load_n(&g_carved_bytes, __ATOMIC_RELAXED);
    out->bc_nfree = __atomic_load_n(&g_nfree, __ATOMIC_RELAXED);
    out->bc_freed_bytes = __atomic_load_n(&g_freed_bytes, __ATOMIC_RELAXED);
    out->bc_given_back_bytes = __atomic_load_n(&g_given_back_bytes, __ATOMIC_RELAXED);
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
