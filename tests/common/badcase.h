/*
 * badcase.h: runs one misuse of the allocator in a forked child and checks
 * that flymalloc stops it with the exact message.
 *
 * bad_case(name, verb, problem, fn) forks; the child points fd 2 at a pipe,
 * disables core dumps, and calls fn, which must compute the bad pointer,
 * publish it with bad_expect(ptr) and then misuse it.  The parent requires:
 * the child died of SIGABRT (not SIGSEGV, not a normal exit), and its stderr
 * holds exactly the line "flymalloc: VERB(): PROBLEM 0xHEX" where HEX is
 * the published pointer.  Results are logged per case; bad_finish()
 * returns the exit status (1 if any case failed).
 */
#ifndef FLY_TEST_BADCASE_H
#define FLY_TEST_BADCASE_H

#include "check.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

static volatile uintptr_t *bad_slot; /* shared with the child */
static int bad_failures, bad_cases;

static void bad_expect(void *p)
{
    *bad_slot = (uintptr_t)p;
}

/* Returns 1 if text holds a line exactly "prefix0x<hex>" with hex == want. */
static int bad_find_line(const char *text, const char *prefix, uintptr_t want, char *why, size_t whylen)
{
    size_t plen = strlen(prefix);
    snprintf(why, whylen, "no line starting with \"%s\"", prefix);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > plen && !strncmp(line, prefix, plen)) {
            const char *h = line + plen;
            if (strncmp(h, "0x", 2) != 0) {
                snprintf(why, whylen, "address not printed as 0x...: \"%.*s\"", (int)len, line);
            } else {
                char *stop;
                uintptr_t got = (uintptr_t)strtoull(h + 2, &stop, 16);
                if (stop == h + 2 || stop != line + len)
                    snprintf(why, whylen, "line has more than the address: \"%.*s\"", (int)len, line);
                else if (got != want)
                    snprintf(why, whylen, "address %#lx printed, pointer passed was %#lx", (unsigned long)got,
                             (unsigned long)want);
                else
                    return 1;
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}

static void bad_case(const char *name, const char *verb, const char *problem, void (*fn)(void))
{
    if (!bad_slot) {
        bad_slot = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        CHECK(bad_slot != MAP_FAILED, "mmap");
    }
    *bad_slot = 0;
    bad_cases++;
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(20);
        fn();
        _exit(42);
    }
    close(fds[1]);
    static char out[65536];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");

    char prefix[128], why[512];
    snprintf(prefix, sizeof prefix, "flymalloc: %s(): %s ", verb, problem);
    int ok = 1;
    if (WIFEXITED(status)) {
        snprintf(why, sizeof why, "child exited %d instead of aborting%s", WEXITSTATUS(status),
                 WEXITSTATUS(status) == 42 ? " (the misuse went undetected)" : "");
        ok = 0;
    } else if (WTERMSIG(status) != SIGABRT) {
        snprintf(why, sizeof why, "child killed by signal %d (%s), expected SIGABRT", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        ok = 0;
    } else if (*bad_slot == 0) {
        snprintf(why, sizeof why, "test error: the case did not publish its pointer");
        ok = 0;
    } else if (!bad_find_line(out, prefix, *bad_slot, why, sizeof why)) {
        ok = 0;
    }
    if (ok) {
        t_log("ok   %-28s %s0x%lx\n", name, prefix, (unsigned long)*bad_slot);
    } else {
        bad_failures++;
        t_log("FAIL %-28s expected \"%s0x%lx\": %s\n", name, prefix, (unsigned long)*bad_slot, why);
        if (n)
            t_log("     child's stderr: %.400s%s", out, out[n - 1] == '\n' ? "" : "\n");
    }
}

static int bad_finish(void)
{
    t_log("%d of %d cases failed\n", bad_failures, bad_cases);
    return bad_failures ? 1 : 0;
}

#endif
