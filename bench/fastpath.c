/*
 * fastpath.c: the cost of one malloc+free pair on the allocator's fast path.
 *
 * Models the commonest thing a program does with its allocator: a small,
 * short-lived object (16..256 bytes) that is allocated and freed again while
 * the thread cache is warm.  Two patterns:
 *   a  malloc then free at once (a temporary in a function);
 *   b  64 mallocs, then the 64 frees in allocation order (a batch of nodes
 *      built and torn down), so the cache must hold 64 objects.
 * It is meant to run under callgrind: bench/fastpath.sh runs it twice with
 * different pair counts and divides the difference in instructions by the
 * difference in pairs, which cancels startup and leaves the cost of one
 * pair, loop included.
 *
 * Usage: fastpath a|b PAIRS [--corrupt]
 *
 * The sizes come from a fixed table, so every allocator sees the same
 * sequence.  The timed loop carries no check (that would add instructions
 * to every pair); a fixed-cost check afterwards proves the allocator still
 * returns usable, distinct blocks.
 */
#include "bench_common.h"

#define NSIZES 1024 /* a power of two: the loop indexes with a mask */
#define BATCH 64

static unsigned short sizes[NSIZES];

/* Tells the compiler the pointer escapes, so malloc+free is not elided. */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static __attribute__((noinline)) void pattern_a(long pairs)
{
    for (long i = 0; i < pairs; i++) {
        void *p = malloc(sizes[i & (NSIZES - 1)]);
        escape(p);
        free(p);
    }
}

static __attribute__((noinline)) void pattern_b(long pairs)
{
    void *p[BATCH];
    long rounds = pairs / BATCH;
    unsigned k = 0;

    for (long r = 0; r < rounds; r++) {
        for (int j = 0; j < BATCH; j++) {
            p[j] = malloc(sizes[k++ & (NSIZES - 1)]);
            escape(p[j]);
        }
        for (int j = 0; j < BATCH; j++)
            free(p[j]);
    }
}

/* Fixed-cost check: 64 live blocks, each filled and read back. */
static void check_blocks(int corrupt)
{
    void *p[BATCH];
    uint64_t expect = 0, got = 0;
    int bad = 0;

    for (int j = 0; j < BATCH; j++) {
        size_t n = sizes[j];
        p[j] = xmalloc(n);
        obj_fill(p[j], n, tag_of((uint64_t)j));
        expect += tag_of((uint64_t)j);
    }
    if (corrupt)
        obj_corrupt(p[BATCH / 2]);
    for (int j = 0; j < BATCH; j++) {
        got += obj_read(p[j], sizes[j], tag_of((uint64_t)j), &bad);
        free(p[j]);
    }
    if (bad || got != expect)
        bench_fail("fastpath: a block lost its contents");
}

int main(int argc, char **argv)
{
    const char *env = getenv("BENCH_CORRUPT");
    int corrupt = env != NULL && env[0] == '1';
    long pairs;
    rng_t r;

    if (argc < 3 || (argv[1][0] != 'a' && argv[1][0] != 'b') || argv[1][1] != 0 ||
        bench_parse_long(argv[2], &pairs) != 0 || pairs < 0) {
        fprintf(stderr, "usage: fastpath a|b PAIRS [--corrupt]\n");
        return BENCH_EXIT_USAGE;
    }
    if (argc > 3) {
        if (argc != 4 || strcmp(argv[3], "--corrupt") != 0) {
            fprintf(stderr, "usage: fastpath a|b PAIRS [--corrupt]\n");
            return BENCH_EXIT_USAGE;
        }
        corrupt = 1;
    }
    rng_seed(&r, 16256);
    for (int i = 0; i < NSIZES; i++)
        sizes[i] = (unsigned short)rng_range(&r, 16, 256);

    if (argv[1][0] == 'a')
        pattern_a(pairs);
    else
        pattern_b(pairs);
    check_blocks(corrupt);
    if (argv[1][0] == 'b')
        pairs = pairs / BATCH * BATCH;
    printf("bench: pattern=%s pairs=%ld ops=%ld checksum=0\n", argv[1], pairs, pairs);
    return 0;
}
