/*
 * test_bad_pointer_api: misuse through the prefixed API aborts with the same
 * messages, naming the unprefixed function (free(), realloc()).
 *
 * Proves the cases of tests/common/bad_cases.h for fly_free, fly_realloc
 * and fly_malloc_trim in a program whose malloc is glibc's; the "foreign"
 * pointer is a block from glibc's malloc.
 */
#include "bad_api.h"

int main(void)
{
    return run_bad_cases();
}
