/*
 * test_secure_api: the secure mode (FLYMALLOC_SECURE=1, docs/security.md)
 * stops every misuse it claims to detect, with its exact message, through
 * the prefixed API.
 *
 * The program runs itself again with FLYMALLOC_SECURE=1 (the library reads
 * its settings before main).  Then it runs the cases every mode detects
 * (tests/common/bad_cases.h) and those only the secure mode detects: writes
 * past the end of small, large and huge blocks (1, 8 and 64 bytes), seen by
 * free, realloc and malloc_usable_size; writes into a freed block, seen
 * when it leaves the quarantine (by a later free, or malloc_trim), when
 * it is handed out again, and at exit; free_sized with a size other than the one asked
 * for; and writes into the guard pages after a large block and at both
 * ends of a region's heap pages, which must kill the program with SIGSEGV.
 */
#define _GNU_SOURCE
#include <unistd.h>

#define B_SECURE 1
#include "bad_api.h"

static void overflow_one_byte(void)
{
    char *p = B_MALLOC(24);
    bad_expect(p);
    p[24] = 0;                      /* a string's terminator, one past the end */
    B_FREE(p);
}
static void overflow_eight_bytes(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    memset(p + 64, 'A', 8);
    B_FREE(p);
}
static void overflow_64_bytes(void)
{
    char *p = B_MALLOC(100);
    bad_expect(p);
    memset(p + 100, 'A', 64);
    B_FREE(p);
}
static void overflow_large(void)
{
    char *p = B_MALLOC(100000);
    bad_expect(p);
    p[100000] = 1;
    B_FREE(p);
}
static void overflow_huge(void)
{
    char *p = B_MALLOC(100u << 20);
    bad_expect(p);
    memset(p + (100u << 20), 0, 8);
    B_FREE(p);
}
static void overflow_seen_by_realloc(void)
{
    char *p = B_MALLOC(40);
    bad_expect(p);
    p[40] = 1;
    sink = B_REALLOC(p, 4000);
}
static void overflow_seen_by_usable_size(void)
{
    char *p = B_MALLOC(3000);
    bad_expect(p);
    p[3001] = 1;
    sink = (void *)B_USABLE(p);
}
/* Freed, written, and emptied from the quarantine by malloc_trim. */
static void write_after_free_trim(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    p[20] = 1;
    B_TRIM(0);
}
/* Freed, written, and pushed out of the quarantine by later frees. */
static void write_after_free_evicted(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    p[63] = 1;
    for (int i = 0; i < 20000; i++)
        B_FREE(B_MALLOC(64));
}
/* Freed for real (through the quarantine), written, then handed out
 * again: malloc finds the slot not zero.  Live blocks keep p's zone. */
static void write_after_free_reused(void)
{
    for (int i = 0; i < 200; i++)
        sink = B_MALLOC(64);
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    B_TRIM(0);
    p[8] = 1;
    for (int i = 0; i < 400000; i++)
        sink = B_MALLOC(64);
}
/* Freed, written, and still in the quarantine when the program exits. */
static void write_after_free_at_exit(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    p[40] = 1;
    exit(0);
}
static void free_sized_larger(void)
{
    char *p = B_MALLOC(100);
    bad_expect(p);
    fly_free_sized(p, 101);
}
static void free_sized_other_class(void)
{
    char *p = B_MALLOC(100);
    bad_expect(p);
    fly_free_sized(p, 40);
}

/* A write into the page after a large block's end. */
static void write_guard_after_large(void)
{
    volatile char *p = B_MALLOC(100000);
    p[(100000 + 8 + 4095) / 4096 * 4096] = 1;
}
/* Writes into the last page of a 64 MiB region (after its last block) and
 * into the last page of its header (before its first block). */
static void write_guard_region_end(void)
{
    uintptr_t region = (uintptr_t)B_MALLOC(64) & ~(((uintptr_t)64 << 20) - 1);
    ((volatile char *)region)[(64u << 20) - 4096] = 1;
}
static void write_guard_header_end(void)
{
    uintptr_t region = (uintptr_t)B_MALLOC(64) & ~(((uintptr_t)64 << 20) - 1);
    ((volatile char *)region)[(1u << 20) - 1] = 1;
}

/* fn must die of SIGSEGV: it wrote into a guard page. */
static void expect_segv(const char *name, void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        fn();
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    bad_cases++;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) {
        t_log("ok   %s (SIGSEGV)\n", name);
        return;
    }
    bad_failures++;
    t_log("FAIL %s: the write into a guard page did not fault (status %#x)\n", name, st);
}

/* The largest large blocks still come (as huge ones, the region's last page
 * being a guard), and keep their contents through realloc. */
static void largest_blocks(void)
{
    bad_cases++;
    size_t sizes[] = { (63u << 20) - 4096, (63u << 20) - 16, 63u << 20, (63u << 20) + 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *p = B_MALLOC(sizes[i]);
        CHECK(p != NULL, "malloc(%zu) failed in the secure mode", sizes[i]);
        p[0] = 1;
        p[sizes[i] - 1] = 2;
        p = B_REALLOC(p, sizes[i] - 100000);
        CHECK(p != NULL && p[0] == 1, "realloc(%zu) lost the block", sizes[i] - 100000);
        B_FREE(p);
    }
    t_log("ok   largest_blocks\n");
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("FLYMALLOC_SECURE") == NULL) {
        setenv("FLYMALLOC_SECURE", "1", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "cannot run itself again: %s", strerror(errno));
    }
    run_shared_bad_cases();
    bad_case("overflow_one_byte", "free", "overflow past the end of block", overflow_one_byte);
    bad_case("overflow_eight_bytes", "free", "overflow past the end of block", overflow_eight_bytes);
    bad_case("overflow_64_bytes", "free", "overflow past the end of block", overflow_64_bytes);
    bad_case("overflow_large", "free", "overflow past the end of block", overflow_large);
    bad_case("overflow_huge", "free", "overflow past the end of block", overflow_huge);
    bad_case("overflow_seen_by_realloc", "realloc", "overflow past the end of block", overflow_seen_by_realloc);
    bad_case("overflow_seen_by_usable_size", "malloc_usable_size", "overflow past the end of block",
             overflow_seen_by_usable_size);
    bad_case("write_after_free_trim", "malloc_trim", "write after free to block", write_after_free_trim);
    bad_case("write_after_free_evicted", "free", "write after free to block", write_after_free_evicted);
    bad_case("write_after_free_reused", "malloc", "write after free to block", write_after_free_reused);
    bad_case("write_after_free_at_exit", "exit", "write after free to block", write_after_free_at_exit);
    bad_case("free_sized_larger", "free_sized", "wrong size for block", free_sized_larger);
    bad_case("free_sized_other_class", "free_sized", "wrong size for block", free_sized_other_class);
    expect_segv("guard_after_large", write_guard_after_large);
    expect_segv("guard_region_end", write_guard_region_end);
    expect_segv("guard_header_end", write_guard_header_end);
    largest_blocks();
    return bad_finish();
}
