/*
 * lock.h: the allocator's lock type.
 *
 * A plain pthread mutex: it never allocates, ThreadSanitizer understands it,
 * and it sleeps instead of spinning when a holder is preempted, which matters
 * on small machines.  Debug builds count the locks a thread holds, so that
 * the os layer can assert it is entered with none (DESIGN: no system call
 * under an allocator lock).
 *
 * Lock order (the fork handlers in fork.c take them in this order):
 *   1. the heap list lock (heap.c; held only to publish a heap)
 *   2. class locks, heap by heap, by class index (slab zones and depot of
 *      one class of one heap)
 *   3. the huge lock (huge mapping cache)
 *   4. arena locks, heap by heap
 *   5. meta lock (internal bump allocator), tcache registry lock
 *   6. trace lock (trace.c: the list of trace buffers)
 *   7. sample lock (sample.c: the profile's sampled blocks; a leaf)
 */
#ifndef FLY_LOCK_H
#define FLY_LOCK_H

#include <pthread.h>
#include "common.h"

typedef struct fly_lock {
    pthread_mutex_t l_mutex;
} fly_lock_t;

#define FLY_LOCK_INITIALIZER { PTHREAD_MUTEX_INITIALIZER }

#ifdef FLY_DEBUG
extern __thread int fly_locks_held;
#define FLY_LOCK_HELD_INC() (fly_locks_held++)
#define FLY_LOCK_HELD_DEC() (fly_locks_held--)
#define FLY_ASSERT_NO_LOCKS() FLY_ASSERT(fly_locks_held == 0)
#else
#define FLY_LOCK_HELD_INC() ((void)0)
#define FLY_LOCK_HELD_DEC() ((void)0)
#define FLY_ASSERT_NO_LOCKS() ((void)0)
#endif

FLY_INLINE void fly_lock(fly_lock_t *l)
{
    pthread_mutex_lock(&l->l_mutex);
    FLY_LOCK_HELD_INC();
}

FLY_INLINE bool fly_trylock(fly_lock_t *l)
{
    if (pthread_mutex_trylock(&l->l_mutex) != 0)
        return false;
    FLY_LOCK_HELD_INC();
    return true;
}

FLY_INLINE void fly_unlock(fly_lock_t *l)
{
    FLY_LOCK_HELD_DEC();
    pthread_mutex_unlock(&l->l_mutex);
}

/* After fork, in the child: the lock is ours, held by no one. */
FLY_INLINE void fly_lock_reinit(fly_lock_t *l)
{
    FLY_LOCK_HELD_DEC();
    pthread_mutex_init(&l->l_mutex, NULL);
}

#endif
