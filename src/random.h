/*
 * random.h: unpredictable numbers for the secure mode (slot order, the
 * quarantine's choice), cheap enough for a slow path.
 *
 * Each thread runs its own xorshift generator, seeded on first use from the
 * process secret (freemark.c, from AT_RANDOM) and the thread's own address,
 * so threads draw different sequences and no state is shared.
 */
#ifndef FLY_RANDOM_H
#define FLY_RANDOM_H

#include "common.h"

/* A bijective mixer (splitmix64's finalizer): every input bit moves
 * every output bit. */
FLY_INLINE uint64_t fly_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

extern __thread uint64_t fly_random_state __attribute__((tls_model("initial-exec")));

/* Seeds the calling thread's generator (fly_random64 calls it). */
uint64_t fly_random_seed(void);

FLY_INLINE uint64_t fly_random64(void)
{
    uint64_t x = fly_random_state;
    if (fly_unlikely(x == 0))
        x = fly_random_seed();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    fly_random_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform enough in [0, n), n > 0. */
FLY_INLINE uint32_t fly_random_below(uint32_t n)
{
    return (uint32_t)(((fly_random64() >> 32) * n) >> 32);
}

/* A keyed hash of a word, for canaries: without the key, its value
 * cannot be guessed from the address. */
uint64_t fly_secret_hash(uint64_t x);

#endif
