/*
 * mag.h: a magazine, Bonwick's array of free objects of one size class.
 *
 * Thread caches pop and push rounds; the depot keeps whole magazines on
 * full and empty lists (m_next).  The guard word below the first slot is
 * always NULL, so a pop from an empty magazine reads NULL: malloc's fast
 * path tests emptiness with the load it pops with.
 */
#ifndef FLY_MAG_H
#define FLY_MAG_H

#include "common.h"

typedef struct fly_mag {
    struct fly_mag *m_next;
    uint32_t m_rounds, m_cap;
    void *m_guard;          /* always NULL: m_objs[-1], where malloc sees "empty" */
    void *m_objs[];
} fly_mag_t;

#endif
