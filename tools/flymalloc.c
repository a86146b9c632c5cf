/*
 * flymalloc: the launcher.
 *
 *   flymalloc run [--stats|--stats=json] -- CMD ARGS...
 *       runs CMD with LD_PRELOAD set to the libflymalloc.so built beside this
 *       program (so every child process of CMD uses flymalloc too);
 *       --stats prints a summary at exit (FLYMALLOC_STATS=1).
 *   flymalloc bench ARGS...
 *       runs the benchmark suite (bench/run.sh) with ARGS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: flymalloc run [--stats|--stats=json] -- CMD [ARGS...]\n"
               "       flymalloc bench [--quick] [--only W1,W2] [--allocators A,B] "
               "[--repeat N] [--so NAME=PATH]\n");
}

/* Directory holding this executable. */
static void self_dir(char *out, size_t len)
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
    char dir[PATH_MAX], lib[PATH_MAX + 32];
    self_dir(dir, sizeof(dir));
    snprintf(lib, sizeof(lib), "%s/libflymalloc.so", dir);
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "flymalloc: %s not found (run make)\n", lib);
        return 2;
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
    if (stats)
        setenv("FLYMALLOC_STATS", stats, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}

static int cmd_bench(int argc, char **argv)
{
    char dir[PATH_MAX], script[PATH_MAX + 32];
    self_dir(dir, sizeof(dir));
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
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "flymalloc: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
