/*
 * clock.c: the allocator's clock, milliseconds of CLOCK_MONOTONIC_COARSE
 * (read through the vDSO: no system call, a few nanoseconds).  Every layer
 * that stamps or compares times reads it here itself; nobody publishes a
 * clock for others.
 */
#include "common.h"
#include <time.h>

uint64_t fly_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
