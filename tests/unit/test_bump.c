/*
 * test_bump.c: proves the bump engine's promises (src/bump.c) through the
 * API, run under FLYMALLOC_POLICY=arena (the test re-executes itself with
 * it, since the policy is chosen at initialization).
 *
 *   carving       small blocks come from bump regions, of their class's
 *                 size, one after another; a freed block is not handed
 *                 out again while its chunk holds others; large blocks
 *                 come from the heap;
 *   live_bytes    statistics count bump blocks as live until freed;
 *   realloc       within the class in place; to another class, or beyond
 *                 32 KiB and back, moved with the contents;
 *   aligned       memalign, posix_memalign and aligned_alloc up to 32 KiB
 *                 give aligned bump blocks whose neighbours stay intact
 *                 (and stay aligned after the guard rail trips);
 *   chunk_reuse   chunks whose blocks were all freed, by other threads,
 *                 are taken again (bc_chunks_reused) and mapped memory
 *                 stays bounded over the rounds (3.2 MB freed: under the
 *                 guard rail's 4 MiB floor);
 *   bad_frees     (forked) a second free, soon or after 100 mallocs, a
 *                 free of a pointer into a block, into space never carved
 *                 and into the region's header, and realloc and
 *                 malloc_usable_size of a freed block abort naming the
 *                 function, the problem and the address;
 *   guard_rail    (forked) a run that frees three blocks of four gets its
 *                 blocks from the heap's zones once its frees pass the
 *                 floor and the limit, and both kinds stay usable;
 *   stress        four threads pass blocks of random sizes to each other
 *                 and free them, every block's contents checked; they free
 *                 far more than the floor, so the guard rail trips midway
 *                 and bump and slab blocks are mixed.
 */
#include "badcase.h"
#include "check.h"
#include "bump.h"
#include "flymalloc.h"
#include "region.h"

#include <pthread.h>
#include <stdbool.h>

static fly_bump_counts_t counts(void)
{
    fly_bump_counts_t bc;
    fly_bump_counts(&bc);
    return bc;
}

/* Class of n bytes' size, as malloc_usable_size reports it. */
static size_t class_size(size_t n)
{
    void *p = fly_malloc(n);
    size_t u = fly_malloc_usable_size(p);
    fly_free(p);
    return u;
}

static void carving(void)
{
    enum { N = 16 };
    char *p[N];
    size_t cs = class_size(48);
    for (int i = 0; i < N; i++) {
        p[i] = fly_malloc(48);
        CHECK(p[i] && fly_region_kind(p[i]) == FLY_REGION_MAP_BUMP, "a small block is not in a bump region");
        CHECK(fly_malloc_usable_size(p[i]) == cs, "usable size %zu, class %zu", fly_malloc_usable_size(p[i]), cs);
        memset(p[i], i, 48);
    }
    int next = 0;
    for (int i = 1; i < N; i++)
        next += p[i] == p[i - 1] + cs;
    CHECK(next >= N - 2, "only %d of %d consecutive mallocs got the next address", next, N - 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 48; j++)
            CHECK(p[i][j] == (char)i, "block %d changed", i);
    char *large = fly_malloc((32 << 10) + 1);
    CHECK(large && fly_region_kind(large) == FLY_REGION_MAP_HEAP, "a large block is not in a heap region");
    fly_free(large);
    fly_free(p[3]);
    for (int i = 0; i < 1000; i++) {
        char *q = fly_malloc(48);
        CHECK(q != p[3], "a freed block was handed out again");
        fly_free(q);
    }
    for (int i = 0; i < N; i++)
        if (i != 3)
            fly_free(p[i]);
    t_log("carving: ok\n");
}

static void live_bytes(void)
{
    enum { N = 5000 };
    static void *p[N];
    fly_malloc_trim(0);
    fly_stats_t s0, s1, s2;
    fly_stats_get(&s0, sizeof s0);
    size_t cs = class_size(200);
    for (int i = 0; i < N; i++)
        p[i] = fly_malloc(200);
    fly_malloc_trim(0);
    fly_stats_get(&s1, sizeof s1);
    for (int i = 0; i < N; i++)
        fly_free(p[i]);
    fly_malloc_trim(0);
    fly_stats_get(&s2, sizeof s2);
    CHECK(s1.st_live_bytes == s0.st_live_bytes + N * cs, "live bytes %llu -> %llu after %d blocks of %zu",
          (unsigned long long)s0.st_live_bytes, (unsigned long long)s1.st_live_bytes, N, cs);
    CHECK(s2.st_live_bytes == s0.st_live_bytes, "live bytes %llu after freeing, %llu before",
          (unsigned long long)s2.st_live_bytes, (unsigned long long)s0.st_live_bytes);
    t_log("live_bytes: ok\n");
}

static void realloc_case(void)
{
    char *p = fly_malloc(40);
    memset(p, 'a', 40);
    size_t cs = fly_malloc_usable_size(p);
    CHECK(fly_realloc(p, cs) == p, "a realloc within the class moved");
    char *m = fly_realloc(p, 5000);
    CHECK(m && m != p && fly_region_kind(m) == FLY_REGION_MAP_BUMP, "growing to another class should move");
    memset(m + 40, 'b', 5000 - 40);
    char *big = fly_realloc(m, 100 << 10);
    CHECK(big && fly_region_kind(big) == FLY_REGION_MAP_HEAP, "100 KiB should leave the engine");
    for (int i = 0; i < 5000; i++)
        CHECK(big[i] == (i < 40 ? 'a' : 'b'), "contents lost at %d", i);
    char *back = fly_realloc(big, 10);
    CHECK(back && fly_region_kind(back) == FLY_REGION_MAP_BUMP && memcmp(back, "aaaaaaaaaa", 10) == 0,
          "back to a small block");
    fly_free(back);
    t_log("realloc: ok\n");
}

static void aligned(void)
{
    size_t aligns[] = { 32, 64, 256, 1024, 4096, 8192, 32768 };
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        char *before = fly_malloc(24);
        memset(before, 'x', 24);
        void *p = NULL;
        CHECK(fly_posix_memalign(&p, aligns[i], 72) == 0, "posix_memalign(%zu)", aligns[i]);
        CHECK(((uintptr_t)p & (aligns[i] - 1)) == 0 && fly_region_kind(p) == FLY_REGION_MAP_BUMP,
              "posix_memalign(%zu) gave %p", aligns[i], p);
        CHECK(fly_malloc_usable_size(p) >= 72, "usable");
        memset(p, 'y', 72);
        char *q = fly_memalign(aligns[i], 10), *r = fly_aligned_alloc(aligns[i], aligns[i]);
        CHECK(q && r && ((uintptr_t)q & (aligns[i] - 1)) == 0 && ((uintptr_t)r & (aligns[i] - 1)) == 0,
              "memalign/aligned_alloc(%zu)", aligns[i]);
        for (int j = 0; j < 24; j++)
            CHECK(before[j] == 'x', "the block before an aligned one changed");
        fly_free(r);
        fly_free(q);
        fly_free(p);
        fly_free(before);
    }
    t_log("aligned: ok\n");
}

enum { REUSE_BLOCKS = 800 };
static void *reuse_blocks[REUSE_BLOCKS];

static void *reuse_alloc(void *arg)
{
    (void)arg;
    for (int i = 0; i < REUSE_BLOCKS; i++) {
        reuse_blocks[i] = fly_malloc(1000 + (size_t)(i % 7) * 16);
        CHECK(reuse_blocks[i], "malloc");
        memset(reuse_blocks[i], i & 0xff, 1000);
    }
    return NULL;
}

static void *reuse_free(void *arg)
{
    (void)arg;
    for (int i = 0; i < REUSE_BLOCKS; i++) {
        for (int j = 0; j < 1000; j += 97)
            CHECK(((unsigned char *)reuse_blocks[i])[j] == (i & 0xff), "block %d changed", i);
        fly_free(reuse_blocks[i]);
    }
    return NULL;
}

static void chunk_reuse(void)
{
    fly_stats_t s0;
    fly_stats_get(&s0, sizeof s0);
    fly_bump_counts_t c0 = counts();
    for (int round = 0; round < 4; round++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, reuse_alloc, NULL) == 0, "pthread_create");
        pthread_join(t, NULL);
        CHECK(pthread_create(&t, NULL, reuse_free, NULL) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    fly_bump_counts_t c1 = counts();
    fly_stats_t s1;
    fly_stats_get(&s1, sizeof s1);
    t_log("chunk_reuse: %llu chunks taken, %llu reused; mapped %llu -> %llu\n",
          (unsigned long long)(c1.bc_chunks - c0.bc_chunks),
          (unsigned long long)(c1.bc_chunks_reused - c0.bc_chunks_reused),
          (unsigned long long)s0.st_mapped_bytes, (unsigned long long)s1.st_mapped_bytes);
    CHECK(c1.bc_chunks - c0.bc_chunks >= 4, "too few chunks taken");
    CHECK(c1.bc_chunks_reused - c0.bc_chunks_reused >= 3, "freed chunks were not reused");
    CHECK(s1.st_mapped_bytes <= s0.st_mapped_bytes + FLY_REGION, "mapped memory grew");
    CHECK(!c1.bc_spilled, "chunk reuse counted as unreclaimed frees");
}

enum { STRESS_THREADS = 4, STRESS_OPS = 40000, SLOTS = 512 };
static void *slots[SLOTS];
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t stress_size(uint32_t x)
{
    return x % 16 == 0 ? 2000 + x % 40000 : 1 + x % 300;
}

static void stamp(unsigned char *p, size_t n, uint32_t x)
{
    memcpy(p, &n, sizeof n);
    memcpy(p + sizeof n, &x, sizeof x);
    for (size_t i = 12; i < n; i += 61)
        p[i] = (unsigned char)(x + i);
}

static void verify(unsigned char *p)
{
    size_t n;
    uint32_t x;
    memcpy(&n, p, sizeof n);
    memcpy(&x, p + sizeof n, sizeof x);
    CHECK(fly_malloc_usable_size(p) >= n, "usable size %zu < %zu", fly_malloc_usable_size(p), n);
    for (size_t i = 12; i < n; i += 61)
        CHECK(p[i] == (unsigned char)(x + i), "block %p of %zu bytes changed at %zu", (void *)p, n, i);
}

static void *stress_worker(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    for (int op = 0; op < STRESS_OPS; op++) {
        x = x * 1103515245u + 12345u;
        size_t n = stress_size(x >> 8);
        if (n < 12)
            n = 12;
        unsigned char *p = fly_malloc(n);
        CHECK(p, "malloc(%zu)", n);
        stamp(p, n, x);
        pthread_mutex_lock(&slot_lock);
        unsigned char *old = slots[x % SLOTS];
        slots[x % SLOTS] = p;
        pthread_mutex_unlock(&slot_lock);
        if (old) {
            verify(old);
            fly_free(old);
        }
    }
    return NULL;
}

static void stress(void)
{
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, stress_worker, (void *)(uintptr_t)(i + 1)) == 0, "pthread_create");
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) {
            verify(slots[i]);
            fly_free(slots[i]);
            slots[i] = NULL;
        }
    t_log("stress: ok\n");
}

static void double_free(void)
{
    char *a = fly_malloc(48);
    fly_free(a);
    bad_expect(a);
    fly_free(a);
}

static void double_free_later(void)
{
    char *a = fly_malloc(5000);
    fly_free(a);
    for (int i = 0; i < 100; i++)
        fly_malloc(5000);
    bad_expect(a);
    fly_free_sized(a, 5000);
}

static void free_interior(void)
{
    char *a = fly_malloc(100);
    bad_expect(a + 16);
    fly_free(a + 16);
}

static void free_uncarved(void)
{
    char *a = fly_malloc(100);
    char *end = (char *)(((uintptr_t)a | ((1u << 20) - 1)) + 1) - 16;   /* the chunk's last granule */
    bad_expect(end);
    fly_free(end);
}

static void free_header(void)
{
    char *a = fly_malloc(100);
    char *h = (char *)((uintptr_t)a & ~((uintptr_t)FLY_REGION - 1)) + 4096;
    bad_expect(h);
    fly_free(h);
}

static void realloc_freed(void)
{
    char *a = fly_malloc(64);
    fly_free(a);
    bad_expect(a);
    fly_realloc(a, 128);
}

static void usable_freed(void)
{
    char *a = fly_malloc(64);
    fly_free(a);
    bad_expect(a);
    fly_malloc_usable_size(a);
}

static void guard_rail(void)
{
    /* Up to 128 MiB of 4000-byte blocks, three of every four freed as it
     * goes: the program's frees pass 4 MiB and half of what was handed
     * out early; then fills come from zones. */
    enum { N = 128 << 8 };
    static char *blocks[N];
    int spilled_at = -1;
    for (int i = 0; i < N; i++) {
        blocks[i] = fly_malloc(4000);
        CHECK(blocks[i], "malloc");
        memset(blocks[i], (char)i, 4000);
        if (fly_region_kind(blocks[i]) == FLY_REGION_MAP_HEAP && spilled_at < 0)
            spilled_at = i;
        if (i % 4 != 0) {
            fly_free(blocks[i]);
            blocks[i] = NULL;
        }
    }
    fly_bump_counts_t bc = counts();
    t_log("guard_rail: zones serve from block %d of %d (%llu bytes freed of %llu carved)\n", spilled_at, N,
          (unsigned long long)bc.bc_freed_bytes, (unsigned long long)bc.bc_carved_bytes);
    CHECK(bc.bc_spilled && spilled_at > 0, "the guard rail did not trip");
    CHECK(spilled_at < N / 2, "the guard rail tripped late: block %d", spilled_at);
    for (int i = 0; i < N; i++)
        if (blocks[i]) {
            CHECK(blocks[i][3999] == (char)i, "block %d changed", i);
            fly_free(blocks[i]);
        }
    /* Aligned blocks after the spill, while magazines may still hold bump
     * blocks (which are not laid at multiples of their size). */
    size_t aligns[] = { 64, 4096, 8192, 32768, 65536 };
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
        for (int k = 0; k < 50; k++) {
            void *p = NULL;
            CHECK(fly_posix_memalign(&p, aligns[i], 8 + k * 40) == 0 && ((uintptr_t)p & (aligns[i] - 1)) == 0,
                  "posix_memalign(%zu) after the spill gave %p", aligns[i], p);
            fly_free(p);
        }
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *pol = getenv("FLYMALLOC_POLICY");
    if (pol == NULL || strcmp(pol, "arena") != 0) {
        setenv("FLYMALLOC_POLICY", "arena", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "cannot re-execute under FLYMALLOC_POLICY=arena");
    }
    char name[32];
    size_t len = sizeof name;
    CHECK(fly_ctl("policy.name", name, &len, NULL, 0) == 0 && strcmp(name, "arena") == 0,
          "the policy is not arena");
    carving();
    live_bytes();
    realloc_case();
    aligned();
    chunk_reuse();
    bad_case("double free", "free", "double free", double_free);
    bad_case("double free after 100 mallocs", "free_sized", "double free", double_free_later);
    bad_case("interior pointer", "free", "invalid pointer", free_interior);
    bad_case("space never carved", "free", "invalid pointer", free_uncarved);
    bad_case("the region's header", "free", "invalid pointer", free_header);
    bad_case("realloc of a freed block", "realloc", "double free", realloc_freed);
    bad_case("usable size of a freed block", "malloc_usable_size", "double free", usable_freed);
    int rc = bad_finish();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        guard_rail();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "guard_rail failed in its child");
    stress();
    fly_bump_counts_t bc = counts();
    CHECK(bc.bc_spilled, "the stress freed %llu bytes and the guard rail did not trip",
          (unsigned long long)bc.bc_freed_bytes);
    return rc;
}
