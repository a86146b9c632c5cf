/*
 * test_bad_pointer_api: misuse through the prefixed API aborts with the same
 * messages, naming the unprefixed function (free(), realloc()).
 *
 * Proves the cases of tests/common/bad_cases.h for fly_free, fly_realloc
 * and fly_malloc_trim in a program whose malloc is glibc's; the "foreign"
 * pointer is a block from glibc's malloc.
 */
#include <stdlib.h>

#include "flymalloc.h"

#define B_MALLOC(n) ((char *)fly_malloc(t_opaque(n)))
#define B_FREE fly_free
#define B_REALLOC fly_realloc
#define B_TRIM fly_malloc_trim
#define B_USABLE fly_malloc_usable_size
#define B_FOREIGN_MALLOC malloc
#include "bad_cases.h"

int main(void)
{
    return run_bad_cases();
}
