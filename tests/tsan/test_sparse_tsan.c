/*
 * test_sparse_tsan: sparse-zone passes (src/slab.c) racing the threads
 * that fill and free the same classes, on the prefixed library built with
 * -fsanitize=thread,undefined, under the compact policy that runs them
 * (the test re-executes itself with FLYMALLOC_POLICY=compact).
 *
 * Proves: while one thread's pass closes and purges the free pages of a
 * class's sparse zones, other threads allocating, writing and freeing
 * that class lose no object's contents and hand out no object twice (the
 * content checks), and ThreadSanitizer sees no race; passes did run (the
 * purged bytes grew).  The thread stress of tests/common/stress.h runs
 * under the same policy after it.
 * flytest: timeout=400
 */
#include "flymalloc.h"

#define ST_MALLOC fly_malloc
#define ST_CALLOC fly_calloc
#define ST_REALLOC fly_realloc
#define ST_FREE fly_free
#define ST_USABLE fly_malloc_usable_size
#define ST_POSIX_MEMALIGN fly_posix_memalign
#include "stress.h"

#define THREADS 3
#define ROUNDS 6
#define OBJECTS 3000
#define KEEP_EVERY 12

static void put_tag(unsigned char *p, size_t n, unsigned tag)
{
    memset(p, (int)(tag & 0xff), n);
}

static void check_tag(const unsigned char *p, size_t n, unsigned tag, const char *what)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == (tag & 0xff), "%s: byte %zu of %p is %u, not %u", what, i, (const void *)p, p[i],
              tag & 0xff);
}

/* Each round: a class's worth of objects, most freed, then another
 * class's, which needs new zones while the first class's are sparse. */
static void *phases(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    static __thread unsigned char *first[OBJECTS], *second[OBJECTS];
    for (unsigned r = 0; r < ROUNDS; r++) {
        size_t a = 512 + 128 * ((id + r) % 4), b = 1536 + 256 * ((id + r) % 3);
        for (unsigned i = 0; i < OBJECTS; i++) {
            first[i] = fly_malloc(a);
            CHECK(first[i] != NULL, "malloc");
            put_tag(first[i], a, id * 7 + i);
        }
        for (unsigned i = 0; i < OBJECTS; i++)
            if (i % KEEP_EVERY) {
                check_tag(first[i], a, id * 7 + i, "before free");
                fly_free(first[i]);
                first[i] = NULL;
            }
        for (unsigned i = 0; i < OBJECTS; i++) {
            second[i] = fly_malloc(b);
            CHECK(second[i] != NULL, "malloc");
            put_tag(second[i], b, id * 13 + i);
        }
        for (unsigned i = 0; i < OBJECTS; i += KEEP_EVERY)
            check_tag(first[i], a, id * 7 + i, "kept across a pass");
        for (unsigned i = 0; i < OBJECTS; i++) {
            check_tag(second[i], b, id * 13 + i, "second phase");
            fly_free(second[i]);
        }
        for (unsigned i = 0; i < OBJECTS; i += KEEP_EVERY)
            fly_free(first[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *policy = getenv("FLYMALLOC_POLICY");
    if (policy == NULL || strcmp(policy, "compact") != 0) {
        CHECK(setenv("FLYMALLOC_POLICY", "compact", 1) == 0, "setenv");
        execv("/proc/self/exe", argv);
        CHECK(0, "execv /proc/self/exe");
    }
    fly_stats_t before, after;
    CHECK(fly_stats_get(&before, sizeof before) == 0, "fly_stats_get");
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, phases, (void *)i) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(fly_stats_get(&after, sizeof after) == 0, "fly_stats_get");
    CHECK(after.st_purged_bytes > before.st_purged_bytes, "no pass purged anything (%llu bytes)",
          (unsigned long long)after.st_purged_bytes);
    st_run(2, 30000);
    return 0;
}
