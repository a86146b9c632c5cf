/*
 * exe.h: what the running program says about itself in its ELF notes
 * (exe.c): the policy seed a program links in with FLYMALLOC_POLICY_SEED,
 * and the build-id that keys its stored profile.
 */
#ifndef FLY_EXE_H
#define FLY_EXE_H

#include "common.h"

/* The policy name in the program's flymalloc note (*len bytes, not
 * terminated), or NULL if it has none. */
const char *fly_exe_policy_seed(size_t *len);

/* The program's GNU build-id (*len bytes), or NULL if it was linked
 * without one. */
const uint8_t *fly_exe_build_id(size_t *len);

/* Whether the process runs with privileges its invoker lacks (setuid,
 * setgid, capabilities: the kernel's AT_SECURE), when no setting from
 * the environment may be trusted. */
bool fly_exe_secure(void);

#endif
