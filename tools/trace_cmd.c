/*
 * trace_cmd.c: `flymalloc trace -o FILE -- CMD ARGS...`.
 *
 * Runs CMD on flymalloc with FLYMALLOC_TRACE=FILE, so the library records
 * every allocation event (src/trace.c, docs/trace-format.md).  Only CMD's
 * own process records: FLYMALLOC_TRACE_PID names it, and child processes
 * that inherit the settings run untraced rather than overwrite FILE.
 */
#define _GNU_SOURCE
#include "tools.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fly_cmd_trace(int argc, char **argv)
{
    const char *out = NULL;
    int i = 0;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(argv[i], "--output=", 9) == 0) {
            out = argv[i] + 9;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "flymalloc trace: unknown option %s\n", argv[i]);
            return 2;
        } else {
            break;
        }
    }
    if (out == NULL || i >= argc) {
        fprintf(stderr, "usage: flymalloc trace -o FILE -- CMD [ARGS...]\n");
        return 2;
    }
    if (fly_preload_self() != 0)
        return 2;
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("FLYMALLOC_TRACE", out, 1);
    setenv("FLYMALLOC_TRACE_PID", pid, 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}
