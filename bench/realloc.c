/*
 * realloc.c: buffers that grow by realloc (string builders and vectors).
 *
 * Models two growth habits found in real programs, interleaved so that the
 * buffers are neighbours in memory and cannot always grow in place:
 *   - string builders (three buffers in four) that call realloc on every
 *     append of 1..32 bytes, to exactly the new length (the naive
 *     "s = realloc(s, len + n)" of much C code); they end at 256 B..64 KiB.
 *     An allocator whose usable size rounds up, or which grows in place,
 *     turns most of these calls into no-ops;
 *   - vectors of 64-byte elements that double their capacity when full;
 *     they end at 4 KiB..8 MiB, so their last steps cross into large blocks
 *     where growing in place (or by mremap) avoids copying megabytes.
 * --builders buffers are live at once and appends go to them in random
 * order.  A finished buffer is checked (byte i must be base + 7 i) and
 * freed, and a new one takes its place, until --bytes bytes have been
 * appended in all.
 */
#include "bench_common.h"

static long o_builders = 16, o_bytes = 256 << 20, o_seed = 1;
static int corrupt;

typedef struct {
    unsigned char *bd_buf;
    size_t bd_len, bd_cap, bd_target;
    int bd_vector;
    unsigned char bd_base; /* byte i of the buffer is bd_base + 7 i */
} builder_t;

static void builder_start(builder_t *b, rng_t *r)
{
    uint64_t x = rng_next(r);
    b->bd_vector = x % 4 == 0;
    b->bd_target = b->bd_vector ? rng_logsize(r, 4096, 8 << 20) : rng_logsize(r, 256, 65536);
    b->bd_base = (unsigned char)(x >> 8);
    b->bd_buf = NULL;
    b->bd_len = b->bd_cap = 0;
}

/* Returns a hash of the buffer, or 0 when a byte is not what was appended. */
static uint64_t builder_check(const builder_t *b)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char bad = 0;

    for (size_t i = 0; i < b->bd_len; i++)
        bad |= b->bd_buf[i] ^ (unsigned char)(b->bd_base + 7 * i);
    for (size_t i = 0; i + 8 <= b->bd_len; i += 4096) {
        uint64_t w;
        memcpy(&w, b->bd_buf + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return bad ? 0 : h ^ b->bd_len;
}

int main(int argc, char **argv)
{
    static const bench_opt_t opts[] = {
        { "builders", &o_builders, NULL, "buffers growing at once" },
        { "bytes", &o_bytes, NULL, "bytes appended in all" },
        { "seed", &o_seed, NULL, "random seed" },
        { 0 },
    };
    builder_t *bd;
    uint64_t appended = 0, checksum = 0;
    long reallocs = 0, finished = 0;
    int corrupted = 0;
    rng_t r;

    bench_options(argc, argv, opts, &corrupt);
    if (o_builders < 1 || o_bytes < 0) {
        fprintf(stderr, "realloc: bad options\n");
        return BENCH_EXIT_USAGE;
    }
    rng_seed(&r, (uint64_t)o_seed);
    bd = xmalloc((size_t)o_builders * sizeof *bd);
    for (long i = 0; i < o_builders; i++)
        builder_start(&bd[i], &r);
    while (appended < (uint64_t)o_bytes) {
        uint64_t x = rng_next(&r);
        builder_t *b = &bd[x % (uint64_t)o_builders];
        /* Strings grow by short pieces, vectors by 64-byte elements. */
        size_t n = b->bd_vector ? 64 : 1 + (size_t)((x >> 20) % 32);
        if (b->bd_len + n > b->bd_cap) {
            size_t cap = b->bd_vector ? (b->bd_cap ? b->bd_cap * 2 : 64) : b->bd_len + n;
            while (cap < b->bd_len + n)
                cap *= 2;
            b->bd_buf = realloc(b->bd_buf, cap);
            if (b->bd_buf == NULL)
                bench_nomem(cap);
            b->bd_cap = cap;
            reallocs++;
        }
        for (size_t i = b->bd_len; i < b->bd_len + n; i++)
            b->bd_buf[i] = (unsigned char)(b->bd_base + 7 * i);
        b->bd_len += n;
        appended += n;
        if (b->bd_len >= b->bd_target) {
            if (corrupt && !corrupted && finished >= 10) {
                b->bd_buf[b->bd_len / 2] ^= 1;
                corrupted = 1;
            }
            uint64_t h = builder_check(b);
            if (h == 0)
                bench_fail("realloc: a grown buffer lost its contents (%zu bytes)", b->bd_len);
            checksum += h;
            finished++;
            free(b->bd_buf);
            builder_start(b, &r);
        }
    }
    for (long i = 0; i < o_builders; i++) {
        if (bd[i].bd_len > 0 && builder_check(&bd[i]) == 0)
            bench_fail("realloc: a grown buffer lost its contents");
        free(bd[i].bd_buf);
    }
    free(bd);
    if (corrupt && !corrupted)
        bench_fail("realloc: too little work to corrupt a result");
    printf("bench: ops=%ld checksum=%016llx buffers=%ld mib_appended=%.0f\n", reallocs,
           (unsigned long long)checksum, finished, (double)appended / 1048576.0);
    return 0;
}
