/*
 * test_oom_rlimit: when the OS refuses memory, allocation fails cleanly and
 * recovers.
 *
 * Proves, in a child whose address space is capped with RLIMIT_AS at its
 * current size + 256 MiB: allocating 1 MiB blocks, then 64 KiB, then 64 B
 * blocks until each fails ends in NULL with errno ENOMEM (no crash, no
 * abort); calloc, realloc and aligned allocation fail the same way and a
 * failed realloc keeps the old block; a 100 MB request fails with ENOMEM
 * while memory is full; after freeing everything the 100 MB request
 * succeeds, and a second round of filling fits at least 90% as many 1 MiB
 * blocks as the first (nothing leaked); and after filling memory with 64 B
 * blocks, freeing them and trimming, 1 MiB blocks fit again as well.
 * flytest: timeout=200
 */
#include "check.h"
#include "flymalloc.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum { MAXP = 1 << 23 };
static void **ptrs;
static size_t np;

static size_t vm_size(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    CHECK(fd >= 0, "open /proc/self/status");
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0, "read /proc/self/status");
    buf[n] = 0;
    char *v = strstr(buf, "VmSize:");
    CHECK(v != NULL, "no VmSize");
    return (size_t)strtoull(v + 7, NULL, 10) * 1024;
}

/* Allocates blocks of size n until one fails; returns how many succeeded. */
static size_t fill(size_t n, const char *what)
{
    size_t got = 0;
    for (;;) {
        CHECK(np < MAXP, "more than %d blocks: the limit is not biting", MAXP);
        errno = 0;
        char *p = fly_malloc(n);
        if (!p) {
            CHECK(errno == ENOMEM, "%s: malloc(%zu) failed with errno %d, expected ENOMEM", what, n, errno);
            return got;
        }
        p[0] = 1;
        p[n - 1] = 2;
        ptrs[np++] = p;
        got++;
    }
}

static void free_all(void)
{
    for (size_t i = 0; i < np; i++)
        fly_free(ptrs[i]);
    np = 0;
}

#define EXPECT_ENOMEM(call)                                                                \
    do {                                                                                   \
        errno = 0;                                                                         \
        void *r_ = (call);                                                                 \
        CHECK(r_ == NULL, "%s succeeded (%p) with memory exhausted", #call, r_);           \
        CHECK(errno == ENOMEM, "%s: errno %d, expected ENOMEM", #call, errno);             \
    } while (0)

static void body(void)
{
    ptrs = mmap(NULL, MAXP * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ptrs != MAP_FAILED, "mmap pointer array");
    char *keep = fly_malloc(100000);
    CHECK(keep != NULL, "malloc");
    t_fill(keep, 100000, 9);

    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = vm_size() + (256u << 20);
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit");

    size_t first = fill(1u << 20, "round 1, 1 MiB");
    size_t m64k = fill(65536, "round 1, 64 KiB");
    size_t m64 = fill(64, "round 1, 64 B");
    t_log("round 1: %zu x 1 MiB, %zu x 64 KiB, %zu x 64 B\n", first, m64k, m64);
    CHECK(first >= 64, "only %zu MiB fit under a 256 MiB allowance", first);

    EXPECT_ENOMEM(fly_malloc(100u << 20));
    EXPECT_ENOMEM(fly_calloc(100, 1u << 20));
    EXPECT_ENOMEM(fly_aligned_alloc(1u << 20, 100u << 20));
    EXPECT_ENOMEM(fly_realloc(keep, 100u << 20));
    CHECK(t_verify(keep, 100000, 9) == 100000, "failed realloc damaged the block");
    void *m = (void *)0x77;
    int rc = fly_posix_memalign(&m, 4096, 100u << 20);
    CHECK(rc == ENOMEM, "posix_memalign(100 MB) = %d with memory exhausted", rc);

    free_all();
    char *h = fly_malloc(100u << 20);
    CHECK(h != NULL, "malloc(100 MB) failed after freeing everything (errno %d)", errno);
    h[0] = 1;
    h[(100u << 20) - 1] = 1;
    fly_free(h);

    size_t second = fill(1u << 20, "round 2, 1 MiB");
    t_log("round 2: %zu x 1 MiB\n", second);
    CHECK(second * 10 >= first * 9, "round 2 fits %zu MiB, round 1 fitted %zu: memory leaked", second, first);
    free_all();
    fill(64, "round 3, 64 B");
    free_all();
    fly_malloc_trim(0);
    size_t third = fill(1u << 20, "round 3, 1 MiB");
    t_log("round 3: %zu x 1 MiB after filling and freeing 64 B blocks\n", third);
    CHECK(third * 10 >= first * 9, "round 3 fits %zu MiB, round 1 fitted %zu: freed small blocks' memory "
          "not reusable for large ones", third, first);
    free_all();
    CHECK(t_verify(keep, 100000, 9) == 100000, "block damaged");
    fly_free(keep);
}

int main(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status), "child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}
