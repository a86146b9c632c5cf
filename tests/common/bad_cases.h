/*
 * bad_cases.h: the misuse cases shared by tests/bad/test_bad_pointer.c (libc
 * names under LD_PRELOAD) and tests/bad/test_bad_pointer_api.c (fly_* names).
 * The including file defines B_MALLOC, B_FREE, B_REALLOC, B_TRIM and
 * B_FOREIGN_MALLOC (another allocator's malloc) and then calls
 * run_bad_cases().  Each case runs in its own child (see badcase.h) and
 * must abort with the exact message naming the unprefixed function, the
 * problem and the pointer passed.
 */
#ifndef FLY_TEST_BAD_CASES_H
#define FLY_TEST_BAD_CASES_H

#include "badcase.h"

static char global_array[8192] __attribute__((aligned(4096)));
static volatile void *sink;

static char *page(void)
{
    char *m = mmap(NULL, 1u << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap");
    return m;
}

/* ---- free of pointers flymalloc never returned ---- */
static void free_stack(void)
{
    char buf[256] __attribute__((aligned(64)));
    buf[0] = 1;
    char *p = t_launder(buf + 64);
    bad_expect(p);
    B_FREE(p);
}
static void free_interior_small(void)
{
    char *p = B_MALLOC(64);
    char *q = t_launder(p + 16);
    bad_expect(q);
    B_FREE(q);
}
static void free_interior_byte(void)
{
    char *p = B_MALLOC(200);
    char *q = t_launder(p + 1);
    bad_expect(q);
    B_FREE(q);
}
static void free_interior_large(void)
{
    char *p = B_MALLOC(1u << 20);
    char *q = t_launder(p + 4096);
    bad_expect(q);
    B_FREE(q);
}
static void free_interior_huge(void)
{
    char *p = B_MALLOC(100u << 20);
    char *q = t_launder(p + (1u << 20));
    bad_expect(q);
    B_FREE(q);
}
static void free_mmap_page(void)
{
    char *p = t_launder(page());
    bad_expect(p);
    B_FREE(p);
}
static void free_global(void)
{
    char *p = t_launder(global_array + 1024);
    bad_expect(p);
    B_FREE(p);
}
static void free_foreign(void)
{
    char *p = t_launder(B_FOREIGN_MALLOC(64));
    CHECK(p != NULL, "foreign malloc");
    bad_expect(p);
    B_FREE(p);
}

/* ---- realloc of the same ---- */
static void realloc_stack(void)
{
    char buf[256] __attribute__((aligned(64)));
    buf[0] = 1;
    char *p = t_launder(buf + 64);
    bad_expect(p);
    sink = B_REALLOC(p, 100);
}
static void realloc_interior_small(void)
{
    char *p = B_MALLOC(64);
    char *q = t_launder(p + 16);
    bad_expect(q);
    sink = B_REALLOC(q, 100);
}
static void realloc_interior_large(void)
{
    char *p = B_MALLOC(1u << 20);
    char *q = t_launder(p + 4096);
    bad_expect(q);
    sink = B_REALLOC(q, 2u << 20);
}
static void realloc_mmap_page(void)
{
    char *p = t_launder(page());
    bad_expect(p);
    sink = B_REALLOC(p, 10);
}
static void realloc_global(void)
{
    char *p = t_launder(global_array + 1024);
    bad_expect(p);
    sink = B_REALLOC(p, 10);
}
static void realloc_foreign(void)
{
    char *p = t_launder(B_FOREIGN_MALLOC(64));
    CHECK(p != NULL, "foreign malloc");
    bad_expect(p);
    sink = B_REALLOC(p, 128);
}

/* ---- double frees ---- */
static void double_free_large(void)
{
    char *p = B_MALLOC(1u << 20);
    bad_expect(p);
    B_FREE(p);
    B_FREE(t_launder(p));
}
static void double_free_huge(void)
{
    char *p = B_MALLOC(100u << 20);
    bad_expect(p);
    B_FREE(p);
    B_FREE(t_launder(p));
}
static void double_free_small(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    B_FREE(t_launder(p));
}
static void double_free_small_trim(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    char *q = B_MALLOC(32);
    B_FREE(q);
    B_FREE(t_launder(p));
    B_TRIM(0); /* flushes the thread cache to the zone: detected at the latest here */
}

static int run_bad_cases(void)
{
    bad_case("free_stack", "free", "invalid pointer", free_stack);
    bad_case("free_interior_small", "free", "invalid pointer", free_interior_small);
    bad_case("free_interior_byte", "free", "invalid pointer", free_interior_byte);
    bad_case("free_interior_large", "free", "invalid pointer", free_interior_large);
    bad_case("free_interior_huge", "free", "invalid pointer", free_interior_huge);
    bad_case("free_mmap_page", "free", "invalid pointer", free_mmap_page);
    bad_case("free_global", "free", "invalid pointer", free_global);
    bad_case("free_foreign", "free", "invalid pointer", free_foreign);
    bad_case("realloc_stack", "realloc", "invalid pointer", realloc_stack);
    bad_case("realloc_interior_small", "realloc", "invalid pointer", realloc_interior_small);
    bad_case("realloc_interior_large", "realloc", "invalid pointer", realloc_interior_large);
    bad_case("realloc_mmap_page", "realloc", "invalid pointer", realloc_mmap_page);
    bad_case("realloc_global", "realloc", "invalid pointer", realloc_global);
    bad_case("realloc_foreign", "realloc", "invalid pointer", realloc_foreign);
    bad_case("double_free_large", "free", "double free", double_free_large);
    bad_case("double_free_huge", "free", "double free", double_free_huge);
    bad_case("double_free_small", "free", "double free", double_free_small);
    bad_case("double_free_small_trim", "free", "double free", double_free_small_trim);
    return bad_finish();
}

#endif
