/*
 * bad_cases.h: the misuse cases shared by tests/bad/test_bad_pointer.c (libc
 * names under LD_PRELOAD) and tests/bad/test_bad_pointer_api.c (fly_* names).
 * The including file defines B_MALLOC, B_FREE, B_REALLOC, B_TRIM, B_USABLE and
 * B_FOREIGN_MALLOC (another allocator's malloc) and then calls
 * run_bad_cases().  Each case runs in its own child (see badcase.h) and
 * must abort with the exact message naming the unprefixed function, the
 * problem and the pointer passed.  A small block that is not allocated,
 * freed again after any distance or never handed out, is a "double free"
 * (its free mark, src/freemark.h).
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

/* Delayed double frees: free(p); free(q); free(p), the classic way to get
 * p handed out twice, in a small, a 1 KiB and a medium class, and with
 * other allocations between the frees. */
static void delayed_double_free(size_t n)
{
    char *p = B_MALLOC(n), *q = B_MALLOC(n);
    bad_expect(p);
    B_FREE(p);
    B_FREE(q);
    B_FREE(t_launder(p));
}
static void delayed_double_free_64(void)
{
    delayed_double_free(64);
}
static void delayed_double_free_1k(void)
{
    delayed_double_free(1000);
}
static void delayed_double_free_medium(void)
{
    delayed_double_free(20000);
}
static void delayed_double_free_busy(void)
{
    char *p = B_MALLOC(48);
    bad_expect(p);
    B_FREE(p);
    char *keep[200];
    for (int i = 0; i < 200; i++)
        keep[i] = B_MALLOC(i % 2 ? 48 : 16 + (size_t)(i % 7) * 40);  /* p's zone stays in use */
    for (int i = 0; i < 200; i += 2)
        B_FREE(keep[i]);
    B_TRIM(0);
    B_FREE(t_launder(p));
}
#ifndef B_SECURE
/* A slot of a zone that was never handed out (the one after p's, in a
 * class no earlier call used, so in p's open page), and one of the thread
 * cache's rounds. */
static void free_never_allocated_slot(void)
{
    char *p = B_MALLOC(400);
    char *q = t_launder(p + B_USABLE(p));
    bad_expect(q);
    B_FREE(q);
}
/* A slot far into a zone whose fills have not reached it: its page is not
 * open yet (slab.c), so nothing of flymalloc is there. */
static void free_slot_of_unopened_page(void)
{
    char *p = B_MALLOC(7000);
    char *q = t_launder(p + 8 * B_USABLE(p));
    bad_expect(q);
    B_FREE(q);
}
#endif
static void realloc_freed_small(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    sink = B_REALLOC(t_launder(p), 60);
}
static void usable_size_freed_small(void)
{
    char *p = B_MALLOC(64);
    bad_expect(p);
    B_FREE(p);
    sink = (void *)B_USABLE(t_launder(p));
}

/* Every case above; the secure mode (B_SECURE) hands a zone's slots out in
 * random order, so the slot after a block may be live there: the
 * never-allocated-slot case is the default mode's. */
static void run_shared_bad_cases(void)
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
    bad_case("delayed_double_free_64", "free", "double free", delayed_double_free_64);
    bad_case("delayed_double_free_1k", "free", "double free", delayed_double_free_1k);
    bad_case("delayed_double_free_medium", "free", "double free", delayed_double_free_medium);
    bad_case("delayed_double_free_busy", "free", "double free", delayed_double_free_busy);
#ifndef B_SECURE
    bad_case("free_never_allocated_slot", "free", "double free", free_never_allocated_slot);
    bad_case("free_slot_of_unopened_page", "free", "invalid pointer", free_slot_of_unopened_page);
#endif
    bad_case("realloc_freed_small", "realloc", "double free", realloc_freed_small);
    bad_case("usable_size_freed_small", "malloc_usable_size", "double free", usable_size_freed_small);
}

static inline int run_bad_cases(void)
{
    run_shared_bad_cases();
    return bad_finish();
}

#endif
