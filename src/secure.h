/*
 * secure.h: the API's door to the secure mode (secure.c; what it checks
 * and why is docs/security.md).
 *
 * Like tracing, the secure mode costs the default mode nothing: a secure
 * thread's fly_tc points at a sentinel cache whose bins always miss, so
 * each malloc and free falls into the API's slow path, which hands the
 * call here; the other entry points test fly_secure_wanted() first.
 */
#ifndef FLY_SECURE_H
#define FLY_SECURE_H

#include "common.h"

extern bool fly_secure_on;                      /* set once, at initialization */
extern __thread bool fly_secure_inside;         /* in a secure operation's real call */

/* True when this call goes through the secure mode's checks. */
FLY_INLINE bool fly_secure_wanted(void)
{
    return fly_unlikely(fly_secure_on) && !fly_secure_inside;
}

/* From fly_init, before the first block is handed out. */
void fly_secure_init(void);

void *fly_secure_malloc_os(size_t size);
void fly_secure_free_os(void *p, const char *fname);
void *fly_secure_calloc_os(size_t nmemb, size_t size);
void *fly_secure_realloc_os(void *p, size_t size);
/* align: a power of two, already checked by the caller. */
void *fly_secure_aligned_os(size_t align, size_t size, const char *fname);
/* The size the program asked for: what malloc_usable_size reports. */
size_t fly_secure_usable(const void *p, const char *fname);

/* For allocations made elsewhere (fly_malloc_node): the size to ask the
 * allocator for, so that size bytes fit with the canary (and the guard
 * page, for a large block); then the block p got arms it. */
size_t fly_secure_request(size_t size, size_t align);
void *fly_secure_arm_os(void *p, size_t size, const char *fname);

/* Around an operation on the thread's own cache (malloc_trim's flush,
 * fly_thread_set_node): the real cache in, then the sentinel back. */
void fly_secure_enter(void);
void fly_secure_leave(void);
/* Frees every block the thread's quarantine holds, naming fname if one
 * was written after its free; then its cache gives its blocks back
 * (malloc_trim, fly_ctl's thread.tcache.flush). */
void fly_secure_flush_thread_os(const char *fname);
/* At exit (the library's destructor): the exiting thread's quarantined
 * blocks must still be unwritten, or the program aborts naming exit(). */
void fly_secure_check_at_exit(void);
/* From the thread-exit destructor, before the cache drains. */
void fly_secure_thread_exit_os(void);

/* The usable size of a block as the allocator below sees it (api.c);
 * aborts naming fname on a pointer that is not a live block. */
size_t fly_block_usable(const void *p, const char *fname);

#endif
