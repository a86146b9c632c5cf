/*
 * test_background: FLYMALLOC_BACKGROUND=1 gives idle memory back while the
 * program makes no allocator calls at all.
 *
 * Proves, in two child processes with FLYMALLOC_DECAY_MS=50: after 64 MiB
 * of small and large blocks are freed and the thread's caches flushed, the
 * freed pages are dirty (kept for reuse); after 600 ms without a single
 * allocator call, with the background thread they have gone back to the
 * OS (dirty bytes below 1 MiB, purged bytes up by at least 32 MiB), and
 * without it (the control) they are all still there.  A fork child of the
 * first process gets its own background thread and gives its memory back
 * too.  A third process, without the setting, turns the thread on with
 * fly_ctl("background.enable") (which reads 0, then 1) and gives its
 * memory back the same way; turned off again (reads 0), the next idle
 * period gives nothing back, and neither does its fork child.
 * flytest: timeout=60
 */
#include "check.h"
#include "flymalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

static fly_stats_t stats(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get");
    return st;
}

/* Frees 64 MiB, then sleeps without allocator calls; returns the dirty
 * bytes before and after and the bytes purged meanwhile. */
static void churn_and_idle(uint64_t *dirty_before, uint64_t *dirty_after, uint64_t *purged)
{
    enum { N = 4096 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = fly_malloc(i % 8 == 0 ? 100000 : 8000 + (size_t)(i % 7) * 1000);
        CHECK(p[i] != NULL, "malloc");
        memset(p[i], 1, 4096);
    }
    for (int i = 0; i < N; i++)
        fly_free(p[i]);
    fly_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    fly_stats_t a = stats();
    struct timespec ts = { 0, 600 * 1000000L };
    nanosleep(&ts, NULL);
    fly_stats_t b = stats();
    *dirty_before = a.st_dirty_bytes;
    *dirty_after = b.st_dirty_bytes;
    *purged = b.st_purged_bytes - a.st_purged_bytes;
}

static int scenario(bool background)
{
    uint64_t before, after, purged;
    churn_and_idle(&before, &after, &purged);
    t_log("%s: dirty %llu -> %llu bytes after 600 ms idle, %llu purged\n", background ? "background" : "control",
          (unsigned long long)before, (unsigned long long)after, (unsigned long long)purged);
    CHECK(before >= (32u << 20), "only %llu dirty bytes after freeing 64 MiB", (unsigned long long)before);
    if (!background) {
        CHECK(after >= before && purged == 0, "without the background thread memory went back while idle");
        return 0;
    }
    CHECK(after < (1u << 20) && purged >= (32u << 20), "the background thread gave back %llu bytes, %llu stay dirty",
          (unsigned long long)purged, (unsigned long long)after);
    /* A fork child starts its own thread at its first slow path. */
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        churn_and_idle(&before, &after, &purged);
        _exit(after < (1u << 20) && purged >= (32u << 20) ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the fork child's memory did not go back while it idled");
    return 0;
}

static uint64_t background_enabled(void)
{
    uint64_t on = 2;
    size_t len = sizeof on;
    CHECK(fly_ctl("background.enable", &on, &len, NULL, 0) == 0 && len == sizeof on, "read background.enable");
    return on;
}

static void background_set(uint64_t on)
{
    CHECK(fly_ctl("background.enable", NULL, NULL, &on, sizeof on) == 0, "write background.enable");
}

/* Turned on and off through fly_ctl. */
static int ctl_scenario(void)
{
    uint64_t before, after, purged;
    CHECK(background_enabled() == 0, "background.enable reads 1 without FLYMALLOC_BACKGROUND");
    uint64_t bad = 2;
    CHECK(fly_ctl("background.enable", NULL, NULL, &bad, sizeof bad) == EINVAL, "background.enable took 2");
    background_set(1);
    CHECK(background_enabled() == 1, "background.enable reads 0 after writing 1");
    churn_and_idle(&before, &after, &purged);
    t_log("ctl on: dirty %llu -> %llu bytes after 600 ms idle, %llu purged\n", (unsigned long long)before,
          (unsigned long long)after, (unsigned long long)purged);
    CHECK(after < (1u << 20) && purged >= (32u << 20), "turned on by fly_ctl, the thread gave back %llu bytes, "
          "%llu stay dirty", (unsigned long long)purged, (unsigned long long)after);
    background_set(0);
    CHECK(background_enabled() == 0, "background.enable reads 1 after writing 0");
    struct timespec settle = { 0, 100 * 1000000L };     /* a pass under way ends */
    nanosleep(&settle, NULL);
    churn_and_idle(&before, &after, &purged);
    t_log("ctl off: dirty %llu -> %llu bytes after 600 ms idle, %llu purged\n", (unsigned long long)before,
          (unsigned long long)after, (unsigned long long)purged);
    CHECK(before >= (32u << 20) && after >= before && purged == 0,
          "turned off by fly_ctl, memory still went back while idle (%llu bytes)", (unsigned long long)purged);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        churn_and_idle(&before, &after, &purged);
        _exit(background_enabled() == 0 && purged == 0 ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the fork child of a process that turned the thread off gave memory back while idle");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return strcmp(argv[1], "ctl") == 0 ? ctl_scenario() : scenario(strcmp(argv[1], "background") == 0);
    const char *modes[] = { "background", "control", "ctl" };
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            setenv("FLYMALLOC_DECAY_MS", "50", 1);
            setenv("FLYMALLOC_BACKGROUND", i == 0 ? "1" : "0", 1);
            execl("/proc/self/exe", argv[0], modes[i], (char *)NULL);
            _exit(127);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "scenario %s failed", modes[i]);
    }
    return 0;
}
