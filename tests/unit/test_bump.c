/*
 * test_bump.c: proves the bump engine's promises (src/bump.c) through the
 * API, run under FLYMALLOC_POLICY=arena (the test re-executes itself with
 * it, since the policy is chosen at initialization).
 *
 *   exact_sizes   consecutive small mallocs lie one after another, each
 *                 taking its size rounded to 16 bytes, in a bump region;
 *                 malloc_usable_size says that size;
 *   take_back     freeing the thread's last block gives its space to the
 *                 next malloc (and calloc zeroes it again); freeing any
 *                 other block does not;
 *   realloc       the last block grows and shrinks in place; another moves
 *                 with its contents; sizes beyond 32 KiB leave the engine;
 *   aligned       memalign, posix_memalign and aligned_alloc up to a page
 *                 give aligned bump blocks whose neighbours stay intact;
 *   chunk_reuse   chunks whose blocks were all freed, by other threads,
 *                 are taken again (bc_chunks_reused) and mapped memory
 *                 stays bounded over many rounds (24 MB freed: under the
 *                 guard rail's floor);
 *   bad_frees     (forked) a second free of a block not last, a free of a
 *                 pointer into a block, of the end of the last block and
 *                 of a block already taken back, and realloc and
 *                 malloc_usable_size of a freed block abort naming the
 *                 function, the problem and the address;
 *   guard_rail    (forked) a run that frees three blocks of four moves new
 *                 allocations to the general heap once the freed bytes
 *                 pass the floor and the limit, and both kinds of block
 *                 stay usable;
 *   stress        four threads pass blocks of random sizes to each other
 *                 and free them, every block's contents checked; they free
 *                 far more than the floor, so the guard rail trips midway
 *                 and bump and slab blocks are mixed.
 */
#include "badcase.h"
#include "check.h"
#include "flymalloc.h"
#include "bump.h"
#include "region.h"

#include <pthread.h>
#include <stdbool.h>

static fly_bump_counts_t counts(void)
{
    fly_bump_counts_t bc;
    fly_bump_counts(&bc);
    return bc;
}

static void exact_sizes(void)
{
    char *a = fly_malloc(24), *b = fly_malloc(100), *c = fly_malloc(1), *d = fly_malloc(0);
    CHECK(a && b && c && d, "malloc");
    CHECK(fly_region_kind(a) == FLY_REGION_MAP_BUMP, "a small block is not in a bump region");
    CHECK(b == a + 32 && c == b + 112 && d == c + 16, "blocks not consecutive: %p %p %p %p", (void *)a,
          (void *)b, (void *)c, (void *)d);
    CHECK(fly_malloc_usable_size(a) == 32 && fly_malloc_usable_size(b) == 112 &&
              fly_malloc_usable_size(c) == 16 && fly_malloc_usable_size(d) == 16,
          "usable sizes %zu %zu %zu %zu", fly_malloc_usable_size(a), fly_malloc_usable_size(b),
          fly_malloc_usable_size(c), fly_malloc_usable_size(d));
    char *big = fly_malloc(32 << 10);
    CHECK(big && fly_region_kind(big) == FLY_REGION_MAP_BUMP && fly_malloc_usable_size(big) == 32 << 10,
          "32 KiB block");
    char *large = fly_malloc((32 << 10) + 1);
    CHECK(large && fly_region_kind(large) == FLY_REGION_MAP_HEAP, "a large block is not in a heap region");
    fly_free(large);
    fly_free(big);
    fly_free(d);
    fly_free(c);
    fly_free(b);
    fly_free(a);
    t_log("exact_sizes: ok\n");
}

static void take_back(void)
{
    fly_bump_counts_t c0 = counts();
    char *p = fly_malloc(64);
    memset(p, 0xff, 64);
    fly_free(p);
    char *q = fly_calloc(1, 64);
    CHECK(q == p, "the last block's space was not taken back: %p then %p", (void *)p, (void *)q);
    for (int i = 0; i < 64; i++)
        CHECK(q[i] == 0, "calloc over a taken-back block is not zeroed at %d", i);
    char *r = fly_malloc(64);
    fly_free(q);                        /* not the last block */
    char *s = fly_malloc(64);
    CHECK(s == r + 64, "a freed block that was not last was reused: %p", (void *)s);
    fly_bump_counts_t c1 = counts();
    CHECK(c1.bc_nmalloc == c0.bc_nmalloc + 4 && c1.bc_nfree == c0.bc_nfree + 2,
          "counts: %llu mallocs, %llu frees", (unsigned long long)(c1.bc_nmalloc - c0.bc_nmalloc),
          (unsigned long long)(c1.bc_nfree - c0.bc_nfree));
    fly_free(s);
    fly_free(r);
    t_log("take_back: ok\n");
}

static void realloc_case(void)
{
    char *k = fly_malloc(16);               /* so p is not the chunk's first block */
    char *p = fly_malloc(40);
    memset(p, 'a', 40);
    char *g = fly_realloc(p, 4000);
    CHECK(g == p && fly_malloc_usable_size(g) == 4000, "the last block did not grow in place");
    memset(g + 40, 'b', 3960);
    char *h = fly_realloc(g, 100);
    CHECK(h == p && fly_malloc_usable_size(h) == 112, "the last block did not shrink in place");
    char *after = fly_malloc(16);
    CHECK(after == p + 112, "the space the shrink gave back was not reused");
    char *m = fly_realloc(h, 5000);
    CHECK(m != h && fly_region_kind(m) == FLY_REGION_MAP_BUMP, "a block not last should move");
    for (int i = 0; i < 100; i++)
        CHECK(m[i] == (i < 40 ? 'a' : 'b'), "contents lost at %d", i);
    char *big = fly_realloc(m, 100 << 10);
    CHECK(big && fly_region_kind(big) == FLY_REGION_MAP_HEAP, "100 KiB should leave the engine");
    for (int i = 0; i < 100; i++)
        CHECK(big[i] == (i < 40 ? 'a' : 'b'), "contents lost at %d after leaving", i);
    char *back = fly_realloc(big, 10);
    CHECK(back && fly_region_kind(back) == FLY_REGION_MAP_BUMP && memcmp(back, "aaaaaaaaaa", 10) == 0,
          "back to a small block");
    fly_free(back);
    fly_free(after);
    fly_free(k);
    t_log("realloc: ok\n");
}

static void aligned(void)
{
    size_t aligns[] = { 32, 64, 256, 1024, 4096 };
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

enum { REUSE_BLOCKS = 3000 };
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
    for (int round = 0; round < 8; round++) {
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
    CHECK(c1.bc_chunks - c0.bc_chunks >= 8 * 3, "too few chunks taken");
    CHECK(c1.bc_chunks_reused - c0.bc_chunks_reused >= 7 * 3, "freed chunks were not reused");
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

static void double_free_not_last(void)
{
    char *a = fly_malloc(48);
    fly_malloc(16);
    fly_free(a);
    bad_expect(a);
    fly_free(a);
}

static void double_free_other_size(void)
{
    char *a = fly_malloc(5000);
    fly_malloc(16);
    fly_free(a);
    fly_malloc(5000);
    bad_expect(a);
    fly_free_sized(a, 5000);
}

static void free_interior(void)
{
    char *a = fly_malloc(100);
    fly_malloc(16);
    bad_expect(a + 16);
    fly_free(a + 16);
}

static void free_end_of_last(void)
{
    char *a = fly_malloc(100);
    bad_expect(a + 112);
    fly_free(a + 112);
}

static void free_taken_back(void)
{
    fly_malloc(16);
    char *a = fly_malloc(100);
    fly_free(a);
    bad_expect(a);
    fly_free(a);
}

static void realloc_freed(void)
{
    char *a = fly_malloc(64);
    fly_malloc(16);
    fly_free(a);
    bad_expect(a);
    fly_realloc(a, 128);
}

static void usable_freed(void)
{
    char *a = fly_malloc(64);
    fly_malloc(16);
    fly_free(a);
    bad_expect(a);
    fly_malloc_usable_size(a);
}

static void guard_rail(void)
{
    /* Up to 128 MiB of 4000-byte blocks, three of every four freed as it
     * goes (never the last): the dead bytes pass 32 MiB and half of what
     * was handed out at about 43 MiB. */
    enum { N = 128 << 8 };
    static char *blocks[N];
    int spilled_at = -1;
    for (int i = 0; i < N; i++) {
        blocks[i] = fly_malloc(4000);
        CHECK(blocks[i], "malloc");
        memset(blocks[i], (char)i, 4000);
        if (fly_region_kind(blocks[i]) == FLY_REGION_MAP_HEAP && spilled_at < 0)
            spilled_at = i;
        if (i > 0 && (i - 1) % 4 != 0) {
            fly_free(blocks[i - 1]);
            blocks[i - 1] = NULL;
        }
    }
    fly_bump_counts_t bc = counts();
    t_log("guard_rail: spilled at block %d of %d (%llu bytes freed of %llu)\n", spilled_at, N,
          (unsigned long long)bc.bc_freed_bytes, (unsigned long long)bc.bc_bytes);
    CHECK(bc.bc_spilled && spilled_at > 0, "the guard rail did not trip");
    CHECK(spilled_at < N / 2, "the guard rail tripped late: block %d", spilled_at);
    char *small = fly_malloc(100);
    CHECK(small && fly_region_kind(small) == FLY_REGION_MAP_HEAP, "small blocks still come from the engine");
    for (int i = 0; i < N; i++)
        if (blocks[i]) {
            CHECK(blocks[i][3999] == (char)i, "block %d changed", i);
            fly_free(blocks[i]);
        }
    fly_free(small);
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
    exact_sizes();
    take_back();
    realloc_case();
    aligned();
    chunk_reuse();
    bad_case("double free, not last", "free", "double free", double_free_not_last);
    bad_case("double free, free_sized", "free_sized", "double free", double_free_other_size);
    bad_case("interior pointer", "free", "invalid pointer", free_interior);
    bad_case("end of the last block", "free", "invalid pointer", free_end_of_last);
    bad_case("free of a taken-back block", "free", "invalid pointer", free_taken_back);
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
