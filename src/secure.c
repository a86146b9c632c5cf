/*
 * secure.c: the secure mode (FLYMALLOC_SECURE=1, on in
 * libflymalloc-secure.so): overflow, write-after-free and double-free
 * checks, a quarantine, zero-on-free and guard pages, wrapped around the
 * allocator below (docs/security.md says what each check defends
 * against).
 *
 * Each call swaps the thread's real cache in, calls the plain entry point
 * for a larger block, swaps the sentinel back (secure.h) and then arms or
 * checks the block, so the allocator below and its fast paths are the
 * default mode's, unchanged.
 *
 * A block for a request of n bytes, in a slot of S bytes:
 *   [0, n)          the program's bytes
 *   [n, S - 8)      the slack, every byte the process's slack byte
 *   [S - 8, S)      the canary: a keyed hash of the address in its first
 *                   four bytes, the slack's length in the last four
 * A small block's slot is its size class; a large or huge block's is its
 * usable size less one page, and that page is a guard (PROT_NONE) while
 * the block is live.  free checks the canary and the slack, so a write of
 * even one byte past n is caught, and malloc_usable_size reports n.
 *
 * A freed small block is zeroed but for its first word, which gets the
 * free mark (freemark.h: a second free is a double free), and waits in
 * the thread's quarantine; when a random entry leaves to make room, it is
 * checked still zero and freed for real.  malloc checks that a small slot
 * it hands out is all zero (new zones are zeroed, slab.h), so a write into
 * a freed block is caught at its reuse at the latest.  Fills come out of
 * the zones in random order (slab.h), and the quarantine's random choice
 * makes reuse unpredictable too.
 */
#include "secure.h"
#include "flymalloc.h"
#include "freemark.h"
#include "huge.h"
#include "os.h"
#include "random.h"
#include "sizeclass.h"
#include "slab.h"
#include "tcache_inline.h"
#include <errno.h>
#include <string.h>

#define CANARY_BYTES 8
#define QUARANTINE_SLOTS 250
#define QUARANTINE_BYTES ((uint64_t)256 << 10)

bool fly_secure_on;
__thread bool fly_secure_inside __attribute__((tls_model("initial-exec")));

static fly_tcache_t fly_tcache_secure = FLY_TCACHE_INIT(FLY_TC_TRACED);
static __thread fly_tcache_t *secure_real_tc __attribute__((tls_model("initial-exec"))) =
    &fly_tcache_empty;

typedef struct quarantine {
    uint32_t q_count;
    uint64_t q_bytes;
    void *q_block[QUARANTINE_SLOTS];
    uint32_t q_size[QUARANTINE_SLOTS];
} quarantine_t;
static __thread quarantine_t *secure_quarantine __attribute__((tls_model("initial-exec")));

static unsigned char slack_byte;

void fly_secure_init(void)
{
    /* Never 0: an off-by-one that writes a string's terminator is caught. */
    slack_byte = (unsigned char)(fly_secret_hash(0) >> 40) | 0x10;
    fly_slab_secure = true;
    __atomic_store_n(&fly_secure_on, true, __ATOMIC_RELEASE);
}

/* Around each real call: the thread's real cache in, the sentinel back. */
void fly_secure_enter(void)
{
    fly_secure_inside = true;
    fly_tc = secure_real_tc;
}

void fly_secure_leave(void)
{
    secure_real_tc = fly_tc;
    fly_tc = &fly_tcache_secure;
    fly_secure_inside = false;
}

static void real_free(void *p, const char *fname)
{
    fly_secure_enter();
    fly_free_inline(p, fname);
    fly_secure_leave();
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    uintptr_t pattern = (uintptr_t)0x0101010101010101ull * v, diff = 0;
    size_t i = 0;
    for (; i < n && ((uintptr_t)(p + i) & 7); i++)
        diff |= p[i] ^ v;
    for (; i + 8 <= n; i += 8)
        diff |= *(const fly_block_word_t *)(p + i) ^ pattern;
    for (; i < n; i++)
        diff |= p[i] ^ v;
    return diff == 0;
}

size_t fly_secure_request(size_t size, size_t align)
{
    /* Alignments above the small range give a large or huge block. */
    if (size <= FLY_SMALL_MAX - CANARY_BYTES && align <= FLY_SMALL_MAX)
        return size + CANARY_BYTES;
    if (size > SIZE_MAX - 2 * FLY_PAGE - CANARY_BYTES)
        return SIZE_MAX;                  /* the allocator below says ENOMEM */
    return FLY_ALIGN_UP(size + CANARY_BYTES, FLY_PAGE) + FLY_PAGE;
}

/* The slot of a live block (see the top of the file), its size S; big:
 * a large or huge block, with its guard page at S.  Aborts naming fname
 * on anything else, as the allocator below would. */
static size_t slot_of(const void *p, const char *fname, bool *big)
{
    size_t usable = fly_block_usable(p, fname);
    *big = usable > FLY_SMALL_MAX || fly_region_kind(p) == FLY_REGION_MAP_HUGE;
    return *big ? usable - FLY_PAGE : usable;
}

static fly_block_word_t *canary_at(const void *p, size_t slot)
{
    return (fly_block_word_t *)((char *)p + slot - CANARY_BYTES);
}

/* The canary's first four bytes, those a short overflow reaches first: a
 * keyed hash of the address, no byte of it zero, so that a string's
 * terminator written one past the end is always seen. */
static uint32_t canary_hash(const void *p)
{
    return (uint32_t)fly_secret_hash((uintptr_t)p) | 0x01010101u;
}

/* Writes the slack and the canary of a block of size bytes in its slot. */
static void seal(void *p, size_t size, size_t slot)
{
    size_t slack = slot - CANARY_BYTES - size;
    memset((char *)p + size, slack_byte, slack);
    *canary_at(p, slot) = (uintptr_t)slack << 32 | canary_hash(p);
}

/* The size the program asked for, from the canary; aborts if the canary
 * or the slack was written. */
static size_t unseal(const void *p, size_t slot, const char *fname)
{
    uintptr_t w = *canary_at(p, slot);
    size_t slack = w >> 32;
    if ((uint32_t)w != canary_hash(p) || slack > slot - CANARY_BYTES)
        fly_panic_ptr(fname, "overflow past the end of block", p);
    size_t size = slot - CANARY_BYTES - slack;
    if (!all_bytes((const unsigned char *)p + size, slack, slack_byte))
        fly_panic_ptr(fname, "overflow past the end of block", p);
    return size;
}

void *fly_secure_arm(void *p, size_t size, const char *fname)
{
    if (p == NULL)
        return NULL;
    bool big;
    size_t slot = slot_of(p, fname, &big);
    if (!big && !all_bytes(p, slot, 0))
        fly_panic_ptr(fname, "write after free to block", p);
    if (big)
        fly_os_protect((char *)p + slot, FLY_PAGE, true);
    seal(p, size, slot);
    return p;
}

/* A block of request bytes from the allocator below, aligned to align
 * (at most 16: any block), zeroed if zero.  When it fails, what the
 * thread's quarantine holds may be pinning whole regions: it is emptied
 * and the heaps trimmed (malloc_trim), and the call made once more. */
static void *real_alloc(size_t request, size_t align, bool zero)
{
    for (int attempt = 0;; attempt++) {
        fly_secure_enter();
        void *p = align > 16 ? fly_memalign(align, request)
                : zero ? fly_calloc(request, 1) : fly_malloc(request);
        fly_secure_leave();
        quarantine_t *q = secure_quarantine;
        if (p || attempt > 0 || q == NULL || q->q_count == 0)
            return p;
        fly_malloc_trim(0);
    }
}

void *fly_secure_malloc(size_t size)
{
    return fly_secure_arm(real_alloc(fly_secure_request(size, 16), 16, false), size, "malloc");
}

void *fly_secure_calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    /* A small slot is proved all zero by arm; a large one is zeroed below. */
    size_t request = fly_secure_request(total, 16);
    return fly_secure_arm(real_alloc(request, 16, request > FLY_SMALL_MAX), total, "calloc");
}

void *fly_secure_aligned(size_t align, size_t size, const char *fname)
{
    return fly_secure_arm(real_alloc(fly_secure_request(size, align), align, false), size, fname);
}

size_t fly_secure_usable(const void *p, const char *fname)
{
    bool big;
    size_t slot = slot_of(p, fname, &big);
    return unseal(p, slot, fname);
}

/* Statistics count a block in the quarantine as cached, not live: the
 * program freed it.  The thread's real cache keeps the count. */
static void hold(size_t slot, int32_t delta)
{
    fly_tcache_t *tc = secure_real_tc;
    if (tc->tc_state == FLY_TC_LIVE) {
        unsigned c = fly_class_of(slot);
        FLY_SET(tc->tc_held[c], tc->tc_held[c] + (uint32_t)delta);
    }
}

/* A block leaves the quarantine: still zero, so freed for real. */
static void release(void *p, size_t slot, const char *fname)
{
    if (!all_bytes((const unsigned char *)p + sizeof(fly_block_word_t), slot - sizeof(fly_block_word_t), 0))
        fly_panic_ptr(fname, "write after free to block", p);
    fly_block_unmark_known(p);
    real_free(p, fname);
}

static quarantine_t *quarantine_new(void)
{
    quarantine_t *q = real_alloc(sizeof(quarantine_t), 16, false);
    if (q) {
        hold(fly_block_usable(q, "free"), 1);      /* the allocator's, not the program's */
        q->q_count = 0;
        q->q_bytes = 0;
    }
    return q;
}

static void quarantine_put(void *p, size_t slot, const char *fname)
{
    quarantine_t *q = secure_quarantine;
    if (q == NULL) {
        /* A thread whose cache is gone (other destructors after ours) keeps
         * no quarantine: it would never be emptied. */
        if (secure_real_tc->tc_state == FLY_TC_DEAD || (q = quarantine_new()) == NULL) {
            release(p, slot, fname);
            return;
        }
        secure_quarantine = q;
    }
    while (q->q_count && (q->q_count == QUARANTINE_SLOTS || q->q_bytes + slot > QUARANTINE_BYTES)) {
        uint32_t i = fly_random_below(q->q_count);
        void *old = q->q_block[i];
        uint32_t old_slot = q->q_size[i];
        q->q_count--;
        q->q_block[i] = q->q_block[q->q_count];
        q->q_size[i] = q->q_size[q->q_count];
        q->q_bytes -= old_slot;
        hold(old_slot, -1);
        release(old, old_slot, fname);
    }
    q->q_block[q->q_count] = p;
    q->q_size[q->q_count] = (uint32_t)slot;
    q->q_count++;
    q->q_bytes += slot;
    hold(slot, 1);
}

static void quarantine_empty(const char *fname)
{
    quarantine_t *q = secure_quarantine;
    if (q == NULL)
        return;
    secure_quarantine = NULL;
    for (uint32_t i = 0; i < q->q_count; i++) {
        hold(q->q_size[i], -1);
        release(q->q_block[i], q->q_size[i], fname);
    }
    /* Zeroed, as every freed slot must be (its reuse is checked). */
    size_t slot = fly_block_usable(q, fname);
    hold(slot, -1);
    memset(q, 0, slot);
    real_free(q, fname);
}

void fly_secure_free(void *p, const char *fname)
{
    if (p == NULL)
        return;
    if (fly_region_kind(p) == FLY_REGION_MAP_HUGE && fly_huge_live_size(p) == 0) {
        real_free(p, fname);            /* which says what it is: a double free */
        return;
    }
    bool big;
    size_t slot = slot_of(p, fname, &big);
    unseal(p, slot, fname);
    if (big) {
        fly_os_protect((char *)p + slot, FLY_PAGE, false);
        real_free(p, fname);
        return;
    }
    memset(p, 0, slot);
    fly_block_mark(p);
    quarantine_put(p, slot, fname);
}

void *fly_secure_realloc(void *p, size_t size)
{
    if (p == NULL)
        return fly_secure_malloc(size);
    if (size == 0) {
        fly_secure_free(p, "realloc");
        return NULL;
    }
    bool big;
    size_t slot = slot_of(p, "realloc", &big);
    size_t old = unseal(p, slot, "realloc");
    size_t request = fly_secure_request(size, 16);
    if (!big && request <= FLY_SMALL_MAX && fly_class_of(request) == fly_class_of(slot)) {
        seal(p, size, slot);
        return p;
    }
    void *q = fly_secure_malloc(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, FLY_MIN(old, size));
    fly_secure_free(p, "realloc");
    return q;
}

void fly_secure_flush_thread(const char *fname)
{
    quarantine_empty(fname);
    fly_secure_enter();
    fly_tcache_flush_thread();
    fly_secure_leave();
}

void fly_secure_thread_exit(void)
{
    quarantine_empty("free");
    secure_real_tc = &fly_tcache_dead;
}
