/*
 * usage.c: the bytes handed out and their peak, kept with two atomics on
 * slow paths only (a zone burst, a large or huge block), so the peak bounds
 * the program's true peak from above by at most what the caches hold.
 */
#include "usage.h"

static int64_t usage_out_bytes, usage_peak_bytes;     /* atomic */

void fly_usage_note(int64_t delta)
{
    int64_t now = __atomic_add_fetch(&usage_out_bytes, delta, __ATOMIC_RELAXED);
    int64_t peak = __atomic_load_n(&usage_peak_bytes, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&usage_peak_bytes, &peak, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

uint64_t fly_usage_peak(void)
{
    int64_t peak = __atomic_load_n(&usage_peak_bytes, __ATOMIC_RELAXED);
    return peak > 0 ? (uint64_t)peak : 0;
}
