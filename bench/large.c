/*
 * large.c: large blocks, 64 KiB to 32 MiB, allocated and freed in a loop.
 *
 * Models programs that churn big buffers: image and compression buffers,
 * hash tables being rebuilt, network and file I/O buffers.  A working set
 * of --slots blocks is kept; each step frees a random block and allocates
 * a new one, with sizes log-uniform between --min and --max (so each size
 * octave is as likely as any other), and writes one word in every page of
 * the new block, as a program filling its buffer would.
 *
 * An allocator that maps and unmaps every large block pays a system call
 * pair and a page fault per page on every step; one that keeps freed large
 * memory and reuses it pays neither in steady state.  The harness runs this
 * workload under strace as well (with --ops N and 2N) to count mmap, munmap,
 * mremap, madvise and brk calls per step in steady state.
 */
#include "bench_common.h"

static long o_ops = 4000, o_slots = 16, o_min = 65536, o_max = 32 << 20, o_seed = 1;
static int corrupt;

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "ops", &o_ops, NULL, "free+allocate steps" },
        { "slots", &o_slots, NULL, "blocks kept live" },
        { "min", &o_min, NULL, "smallest block" },
        { "max", &o_max, NULL, "largest block" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    void **slot;
    size_t *len;
    uint64_t *tag, expect = 0, got = 0, bytes = 0, id = 0;
    long page = sysconf(_SC_PAGESIZE);
    int bad = 0;
    rng_t r;

    bench_options(argc, argv, opts, &corrupt);
    if (o_ops < 0 || o_slots < 1 || o_min < 16 || o_max < o_min) {
        fprintf(stderr, "large: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    slot = calloc((size_t)o_slots, sizeof *slot);
    len = calloc((size_t)o_slots, sizeof *len);
    tag = calloc((size_t)o_slots, sizeof *tag);
    if (slot == NULL || len == NULL || tag == NULL)
        bench_nomem((size_t)o_slots * sizeof *slot);
    rng_seed(&r, (uint64_t)o_seed);
    for (long i = 0; i < o_ops; i++) {
        size_t k = (size_t)(rng_next(&r) % (uint64_t)o_slots);
        size_t n = rng_logsize(&r, (size_t)o_min, (size_t)o_max);
        char *p;

        if (slot[k] != NULL) {
            got += obj_read(slot[k], len[k], tag[k], &bad);
            free(slot[k]);
        }
        p = xmalloc(n);
        for (size_t off = 0; off < n; off += (size_t)page)
            p[off] = (char)off;
        tag[k] = tag_of(id++);
        len[k] = n;
        obj_fill(p, n, tag[k]);
        expect += tag[k];
        bytes += n;
        slot[k] = p;
        if (corrupt && i == o_ops / 2)
            obj_corrupt(p);
    }
    for (long k = 0; k < o_slots; k++) {
        if (slot[k] != NULL) {
            got += obj_read(slot[k], len[k], tag[k], &bad);
            free(slot[k]);
        }
    }
    free(slot);
    free(len);
    free(tag);
    if (bad || got != expect)
        bench_fail("large: a block lost its contents");
    printf("bench: ops=%ld checksum=%016llx mib_allocated=%.0f\n", o_ops,
           (unsigned long long)expect, (double)bytes / 1048576.0);
    return 0;
}
