/*
 * spawn.c: run one benchmark command and report its resource usage.
 *
 * Usage: spawn RESULT_FILE PROGRAM ARGS...
 *
 * The harness is a Python process of some 16 MiB.  A child forked from it
 * starts life with all of that mapped, and Linux carries the high-water
 * mark of the pre-exec image into ru_maxrss, so every small workload would
 * report the harness's size as its peak RSS.  This helper is exec'ed first
 * (its own image is tiny); it then forks and execs the workload, reaps it
 * with wait4, and writes one line to RESULT_FILE:
 *     status=S wall=SECONDS utime=S stime=S maxrss_kib=K minflt=N majflt=N nvcsw=N nivcsw=N
 * where S is the raw wait status.  The workload's standard streams and
 * environment are passed through unchanged.  Exit status: 0 when the result
 * was written, 127 when the program could not be started, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    double t0, wall;
    int status;
    pid_t pid;
    FILE *f;

    if (argc < 3) {
        fprintf(stderr, "usage: spawn RESULT_FILE PROGRAM ARGS...\n");
        return 1;
    }
    t0 = now_sec();
    pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "spawn: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("spawn: wait4");
        return 1;
    }
    wall = now_sec() - t0;
    f = fopen(argv[1], "w");
    if (f == NULL) {
        perror("spawn: result file");
        return 1;
    }
    fprintf(f, "status=%d wall=%.6f utime=%.6f stime=%.6f maxrss_kib=%ld minflt=%ld majflt=%ld "
               "nvcsw=%ld nivcsw=%ld\n",
            status, wall, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss,
            ru.ru_minflt, ru.ru_majflt, ru.ru_nvcsw, ru.ru_nivcsw);
    return fclose(f) == 0 ? 0 : 1;
}
