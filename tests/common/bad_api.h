/*
 * bad_api.h: the misuse cases of bad_cases.h through the prefixed API
 * (fly_malloc, fly_free, ...), in a program whose own malloc is glibc's;
 * the "foreign" pointer is a block from glibc's malloc.  Included by
 * tests/bad/test_*_api.c.
 */
#ifndef FLY_TEST_BAD_API_H
#define FLY_TEST_BAD_API_H

#include <stdlib.h>

#include "flymalloc.h"

#define B_MALLOC(n) ((char *)fly_malloc(t_opaque(n)))
#define B_FREE fly_free
#define B_REALLOC fly_realloc
#define B_TRIM fly_malloc_trim
#define B_USABLE fly_malloc_usable_size
#define B_FOREIGN_MALLOC malloc
#include "bad_cases.h"

#endif
