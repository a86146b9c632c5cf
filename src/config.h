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
#include "profile.h"
#include "common.h"
#include "numa.h"
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
    uint32_t se_free_permille;    /* from the profile: the bump guard rail's limit, or 0 */
    bool se_profile;              /* FLYMALLOC_PROFILE=1: fold this run in at exit */
    uint64_t se_start_ms;         /* when the process started allocating (fly_now_ms) */
    char se_profile_path[512];    /* the program's profile in the user's store, or "" */
    fly_numa_policy_t se_numa;    /* FLYMALLOC_NUMA */
    uint32_t se_numa_bind;        /* FLYMALLOC_NUMA_BIND: FLY_NUMA_BIND_* */
    const char *se_numa_topology; /* FLYMALLOC_NUMA_TOPOLOGY, or NULL */
    const char *se_numa_sysfs;    /* FLYMALLOC_NUMA_SYSFS, or NULL */
    bool se_background;           /* FLYMALLOC_BACKGROUND=1 */
    bool se_secure;               /* FLYMALLOC_SECURE=1, or the secure library */
} fly_settings_t;
/* The process's settings, read once by fly_init. */
extern fly_settings_t fly_settings;

/* What the running program says of itself (exe.h): the policy seed it
 * linked in and its build-id, each NULL if it has none. */
typedef struct fly_program {
    const char *pg_seed;
    size_t pg_seed_len;
    const uint8_t *pg_key;
    size_t pg_key_len;
} fly_program_t;

/* Chooses the policy (FLYMALLOC_POLICY in env, else the program's seed,
 * else its stored profile, else default) and sets its parameters in po;
 * then parses the other FLYMALLOC_* entries of env into po and se,
 * leaving what they hold where an entry is absent or malformed.  Warns
 * once per malformed or unknown entry, for a seed that names no policy and
 * for a bad profile file.  env NULL: the environment is not to be trusted
 * (AT_SECURE), and no profile is read either.  Exposed for unit tests. */
void fly_config_parse(char **env, const fly_program_t *pg, fly_policy_t *po, fly_settings_t *se);

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
