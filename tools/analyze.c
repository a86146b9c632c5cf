/*
 * analyze.c: `flymalloc analyze FILE [-o OUT.json]`: a trace's figures as
 * one JSON object (stdout by default), read by tools/report.py.
 *
 * Definitions (one walk over the merged events, tools/trace_read.h):
 *  - live bytes: the sum of requested sizes of live objects; a realloc
 *    replaces its object's size; an object keeps its id through realloc.
 *  - "live": the live-bytes curve downsampled to at most 2000 points: with
 *    n events and K = ceil(n / 2000), point j is the state after event
 *    number min(n, (j + 1) K) and "seq" is that event's sequence number.
 *    So that the peak is never lost between two points, the event at which
 *    live bytes first reached their peak is added as one more point (in
 *    order) when it is not already one: at most 2001 points.  `flymalloc
 *    replay --exact` samples the same points (fly_trace_curve_points).
 *  - requests (size histogram, requested_bytes, per-thread allocations and
 *    bytes): allocations that returned a block: malloc, calloc, aligned and
 *    realloc with a non-NULL result, at their requested size.  Failed ones
 *    are counted in ops.failed only.
 *  - size_histogram: buckets 0-16, 17-32, 33-64, ... (bounds inclusive),
 *    from the first to the last non-empty one.
 *  - lifetime_histogram: free time minus allocation time (a realloc does
 *    not end an object's life), in buckets 0-1, 2-3, 4-7, ... ns, from the
 *    first to the last non-empty one; never_freed counts the objects live
 *    at the end.
 */
#define _GNU_SOURCE
#include "tools.h"
#include "trace_json.h"
#include "trace_read.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE_BUCKETS 61
#define LIFE_BUCKETS 64

/* 0 for 0..16, 1 for 17..32, 2 for 33..64, ... */
static int size_bucket(uint64_t size)
{
    int b = 0;
    while (b < SIZE_BUCKETS - 1 && size > (UINT64_C(16) << b))
        b++;
    return b;
}

static uint64_t size_bucket_lo(int b)
{
    return b == 0 ? 0 : (UINT64_C(8) << b) + 1;
}

static uint64_t size_bucket_hi(int b)
{
    return b >= SIZE_BUCKETS - 1 ? UINT64_MAX : UINT64_C(16) << b;
}

/* 0 for 0..1 ns, k for 2^k .. 2^(k+1)-1. */
static int life_bucket(uint64_t ns)
{
    int k = 0;
    while (k < LIFE_BUCKETS - 1 && ns >= (UINT64_C(2) << k))
        k++;
    return k;
}

typedef struct point {
    uint64_t t_ns, seq, bytes, objects;
} point;

typedef struct figures {
    uint64_t ops[16]; /* by op number */
    uint64_t failed, requested_bytes;
    uint64_t size_count[SIZE_BUCKETS], size_bytes[SIZE_BUCKETS];
    uint64_t life_count[LIFE_BUCKETS];
    point *live;
    size_t nlive;
} figures;

static int compute(const fly_trace *t, figures *fg)
{
    fly_live l;
    uint64_t *birth = calloc(t->nobjects + 1, sizeof(uint64_t));
    size_t *at = malloc((FLY_CURVE_POINTS + 1) * sizeof(size_t));
    fg->live = malloc((FLY_CURVE_POINTS + 1) * sizeof(point));
    if (!birth || !at || !fg->live || fly_live_init(&l, t) != 0) {
        free(birth);
        free(at);
        return -1;
    }
    size_t npoints = fly_trace_curve_points(t, FLY_CURVE_POINTS, at), next = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const fly_event *e = &t->events[i];
        fg->ops[e->op]++;
        if (e->flags & FLY_EV_FAILED)
            fg->failed++;
        if (fly_event_is_request(e)) {
            int b = size_bucket(e->size);
            fg->size_count[b]++;
            fg->size_bytes[b] += e->size;
            fg->requested_bytes += e->size;
        }
        uint32_t ended[2];
        int n = fly_live_step(&l, t, i, ended);
        for (int k = 0; k < n; k++) {
            uint64_t born = birth[ended[k]];
            fg->life_count[life_bucket(e->t_ns > born ? e->t_ns - born : 0)]++;
        }
        if (e->flags & FLY_EV_NEW)
            birth[e->obj] = e->t_ns;
        while (next < npoints && at[next] == i)
            fg->live[fg->nlive++] = (point){ e->t_ns, e->seq, l.bytes, l.objects }, next++;
    }
    fly_live_free(&l);
    free(birth);
    free(at);
    return 0;
}

static void write_json(FILE *f, const fly_trace *t, const figures *fg)
{
    fputs("{\"format\":\"flymalloc-analyze\",\"version\":1,\n\"trace\":", f);
    fly_json_trace(f, t);
    fprintf(f, ",\n\"ops\":{\"malloc\":%llu,\"calloc\":%llu,\"free\":%llu,\"realloc\":%llu,"
               "\"aligned\":%llu,\"failed\":%llu},\n",
            (unsigned long long)fg->ops[FLY_OP_MALLOC], (unsigned long long)fg->ops[FLY_OP_CALLOC],
            (unsigned long long)fg->ops[FLY_OP_FREE], (unsigned long long)fg->ops[FLY_OP_REALLOC],
            (unsigned long long)fg->ops[FLY_OP_ALIGNED], (unsigned long long)fg->failed);
    fprintf(f, "\"totals\":{\"allocated_objects\":%llu,\"requested_bytes\":%llu,"
               "\"peak_live_bytes\":%llu,\"peak_live_objects\":%llu,\"final_live_bytes\":%llu,"
               "\"final_live_objects\":%llu},\n",
            (unsigned long long)t->nobjects, (unsigned long long)fg->requested_bytes,
            (unsigned long long)t->peak_live_bytes, (unsigned long long)t->peak_live_objects,
            (unsigned long long)t->final_live_bytes, (unsigned long long)t->final_live_objects);

    fputs("\"live\":{\"t_ns\":", f);
    fly_json_u64s(f, &fg->live[0].t_ns, fg->nlive, sizeof(point));
    fputs(",\"seq\":", f);
    fly_json_u64s(f, &fg->live[0].seq, fg->nlive, sizeof(point));
    fputs(",\"bytes\":", f);
    fly_json_u64s(f, &fg->live[0].bytes, fg->nlive, sizeof(point));
    fputs(",\"objects\":", f);
    fly_json_u64s(f, &fg->live[0].objects, fg->nlive, sizeof(point));
    fputs("},\n", f);

    static const char *const sample_names[FLY_S_COUNT] = {
        "rss", "live", "mapped", "dirty", "cold", "mmap", "munmap", "madvise", "mremap"
    };
    const fly_sample *s = t->samples;
    fputs("\"samples\":{\"t_ns\":", f);
    fly_json_u64s(f, s ? &s[0].t_ns : NULL, t->nsamples, sizeof(fly_sample));
    for (int k = 0; k < FLY_S_COUNT; k++) {
        fprintf(f, ",\"%s\":", sample_names[k]);
        fly_json_u64s(f, s ? &s[0].v[k] : NULL, t->nsamples, sizeof(fly_sample));
    }
    fputs("},\n", f);

    fputs("\"size_histogram\":[", f);
    int top = -1;
    for (int b = 0; b < SIZE_BUCKETS; b++)
        if (fg->size_count[b])
            top = b;
    for (int b = 0; b <= top; b++)
        fprintf(f, "%s{\"lo\":%llu,\"hi\":%llu,\"count\":%llu,\"bytes\":%llu}", b ? "," : "",
                (unsigned long long)size_bucket_lo(b), (unsigned long long)size_bucket_hi(b),
                (unsigned long long)fg->size_count[b], (unsigned long long)fg->size_bytes[b]);
    fputs("],\n", f);

    fputs("\"lifetime_histogram\":{\"unit\":\"ns\",\"buckets\":[", f);
    int lo = LIFE_BUCKETS, hi = -1;
    for (int k = 0; k < LIFE_BUCKETS; k++)
        if (fg->life_count[k]) {
            lo = k < lo ? k : lo;
            hi = k;
        }
    for (int k = lo; k <= hi; k++) {
        uint64_t blo = k == 0 ? 0 : UINT64_C(1) << k;
        uint64_t bhi = k == LIFE_BUCKETS - 1 ? UINT64_MAX : (UINT64_C(2) << k) - 1;
        fprintf(f, "%s{\"lo\":%llu,\"hi\":%llu,\"count\":%llu}", k > lo ? "," : "",
                (unsigned long long)blo, (unsigned long long)bhi,
                (unsigned long long)fg->life_count[k]);
    }
    fprintf(f, "],\"never_freed\":%llu},\n", (unsigned long long)t->final_live_objects);

    fputs("\"threads\":[", f);
    for (size_t i = 0; i < t->nthreads; i++) {
        const fly_thread_info *th = &t->threads[i];
        fprintf(f, "%s{\"thread\":%u,\"tid\":%u,\"events\":%llu,\"allocations\":%llu,"
                   "\"bytes\":%llu}", i ? "," : "", th->number, th->tid,
                (unsigned long long)th->events, (unsigned long long)th->allocations,
                (unsigned long long)th->bytes);
    }
    fputs("],\n\"classes\":[", f);
    for (size_t i = 0; i < t->nclasses; i++) {
        const fly_class *c = &t->classes[i];
        fprintf(f, "%s{\"size\":%llu,\"zones\":%llu,\"capacity\":%llu,\"used\":%llu,"
                   "\"allocations\":%llu,\"requested_bytes\":%llu}", i ? "," : "",
                (unsigned long long)c->size, (unsigned long long)c->zones,
                (unsigned long long)c->capacity, (unsigned long long)c->used,
                (unsigned long long)c->allocations, (unsigned long long)c->requested_bytes);
    }
    fputs("],\n\"summary\":", f);
    fly_json_str(f, t->note ? t->note : "", t->note ? t->note_len : 0);
    fputs("}\n", f);
}

static void usage(void)
{
    fprintf(stderr, "usage: flymalloc analyze FILE [-o OUT.json]\n");
}

int fly_cmd_analyze(int argc, char **argv)
{
    const char *file = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(argv[i], "--output=", 9) == 0) {
            out = argv[i] + 9;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "flymalloc analyze: unknown option %s\n", argv[i]);
            usage();
            return 2;
        } else if (!file) {
            file = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (!file) {
        usage();
        return 2;
    }
    fly_trace t;
    char err[512];
    if (fly_trace_open(&t, file, err, sizeof(err)) != 0) {
        fprintf(stderr, "flymalloc analyze: %s: %s\n", file, err);
        return 1;
    }
    for (size_t i = 0; i < t.nwarnings; i++)
        fprintf(stderr, "flymalloc analyze: warning: %s: %s\n", file, t.warnings[i]);
    figures fg;
    memset(&fg, 0, sizeof(fg));
    if (compute(&t, &fg) != 0) {
        fprintf(stderr, "flymalloc analyze: out of memory\n");
        fly_trace_close(&t);
        return 1;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "flymalloc analyze: cannot write %s: %s\n", out, strerror(errno));
        free(fg.live);
        fly_trace_close(&t);
        return 1;
    }
    write_json(f, &t, &fg);
    int bad = ferror(f);
    if (out ? fclose(f) != 0 : fflush(f) != 0)
        bad = 1;
    free(fg.live);
    fly_trace_close(&t);
    if (bad) {
        fprintf(stderr, "flymalloc analyze: writing %s failed\n", out ? out : "stdout");
        return 1;
    }
    return 0;
}
