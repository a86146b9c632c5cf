/*
 * flymalloc: the launcher.
 *
 *   flymalloc run [--stats|--stats=json] -- CMD ARGS...
 *       runs CMD with LD_PRELOAD set to the libflymalloc.so built beside this
 *       program (so every child process of CMD uses flymalloc too);
 *       --stats prints a summary at exit (FLYMALLOC_STATS=1);
 *       --help lists the FLYMALLOC_* settings (src/options.def).
 *   flymalloc trace -o FILE -- CMD ARGS...
 *       runs CMD on flymalloc recording every allocation event into FILE
 *       (docs/trace-format.md).
 *   flymalloc replay FILE [--allocator A | --compare A,B,...]
 *       replays a trace against allocators (tools/replay.c).
 *   flymalloc analyze FILE [-o OUT.json]
 *       a trace's figures as JSON (tools/analyze.c).
 *   flymalloc report FILE [-o OUT.html] [--compare A,B,...]
 *       one self-contained HTML page of plots (tools/report.py).
 *   flymalloc bench ARGS...
 *       runs the benchmark suite (bench/run.sh) with ARGS.
 *   flymalloc policies [--names]
 *       lists the catalogue of allocation policies (src/policies.def).
 *   flymalloc policy PROGRAM
 *       says which policy PROGRAM would run under here, and why: this
 *       environment's FLYMALLOC_POLICY, else the seed in PROGRAM's ELF
 *       notes (FLYMALLOC_POLICY_SEED), else its stored profile (the same
 *       reader and dispatch rule as the library's: src/profile.c), else
 *       default; with a profile, its figures and flags.
 *   flymalloc profile -- CMD ARGS...
 *       runs CMD on flymalloc with FLYMALLOC_PROFILE=1, so that its
 *       allocation profile is folded into its stored profile at exit.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools.h"
#include "profile.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: flymalloc run [--stats|--stats=json|--help] -- CMD [ARGS...]\n"
               "       flymalloc trace -o FILE -- CMD [ARGS...]\n"
               "       flymalloc replay FILE [--allocator A | --compare A,B,...] [--json OUT]\n"
               "       flymalloc analyze FILE [-o OUT.json]\n"
               "       flymalloc report FILE [-o OUT.html] [--compare A,B,...]\n"
               "       flymalloc bench [--quick] [--only W1,W2] [--allocators A,B] "
               "[--repeat N] [--so NAME=PATH]\n"
               "       flymalloc policies [--names]\n"
               "       flymalloc policy PROGRAM\n"
               "       flymalloc profile -- CMD [ARGS...]\n");
}

/* The settings' table, the library's own (one row per FLYMALLOC_* variable). */
enum opt_type {
#define FLY_OPTION_TYPE(type, want) OPT_##type,
#include "../src/options.def"
#undef FLY_OPTION_TYPE
};
static const char *const opt_want[] = {
#define FLY_OPTION_TYPE(type, want) [OPT_##type] = want,
#include "../src/options.def"
#undef FLY_OPTION_TYPE
};
static const struct opt {
    const char *name, *def, *words, *help;
    enum opt_type type;
    unsigned long long min, max;
    int runtime;
} opts[] = {
#define FLY_OPTION(name, type, def, min, max, words, runtime, help) \
    { "FLYMALLOC_" #name, def, words, help, OPT_##type, min, max, runtime },
#include "../src/options.def"
#undef FLY_OPTION
};

/* A number as the setting takes it: bytes with the largest exact suffix. */
static void print_number(FILE *f, const struct opt *o, unsigned long long v)
{
    int k = 0;
    while (o->type == OPT_BYTES && k < 3 && v != 0 && v % 1024 == 0) {
        v /= 1024;
        k++;
    }
    fprintf(f, "%llu", v);
    if (k)
        fputc("kmg"[k - 1], f);
}

static void policy_names(FILE *f);

/* `flymalloc run --help`: every setting's name, default, meaning and values. */
static void settings_help(FILE *f)
{
    fprintf(f, "\nsettings (environment variables, read once at start-up; a malformed one warns\n"
               "and its default is used):\n");
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const struct opt *o = &opts[i];
        fprintf(f, "  %s (default: %s)\n      %s\n      values: ", o->name, o->def, o->help);
        if (o->type == OPT_WORDS) {
            for (const char *w = o->words; *w; w++)
                fputc(*w == '/' ? '|' : *w, f);
        } else if (o->type == OPT_POLICY) {
            fputs(opt_want[o->type], f);
            fputs(":", f);
            policy_names(f);
        } else {
            fputs(opt_want[o->type], f);
        }
        if (o->type == OPT_MS || o->type == OPT_BYTES || o->type == OPT_PID) {
            fputs(", ", f);
            print_number(f, o, o->min);
            fputs(" to ", f);
            print_number(f, o, o->max);
        }
        if (o->runtime) {
            fputs("; fly_ctl(\"opt.", f);
            for (const char *c = o->name + 10; *c; c++)
                fputc(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c, f);
            fputs("\") changes it at run time", f);
        }
        fputc('\n', f);
    }
}

/* The catalogue of policies, the library's own. */
static const struct policy {
    const char *name, *sizes, *suits, *help;
} policies[] = {
#define FLY_POLICY(name, sizes, suits, help) { #name, sizes, suits, help },
#include "../src/policies.def"
#undef FLY_POLICY
};
#define NPOLICIES (sizeof(policies) / sizeof(policies[0]))

static const struct policy *policy_named(const char *name, size_t len)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strlen(policies[i].name) == len && strncmp(policies[i].name, name, len) == 0)
            return &policies[i];
    return NULL;
}

static void policy_names(FILE *f)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        fprintf(f, " %s", policies[i].name);
}

static int cmd_policies(int argc, char **argv)
{
    bool names = argc == 1 && strcmp(argv[0], "--names") == 0;
    if (argc > 0 && !names) {
        fprintf(stderr, "usage: flymalloc policies [--names]\n");
        return 2;
    }
    for (size_t i = 0; i < NPOLICIES; i++) {
        const struct policy *p = &policies[i];
        if (names)
            printf("%s\n", p->name);
        else
            printf("%-8s %s\n         sizes: %s; suits: %s\n", p->name, p->help, p->sizes, p->suits);
    }
    if (!names)
        printf("\nFLYMALLOC_POLICY=NAME chooses one for a run; FLYMALLOC_POLICY_SEED(\"NAME\") in a\n"
               "program (flymalloc.h) makes it that program's own; `flymalloc policy PROGRAM` says\n"
               "which one a program gets.\n");
    return 0;
}

/* The descriptor of the first ELF note of owner and type in the program
 * file at path, copied into out (*len bytes); false if it has none.  Reads
 * the file's program headers, as the library reads its own process's. */
static bool file_note(const char *path, const char *owner, unsigned type, unsigned char *out,
                      size_t outlen, size_t *len)
{
    bool found = false;
    size_t owner_len = strlen(owner) + 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        close(fd);
        return false;
    }
    for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
            break;
        if (ph.p_type != PT_NOTE || ph.p_filesz > (1u << 20))
            continue;
        char *buf = malloc(ph.p_filesz);
        if (buf == NULL || pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
            free(buf);
            break;
        }
        for (size_t off = 0; off + sizeof(Elf64_Nhdr) <= ph.p_filesz;) {
            Elf64_Nhdr *nh = (Elf64_Nhdr *)(void *)(buf + off);
            size_t name = off + sizeof(*nh), desc = name + ((nh->n_namesz + 3) & ~3u);
            size_t next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > ph.p_filesz)
                break;
            if (nh->n_type == type && nh->n_namesz == owner_len &&
                memcmp(buf + name, owner, owner_len) == 0 && nh->n_descsz <= outlen) {
                memcpy(out, buf + desc, nh->n_descsz);
                *len = nh->n_descsz;
                found = true;
                break;
            }
            off = next;
        }
        free(buf);
    }
    close(fd);
    return found;
}

/* The user's profile directory, as the library finds it (config.c). */
static void profile_dir(char *out, size_t len)
{
    const char *dir = getenv("FLYMALLOC_PROFILE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    if (dir && *dir)
        snprintf(out, len, "%s", dir);
    else if (xdg && xdg[0] == '/')
        snprintf(out, len, "%s/flymalloc", xdg);
    else if (getenv("HOME") && *getenv("HOME"))
        snprintf(out, len, "%s/.cache/flymalloc", getenv("HOME"));
    else
        out[0] = '\0';
}

static int cmd_policy(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: flymalloc policy PROGRAM\n");
        return 2;
    }
    char path[PATH_MAX], seed[128];
    snprintf(path, sizeof(path), "%s", argv[0]);
    const char *dirs = getenv("PATH");
    /* A bare name is looked up in PATH, as a shell would run it. */
    while (strchr(argv[0], '/') == NULL && dirs && *dirs) {
        size_t n = strcspn(dirs, ":");
        snprintf(path, sizeof(path), "%.*s/%s", (int)n, dirs, argv[0]);
        if (access(path, X_OK) == 0)
            break;
        snprintf(path, sizeof(path), "%s", argv[0]);
        dirs += n + (dirs[n] == ':');
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "flymalloc: policy: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    const char *env = getenv("FLYMALLOC_POLICY");
    size_t seed_len = 0, key_len = 0;
    unsigned char key[FLY_PROFILE_KEY_MAX];
    bool has_seed = file_note(path, "flymalloc", 1, (unsigned char *)seed, sizeof(seed) - 1, &seed_len);
    seed[has_seed ? strnlen(seed, seed_len) : 0] = '\0';
    bool has_key = file_note(path, "GNU", NT_GNU_BUILD_ID, key, sizeof(key), &key_len);
    char dir[PATH_MAX], user[PATH_MAX + 128], sys[PATH_MAX];
    profile_dir(dir, sizeof(dir));
    fly_profile_t prof;
    const char *found = NULL;
    if (has_key && fly_profile_path(user, sizeof(user), dir, key, key_len) &&
        fly_profile_read(user, key, key_len, &prof))
        found = user;
    else if (has_key && fly_profile_path(sys, sizeof(sys), FLY_PROFILE_SYSTEM_DIR, key, key_len) &&
             fly_profile_read(sys, key, key_len, &prof))
        found = sys;
    if (env) {
        if (policy_named(env, strlen(env)))
            printf("%s: %s (env: FLYMALLOC_POLICY is set here)\n", path, env);
        else
            printf("%s: default (env: FLYMALLOC_POLICY=%s is not a policy, so the default)\n", path, env);
    } else if (has_seed && policy_named(seed, strlen(seed))) {
        printf("%s: %s (seed: linked into the program)\n", path, seed);
    } else if (has_seed) {
        printf("%s: default (seed \"%s\" in the program is not a policy)\n", path, seed);
    } else if (found) {
        const char *obj = getenv("FLYMALLOC_OBJECTIVE");
        unsigned objective = obj && strcmp(obj, "time") == 0     ? FLY_OBJECTIVE_TIME
                             : obj && strcmp(obj, "memory") == 0 ? FLY_OBJECTIVE_MEMORY
                                                                 : FLY_OBJECTIVE_BALANCED;
        printf("%s: %s (profile: %s; objective %s)\n", path,
               policies[fly_profile_policy(&prof, objective)].name, found,
               objective == FLY_OBJECTIVE_TIME     ? "time"
               : objective == FLY_OBJECTIVE_MEMORY ? "memory"
                                                   : "balanced");
    } else {
        printf("%s: default (default: no FLYMALLOC_POLICY, no seed in the program, no profile%s)\n",
               path, has_key ? "" : ": it has no build-id");
    }
    if (found) {
        uint32_t f = fly_profile_flags(&prof);
        printf("profile: %u run(s); per run %llu ms, %llu thread(s), %llu allocations, %llu frees, "
               "peak %llu bytes, %llu memory system calls\nflags:%s%s%s%s%s%s\n",
               prof.pf_runs, (unsigned long long)prof.pf_run_ms, (unsigned long long)prof.pf_threads,
               (unsigned long long)prof.pf_allocs, (unsigned long long)prof.pf_frees,
               (unsigned long long)prof.pf_peak_bytes, (unsigned long long)prof.pf_syscalls,
               f & FLY_PF_SHORT_RUN ? " short-run" : "", f & FLY_PF_THREADED ? " threaded" : "",
               f & FLY_PF_ALLOC_HEAVY ? " alloc-heavy" : "", f & FLY_PF_FEW_FREES ? " few-frees" : "",
               f & FLY_PF_LARGE_HEAP ? " large-heap" : "", f ? "" : " (none)");
    }
    return 0;
}

/* flymalloc profile -- CMD: a run of CMD on flymalloc that folds its
 * allocation profile into CMD's stored profile at exit. */
static int cmd_profile(int argc, char **argv)
{
    int i = argc > 0 && strcmp(argv[0], "--") == 0 ? 1 : 0;
    if (i >= argc) {
        fprintf(stderr, "usage: flymalloc profile -- CMD [ARGS...]\n");
        return 2;
    }
    if (fly_preload_self() != 0)
        return 2;
    setenv("FLYMALLOC_PROFILE", "1", 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

/* Directory holding this executable. */
void fly_self_dir(char *out, unsigned long len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0) {
        perror("flymalloc: readlink /proc/self/exe");
        exit(2);
    }
    exe[n] = '\0';
    snprintf(out, len, "%s", dirname(exe));
}

/* Puts the libflymalloc.so built beside this program first in LD_PRELOAD. */
int fly_preload_self(void)
{
    char dir[PATH_MAX], lib[PATH_MAX + 32];
    fly_self_dir(dir, sizeof(dir));
    snprintf(lib, sizeof(lib), "%s/libflymalloc.so", dir);
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "flymalloc: %s not found (run make)\n", lib);
        return -1;
    }
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
        size_t len = strlen(lib) + strlen(old) + 2;
        char *both = malloc(len);
        snprintf(both, len, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
    } else {
        setenv("LD_PRELOAD", lib, 1);
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *stats = NULL;
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--stats") == 0) {
            stats = "1";
        } else if (strcmp(argv[i], "--stats=json") == 0) {
            stats = "json";
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            settings_help(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "flymalloc run: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (fly_preload_self() != 0)
        return 2;
    if (stats)
        setenv("FLYMALLOC_STATS", stats, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

/* flymalloc report: tools/report.py does the work (python3, no network). */
static int cmd_report(int argc, char **argv)
{
    char dir[PATH_MAX], script[PATH_MAX + 32], self[PATH_MAX + 32];
    fly_self_dir(dir, sizeof(dir));
    snprintf(script, sizeof(script), "%s/../tools/report.py", dir);
    snprintf(self, sizeof(self), "%s/flymalloc", dir);
    char **args = calloc((size_t)argc + 5, sizeof(char *));
    args[0] = "python3";
    args[1] = script;
    args[2] = "--flymalloc";
    args[3] = self;
    for (int i = 0; i < argc; i++)
        args[i + 4] = argv[i];
    execvp("python3", args);
    fprintf(stderr, "flymalloc: cannot run python3 %s: %s\n", script, strerror(errno));
    return 127;
}

static int cmd_bench(int argc, char **argv)
{
    char dir[PATH_MAX], script[PATH_MAX + 32];
    fly_self_dir(dir, sizeof(dir));
    snprintf(script, sizeof(script), "%s/../bench/run.sh", dir);
    char **args = calloc((size_t)argc + 3, sizeof(char *));
    args[0] = "bash";
    args[1] = script;
    for (int i = 0; i < argc; i++)
        args[i + 2] = argv[i];
    execvp("bash", args);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", script, strerror(errno));
    return 127;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "trace") == 0)
        return fly_cmd_trace(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return fly_cmd_replay(argc - 2, argv + 2);
    if (strcmp(argv[1], "analyze") == 0)
        return fly_cmd_analyze(argc - 2, argv + 2);
    if (strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "policies") == 0)
        return cmd_policies(argc - 2, argv + 2);
    if (strcmp(argv[1], "policy") == 0)
        return cmd_policy(argc - 2, argv + 2);
    if (strcmp(argv[1], "profile") == 0)
        return cmd_profile(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "flymalloc: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
