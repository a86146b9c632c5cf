/*
 * replay_plan.h: the replay plan, the file `flymalloc replay` (replay.c)
 * writes into a memfd and its worker child (replay_worker.c) replays.
 *
 * Layout, all offsets from the start of the file:
 *   header | thread table | sample table | results | (page-aligned) ops
 * The child maps everything before the ops shared and writable (it writes
 * its results there) and reads the ops with pread, so the plan neither
 * shows in its RSS nor costs it mmap calls while it replays.
 *
 * Object ids become *slots*: a slot is reused for a later object once the
 * one in it has been freed (long enough ago that a parallel replay has
 * almost surely freed it too), so the child's table is as large as the
 * trace's peak of live objects, not its total.
 */
#ifndef FLY_REPLAY_PLAN_H
#define FLY_REPLAY_PLAN_H

#include <stdint.h>

#define FLY_PLAN_MAGIC "FLYPLAN1"
/* The hidden `flymalloc replay` option that runs the worker. */
#define FLY_REPLAY_WORKER_ARG "--replay-worker"
/* Threads are named by a 16-bit number in each op. */
#define FLY_PLAN_MAX_THREADS 65535

enum fly_plan_kind {
    FLY_PK_MALLOC = 1,
    FLY_PK_CALLOC,
    FLY_PK_ALIGNED,
    FLY_PK_REALLOC, /* realloc(slot's block or NULL, size) */
    FLY_PK_FREE,
};

typedef struct fly_plan_op {
    uint64_t size;
    uint32_t slot;
    uint32_t turn;        /* position in the global order (--exact) */
    uint32_t version;     /* ops on this slot before this one (parallel order) */
    uint16_t next_owner;  /* thread of turn + 1, which --exact hands the turn to */
    uint8_t kind;
    uint8_t align_log2;
} fly_plan_op;

typedef struct fly_plan_thread {
    uint64_t first_op; /* index of its first op in the ops array */
    uint64_t nops;
} fly_plan_thread;

/* A curve point is taken when AFTER_OPS ops have been replayed in all. */
typedef struct fly_plan_sample {
    uint64_t after_ops;
    uint64_t seq; /* the sequence number of the trace event it stands for */
} fly_plan_sample;

typedef struct fly_plan_point {
    uint64_t t_ns, seq, live, rss;
} fly_plan_point;

typedef struct fly_plan_results {
    uint32_t done; /* 1 once the worker finished */
    uint32_t dry;
    uint64_t time_ns, peak_rss, baseline_rss, failed, points;
    char message[512]; /* why the worker failed */
} fly_plan_results;

typedef struct fly_plan_header {
    char magic[8];
    uint32_t nthreads, page_size;
    uint32_t touch_pages; /* 1: mark a byte in every page of a block; 0: its ends only */
    uint32_t pad;
    uint64_t nops, nslots, nsamples;
    uint64_t threads_off, samples_off, results_off, points_off, ops_off, file_size;
} fly_plan_header;

/* replay_worker.c: `flymalloc replay --replay-worker FD exact|parallel LIB|- [--dry]` */
int fly_replay_worker(int argc, char **argv);

#endif
