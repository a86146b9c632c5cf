/*
 * test_thread_stress_libc: malloc/free/realloc/calloc/posix_memalign from
 * many threads, through the libc names (LD_PRELOAD, and linked statically
 * with libflymalloc.a).
 *
 * Proves (see tests/common/stress.h): with 2, 4 and 8 threads and blocks
 * passed between threads, no block is corrupted, misaligned or short; and
 * that these calls really reached flymalloc (fly_malloc_usable_size, which
 * only flymalloc defines, knows a block malloc returned).
 * flytest: static
 * flytest: timeout=300
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>

#include "flyprobe.h"

#define ST_MALLOC malloc
#define ST_CALLOC calloc
#define ST_REALLOC realloc
#define ST_FREE free
#define ST_USABLE malloc_usable_size
#define ST_POSIX_MEMALIGN posix_memalign
#include "stress.h"

int main(void)
{
    fly_probe_require_active();
    static const unsigned nthreads[] = { 2, 4, 8 };
    for (int i = 0; i < 3; i++)
        st_run(nthreads[i], 200000 / (long)nthreads[i]);
    return 0;
}
