/*
 * meta.c: a bump allocator over 1 MiB chunks mapped through the os layer.
 *
 * Bookkeeping objects are few and long-lived (a thread cache per thread, a
 * few magazines per class), and every user keeps its own free list, so a
 * bump pointer with no free is enough.  Chunks are mapped with the lock
 * dropped; when two threads race to refill, the later chunk replaces the
 * earlier one's remainder (rare, and bounded by one chunk per race).
 */
#include "meta.h"
#include "lock.h"
#include "os.h"

#define META_CHUNK ((size_t)1 << 20)

static fly_lock_t meta_lock = FLY_LOCK_INITIALIZER;
static char *meta_cur, *meta_end;    /* guarded by meta_lock */
static uint64_t meta_total;          /* guarded by meta_lock */

void *fly_meta_alloc_os(size_t size)
{
    size = FLY_ALIGN_UP(size, FLY_CACHELINE);
    if (size > META_CHUNK)
        return NULL;
    for (;;) {
        fly_lock(&meta_lock);
        if ((size_t)(meta_end - meta_cur) >= size) {
            void *p = meta_cur;
            meta_cur += size;
            fly_unlock(&meta_lock);
            return p;
        }
        fly_unlock(&meta_lock);
        char *chunk = fly_os_map_aligned(META_CHUNK, FLY_PAGE);
        if (chunk == NULL)
            return NULL;
        fly_lock(&meta_lock);
        /* The rest of the old chunk is abandoned: at most one object's worth. */
        meta_cur = chunk;
        meta_end = chunk + META_CHUNK;
        meta_total += META_CHUNK;
        fly_unlock(&meta_lock);
    }
}

uint64_t fly_meta_bytes(void)
{
    fly_lock(&meta_lock);
    uint64_t t = meta_total;
    fly_unlock(&meta_lock);
    return t;
}

void fly_meta_lock_all(void)
{
    fly_lock(&meta_lock);
}

void fly_meta_unlock_all(bool child)
{
    if (child)
        fly_lock_reinit(&meta_lock);
    else
        fly_unlock(&meta_lock);
}
