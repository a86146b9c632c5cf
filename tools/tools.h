/*
 * tools.h: the subcommands of the flymalloc launcher, one file each.
 * flymalloc.c parses the command word and calls one of these with the
 * remaining arguments; each returns the process exit status.
 */
#ifndef FLY_TOOLS_H
#define FLY_TOOLS_H

#include <stdio.h>

/* tools/trace_cmd.c: flymalloc trace -o FILE -- CMD ARGS... */
int fly_cmd_trace(int argc, char **argv);
/* tools/replay.c: flymalloc replay FILE [--allocator A] [--compare A,B,...] */
int fly_cmd_replay(int argc, char **argv);
/* tools/analyze.c: flymalloc analyze FILE [-o OUT.json]: the trace's figures as JSON */
int fly_cmd_analyze(int argc, char **argv);

/* tools/policy_cmd.c: the policy commands (see its head comment). */
int fly_cmd_policies(int argc, char **argv);
int fly_cmd_policy(int argc, char **argv);
int fly_cmd_profile(int argc, char **argv);
int fly_cmd_tune(int argc, char **argv);
int fly_cmd_seed(int argc, char **argv);
int fly_cmd_forget(int argc, char **argv);
/* flymalloc numa: the topology the library finds (numa_cmd.c). */
int fly_cmd_numa(int argc, char **argv);
/* The policies' names, each after a space. */
void fly_policy_names(FILE *f);

/* Directory holding the flymalloc executable (to find the library and scripts). */
void fly_self_dir(char *out, unsigned long len);

/* The library the launcher runs programs on: libflymalloc.so beside it (a
 * checkout's build/), else the installed one; -1 if there is none. */
int fly_library_path(char *out, unsigned long len);
/* Puts that library first in LD_PRELOAD;
 * -1 (with a message) if it is missing. */
int fly_preload_self(void);

#endif
