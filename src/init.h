/*
 * init.h: one-time initialization, settings, fork and thread-exit glue.
 */
#ifndef FLY_INIT_H
#define FLY_INIT_H

#include "common.h"
#include "policy.h"

extern bool fly_initialized;
void fly_init(void);

/* Settings that are not policy (output and tracing).  Strings point into
 * the environment, which lives as long as the process. */
typedef struct fly_settings {
    int se_stats;                 /* 0, FLY_STATS_TEXT or FLY_STATS_JSON */
    const char *se_stats_file;    /* FLYMALLOC_STATS_FILE, or NULL: stderr */
    const char *se_trace;         /* FLYMALLOC_TRACE: trace file, or NULL */
    long se_trace_pid;            /* FLYMALLOC_TRACE_PID: only this process traces (0: any) */
    bool se_trace_counter;        /* FLYMALLOC_TRACE_CLOCK=counter: no TSC numbers */
} fly_settings_t;
extern fly_settings_t fly_settings;

/* Parses the FLYMALLOC_* entries of env into po and se; warns once per
 * malformed or unknown entry.  Exposed for unit tests. */
void fly_config_parse(char **env, fly_policy_t *po, fly_settings_t *se);

/* Opens path for writing (created, truncated), with "%p" replaced by the
 * process id; -1 if it cannot.  No allocation. */
int fly_open_output(const char *path);

#endif
