/*
 * sample.c: the table of sampled allocations (sample.h).
 *
 * Samples are rare (one per FLY_SAMPLE_BYTES a thread asks for), so one
 * lock guards an open-addressing table keyed by address, with linear
 * probing and backward-shift deletion; it is a leaf lock and nothing else
 * is called under it.  A thread is named by a number it takes at its
 * first sample (not by a thread-local address: a new thread often gets
 * the stack and TLS of one that exited, and would pass for it).
 */
#include "sample.h"
#include "large.h"
#include "lock.h"
#include <time.h>

#define SAMPLE_SLOTS (2 * FLY_SAMPLE_LIVE_MAX)     /* a power of two */
#define SAMPLE_SHIFT (64 - __builtin_ctz(SAMPLE_SLOTS))

typedef struct sample {
    uintptr_t s_addr;          /* 0: an empty slot */
    uint64_t s_thread;
    uint64_t s_born_ns;
} sample_t;

bool fly_sample_on;
static fly_lock_t sample_lock = FLY_LOCK_INITIALIZER;
static sample_t samples[SAMPLE_SLOTS];             /* sample_lock */
static uint32_t sample_live;                       /* sample_lock */
static fly_sample_counts_t sample_count;           /* sample_lock */
static uint64_t sample_threads;                   /* sample_lock: numbers taken */
static __thread uint64_t sample_me;                /* 0: none taken yet */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t home_slot(uintptr_t addr)
{
    return (size_t)(((uint64_t)addr >> FLY_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull >> SAMPLE_SHIFT);
}

static sample_t *find(uintptr_t addr)
{
    for (size_t i = home_slot(addr);; i = (i + 1) & (SAMPLE_SLOTS - 1)) {
        if (samples[i].s_addr == addr)
            return &samples[i];
        if (samples[i].s_addr == 0)
            return NULL;
    }
}

static void insert(uintptr_t addr, uint64_t born)
{
    size_t i = home_slot(addr);
    while (samples[i].s_addr != 0)
        i = (i + 1) & (SAMPLE_SLOTS - 1);
    if (sample_me == 0)
        sample_me = ++sample_threads;
    samples[i] = (sample_t){ addr, sample_me, born };
}

/* Empties slot s and moves later entries of its probe run back into the
 * hole, so every entry stays reachable from its home slot. */
static void erase(sample_t *s)
{
    size_t hole = (size_t)(s - samples);
    for (size_t i = (hole + 1) & (SAMPLE_SLOTS - 1); samples[i].s_addr != 0; i = (i + 1) & (SAMPLE_SLOTS - 1)) {
        size_t home = home_slot(samples[i].s_addr);
        /* The entry may move into the hole if its home is not in (hole, i]. */
        if (((i - home) & (SAMPLE_SLOTS - 1)) >= ((i - hole) & (SAMPLE_SLOTS - 1))) {
            samples[hole] = samples[i];
            hole = i;
        }
    }
    samples[hole].s_addr = 0;
}

void *fly_sample_malloc_os(struct fly_vmem *vm, struct fly_lcache *lc)
{
    fly_lock(&sample_lock);
    bool room = sample_live < FLY_SAMPLE_LIVE_MAX;
    if (room)
        sample_live++;
    else
        sample_count.sc_skipped++;
    fly_unlock(&sample_lock);
    if (!room)
        return NULL;
    void *p = fly_large_alloc_os(vm, lc, FLY_PAGE, FLY_PAGE, false);
    uint64_t born = now_ns();
    fly_lock(&sample_lock);
    if (p) {
        insert((uintptr_t)p, born);
        sample_count.sc_taken++;
    } else {
        sample_live--;
    }
    fly_unlock(&sample_lock);
    return p;
}

void fly_sample_release(void *p)
{
    uint64_t now = now_ns();
    fly_lock(&sample_lock);
    sample_t *s = find((uintptr_t)p);
    if (s) {
        uint64_t life = now - s->s_born_ns, limit = 1000;
        unsigned d = 0;
        while (d < FLY_SAMPLE_DECADES - 1 && life >= limit) {
            d++;
            limit *= 10;
        }
        sample_count.sc_lifetime[d]++;
        sample_count.sc_freed++;
        sample_count.sc_cross += s->s_thread != sample_me;
        erase(s);
        sample_live--;
    }
    fly_unlock(&sample_lock);
}

void fly_sample_counts(fly_sample_counts_t *out)
{
    fly_lock(&sample_lock);
    *out = sample_count;
    fly_unlock(&sample_lock);
}

void fly_sample_lock_all(void)
{
    fly_lock(&sample_lock);
}

void fly_sample_unlock_all(bool child)
{
    if (child)
        fly_lock_reinit(&sample_lock);
    else
        fly_unlock(&sample_lock);
}
