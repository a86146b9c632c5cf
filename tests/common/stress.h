/*
 * stress.h: the multi-threaded allocation stress shared by three tests
 * (api/test_thread_stress.c on the prefixed API, preload/test_thread_stress_libc.c
 * on malloc under LD_PRELOAD or static linking, tsan/test_stress_tsan.c under
 * ThreadSanitizer).  The including file defines the allocator macros
 * ST_MALLOC, ST_CALLOC, ST_REALLOC, ST_FREE, ST_USABLE, ST_POSIX_MEMALIGN.
 *
 * What it proves: with several threads allocating random sizes from 1 B to
 * 64 KiB (and now and then 1-4 MiB), every block is 16-aligned, at least its
 * size, zeroed when calloc'd, and keeps the pattern its owner wrote (derived
 * from its address and a serial number) until it is freed; blocks pass
 * between threads through a shared ring, so most frees are cross-thread, and
 * some are realloc'd by the receiving thread, which must keep their content.
 * Any corruption, overlap between live blocks (one thread's fill would break
 * another's pattern) or lost block fails a CHECK.
 */
#ifndef FLY_TEST_STRESS_H
#define FLY_TEST_STRESS_H

#include "check.h"

#include <pthread.h>

typedef struct {
    char *p;
    size_t n;
    uint64_t tag;
} st_item_t;

enum { ST_RING = 1024, ST_LOCAL = 64, ST_MAXTHREADS = 16 };

static struct {
    pthread_mutex_t lock;
    st_item_t item[ST_RING];
    unsigned head, count;
} st_ring = { .lock = PTHREAD_MUTEX_INITIALIZER };

static long st_ops_per_thread;

/* Large blocks are checked in pieces (head, tail, one word per page) so that
 * a 4 MiB block costs little; blocks up to 64 KiB are checked whole. */
static void st_fill(char *p, size_t n, uint64_t tag)
{
    if (n <= 65536) {
        t_fill(p, n, tag);
        return;
    }
    t_fill(p, 16384, tag);
    t_fill(p + n - 16384, 16384, tag + 1);
    for (size_t off = 16384; off + 16384 + 8 <= n; off += 4096)
        t_fill(p + off, 8, tag + off);
}
static void st_verify(const st_item_t *it, const char *when)
{
    char *p = it->p;
    size_t n = it->n, bad;
    if (n <= 65536) {
        bad = t_verify(p, n, it->tag);
        CHECK(bad == n, "%s: block %p size %zu corrupted at offset %zu", when, (void *)p, n, bad);
        return;
    }
    bad = t_verify(p, 16384, it->tag);
    CHECK(bad == 16384, "%s: block %p size %zu corrupted at offset %zu", when, (void *)p, n, bad);
    bad = t_verify(p + n - 16384, 16384, it->tag + 1);
    CHECK(bad == 16384, "%s: block %p size %zu tail corrupted at offset %zu", when, (void *)p, n,
          n - 16384 + bad);
    for (size_t off = 16384; off + 16384 + 8 <= n; off += 4096)
        CHECK(t_verify(p + off, 8, it->tag + off) == 8, "%s: block %p size %zu corrupted at offset %zu",
              when, (void *)p, n, off);
}

static size_t st_size(uint64_t *seed)
{
    uint64_t r = t_rand(seed);
    unsigned c = (unsigned)(r % 1000);
    r >>= 16;
    if (c < 3)
        return (1u << 20) + (size_t)(r % (3u << 20));  /* 1-4 MiB */
    if (c < 60)
        return 1 + (size_t)(r % 65536);                /* up to 64 KiB */
    if (c < 300)
        return 1 + (size_t)(r % 4096);
    return 1 + (size_t)(r % 256);
}

static void st_new(st_item_t *it, uint64_t *seed, unsigned id, uint64_t serial)
{
    size_t n = st_size(seed);
    void *p = NULL;
    unsigned how = (unsigned)(t_rand(seed) % 8);
    if (how == 0) {
        p = ST_CALLOC(1, n);
        CHECK(p != NULL, "calloc(1, %zu)", n);
        const unsigned char *c = p;
        size_t lim = n < 4096 ? n : 4096;
        for (size_t i = 0; i < lim; i++)
            CHECK(c[i] == 0, "calloc(1, %zu): byte %zu is %#x", n, i, c[i]);
        CHECK(c[n - 1] == 0, "calloc(1, %zu): last byte is %#x", n, c[n - 1]);
    } else if (how == 1) {
        CHECK(ST_POSIX_MEMALIGN(&p, (size_t)64 << (t_rand(seed) % 4), n) == 0, "posix_memalign(%zu)", n);
    } else {
        p = ST_MALLOC(n);
    }
    CHECK(p != NULL, "allocation of %zu bytes failed", n);
    CHECK(((uintptr_t)p & 15) == 0, "allocation of %zu bytes = %p misaligned", n, p);
    CHECK(ST_USABLE(p) >= n, "usable size %zu < %zu", (size_t)ST_USABLE(p), n);
    it->p = p;
    it->n = n;
    it->tag = (uint64_t)(uintptr_t)p ^ ((uint64_t)id << 56) ^ (serial << 8);
    st_fill(p, n, it->tag);
}

static void st_free(st_item_t *it, const char *when)
{
    st_verify(it, when);
    ST_FREE(it->p);
    it->p = NULL;
}

static void st_realloc(st_item_t *it, uint64_t *seed, uint64_t serial)
{
    size_t n = st_size(seed);
    st_verify(it, "before realloc");
    char *q = ST_REALLOC(it->p, n);
    CHECK(q != NULL, "realloc(%p, %zu)", (void *)it->p, n);
    CHECK(((uintptr_t)q & 15) == 0, "realloc = %p misaligned", (void *)q);
    size_t old = it->n, keep = old < n ? old : n;
    if (old <= 65536) {                 /* the old block was filled whole */
        size_t bad = t_verify(q, keep, it->tag);
        CHECK(bad == keep, "realloc %zu -> %zu lost content at offset %zu", old, n, bad);
    } else if (n >= old) {              /* grown: the old piecewise pattern */
        st_item_t moved = { q, old, it->tag };
        st_verify(&moved, "after realloc");
    } else {                            /* shrunk from large: the head piece */
        size_t h = keep < 16384 ? keep : 16384;
        CHECK(t_verify(q, h, it->tag) == h, "realloc %zu -> %zu lost content", old, n);
    }
    it->p = q;
    it->n = n;
    it->tag = (uint64_t)(uintptr_t)q ^ (serial << 8) ^ 0xABCDULL;
    st_fill(q, n, it->tag);
}

static void *st_worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (id + 1);
    st_item_t local[ST_LOCAL] = { { 0 } };
    uint64_t serial = 0;
    for (long op = 0; op < st_ops_per_thread; op++) {
        uint64_t r = t_rand(&seed);
        int k = (int)((r >> 8) % ST_LOCAL);
        unsigned what = (unsigned)(r % 16);
        if (what < 6) {                         /* allocate, freeing what was there */
            if (local[k].p)
                st_free(&local[k], "local free");
            st_new(&local[k], &seed, id, ++serial);
        } else if (what < 8) {                  /* local free */
            if (local[k].p)
                st_free(&local[k], "local free");
        } else if (what < 9) {                  /* local realloc */
            if (local[k].p)
                st_realloc(&local[k], &seed, ++serial);
        } else if (what < 12) {                 /* hand a block to another thread */
            if (!local[k].p)
                continue;
            pthread_mutex_lock(&st_ring.lock);
            if (st_ring.count < ST_RING) {
                st_ring.item[(st_ring.head + st_ring.count) % ST_RING] = local[k];
                st_ring.count++;
                local[k].p = NULL;
            }
            pthread_mutex_unlock(&st_ring.lock);
            if (local[k].p)
                st_free(&local[k], "local free (ring full)");
        } else {                                /* take a block, free or realloc it */
            st_item_t it = { 0 };
            pthread_mutex_lock(&st_ring.lock);
            if (st_ring.count > 0) {
                it = st_ring.item[st_ring.head];
                st_ring.head = (st_ring.head + 1) % ST_RING;
                st_ring.count--;
            }
            pthread_mutex_unlock(&st_ring.lock);
            if (!it.p)
                continue;
            if (what < 15) {
                st_free(&it, "cross-thread free");
            } else {
                if (local[k].p)
                    st_free(&local[k], "local free");
                st_realloc(&it, &seed, ++serial);
                local[k] = it;
            }
        }
    }
    for (int k = 0; k < ST_LOCAL; k++)
        if (local[k].p)
            st_free(&local[k], "final free");
    return NULL;
}

/* Runs nthreads workers of ops operations each, then frees what is left in
 * the ring. */
static void st_run(unsigned nthreads, long ops)
{
    pthread_t t[ST_MAXTHREADS];
    CHECK(nthreads <= ST_MAXTHREADS, "too many threads");
    st_ops_per_thread = ops;
    for (unsigned i = 0; i < nthreads; i++)
        CHECK(pthread_create(&t[i], NULL, st_worker, (void *)(uintptr_t)(i + 1)) == 0, "pthread_create");
    for (unsigned i = 0; i < nthreads; i++)
        CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    while (st_ring.count > 0) {
        st_free(&st_ring.item[st_ring.head], "drain ring");
        st_ring.head = (st_ring.head + 1) % ST_RING;
        st_ring.count--;
    }
}

#endif
