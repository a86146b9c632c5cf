/*
 * test_preload_active: malloc in this program is flymalloc.
 *
 * Run with LD_PRELOAD=libflymalloc.so and again linked with libflymalloc.a
 * (flytest: static).  Proves: the fly_* symbols are present; malloc's blocks
 * are flymalloc's (fly_malloc_usable_size agrees with malloc_usable_size);
 * allocations made by the program and by libc itself (strdup) are counted
 * in fly_stats_get; blocks from malloc can be freed with fly_free and blocks
 * from fly_malloc freed with free or grown with realloc (one allocator, not
 * two side by side); calloc, realloc and posix_memalign are counted too.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>

#include "flyprobe.h"

int main(void)
{
    fly_probe_require_active();

    void *a = malloc(t_opaque(333));
    CHECK(a != NULL, "malloc");
    fly_free(a);
    char *b = fly_malloc(t_opaque(77));
    CHECK(b != NULL, "fly_malloc");
    t_fill(b, 77, 5);
    b = realloc(b, t_opaque(100000));
    CHECK(b != NULL && t_verify(b, 77, 5) == 77, "realloc of a fly_malloc block lost content");
    free(b);

    uint64_t n0 = fly_probe_nmalloc();
    void *c = calloc(t_opaque(3), 100);
    void *r = realloc(NULL, t_opaque(50));
    void *m = NULL;
    CHECK(posix_memalign(&m, 256, t_opaque(1000)) == 0, "posix_memalign");
    uint64_t n1 = fly_probe_nmalloc();
    CHECK(n1 - n0 >= 3, "calloc/realloc/posix_memalign counted as %llu allocations",
          (unsigned long long)(n1 - n0));
    free(c);
    free(r);
    free(m);
    return 0;
}
