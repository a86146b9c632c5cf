/*
 * test_fork_exec: fork, exec, system and popen from a multi-threaded program
 * running on flymalloc (LD_PRELOAD).
 *
 * Proves: while two threads allocate and free, 80 forked children can
 * malloc, free, calloc and realloc blocks of all sizes and exit 0 within
 * 20 s (a lock held across fork would deadlock them: SIGALRM); popen() and
 * system() children (which inherit LD_PRELOAD, so they run on flymalloc
 * too) work and their output arrives intact; the parent's threads are
 * undisturbed.
 * flytest: timeout=200
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "flyprobe.h"

static volatile int stop;

static void *busy(void *arg)
{
    uint64_t seed = (uintptr_t)arg;
    char *p[128] = { 0 };
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t r = t_rand(&seed);
        int k = (int)(r % 128);
        free(p[k]);
        size_t n = (r >> 20) % 50 == 0 ? (1u << 20) + (r >> 40) % 100000 : (r >> 40) % 3000 + 1;
        p[k] = malloc(n);
        CHECK(p[k] != NULL, "malloc");
        p[k][0] = p[k][n - 1] = 1;
    }
    for (int k = 0; k < 128; k++)
        free(p[k]);
    return NULL;
}

int main(void)
{
    fly_probe_require_active();
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, busy, (void *)(i + 11)) == 0, "pthread_create");

    for (int iter = 0; iter < 80; iter++) {
        usleep((useconds_t)(iter * 97 % 3000));
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            alarm(20);
            char *q[300];
            for (int i = 0; i < 300; i++) {
                size_t n = i % 50 == 49 ? (size_t)(2u << 20) : (size_t)(i * 37 % 5000) + 1;
                q[i] = i % 3 ? malloc(n) : calloc(1, n);
                CHECK(q[i] != NULL, "child of fork %d: %s(%zu) returned NULL", iter, i % 3 ? "malloc" : "calloc", n);
                t_fill(q[i], n, (uint64_t)i);
                char *r = realloc(q[i], n + 100);
                CHECK(r != NULL, "child of fork %d: realloc(%zu -> %zu) returned NULL", iter, n, n + 100);
                size_t bad = t_verify(r, n, (uint64_t)i);
                CHECK(bad == n, "child of fork %d: realloc(%p, %zu -> %zu) = %p lost content at offset %zu",
                      iter, (void *)q[i], n, n + 100, (void *)r, bad);
                q[i] = r;
            }
            for (int i = 0; i < 300; i++)
                free(q[i]);
            _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        CHECK(!WIFSIGNALED(status), "child of fork %d killed by signal %d%s", iter, WTERMSIG(status),
              WTERMSIG(status) == SIGALRM ? " (deadlock in the allocator after fork)" : "");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child of fork %d exited %d", iter,
              WEXITSTATUS(status));
    }

    for (int i = 0; i < 5; i++) {
        FILE *p = popen("seq 1 20000 | sort -n | tail -n 1", "r");
        CHECK(p != NULL, "popen");
        char buf[64] = { 0 };
        CHECK(fgets(buf, sizeof buf, p) != NULL, "popen read");
        CHECK(pclose(p) == 0, "pclose status");
        CHECK(!strcmp(buf, "20000\n"), "popen output '%s'", buf);
        CHECK(system("exit 3") == 3 << 8, "system() status");
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
