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
#include "large.h"
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
#define EARLY_CHECK_BYTES 64
#define GUARDED_SLOTS 16
#define GUARDED_BYTES ((uint64_t)4 << 20)

bool fly_secure_on;
__thread bool fly_secure_inside __attribute__((tls_model("initial-exec")));

static fly_tcache_t fly_tcache_secure = FLY_TCACHE_INIT(FLY_TC_TRACED);
static __thread fly_tcache_t *secure_real_tc __attribute__((tls_model("initial-exec"))) =
    &fly_tcache_empty;

/* What a thread holds of the blocks it freed: small ones in quarantine,
 * large ones with their guard page still in place, so that a malloc of the
 * same size takes one back without two mprotect calls (each a TLB
 * shootdown on every core the process runs on). */
typedef struct quarantine {
    uint32_t q_count;
    uint32_t q_guarded;
    uint64_t q_bytes;
    uint64_t q_guarded_bytes;
    void *q_block[QUARANTINE_SLOTS];
    uint32_t q_size[QUARANTINE_SLOTS];
    void *q_large[GUARDED_SLOTS];          /* oldest first */
    uint32_t q_large_usable[GUARDED_SLOTS];
} quarantine_t;
static __thread quarantine_t *secure_quarantine __attribute__((tls_model("initial-exec")));

static unsigned char slack_byte;
/* What a block's slack must hold, a page of it, to compare against with
 * libc's memcmp (vectorized, no allocation). */
static unsigned char slack_page[FLY_PAGE];

void fly_secure_init(void)
{
    /* Never 0: an off-by-one that writes a string's terminator is caught. */
    slack_byte = (unsigned char)(fly_secret_hash(0) >> 40) | 0x10;
    memset(slack_page, slack_byte, sizeof slack_page);
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

static void real_free_os(void *p, const char *fname)
{
    fly_secure_enter();
    fly_free_inline(p, fname);
    fly_secure_leave();
}

typedef uint64_t vec16_t __attribute__((vector_size(16), may_alias, aligned(1)));

/* Whether [p, p + n) is all zero.  One stream of loads or-ed together,
 * four wide: half the traffic of a memcmp against zeroes, and no early
 * exit to predict. */
static bool all_zero(const void *p, size_t n)
{
    const vec16_t *v = p;
    vec16_t a0 = { 0, 0 }, a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0, k = n / 16;
    for (; i + 4 <= k; i += 4) {
        a0 |= v[i];
        a1 |= v[i + 1];
        a2 |= v[i + 2];
        a3 |= v[i + 3];
    }
    for (; i < k; i++)
        a0 |= v[i];
    a0 |= a1 | a2 | a3;
    unsigned char tail = 0;
    for (size_t j = k * 16; j < n; j++)
        tail |= ((const unsigned char *)p)[j];
    return (a0[0] | a0[1] | tail) == 0;
}

static bool all_like(const void *p, size_t n, const unsigned char *page)
{
    const char *c = p;
    for (; n > FLY_PAGE; n -= FLY_PAGE, c += FLY_PAGE)
        if (memcmp(c, page, FLY_PAGE) != 0)
            return false;
    return memcmp(c, page, n) == 0;
}

size_t fly_secure_request(size_t size, size_t align)
{
    /* Alignments above the small range give a large or huge block. */
    if (size <= FLY_SMALL_MAX - CANARY_BYTES && align <= FLY_SMALL_MAX)
        return size + CANARY_BYTES;
    if (size > SIZE_MAX - 2 * FLY_PAGE - CANARY_BYTES)
        return SIZE_MAX;                  /* the allocator below says ENOMEM */
    size_t request = FLY_ALIGN_UP(size + CANARY_BYTES, FLY_PAGE) + FLY_PAGE;
    /* A region's last page is a guard here (vmem.h): a large block of the
     * largest sizes would not fit, so it is made huge. */
    if (request > FLY_LARGE_MAX - FLY_PAGE && request <= FLY_LARGE_MAX)
        request = FLY_LARGE_MAX + FLY_PAGE;
    return request;
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

/* The same for a block the allocator below just handed out, which needs
 * no checking: a small one's slot is its page's class. */
static size_t slot_of_new(const void *p, const char *fname, bool *big)
{
    if (fly_region_kind(p) == FLY_REGION_MAP_HEAP) {
        unsigned pc = fly_region_of(p)->r_pageclass[fly_page_index(p)];
        if (pc >= 1 && pc <= fly_nclasses) {
            *big = false;
            return fly_classes[pc].cl_size;
        }
    }
    return slot_of(p, fname, big);
}

/* Flips a freed large block's canary, which it keeps while its thread
 * holds it (guarded_put): a second free is a double free. */
#define FREED_CANARY 0x80808080u

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
    uint32_t hash = canary_hash(p);
    if ((uint32_t)w == (hash ^ FREED_CANARY))
        fly_panic_ptr(fname, "double free", p);
    size_t slack = w >> 32;
    if ((uint32_t)w != hash || slack > slot - CANARY_BYTES)
        fly_panic_ptr(fname, "overflow past the end of block", p);
    size_t size = slot - CANARY_BYTES - slack;
    if (!all_like((const char *)p + size, slack, slack_page))
        fly_panic_ptr(fname, "overflow past the end of block", p);
    return size;
}

void *fly_secure_arm_os(void *p, size_t size, const char *fname)
{
    if (p == NULL)
        return NULL;
    bool big;
    size_t slot = slot_of_new(p, fname, &big);
    if (!big && !all_zero(p, slot))
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
static void *real_alloc_os(size_t request, size_t align, bool zero)
{
    for (int attempt = 0;; attempt++) {
        fly_secure_enter();
        void *p = align > 16 ? fly_memalign(align, request)
                : zero ? fly_calloc(request, 1) : fly_malloc(request);
        fly_secure_leave();
        quarantine_t *q = secure_quarantine;
        if (p || attempt > 0 || q == NULL || q->q_count + q->q_guarded == 0)
            return p;
        fly_malloc_trim(0);
    }
}

/* Statistics count a block in the quarantine as cached, not live: the
 * program freed it.  The thread's real cache keeps the count, by the
 * class of p's page. */
static void hold(const void *p, int32_t delta)
{
    fly_tcache_t *tc = secure_real_tc;
    if (tc->tc_state == FLY_TC_LIVE) {
        unsigned c = fly_region_of(p)->r_pageclass[fly_page_index(p)];
        FLY_SET(tc->tc_held[c], tc->tc_held[c] + (uint32_t)delta);
    }
}

/* A block leaves the quarantine, and is freed for real.  Its first bytes,
 * where a dangling pointer's writes land most often, are checked now; the
 * whole slot is checked when it is handed out again. */
static void release_os(void *p, size_t slot, const char *fname)
{
    bool marked = fly_block_is_marked(p);
    fly_block_unmark_known(p);
    if (!marked || !all_zero(p, FLY_MIN(slot, EARLY_CHECK_BYTES)))
        fly_panic_ptr(fname, "write after free to block", p);
    real_free_os(p, fname);
}

/* The calling thread's quarantine, made on first use; NULL for a thread
 * whose cache is gone (other destructors after ours: nothing would ever
 * empty it) or when no memory is left. */
static quarantine_t *quarantine_of_thread_os(void)
{
    quarantine_t *q = secure_quarantine;
    if (fly_likely(q != NULL))
        return q;
    if (secure_real_tc->tc_state == FLY_TC_DEAD)
        return NULL;
    q = real_alloc_os(sizeof(quarantine_t), 16, false);
    if (q) {
        hold(q, 1);                 /* the allocator's, not the program's */
        memset(q, 0, sizeof(*q));
        secure_quarantine = q;
    }
    return q;
}

/* A large block leaves the thread's guarded blocks: its guard page goes,
 * and it is freed for real. */
static void unguard_and_free_os(void *p, size_t usable, const char *fname)
{
    fly_os_protect((char *)p + usable - FLY_PAGE, FLY_PAGE, false);
    real_free_os(p, fname);
}

static void guarded_drop_oldest_os(quarantine_t *q, const char *fname)
{
    void *p = q->q_large[0];
    uint32_t usable = q->q_large_usable[0];
    q->q_guarded--;
    q->q_guarded_bytes -= usable;
    memmove(q->q_large, q->q_large + 1, q->q_guarded * sizeof(q->q_large[0]));
    memmove(q->q_large_usable, q->q_large_usable + 1, q->q_guarded * sizeof(q->q_large_usable[0]));
    fly_large_unhold(usable, false);
    unguard_and_free_os(p, usable, fname);
}

/* A freed large block (its canary checked, then marked freed) stays with
 * the thread, guard page and all, for the next request of its size. */
static void guarded_put_os(void *p, size_t usable, const char *fname)
{
    quarantine_t *q = quarantine_of_thread_os();
    if (q == NULL || usable > GUARDED_BYTES) {
        unguard_and_free_os(p, usable, fname);
        return;
    }
    while (q->q_guarded && (q->q_guarded == GUARDED_SLOTS || q->q_guarded_bytes + usable > GUARDED_BYTES))
        guarded_drop_oldest_os(q, fname);
    q->q_large[q->q_guarded] = p;
    q->q_large_usable[q->q_guarded] = (uint32_t)usable;
    q->q_guarded++;
    q->q_guarded_bytes += usable;
    fly_large_hold(usable);
}

/* The smallest guarded block of at least want bytes and at most a
 * quarter more (the newest of those), or NULL; *usable is its size. */
static void *guarded_take(size_t want, size_t *usable)
{
    quarantine_t *q = secure_quarantine;
    if (q == NULL || q->q_guarded == 0)
        return NULL;
    uint32_t best = UINT32_MAX;
    for (uint32_t i = q->q_guarded; i-- > 0;) {
        size_t u = q->q_large_usable[i];
        if (u >= want && u <= want + want / 4 && (best == UINT32_MAX || u < q->q_large_usable[best]))
            best = i;
    }
    if (best == UINT32_MAX)
        return NULL;
    void *p = q->q_large[best];
    *usable = q->q_large_usable[best];
    q->q_guarded--;
    q->q_guarded_bytes -= *usable;
    memmove(q->q_large + best, q->q_large + best + 1, (q->q_guarded - best) * sizeof(q->q_large[0]));
    memmove(q->q_large_usable + best, q->q_large_usable + best + 1,
            (q->q_guarded - best) * sizeof(q->q_large_usable[0]));
    fly_large_unhold(*usable, true);
    return p;
}

static void quarantine_put_os(void *p, size_t slot, const char *fname)
{
    quarantine_t *q = quarantine_of_thread_os();
    if (q == NULL) {
        release_os(p, slot, fname);
        return;
    }
    while (q->q_count && (q->q_count == QUARANTINE_SLOTS || q->q_bytes + slot > QUARANTINE_BYTES)) {
        uint32_t i = fly_random_below(q->q_count);
        void *old = q->q_block[i];
        uint32_t old_slot = q->q_size[i];
        q->q_count--;
        q->q_block[i] = q->q_block[q->q_count];
        q->q_size[i] = q->q_size[q->q_count];
        q->q_bytes -= old_slot;
        hold(old, -1);
        release_os(old, old_slot, fname);
    }
    q->q_block[q->q_count] = p;
    q->q_size[q->q_count] = (uint32_t)slot;
    q->q_count++;
    q->q_bytes += slot;
    hold(p, 1);
}

static void quarantine_empty_os(const char *fname)
{
    quarantine_t *q = secure_quarantine;
    if (q == NULL)
        return;
    for (uint32_t i = 0; i < q->q_count; i++) {
        hold(q->q_block[i], -1);
        release_os(q->q_block[i], q->q_size[i], fname);
    }
    while (q->q_guarded)
        guarded_drop_oldest_os(q, fname);
    secure_quarantine = NULL;
    /* Zeroed, as every freed slot must be (its reuse is checked). */
    size_t slot = fly_block_usable(q, fname);
    hold(q, -1);
    memset(q, 0, slot);
    real_free_os(q, fname);
}

/* A large block of request bytes from the thread's guarded ones, armed
 * for size bytes, or NULL. */
FLY_INLINE void *reuse_guarded(size_t request, size_t size)
{
    if (request <= FLY_SMALL_MAX || request > FLY_LARGE_MAX)
        return NULL;
    size_t usable;
    void *p = guarded_take(request, &usable);
    if (p)
        seal(p, size, usable - FLY_PAGE);
    return p;
}

void *fly_secure_malloc_os(size_t size)
{
    size_t request = fly_secure_request(size, 16);
    void *p = reuse_guarded(request, size);
    if (p)
        return p;
    return fly_secure_arm_os(real_alloc_os(request, 16, false), size, "malloc");
}

void *fly_secure_calloc_os(size_t nmemb, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    /* A small slot is proved all zero by arm; a large one is zeroed here. */
    size_t request = fly_secure_request(total, 16);
    void *p = reuse_guarded(request, total);
    if (p)
        return memset(p, 0, total);
    return fly_secure_arm_os(real_alloc_os(request, 16, request > FLY_SMALL_MAX), total, "calloc");
}

void *fly_secure_aligned_os(size_t align, size_t size, const char *fname)
{
    return fly_secure_arm_os(real_alloc_os(fly_secure_request(size, align), align, false), size, fname);
}

size_t fly_secure_usable(const void *p, const char *fname)
{
    bool big;
    size_t slot = slot_of(p, fname, &big);
    return unseal(p, slot, fname);
}

void fly_secure_free_os(void *p, const char *fname)
{
    if (p == NULL)
        return;
    if (fly_region_kind(p) == FLY_REGION_MAP_HUGE && fly_huge_live_size(p) == 0) {
        real_free_os(p, fname);            /* which says what it is: a double free */
        return;
    }
    bool big;
    size_t slot = slot_of(p, fname, &big);
    unseal(p, slot, fname);
    if (big) {
        if (fly_region_kind(p) == FLY_REGION_MAP_HUGE) {
            unguard_and_free_os(p, slot + FLY_PAGE, fname);
            return;
        }
        *canary_at(p, slot) ^= FREED_CANARY;
        guarded_put_os(p, slot + FLY_PAGE, fname);
        return;
    }
    memset(p, 0, slot);
    fly_block_mark(p);
    quarantine_put_os(p, slot, fname);
}

void *fly_secure_realloc_os(void *p, size_t size)
{
    if (p == NULL)
        return fly_secure_malloc_os(size);
    if (size == 0) {
        fly_secure_free_os(p, "realloc");
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
    if (big && request > FLY_SMALL_MAX) {
        if (size + CANARY_BYTES <= slot && slot - size <= slot / 2) {
            seal(p, size, slot);
            return p;
        }
        /* Large to large: the allocator below grows or shrinks it in
         * place when it can (a string that keeps growing is not copied
         * each time), the guard page moving with the end. */
        fly_os_protect((char *)p + slot, FLY_PAGE, false);
        fly_secure_enter();
        void *q = fly_realloc(p, request);
        fly_secure_leave();
        if (q == NULL) {
            fly_os_protect((char *)p + slot, FLY_PAGE, true);
            return NULL;
        }
        return fly_secure_arm_os(q, size, "realloc");
    }
    void *q = fly_secure_malloc_os(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, FLY_MIN(old, size));
    fly_secure_free_os(p, "realloc");
    return q;
}

void fly_secure_flush_thread_os(const char *fname)
{
    quarantine_empty_os(fname);
    fly_secure_enter();
    fly_tcache_flush_thread();
    fly_secure_leave();
}

void fly_secure_thread_exit_os(void)
{
    quarantine_empty_os("free");
    secure_real_tc = &fly_tcache_dead;
}

void fly_secure_check_at_exit(void)
{
    const quarantine_t *q = secure_quarantine;
    for (uint32_t i = 0; q && i < q->q_count; i++) {
        const void *p = q->q_block[i];
        if (!fly_block_is_marked(p) ||
            !all_zero((const char *)p + sizeof(fly_block_word_t), q->q_size[i] - sizeof(fly_block_word_t)))
            fly_panic_ptr("exit", "write after free to block", p);
    }
}
