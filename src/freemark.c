/*
 * freemark.c: chooses the free mark (freemark.h) once per process, from the
 * kernel's random bytes for the process (AT_RANDOM), the stack's address
 * and the clock, without allocating.  A fork child keeps its parent's.
 */
#include "freemark.h"
#include "random.h"
#include <stdint.h>
#include <sys/auxv.h>
#include <time.h>

/* Until fly_free_mark_init: a fixed value of the same shape. */
uintptr_t fly_free_mark = 0xf1e3a5c796b8d0e1ull;

void fly_free_mark_init(void)
{
    uint64_t seed = 0, random16[2];
    const void *at_random = (const void *)getauxval(AT_RANDOM);
    if (at_random) {
        __builtin_memcpy(random16, at_random, sizeof random16);
        seed = random16[0] ^ fly_mix64(random16[1]);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed ^= fly_mix64((uint64_t)(uintptr_t)&ts ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec);
    /* The top bit keeps it off every user-space pointer and small number. */
    fly_free_mark = (uintptr_t)(fly_mix64(seed) | (1ull << 63));
}
