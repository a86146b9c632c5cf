/*
 * config.h: the FLYMALLOC_* settings (their table is options.def): the
 * environment parser that fills the policy and the settings, and what
 * fly_ctl needs to find and check a run-time option.
 *
 * A low layer: config.c calls only libc and common.h's helpers.
 */
#ifndef FLY_CONFIG_H
#define FLY_CONFIG_H

#include "catalog.h"
#include "common.h"
#include "policy.h"

/* One id per row of options.def: FLY_OPT_DECAY_MS, ... */
typedef enum fly_opt {
#define FLY_OPTION(name, ...) FLY_OPT_##name,
#include "options.def"
#undef FLY_OPTION
    FLY_OPT_COUNT
} fly_opt_t;

typedef enum fly_opt_type {
#define FLY_OPTION_TYPE(type, want) FLY_OPT_TYPE_##type,
#include "options.def"
#undef FLY_OPTION_TYPE
} fly_opt_type_t;

typedef struct fly_option {
    const char *op_name;           /* FLYMALLOC_... */
    fly_opt_type_t op_type;
    const char *op_default;        /* text */
    uint64_t op_min, op_max;       /* a number's range */
    const char *op_words;          /* WORDS: "a|b/c|d" */
    bool op_runtime;               /* fly_ctl "opt.<name in lower case>" */
    const char *op_help;
} fly_option_t;

extern const fly_option_t fly_options[FLY_OPT_COUNT];

/* Settings that are not policy (output and tracing).  Strings point into
 * the environment, which lives as long as the process. */
typedef struct fly_settings {
    int se_stats;                 /* 0, FLY_STATS_TEXT or FLY_STATS_JSON */
    const char *se_stats_file;    /* FLYMALLOC_STATS_FILE, or NULL: stderr */
    const char *se_trace;         /* FLYMALLOC_TRACE: trace file, or NULL */
    long se_trace_pid;            /* FLYMALLOC_TRACE_PID: only this process traces (0: any) */
    bool se_trace_counter;        /* FLYMALLOC_TRACE_CLOCK=counter: no TSC numbers */
    fly_policy_id_t se_policy;    /* the policy the process runs */
    fly_policy_source_t se_policy_source;   /* and what chose it */
} fly_settings_t;
/* The process's settings, read once by fly_init. */
extern fly_settings_t fly_settings;

/* Chooses the policy (FLYMALLOC_POLICY in env, else seed, seed_len bytes,
 * the name a program linked in, else default) and sets its parameters in
 * po; then parses the other FLYMALLOC_* entries of env into po and se,
 * leaving what they hold where an entry is absent or malformed.  Warns
 * once per malformed or unknown entry, and for a seed that names no
 * policy.  env NULL: the environment is not to be trusted (AT_SECURE).
 * Exposed for unit tests. */
void fly_config_parse(char **env, const char *seed, size_t seed_len, fly_policy_t *po,
                      fly_settings_t *se);

/* A number option's default, parsed from its table text (fly_policy_defaults). */
uint64_t fly_option_default(fly_opt_t id);

/* The run-time option whose fly_ctl name is name ("opt.decay_ms"), or
 * FLY_OPT_COUNT if there is none. */
fly_opt_t fly_option_by_ctl_name(const char *name);

/* Warns "flymalloc: warning: ENTRY WHAT; using DEFAULT" for option id;
 * entry NULL: the option's name. */
void fly_option_warn(fly_opt_t id, const char *entry, const char *what);

/* Opens path (a FILE option's value) for writing, created and truncated,
 * with "%p" replaced by the process id; -1 if it cannot.  No allocation. */
int fly_open_output(const char *path);

#endif
