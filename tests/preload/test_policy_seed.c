/*
 * test_policy_seed: a program that links in FLYMALLOC_POLICY_SEED runs
 * under that policy, preloaded or linked statically, and the precedence
 * rules hold.  The program re-runs itself with different environments and
 * each run checks fly_ctl's policy.name, policy.source and opt.decay_ms:
 *   - no setting: the seed, "compact", from "seed", with compact's decay
 *     (100 ms);
 *   - FLYMALLOC_POLICY=bulk: bulk from "env" (the environment wins), with
 *     bulk's decay (10000 ms);
 *   - FLYMALLOC_DECAY_MS=700: still compact from the seed, but the explicit
 *     setting overrides the policy's decay;
 *   - FLYMALLOC_POLICY=nope: one warning naming the variable, then the
 *     default policy from "default" (not the seed);
 *   - statically linked, run setuid to another user (AT_SECURE): the
 *     environment is ignored (FLYMALLOC_POLICY=bulk, FLYMALLOC_DECAY_MS=5),
 *     the seed holds.  Skipped where it cannot be arranged (not root, or a
 *     nosuid file system).
 * flytest: static
 */
#include "flyprobe.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

FLYMALLOC_POLICY_SEED("compact");

#ifndef FLY_STATIC_LINK
#pragma weak fly_ctl
#endif

static void text(const char *name, char *out, size_t len)
{
    CHECK(fly_ctl(name, out, &len, NULL, 0) == 0, "fly_ctl(%s)", name);
}

/* The checks of one run: argv = self check NAME SOURCE DECAY. */
static int check_run(char **argv)
{
    fly_probe_require_active();
    free(malloc(100));
    char name[32], source[32];
    text("policy.name", name, sizeof name);
    text("policy.source", source, sizeof source);
    uint64_t decay = 0;
    size_t len = sizeof decay;
    CHECK(fly_ctl("opt.decay_ms", &decay, &len, NULL, 0) == 0, "opt.decay_ms");
    CHECK(strcmp(name, argv[2]) == 0 && strcmp(source, argv[3]) == 0,
          "policy %s from %s, want %s from %s", name, source, argv[2], argv[3]);
    CHECK(decay == strtoull(argv[4], NULL, 10), "decay %llu ms, want %s", (unsigned long long)decay,
          argv[4]);
    return 0;
}

/* Runs path check NAME SOURCE DECAY with envp; its stderr into err. */
static void run(const char *path, char *const envp[], const char *name, const char *source,
                const char *decay, char *err, size_t errlen)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        char *argv[] = { (char *)path, "check", (char *)name, (char *)source, (char *)decay, NULL };
        execve(path, argv, envp);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = '\0';
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "run expecting %s from %s failed: %s", name,
          source, err);
}

/* The AT_SECURE case: a setuid copy of this (static) program, owned by
 * nobody, run by root with the environment trying to change everything. */
static __attribute__((unused)) void secure_run(const char *self)
{
    if (geteuid() != 0) {
        t_log("secure run skipped: not root\n");
        return;
    }
    const char *dir = getenv("FLY_TESTBIN");
    char copy[4096];
    snprintf(copy, sizeof copy, "%s/policy_seed_setuid.%d", dir ? dir : "/tmp", (int)getpid());
    char cmd[4 * 4200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chown 65534 '%s' && chmod 4755 '%s'", self, copy, copy,
             copy);
    CHECK(system(cmd) == 0, "making a setuid copy");
    char err[4096];
    char *envp[] = { "FLYMALLOC_POLICY=bulk", "FLYMALLOC_DECAY_MS=5", NULL };
    /* Does the file system honour setuid?  The copy says whose it is. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char *argv[] = { copy, "euid", NULL };
        execve(copy, argv, envp);
        _exit(127);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 42) {
        t_log("secure run skipped: setuid not honoured here\n");
        unlink(copy);
        return;
    }
    run(copy, envp, "compact", "seed", "100", err, sizeof err);
    unlink(copy);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "check") == 0)
        return check_run(argv);
    if (argc == 2 && strcmp(argv[1], "euid") == 0)
        return geteuid() == 65534 ? 42 : 1;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0, "readlink");
    self[n] = '\0';
    const char *preload = getenv("LD_PRELOAD");
    char pre[4200];
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", preload ? preload : "");
    char err[4096];

    char *plain[] = { pre, NULL };
    run(self, plain, "compact", "seed", "100", err, sizeof err);
    CHECK(strstr(err, "warning") == NULL, "a warning with no setting: %s", err);

    char *env[] = { pre, "FLYMALLOC_POLICY=bulk", NULL };
    run(self, env, "bulk", "env", "10000", err, sizeof err);

    char *decay[] = { pre, "FLYMALLOC_DECAY_MS=700", NULL };
    run(self, decay, "compact", "seed", "700", err, sizeof err);

    char *bad[] = { pre, "FLYMALLOC_POLICY=nope", NULL };
    run(self, bad, "default", "default", "1000", err, sizeof err);
    CHECK(strstr(err, "flymalloc: warning: FLYMALLOC_POLICY=nope is malformed") != NULL,
          "no warning for an unknown policy: %s", err);
    int warnings = 0;
    for (const char *w = err; (w = strstr(w, "flymalloc: warning:")) != NULL; w++)
        warnings++;
    CHECK(warnings == 1, "%d warnings: %s", warnings, err);

#ifdef FLY_STATIC_LINK
    secure_run(self);
#endif
    return 0;
}
