/*
 * config.c: the FLYMALLOC_* settings, driven by their table (options.def).
 *
 * fly_init reads the environment once, here, by walking environ: no getenv
 * and no allocation, since malloc is not usable yet.  Each entry is checked
 * against its row (type, range, words); a malformed or unknown FLYMALLOC_
 * entry gives one warning, worded from the row, and leaves the default.
 * fly_ctl finds its run-time options (opt.NAME) and their ranges here too.
 *
 * A low layer: libc and common.h's helpers only.
 */
#include "config.h"
#include "flymalloc.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

fly_settings_t fly_settings;

const fly_option_t fly_options[FLY_OPT_COUNT] = {
#define FLY_OPTION(name, type, def, min, max, words, runtime, help)                         \
    [FLY_OPT_##name] = { "FLYMALLOC_" #name, FLY_OPT_TYPE_##type, def, min, max, words, runtime, \
                         help },
#include "options.def"
#undef FLY_OPTION
};

/* FLYMALLOC_STATS's words are numbered as flymalloc.h's flags. */
_Static_assert(FLY_STATS_TEXT == 1 && FLY_STATS_JSON == 2, "FLYMALLOC_STATS words");

static const char *const type_want[] = {
#define FLY_OPTION_TYPE(type, want) [FLY_OPT_TYPE_##type] = want,
#include "options.def"
#undef FLY_OPTION_TYPE
};

/* Decimal digits, with an optional k/m/g suffix if suffix; false if
 * malformed or above max. */
static bool parse_u64(const char *s, uint64_t max, bool suffix, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (suffix && *s) {
        unsigned shift = *s == 'k' || *s == 'K' ? 10 : *s == 'm' || *s == 'M' ? 20
                       : *s == 'g' || *s == 'G' ? 30 : 0;
        if (shift == 0 || v > (max >> shift))
            return false;
        v <<= shift;
        s++;
    }
    if (*s != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* The position of s among words ("a|b/c|d": '|' between values, '/'
 * between synonyms), or -1. */
static int parse_word(const char *words, const char *s)
{
    int value = 0;
    size_t n = strlen(s);
    for (const char *w = words; *w;) {
        size_t len = strcspn(w, "|/");
        if (len == n && strncmp(w, s, n) == 0)
            return value;
        w += len;
        if (*w == '|')
            value++;
        if (*w)
            w++;
    }
    return -1;
}

/* A number option's value from s; false if malformed or out of range. */
static bool parse_number(const fly_option_t *op, const char *s, uint64_t *out)
{
    return parse_u64(s, op->op_max, op->op_type == FLY_OPT_TYPE_BYTES, out) &&
           *out >= op->op_min;
}

/* Message building into a fixed buffer (no allocation). */
typedef struct msg {
    char buf[232];                 /* fly_warn's line holds this and its prefix */
    size_t n;
} msg_t;

static void put(msg_t *m, const char *s, size_t len)
{
    if (len > sizeof(m->buf) - 1 - m->n)
        len = sizeof(m->buf) - 1 - m->n;
    memcpy(m->buf + m->n, s, len);
    m->n += len;
    m->buf[m->n] = '\0';
}

static void put_str(msg_t *m, const char *s)
{
    put(m, s, strlen(s));
}

/* A number as the option takes it: bytes with the largest exact suffix. */
static void put_number(msg_t *m, const fly_option_t *op, uint64_t v)
{
    static const char suffix[] = "kmg";
    char num[24];
    int k = 0;
    if (op->op_type == FLY_OPT_TYPE_BYTES)
        while (k < 3 && v != 0 && v % 1024 == 0) {
            v /= 1024;
            k++;
        }
    put(m, num, fly_fmt_u64(num, v));
    if (k)
        put(m, &suffix[k - 1], 1);
}

/* What a good value is: "milliseconds, 0 to 86400000", "0, 1, text or json". */
static void put_want(msg_t *m, const fly_option_t *op)
{
    switch (op->op_type) {
    case FLY_OPT_TYPE_MS:
    case FLY_OPT_TYPE_BYTES:
    case FLY_OPT_TYPE_PID:
        put_str(m, type_want[op->op_type]);
        put_str(m, ", ");
        put_number(m, op, op->op_min);
        put_str(m, " to ");
        put_number(m, op, op->op_max);
        break;
    case FLY_OPT_TYPE_WORDS:
        for (const char *w = op->op_words; *w;) {
            size_t len = strcspn(w, "|/");
            if (w != op->op_words)
                put_str(m, w[len] == '\0' ? " or " : ", ");
            put(m, w, len);
            w += len + (w[len] != '\0');
        }
        break;
    case FLY_OPT_TYPE_FILE:
    case FLY_OPT_TYPE_NUMA:
    case FLY_OPT_TYPE_TEXT:
        put_str(m, type_want[op->op_type]);
        break;
    case FLY_OPT_TYPE_POLICY:
        put_str(m, type_want[op->op_type]);
        put_str(m, ": ");
        for (fly_policy_id_t id = 0; id < FLY_POLICY_COUNT; id++) {
            if (id)
                put_str(m, id + 1 == FLY_POLICY_COUNT ? " or " : ", ");
            put_str(m, fly_policy_catalog[id].pe_name);
        }
        break;
    }
}

void fly_option_warn(fly_opt_t id, const char *entry, const char *what)
{
    const fly_option_t *op = &fly_options[id];
    msg_t m = { .n = 0 };
    const char *e = entry ? entry : op->op_name;
    put(&m, e, FLY_MIN(strlen(e), 80));
    put_str(&m, what);
    put_str(&m, "; using ");
    put_str(&m, op->op_default);
    fly_warn(m.buf);
}

static void warn_malformed(fly_opt_t id, const char *entry)
{
    const fly_option_t *op = &fly_options[id];
    msg_t m = { .n = 0 };
    put_str(&m, op->op_type == FLY_OPT_TYPE_FILE ? " is empty (want " : " is malformed (want ");
    put_want(&m, op);
    put_str(&m, ")");
    fly_option_warn(id, entry, m.buf);
}

static void warn_unknown(const char *entry)
{
    msg_t m = { .n = 0 };
    put(&m, entry, FLY_MIN(strlen(entry), 80));
    put_str(&m, " is not a flymalloc setting; ignored");
    fly_warn(m.buf);
}

/* Stores option id's parsed value: v for numbers and words, s for files. */
static void store(fly_opt_t id, uint64_t v, const char *s, fly_policy_t *po, fly_settings_t *se)
{
    switch (id) {
    case FLY_OPT_DECAY_MS:
        po->po_decay_ms = v;
        break;
    case FLY_OPT_TCACHE_BYTES:
        po->po_tcache_bytes = v;
        break;
    case FLY_OPT_STATS:
        se->se_stats = (int)v;
        break;
    case FLY_OPT_STATS_FILE:
        se->se_stats_file = s;
        break;
    case FLY_OPT_TRACE:
        se->se_trace = s;
        break;
    case FLY_OPT_TRACE_PID:
        se->se_trace_pid = (long)v;
        break;
    case FLY_OPT_TRACE_CLOCK:
        se->se_trace_counter = v == 1;
        break;
    case FLY_OPT_PROFILE:
        se->se_profile = v == 1;
        break;
    case FLY_OPT_NUMA:
        fly_numa_parse_policy(s, &se->se_numa);
        break;
    case FLY_OPT_NUMA_BIND:
        se->se_numa_bind = (uint32_t)v;
        break;
    case FLY_OPT_NUMA_TOPOLOGY:
        se->se_numa_topology = s;
        break;
    case FLY_OPT_NUMA_SYSFS:
        se->se_numa_sysfs = s;
        break;
    case FLY_OPT_BACKGROUND:
        se->se_background = v == 1;
        break;
    case FLY_OPT_SECURE:
        se->se_secure |= v == 1;      /* the secure library cannot be turned off */
        break;
    case FLY_OPT_POLICY:              /* chosen first: choose_policy */
    case FLY_OPT_OBJECTIVE:
    case FLY_OPT_PROFILE_DIR:
    case FLY_OPT_COUNT:
        break;
    }
}

/* Parses one entry's value for option id; false if malformed. */
static bool parse_value(fly_opt_t id, const char *s, uint64_t *v)
{
    const fly_option_t *op = &fly_options[id];
    int w;
    *v = 0;
    switch (op->op_type) {
    case FLY_OPT_TYPE_MS:
    case FLY_OPT_TYPE_BYTES:
    case FLY_OPT_TYPE_PID:
        return parse_number(op, s, v);
    case FLY_OPT_TYPE_WORDS:
        w = parse_word(op->op_words, s);
        *v = (uint64_t)w;
        return w >= 0;
    case FLY_OPT_TYPE_FILE:
    case FLY_OPT_TYPE_TEXT:
        return *s != '\0';
    case FLY_OPT_TYPE_NUMA: {
        fly_numa_policy_t np;
        return fly_numa_parse_policy(s, &np);
    }
    case FLY_OPT_TYPE_POLICY:
        *v = fly_policy_find(s, strlen(s));
        return *v < FLY_POLICY_COUNT;
    }
    return false;
}

/* The value of env's entry NAME=..., or NULL. */
static const char *env_value(char **env, const char *name)
{
    size_t n = strlen(name);
    for (char **e = env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* The user's profile directory: FLYMALLOC_PROFILE_DIR, else
 * $XDG_CACHE_HOME/flymalloc, else $HOME/.cache/flymalloc; "" if none. */
static void profile_dir(char **env, char *out, size_t len)
{
    const char *dir = env_value(env, "FLYMALLOC_PROFILE_DIR"), *tail = "";
    if (dir == NULL || *dir == '\0') {
        tail = "/flymalloc";
        dir = env_value(env, "XDG_CACHE_HOME");
        if (dir == NULL || *dir != '/') {
            tail = "/.cache/flymalloc";
            dir = env_value(env, "HOME");
        }
    }
    out[0] = '\0';
    if (dir == NULL || *dir == '\0' || strlen(dir) + strlen(tail) >= len)
        return;
    memcpy(out, dir, strlen(dir) + 1);
    memcpy(out + strlen(out), tail, strlen(tail) + 1);
}

/* The policy the program's stored profile chooses, from the user's store
 * or else the system's; false if it has none. */
static bool profile_policy(char **env, const fly_program_t *pg, fly_settings_t *se,
                           fly_policy_id_t *id)
{
    char sys[256];
    fly_profile_t p;
    if ((se->se_profile_path[0] &&
         fly_profile_read(se->se_profile_path, pg->pg_key, pg->pg_key_len, &p, true)) ||
        (fly_profile_path(sys, sizeof(sys), FLY_PROFILE_SYSTEM_DIR, pg->pg_key, pg->pg_key_len) &&
         fly_profile_read(sys, pg->pg_key, pg->pg_key_len, &p, true))) {
        uint64_t objective = FLY_OBJECTIVE_BALANCED;
        const char *v = env_value(env, "FLYMALLOC_OBJECTIVE");
        if (v && !parse_value(FLY_OPT_OBJECTIVE, v, &objective))
            objective = FLY_OBJECTIVE_BALANCED;     /* the second pass warns */
        *id = fly_profile_policy(&p, (unsigned)objective);
        se->se_free_permille = fly_profile_free_permille(&p);
        return true;
    }
    return false;
}

/* The policy: FLYMALLOC_POLICY, else the program's seed, else its stored
 * profile, else default.  A name that is no policy warns and gives the
 * default (not the next source: the user asked for something else). */
static void choose_policy(char **env, const fly_program_t *pg, fly_settings_t *se)
{
    se->se_policy = FLY_POLICY_default;
    se->se_policy_source = FLY_SOURCE_DEFAULT;
    se->se_profile_path[0] = '\0';
    se->se_free_permille = 0;
    if (env && pg && pg->pg_key) {
        char dir[sizeof(se->se_profile_path)];
        profile_dir(env, dir, sizeof(dir));
        if (!fly_profile_path(se->se_profile_path, sizeof(se->se_profile_path), dir, pg->pg_key,
                              pg->pg_key_len))
            se->se_profile_path[0] = '\0';
    }
    const char *name = env_value(env, "FLYMALLOC_POLICY");
    if (name) {
        uint64_t v;
        if (parse_value(FLY_OPT_POLICY, name, &v)) {
            se->se_policy = (fly_policy_id_t)v;
            se->se_policy_source = FLY_SOURCE_ENV;
        } else {
            warn_malformed(FLY_OPT_POLICY, name - sizeof("FLYMALLOC_POLICY"));
        }
        return;
    }
    if (pg && pg->pg_seed) {
        fly_policy_id_t id = fly_policy_find(pg->pg_seed, pg->pg_seed_len);
        if (id < FLY_POLICY_COUNT) {
            se->se_policy = id;
            se->se_policy_source = FLY_SOURCE_SEED;
            return;
        }
        msg_t m = { .n = 0 };
        put_str(&m, "the program's policy seed \"");
        put(&m, pg->pg_seed, FLY_MIN(pg->pg_seed_len, 40));
        put_str(&m, "\" is malformed (want ");
        put_want(&m, &fly_options[FLY_OPT_POLICY]);
        put_str(&m, ")");
        fly_option_warn(FLY_OPT_POLICY, "", m.buf);
        return;
    }
    fly_policy_id_t id;
    if (env && pg && pg->pg_key && profile_policy(env, pg, se, &id)) {
        se->se_policy = id;
        se->se_policy_source = FLY_SOURCE_PROFILE;
    }
}

void fly_config_parse(char **env, const fly_program_t *pg, fly_policy_t *po, fly_settings_t *se)
{
    choose_policy(env, pg, se);
    fly_policy_apply(se->se_policy, po);
    se->se_numa_bind = (uint32_t)fly_option_default(FLY_OPT_NUMA_BIND);
    if (se->se_free_permille)
        po->po_bump_free_permille = se->se_free_permille;
    for (char **e = env; e && *e; e++) {
        if (strncmp(*e, "FLYMALLOC_", 10) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        fly_opt_t id = 0;
        while (id < FLY_OPT_COUNT && (strlen(fly_options[id].op_name) != len ||
                                      strncmp(fly_options[id].op_name, *e, len) != 0))
            id++;
        if (id == FLY_OPT_COUNT || eq == NULL) {
            warn_unknown(*e);
            continue;
        }
        uint64_t v;
        if (id == FLY_OPT_POLICY)
            continue;
        if (parse_value(id, eq + 1, &v))
            store(id, v, eq + 1, po, se);
        else
            warn_malformed(id, *e);
    }
}

uint64_t fly_option_default(fly_opt_t id)
{
    uint64_t v = 0;
    if (!parse_value(id, fly_options[id].op_default, &v))
        return 0;
    return v;
}

fly_opt_t fly_option_by_ctl_name(const char *name)
{
    if (strncmp(name, "opt.", 4) != 0)
        return FLY_OPT_COUNT;
    name += 4;
    for (fly_opt_t id = 0; id < FLY_OPT_COUNT; id++) {
        const fly_option_t *op = &fly_options[id];
        if (!op->op_runtime)
            continue;
        const char *a = op->op_name + 10, *b = name;
        while (*a && *b == (*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return id;
    }
    return FLY_OPT_COUNT;
}

int fly_open_output(const char *path)
{
    char name[4096];
    size_t n = 0;
    for (const char *s = path; *s && n < sizeof(name) - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += fly_fmt_u64(name + n, (uint64_t)getpid());
            s++;
        } else {
            name[n++] = *s;
        }
    }
    name[n] = '\0';
    return open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
}
