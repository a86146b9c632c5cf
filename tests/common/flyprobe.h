/*
 * flyprobe.h: lets a plain libc test prove that malloc really is flymalloc.
 *
 * Under LD_PRELOAD the fly_* symbols are referenced weakly, so the program
 * still links against libc alone and finds them at run time only if
 * libflymalloc.so is loaded.  Built with -DFLY_STATIC_LINK (linked with
 * libflymalloc.a) the references are strong.
 *
 * fly_probe_require_active() fails the test unless: the fly_* symbols are
 * present; a block from malloc is known to fly_malloc_usable_size with the
 * same usable size malloc_usable_size reports; and fly_stats_get counts an
 * allocation made by malloc and one made inside libc (strdup), which proves
 * that libc's own calls are served by flymalloc too.
 */
#ifndef FLY_TEST_PROBE_H
#define FLY_TEST_PROBE_H

#include "check.h"
#include "flymalloc.h"

#include <malloc.h>
#include <string.h>

#ifndef FLY_STATIC_LINK
#pragma weak fly_malloc_usable_size
#pragma weak fly_stats_get
#pragma weak fly_free
#pragma weak fly_malloc
#endif

static inline uint64_t fly_probe_nmalloc(void)
{
    fly_stats_t st;
    CHECK(fly_stats_get(&st, sizeof st) == 0, "fly_stats_get failed");
    return st.st_nmalloc;
}

static inline void fly_probe_require_active(void)
{
    CHECK(&fly_malloc_usable_size != NULL && &fly_stats_get != NULL,
          "flymalloc is not loaded (fly_* symbols missing): LD_PRELOAD not applied?");
    char *p = (char *)malloc(t_opaque(100));
    CHECK(p != NULL, "malloc(100)");
    size_t u = malloc_usable_size(p);
    CHECK(u >= 100, "malloc_usable_size = %zu", u);
    CHECK(fly_malloc_usable_size(p) == u, "fly_malloc_usable_size %zu != malloc_usable_size %zu: "
          "malloc is not flymalloc", fly_malloc_usable_size(p), u);
    free(p);

    uint64_t a = fly_probe_nmalloc();
    p = (char *)malloc(t_opaque(24));
    uint64_t b = fly_probe_nmalloc();
    CHECK(b > a, "malloc() not counted by fly_stats_get (nmalloc %llu -> %llu)",
          (unsigned long long)a, (unsigned long long)b);
    char *d = strdup("allocated inside libc");
    uint64_t c = fly_probe_nmalloc();
    CHECK(d != NULL && c > b, "strdup()'s malloc not counted by fly_stats_get (nmalloc %llu -> %llu): "
          "libc's internal calls do not reach flymalloc", (unsigned long long)b, (unsigned long long)c);
    CHECK(fly_malloc_usable_size(d) >= strlen(d) + 1, "strdup block unknown to flymalloc");
    free(d);
    free(p);
}

#endif
