/*
 * test_never_twice: after a detected misuse, the block it named is never
 * handed out twice.
 *
 * Each case runs in its own child under LD_PRELOAD with a SIGABRT handler
 * that jumps back instead of dying, so the program goes on after
 * flymalloc's abort, as one that catches SIGABRT would.  The case frees a
 * block that is not allocated (a delayed double free of a 64-byte, a
 * 1000-byte, a 20000-byte, a 1 MiB and a 100 MiB block, a slot of a zone
 * never handed out, a realloc of a freed block), and then allocates 3000
 * blocks of the same size, all kept live: none may be returned twice, and
 * the block freed twice may come back at most once.  (test_bad_pointer
 * checks that each is reported, with its message.)
 * Without the free mark (src/freemark.h) the classic free(p); free(q);
 * free(p) hands p out twice within a few hundred mallocs.
 *
 * Then the program runs itself again in the secure mode
 * (FLYMALLOC_SECURE=1), where the same cases run, and those the secure
 * mode adds: a free after writing past the block's end, and a write into
 * a freed block found when the quarantine gives it up (docs/security.md).
 * In the default mode these go unreported, which the test allows as long
 * as no block is handed out twice.
 */
#define _GNU_SOURCE
#include "check.h"
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

static sigjmp_buf back;
static volatile int aborted;
static void *volatile also_live;     /* a block the misuse itself handed out */

static void on_abort(int sig)
{
    (void)sig;
    aborted = 1;
    siglongjmp(back, 1);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Allocates n blocks of size bytes, keeping them all, and checks that no
 * address comes twice and that p comes at most once. */
static void check_no_twice(size_t size, void *p, int n)
{
    void **got = calloc((size_t)n, sizeof *got);
    CHECK(got != NULL, "calloc");
    int seen_p = also_live == p;
    for (int i = 0; i < n; i++) {
        got[i] = malloc(size);
        CHECK(got[i] != NULL, "malloc(%zu) #%d failed", size, i);
        memset(got[i], 0x5a, size < 64 ? size : 64);
        seen_p += got[i] == p;
    }
    CHECK(seen_p <= 1, "%p handed out %d times", p, seen_p);
    qsort(got, (size_t)n, sizeof *got, cmp_ptr);
    for (int i = 1; i < n; i++)
        CHECK(got[i] != got[i - 1], "%p handed out twice", got[i]);
}

typedef void *misuse_fn(size_t size);

/* free(p); free(q); free(p): returns p. */
static void *delayed_double_free(size_t size)
{
    char *p = malloc(size), *q = malloc(size);
    free(p);
    free(q);
    if (sigsetjmp(back, 1) == 0)
        free(p);
    return p;
}

static void *never_allocated_slot(size_t size)
{
    char *p = malloc(size);
    char *q = p + malloc_usable_size(p);
    if (sigsetjmp(back, 1) == 0)
        free(q);
    return q;
}

static void *realloc_of_freed(size_t size)
{
    char *p = malloc(size);
    free(p);
    if (sigsetjmp(back, 1) == 0) {
        also_live = realloc(p, size - 8);
    }
    return p;
}

/* Writes one byte past the end, then frees. */
static void *overflow_then_free(size_t size)
{
    char *p = malloc(size);
    p[size] = 0;
    if (sigsetjmp(back, 1) == 0)
        free(p);
    return p;
}

/* Frees, writes into the freed block, then empties the quarantine. */
static void *write_after_free(size_t size)
{
    char *p = malloc(size);
    free(p);
    p[size / 2] = 1;
    if (sigsetjmp(back, 1) == 0)
        malloc_trim(0);
    return p;
}

static int failures;

static void run_case(const char *name, misuse_fn *fn, size_t size, int n)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY), err = dup(2);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_abort;
        sigaction(SIGABRT, &sa, NULL);
        alarm(60);
        dup2(devnull, 2);                   /* flymalloc's message: test_bad_pointer checks it */
        void *p = fn(size);
        dup2(err, 2);
        check_no_twice(size, p, n);
        _exit(aborted ? 0 : 3);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        t_log("ok   %s (%zu bytes)\n", name, size);
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
        /* The floor: not reported, but not handed out twice. */
        t_log("ok   %s (%zu bytes): not reported, and not handed out twice\n", name, size);
        return;
    }
    failures++;
    if (WIFEXITED(st))
        t_log("FAIL %s (%zu bytes): a block was handed out twice (exit %d)\n", name, size, WEXITSTATUS(st));
    else
        t_log("FAIL %s (%zu bytes): killed by signal %d\n", name, size, WTERMSIG(st));
}

int main(int argc, char **argv)
{
    (void)argc;
    int secure = getenv("FLYMALLOC_SECURE") != NULL;
    t_log("%s mode\n", secure ? "secure" : "default");
    static const size_t sizes[] = { 64, 1000, 20000 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        run_case("delayed double free", delayed_double_free, sizes[i], 3000);
        run_case("never-allocated slot", never_allocated_slot, sizes[i], 3000);
        run_case("realloc of a freed block", realloc_of_freed, sizes[i], 3000);
        run_case("free after an overflow", overflow_then_free, sizes[i], 3000);
        run_case("write after free", write_after_free, sizes[i], 3000);
    }
    run_case("delayed double free", delayed_double_free, 1u << 20, 300);
    run_case("delayed double free", delayed_double_free, 100u << 20, 10);
    run_case("free after an overflow", overflow_then_free, 1u << 20, 300);
    if (failures)
        return 1;
    t_log("no block handed out twice after any detected misuse\n");
    if (!secure) {
        fflush(stdout);
        setenv("FLYMALLOC_SECURE", "1", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "cannot run itself again: %s", strerror(errno));
    }
    return 0;
}
