/*
 * trace_read.h: the reader of flymalloc trace files (format v1,
 * docs/trace-format.md), shared by `flymalloc analyze` and `flymalloc replay`.
 *
 * fly_trace_open() maps the file, validates it, merges the events of all
 * threads into one array in sequence-number order and gives every object a
 * dense id (0, 1, 2, ... in order of allocation).  An object keeps its id
 * through realloc (moved or not) until it is freed; a later block at the
 * same address is a new object.
 *
 * Merged order is (sequence number, thread number, order within the
 * thread).  Equal numbers are accepted: the recorder gives a thread's
 * events that touched nothing shared its previous number, and two threads
 * stamping with the TSC can meet the same tick.  A number that goes back
 * within one thread is an error.
 */
#ifndef FLY_TRACE_READ_H
#define FLY_TRACE_READ_H

#include <stddef.h>
#include <stdint.h>

/* Event ops, as in the file. */
enum {
    FLY_OP_MALLOC = 1,
    FLY_OP_CALLOC = 2,
    FLY_OP_FREE = 3,
    FLY_OP_REALLOC = 4,
    FLY_OP_ALIGNED = 5,
    FLY_OP_SAMPLE = 6,
    FLY_OP_THREAD_EXIT = 7,
    FLY_OP_CLASSES = 8,
    FLY_OP_NOTE = 9,
};

/* What an event did to the heap, worked out while ids were assigned. */
enum {
    FLY_EV_NEW = 1,     /* created object `obj` (allocation, realloc(NULL, n)) */
    FLY_EV_ENDS = 2,    /* ended object `obj` (free, realloc to size 0) */
    FLY_EV_FAILED = 4,  /* an allocation or realloc of size > 0 returned NULL */
    FLY_EV_IGNORED = 8, /* names an address no live object has (warned) */
    FLY_EV_EVICTS = 16, /* its block lies where a live object still was (warned):
                         * that object ends first; see fly_trace.evictions */
};

#define FLY_NO_OBJ UINT32_MAX
/* Thread indices have 23 bits in an event. */
#define FLY_MAX_THREADS (1u << 23)

/* One event, 32 bytes, in merged order. */
typedef struct fly_event {
    uint64_t seq;
    uint64_t t_ns;       /* since the trace's start time */
    uint64_t size;       /* bytes requested (calloc: in all); SAMPLE: index in samples */
    uint32_t obj;        /* the object created, resized or ended, or FLY_NO_OBJ */
    uint32_t op : 4;
    uint32_t flags : 5;
    uint32_t thread : 23; /* index in fly_trace.threads */
} fly_event;

typedef struct fly_thread_info {
    uint32_t number; /* as in the file: 1, 2, ... */
    uint32_t tid;    /* kernel thread id of its first chunk */
    uint64_t events;
    uint64_t allocations; /* successful allocation requests (see fly_event_is_request) */
    uint64_t bytes;       /* bytes those requested */
} fly_thread_info;

/* SAMPLE operands, in the file's order. */
enum { FLY_S_RSS, FLY_S_LIVE, FLY_S_MAPPED, FLY_S_DIRTY, FLY_S_COLD,
       FLY_S_MMAP, FLY_S_MUNMAP, FLY_S_MADVISE, FLY_S_MREMAP, FLY_S_COUNT };

typedef struct fly_sample {
    uint64_t t_ns, seq;
    uint64_t v[FLY_S_COUNT];
} fly_sample;

typedef struct fly_class {
    uint64_t size, zones, capacity, used, allocations, requested_bytes;
} fly_class;

/* An object ended because a later block was reported at its address. */
typedef struct fly_eviction {
    uint64_t event; /* index of the event with FLY_EV_EVICTS */
    uint32_t obj;
} fly_eviction;

typedef struct fly_trace {
    const char *path;
    /* header */
    uint32_t version, page_size, header_flags;
    uint64_t pid, start_mono_ns, start_real_ns;
    char **argv; /* the command line, argc strings */
    size_t argc;
    /* events in merged order */
    fly_event *events;
    uint8_t *align_log2; /* per event; ALIGNED: log2 of the alignment, rounded up */
    size_t nevents;
    uint64_t nobjects;
    fly_eviction *evictions;
    size_t nevictions;
    /* threads, ordered by number */
    fly_thread_info *threads;
    size_t nthreads;
    /* records */
    fly_sample *samples;
    size_t nsamples;
    fly_class *classes; /* the last CLASSES event's */
    size_t nclasses;
    char *note; /* the last NOTE's text, NUL-terminated; NULL if none */
    size_t note_len;
    /* end record */
    int has_end;
    uint64_t end_threads, end_events, end_chunks, end_time_ns, end_dropped;
    int complete;         /* end record present and nothing cut off */
    uint64_t duration_ns; /* end time, or the last event's time without an end record */
    /* live bytes (sum of requested sizes of live objects) over merged order */
    uint64_t peak_live_bytes, peak_live_objects;
    uint64_t final_live_bytes, final_live_objects;
    size_t peak_event; /* first event after which live bytes were at their peak; SIZE_MAX if none */
    char **warnings;
    size_t nwarnings;
} fly_trace;

/* Reads and validates PATH into T.  0 on success; otherwise -1 with a
 * message naming the byte offset in ERR, and T left empty.  Warnings (also
 * kept in T->warnings) are not printed. */
int fly_trace_open(fly_trace *t, const char *path, char *err, size_t errlen);
/* Frees the events and evictions (nevents stays: the count is still reported). */
void fly_trace_drop_events(fly_trace *t);
void fly_trace_close(fly_trace *t);

/* True for an allocation request that produced a block: malloc, calloc,
 * aligned, and realloc with a non-NULL result.  These are what the size
 * histogram, requested bytes and per-thread allocations count. */
static inline int fly_event_is_request(const fly_event *e)
{
    return (e->op == FLY_OP_MALLOC || e->op == FLY_OP_CALLOC || e->op == FLY_OP_ALIGNED ||
            e->op == FLY_OP_REALLOC) &&
           e->obj != FLY_NO_OBJ && !(e->flags & (FLY_EV_FAILED | FLY_EV_ENDS | FLY_EV_IGNORED));
}

/* Live-bytes bookkeeping over merged order, the one definition analyze and
 * the replay planner share. */
typedef struct fly_live {
    uint64_t *size; /* per object id: requested bytes while live */
    uint64_t bytes, objects;
    size_t next_eviction;
} fly_live;

int fly_live_init(fly_live *l, const fly_trace *t);
/* Applies event I (events must be applied in order from 0).  Writes the ids
 * of objects that ended with it to ENDED (an evicted one first) and returns
 * how many (0 to 2). */
int fly_live_step(fly_live *l, const fly_trace *t, size_t i, uint32_t ended[2]);
void fly_live_free(fly_live *l);

/* The points of the downsampled live curve, as event indices (the state
 * after that event): with n events and K = ceil(n / max_points), after event
 * number min(n, (j + 1) K) for j = 0, 1, ... (1-based numbers, so index
 * min(n, (j + 1) K) - 1), plus the peak event if it is not one of them, in
 * increasing order.  OUT must hold max_points + 1 entries; returns the count. */
size_t fly_trace_curve_points(const fly_trace *t, size_t max_points, size_t *out);
#define FLY_CURVE_POINTS 2000

#endif
