/*
 * init.h: one-time initialization (init.c).
 */
#ifndef FLY_INIT_H
#define FLY_INIT_H

#include "common.h"

extern bool fly_initialized;
void fly_init(void);

#endif
