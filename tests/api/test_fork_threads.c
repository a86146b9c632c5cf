/*
 * test_fork_threads: fork() while other threads allocate leaves a usable child.
 *
 * Proves: 100 times, with two threads busy in fly_malloc/fly_free/
 * fly_realloc (small, page-sized and 1-2 MiB blocks, so that every lock
 * from thread caches to vmem is likely to be held at some fork), the
 * forked child can allocate and free blocks of every size class, large and
 * huge, verify their content, start a thread that allocates, trim and read
 * statistics, and exit 0 within 20 s (a deadlock on a lock held at fork time
 * shows up as SIGALRM). The parent's threads keep working correctly too.
 * flytest: timeout=200
 */
#include "check.h"
#include "flymalloc.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

enum { NBUSY = 2, NFORKS = 100 };
static volatile int stop;

static void *busy(void *arg)
{
    uint64_t seed = (uintptr_t)arg;
    enum { K = 256 };
    char *p[K] = { 0 };
    size_t n[K] = { 0 };
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t r = t_rand(&seed);
        int k = (int)(r % K);
        if (p[k]) {
            CHECK(p[k][0] == (char)k && p[k][n[k] - 1] == (char)k, "busy thread block corrupted");
            if (r & 0x100) {
                fly_free(p[k]);
                p[k] = NULL;
                continue;
            }
        }
        size_t m = (r >> 20) % 100 == 0 ? (1u << 20) + (r >> 32) % (1u << 20)
                 : (r >> 20) % 10 == 0 ? (r >> 32) % 20000 + 1 : (r >> 32) % 512 + 1;
        char *q = fly_realloc(p[k], m);
        CHECK(q != NULL, "realloc(%zu) in busy thread", m);
        q[0] = (char)k;
        q[m - 1] = (char)k;
        p[k] = q;
        n[k] = m;
    }
    for (int k = 0; k < K; k++)
        fly_free(p[k]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        void *p = fly_malloc((size_t)i * 7 % 5000);
        CHECK(p != NULL, "malloc in child's thread");
        fly_free(p);
    }
    return NULL;
}

static void child(int iter)
{
    alarm(20);
    enum { N = 300 };
    static char *p[N];
    static size_t n[N];
    for (int i = 0; i < N; i++) {
        n[i] = i % 200 == 199 ? (size_t)(4u << 20) : i % 10 == 9 ? (size_t)65536 + (size_t)i : (size_t)(i * 13) % 4096;
        p[i] = fly_malloc(n[i]);
        CHECK(p[i] != NULL, "child of fork %d: malloc(%zu) failed", iter, n[i]);
        t_fill(p[i], n[i], (uint64_t)i);
    }
    for (int i = 0; i < N; i++)
        CHECK(t_verify(p[i], n[i], (uint64_t)i) == n[i], "child of fork %d: block %d corrupted", iter, i);
    for (int i = 0; i < N; i++)
        fly_free(p[i]);
    void *c = fly_calloc(1000, 1000);
    CHECK(c != NULL, "child calloc");
    fly_free(c);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, child_thread, NULL) == 0, "child pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "child pthread_join");
    fly_malloc_trim(0);
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "child fly_stats_get");
    _exit(0);
}

int main(void)
{
    pthread_t t[NBUSY];
    for (uintptr_t i = 0; i < NBUSY; i++)
        CHECK(pthread_create(&t[i], NULL, busy, (void *)(i + 1)) == 0, "pthread_create");
    uint64_t seed = 3;
    for (int iter = 0; iter < NFORKS; iter++) {
        usleep((useconds_t)(t_rand(&seed) % 5000));
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0)
            child(iter);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        if (WIFSIGNALED(status))
            CHECK(0, "child of fork %d killed by signal %d%s", iter, WTERMSIG(status),
                  WTERMSIG(status) == SIGALRM ? " (SIGALRM: deadlocked in the allocator)" : "");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child of fork %d exited %d", iter,
              WEXITSTATUS(status));
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < NBUSY; i++)
        pthread_join(t[i], NULL);
    return 0;
}
