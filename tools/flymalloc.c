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
 *   flymalloc tune [--objective O] [--repeat N] -- CMD ARGS...
 *       runs CMD under every policy and pins the best in its profile.
 *   flymalloc seed PROGRAM POLICY, flymalloc forget PROGRAM
 *       pin a policy in PROGRAM's profile, or remove the profile.
 * The policy commands are in policy_cmd.c.
 */
#define _GNU_SOURCE
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
               "       flymalloc profile -- CMD [ARGS...]\n"
               "       flymalloc tune [--objective time|memory|balanced] [--repeat N] -- CMD [ARGS...]\n"
               "       flymalloc seed PROGRAM POLICY\n"
               "       flymalloc forget PROGRAM\n"
               "       flymalloc --version\n");
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
            fly_policy_names(f);
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
int fly_library_path(char *out, unsigned long len)
{
    char dir[PATH_MAX];
    fly_self_dir(dir, sizeof(dir));
    snprintf(out, len, "%s/libflymalloc.so", dir);
    if (access(out, R_OK) == 0)
        return 0;
#ifdef FLY_INSTALL_LIB
    snprintf(out, len, "%s", FLY_INSTALL_LIB);
    if (access(out, R_OK) == 0)
        return 0;
#endif
    return -1;
}

/* rel (tools/report.py, bench/run.sh) in the checkout this launcher was
 * built in, else where make install put it; -1 if neither has it. */
static int script_path(const char *rel, char *out, size_t len)
{
    char dir[PATH_MAX];
    fly_self_dir(dir, sizeof(dir));
    snprintf(out, len, "%s/../%s", dir, rel);
    if (access(out, R_OK) == 0)
        return 0;
#ifdef FLY_INSTALL_DATA
    snprintf(out, len, "%s/%s", FLY_INSTALL_DATA, rel);
    if (access(out, R_OK) == 0)
        return 0;
#endif
    return -1;
}

int fly_preload_self(void)
{
    char lib[PATH_MAX + 32];
    if (fly_library_path(lib, sizeof(lib)) != 0) {
        fprintf(stderr, "flymalloc: %s not found (run make, or make install)\n", lib);
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
    if (script_path("tools/report.py", script, sizeof(script)) != 0) {
        fprintf(stderr, "flymalloc report: tools/report.py not found\n");
        return 127;
    }
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
    char script[PATH_MAX + 32];
    if (script_path("bench/run.sh", script, sizeof(script)) != 0) {
        fprintf(stderr, "flymalloc bench: the benchmarks build from a checkout of flymalloc's "
                        "source; run `make bench` there\n");
        return 127;
    }
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
        return fly_cmd_policies(argc - 2, argv + 2);
    if (strcmp(argv[1], "policy") == 0)
        return fly_cmd_policy(argc - 2, argv + 2);
    if (strcmp(argv[1], "profile") == 0)
        return fly_cmd_profile(argc - 2, argv + 2);
    if (strcmp(argv[1], "tune") == 0)
        return fly_cmd_tune(argc - 2, argv + 2);
    if (strcmp(argv[1], "seed") == 0)
        return fly_cmd_seed(argc - 2, argv + 2);
    if (strcmp(argv[1], "forget") == 0)
        return fly_cmd_forget(argc - 2, argv + 2);
    if (strcmp(argv[1], "--version") == 0) {
        char lib[PATH_MAX + 32];
        int found = fly_library_path(lib, sizeof(lib));
        printf("flymalloc %s (library: %s)\n", FLY_VERSION, found == 0 ? lib : "not found");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "flymalloc: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
