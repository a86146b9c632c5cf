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
 *   flymalloc tune [--objective O] [--repeat N] -- CMD ARGS... | TRACE
 *       runs CMD under every policy and pins the best in its profile.
 *   flymalloc seed PROGRAM POLICY, flymalloc forget PROGRAM
 *       pin a policy in PROGRAM's profile, or remove the profile.
 *   flymalloc numa
 *       the NUMA topology the library finds (numa_cmd.c).
 *   flymalloc help [COMMAND], flymalloc --version
 * The commands' table below holds each one's synopsis and help text.  The
 * policy commands are in policy_cmd.c.
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

/* The commands: name, synopsis, what it does (for `flymalloc help CMD`). */
typedef struct {
    const char *c_name, *c_synopsis, *c_help;
    int (*c_run)(int argc, char **argv);
} command_t;

static const command_t *find_command(const char *name);

static void usage(FILE *f);

static int cmd_help(int argc, char **argv)
{
    if (argc == 0) {
        usage(stdout);
        printf("\n`flymalloc help COMMAND` says what a command does.\n");
        return 0;
    }
    const command_t *c = find_command(argv[0]);
    if (c == NULL) {
        fprintf(stderr, "flymalloc: no command %s (flymalloc help lists them)\n", argv[0]);
        return 2;
    }
    printf("usage: flymalloc %s\n\n%s", c->c_synopsis, c->c_help);
    return 0;
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

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char lib[PATH_MAX + 32];
    int found = fly_library_path(lib, sizeof(lib));
    printf("flymalloc %s (library: %s)\n", FLY_VERSION, found == 0 ? lib : "not found");
    return 0;
}

static const command_t commands[] = {
    { "run", "run [--stats|--stats=json|--help] -- CMD [ARGS...]",
      "Runs CMD with flymalloc preloaded (LD_PRELOAD of the library beside this\n"
      "program, or the installed one), so CMD and every process it starts allocate\n"
      "with flymalloc.  --stats prints the statistics at exit (FLYMALLOC_STATS=1),\n"
      "--stats=json as JSON.  --help lists every FLYMALLOC_* setting with its\n"
      "default and values; set them in the environment.\n",
      cmd_run },
    { "trace", "trace -o FILE -- CMD [ARGS...]",
      "Runs CMD on flymalloc recording every allocation event (malloc, free,\n"
      "realloc, aligned allocations, thread exits) into FILE, a compact binary\n"
      "trace (docs/trace-format.md) for analyze, replay and report.\n",
      fly_cmd_trace },
    { "replay", "replay FILE [--allocator A | --compare A,B,...] [--json OUT]",
      "Replays a trace's allocations, with their threads and sizes, against an\n"
      "allocator (flymalloc, glibc, jemalloc, mimalloc, tcmalloc, or a library\n"
      "path), or several in turn, and reports time and peak RSS for each.\n",
      fly_cmd_replay },
    { "analyze", "analyze FILE [-o OUT.json]",
      "A trace's figures as JSON: sizes, lifetimes, threads, live bytes over\n"
      "time, the peak.\n",
      fly_cmd_analyze },
    { "report", "report FILE [-o OUT.html] [--compare A,B,...]",
      "One self-contained HTML page of plots from a trace (and replays against\n"
      "other allocators with --compare).\n",
      cmd_report },
    { "bench", "bench [--quick] [--only W1,W2] [--allocators A,B] [--repeat N] [--so NAME=PATH]",
      "Runs the benchmark suite (bench/run.sh): workloads and real programs under\n"
      "each allocator, interleaved repetitions, medians of time and peak RSS.\n"
      "flymalloc:POLICY or flymalloc:setting=value+... in --allocators runs\n"
      "flymalloc under a policy or settings.\n",
      cmd_bench },
    { "policies", "policies [--names]",
      "Lists the catalogue of allocation policies: name, the sizes and programs\n"
      "each suits, what it changes.  --names prints only the names.\n",
      fly_cmd_policies },
    { "policy", "policy PROGRAM",
      "Says which policy PROGRAM runs under here and why: FLYMALLOC_POLICY, the\n"
      "seed linked into it, its stored profile (with the figures and flags), or\n"
      "default.\n",
      fly_cmd_policy },
    { "profile", "profile -- CMD [ARGS...]",
      "Runs CMD with FLYMALLOC_PROFILE=1: at exit its allocation figures are\n"
      "folded into its stored profile (keyed by its build-id), which chooses the\n"
      "policy of its later runs.\n",
      fly_cmd_profile },
    { "tune", "tune [--objective time|memory|balanced] [--repeat N] -- CMD [ARGS...] | TRACE",
      "Runs CMD under every policy, rounds interleaved, prints each policy's\n"
      "median time and peak RSS and the score for the objective, and pins the\n"
      "best in CMD's profile.  Given a trace (flymalloc trace), replays it under\n"
      "every policy instead, and pins the best for the program it recorded.\n",
      fly_cmd_tune },
    { "seed", "seed PROGRAM POLICY",
      "Pins POLICY in PROGRAM's stored profile: its later runs use it.\n",
      fly_cmd_seed },
    { "forget", "forget PROGRAM",
      "Removes PROGRAM's stored profile: its later runs use the default again.\n",
      fly_cmd_forget },
    { "numa", "numa",
      "Prints the NUMA topology the library finds: the nodes online, with\n"
      "memory and allowed to this process, each node's CPUs and distances.\n"
      "FLYMALLOC_NUMA_TOPOLOGY or FLYMALLOC_NUMA_SYSFS replace the machine's.\n",
      fly_cmd_numa },
    { "help", "help [COMMAND]",
      "Lists the commands, or says what one does.\n",
      cmd_help },
    { "--version", "--version",
      "Prints the version and which library the launcher preloads.\n",
      cmd_version },
};

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].c_name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "%s flymalloc %s\n", i ? "      " : "usage:", commands[i].c_synopsis);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0)
        return cmd_help(0, NULL);
    const command_t *c = find_command(argv[1]);
    if (c)
        return c->c_run(argc - 2, argv + 2);
    fprintf(stderr, "flymalloc: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
