/*
 * random.c: seeds each thread's generator (random.h) and keys the canary
 * hash, both from the process secret freemark.c chose at initialization.
 */
#include "random.h"
#include "freemark.h"

__thread uint64_t fly_random_state __attribute__((tls_model("initial-exec")));

uint64_t fly_random_seed(void)
{
    uint64_t x = fly_mix64(fly_free_mark ^ fly_mix64((uint64_t)(uintptr_t)&fly_random_state));
    fly_random_state = x ? x : 1;
    return fly_random_state;
}

uint64_t fly_secret_hash(uint64_t x)
{
    static uint64_t key;        /* the same value whichever thread sets it */
    uint64_t k = __atomic_load_n(&key, __ATOMIC_RELAXED);
    if (fly_unlikely(k == 0)) {
        k = fly_mix64(fly_free_mark + 0x9e3779b97f4a7c15ull) | 1;
        __atomic_store_n(&key, k, __ATOMIC_RELAXED);
    }
    return fly_mix64(x ^ k);
}
