/*
 * freemark.h: the free mark, the state bit of a small block kept in the
 * block itself.
 *
 * A small block that is not allocated (in a magazine, a depot or its zone,
 * or never handed out) holds the free mark in its first word; malloc clears
 * that word when it hands the block out, and free tests it before writing
 * it.  So free finds a block that is not allocated with one load and one
 * compare, whatever the distance to the first free and wherever the block
 * waits now, and the same block is never cached twice.  The mark is a
 * per-process secret with the top bit set: no pointer and no small integer
 * equals it, and a program cannot write it by chance.
 *
 * Memory that held zones may hold stale marks: a large block made of such
 * pages has its first word cleared when handed out, so that a realloc to a
 * small size cannot copy a mark into a live block.
 *
 * What it cannot see: a program that writes into a block after freeing it
 * may overwrite the mark; a second free of that block then goes on to the
 * zone bitmap's check when its magazine drains (slab.c).
 */
#ifndef FLY_FREEMARK_H
#define FLY_FREEMARK_H

#include "common.h"

extern uintptr_t fly_free_mark __attribute__((visibility("hidden")));

/* The program's block seen as a word: it may hold objects of any type. */
typedef uintptr_t __attribute__((may_alias)) fly_block_word_t;

/* Chooses the secret; before any zone exists (init.c). */
void fly_free_mark_init(void);

FLY_INLINE bool fly_block_is_marked(const void *p)
{
    return *(const fly_block_word_t *)p == fly_free_mark;
}

FLY_INLINE void fly_block_mark(void *p)
{
    *(fly_block_word_t *)p = fly_free_mark;
}

/* malloc's side: the block the program gets no longer looks free. */
FLY_INLINE void *fly_block_unmark_known(void *p)
{
    *(fly_block_word_t *)p = 0;
    return p;
}

#endif
