/*
 * init.h: one-time initialization, settings, fork and thread-exit glue.
 */
#ifndef FLY_INIT_H
#define FLY_INIT_H

#include "common.h"
#include "policy.h"

extern bool fly_initialized;
void fly_init(void);
uint64_t fly_decay_ms_setting(void);

/* Parses the FLYMALLOC_* entries of env into po and the stats setting;
 * warns once per malformed or unknown entry.  Exposed for unit tests. */
void fly_config_parse(char **env, fly_policy_t *po, int *stats_mode);

#endif
