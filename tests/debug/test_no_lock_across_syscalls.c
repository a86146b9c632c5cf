/*
 * test_no_lock_across_syscalls.c: proves, on the debug build, that no
 * memory system call is made with an allocator lock held (DESIGN: zones,
 * depot, vmem and the huge cache drop their locks around mmap, munmap,
 * madvise and mremap), and that the check itself is live.
 *
 * Four threads create and empty zones of every class, allocate, grow and
 * free large and huge blocks, trim (forcing purges and region releases) and
 * exchange objects; every os-layer entry asserts the thread holds no
 * allocator lock, so a violation aborts with "assertion failed".  A forked
 * child then calls the os layer while holding a class lock and must abort
 * with that message, or the assertion would prove nothing.
 * flytest: timeout=200
 */
#include <pthread.h>
#include <sys/wait.h>

#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "lock.h"
#include "os.h"
#include "slab.h"

static void *worker(void *arg)
{
    uint64_t seed = (uintptr_t)arg;
    enum { N = 4000 };
    static __thread void *slot[N];
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(seed >> 33);
            size_t n = r % 50 == 0 ? (size_t)(r % (8u << 20)) + 40000 : r % 33000 + 1;
            if (r % 997 == 0)
                n = (size_t)70 << 20;                 /* huge */
            fly_free(slot[i]);
            slot[i] = fly_malloc(n);
            CHECK(slot[i] != NULL, "malloc(%zu)", n);
            ((char *)slot[i])[n - 1] = 1;
            if (r % 13 == 0) {
                slot[i] = fly_realloc(slot[i], n * 2 + 1);
                CHECK(slot[i] != NULL, "realloc");
            }
        }
        for (int i = 0; i < N; i += 2) {
            fly_free(slot[i]);
            slot[i] = NULL;
        }
        fly_malloc_trim(0);
    }
    for (int i = 0; i < N; i++)
        fly_free(slot[i]);
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(i * 7919 + 1)) == 0, "pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fly_malloc_trim(0);

    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], 2);
        fly_lock(&fly_heap_default.hp_slab.sl_class[1].sc_lock);
        void *p = fly_os_map_aligned(FLY_PAGE, FLY_PAGE);   /* must abort here */
        (void)p;
        _exit(0);
    }
    close(fds[1]);
    char buf[512] = { 0 };
    ssize_t got = 0, n;
    while ((n = read(fds[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "an os call under a lock did not abort (status %d)", status);
    CHECK(got > 0 && strstr(buf, "flymalloc: fatal: assertion failed: fly_locks_held == 0"),
          "unexpected message: %s", buf);
    return 0;
}
