/*
 * misuse.c: which heap misuses the allocator under LD_PRELOAD detects.
 *
 * Each case runs in its own child, which exits normally (so checks made at
 * exit count) unless the allocator stops it.  A case is "detected" when the
 * child dies of a signal (an abort, or a fault on a guard page); "cleared"
 * when freed memory no longer holds what the program wrote.  Prints one
 * line per case: its name, then "yes", "no" or "cleared".  Used by
 * bench/misuse.sh; docs/security.md quotes its table.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static void churn(size_t size, int n, int free_too)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(size);
        if (free_too)
            free(sink);
    }
}

static void delayed_double_free(void)
{
    char *p = malloc(64), *q = malloc(64);
    free(p);
    free(q);
    free(sink = p);
    churn(64, 1000, 0);
}
static void double_free_large(void)
{
    char *p = malloc(1 << 20);
    free(p);
    churn(4096, 10, 1);
    free(sink = p);
}
static void interior_free(void)
{
    char *p = malloc(64);
    free(sink = p + 16);
}
static void overflow(size_t size, size_t by, int byte)
{
    char *p = malloc(size);
    memset(p + size, byte, by);
    free(sink = p);
    churn(size, 1000, 1);
}
static void overflow_1(void) { overflow(24, 1, 'A'); }
static void overflow_1_nul(void) { overflow(24, 1, 0); }
static void overflow_8(void) { overflow(64, 8, 'A'); }
static void overflow_large(void) { overflow(100000, 1, 'A'); }
static void write_after_free(int free_too)
{
    char *p = malloc(64);
    free(p);
    p[20] = 1;
    churn(64, 20000, free_too);
}
static void write_after_free_mallocs(void) { write_after_free(0); }
static void write_after_free_frees(void) { write_after_free(1); }
static void free_sized_wrong(void)
{
    void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    char *p = malloc(100);
    if (fs == NULL)
        exit(3);
    fs(p, 4000);
}
static void freed_memory_kept(void)
{
    char *p = malloc(64);
    memset(p, 0x5a, 64);
    free(p);
    exit(((volatile char *)p)[32] == 0x5a ? 0 : 9);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    { "double free, delayed (64 B)", delayed_double_free },
    { "double free (1 MiB)", double_free_large },
    { "free of a block's interior", interior_free },
    { "overflow by 1 byte", overflow_1 },
    { "overflow by a NUL byte", overflow_1_nul },
    { "overflow by 8 bytes", overflow_8 },
    { "overflow of a large block", overflow_large },
    { "write after free, then mallocs", write_after_free_mallocs },
    { "write after free, then churn", write_after_free_frees },
    { "free_sized, wrong size", free_sized_wrong },
    { "freed memory cleared", freed_memory_kept },
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 2);
            cases[i].fn();
            exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
            return 1;
        const char *r = WIFSIGNALED(st) ? "yes"
                      : WEXITSTATUS(st) == 9 ? "cleared"
                      : WEXITSTATUS(st) == 3 ? "n/a" : "no";
        printf("%s\t%s\n", cases[i].name, r);
    }
    return 0;
}
