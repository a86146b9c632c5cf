/*
 * test_bad_pointer: misuse through the libc names under LD_PRELOAD aborts
 * with flymalloc's exact message.
 *
 * Proves, each case in its own child that must die of SIGABRT with the line
 * "flymalloc: free(): invalid pointer 0x<the pointer passed>" (or
 * realloc(), or "double free"): free and realloc of a stack address, of an
 * interior pointer into a small (+16, +1), a large (+4 KiB) and a huge
 * (+1 MiB) block, of an mmap'd page, of a global array, and of a block from
 * another allocator (glibc's own malloc, found with dlsym in libc.so.6); double free of a large, a
 * huge and a small block, the small one also when a later malloc/free
 * separates the two frees and only malloc_trim(0) flushes it to its zone.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <dlfcn.h>

/* glibc's own malloc, looked up in libc.so.6 itself (flymalloc also defines
 * __libc_malloc, so that name would not give a foreign block). */
static void *glibc_malloc(size_t n)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void *(*m)(size_t) = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
    if (!m) {
        static const char msg[] = "cannot find glibc's malloc\n";
        write(2, msg, sizeof msg - 1);
        _exit(43);
    }
    return m(n);
}

#define B_MALLOC(n) ((char *)malloc(t_opaque(n)))
#define B_FREE free
#define B_REALLOC realloc
#define B_TRIM malloc_trim
#define B_USABLE malloc_usable_size
#define B_FOREIGN_MALLOC glibc_malloc
#include "bad_cases.h"

int main(void)
{
    return run_bad_cases();
}
