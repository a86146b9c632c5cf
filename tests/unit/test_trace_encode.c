/*
 * test_trace_encode.c: round trip of the trace recorder (src/trace.c)
 * through a decoder written here from docs/trace-format.md alone.
 *
 * The test runs itself again ("record" mode) with FLYMALLOC_TRACE set (the
 * allocator reads it at initialization, before main), once with each
 * sequence clock (FLYMALLOC_TRACE_CLOCK=tsc, which falls back to the
 * counter where the kernel does not keep time with the TSC, and counter).
 * The recording process makes a known sequence of calls through the
 * prefixed API on two threads: every recorded operation (malloc, calloc,
 * realloc moving, in place, from NULL, to 0, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, free, free_sized, a failed
 * malloc and an overflowing calloc), small, large and huge blocks, 80000
 * events in a loop (so several chunks), blocks freed by the other thread,
 * and a thread exit.  It writes what it did to a side file.  The decoder
 * then proves:
 *
 *   header      magic, version 1, its length, the recording pid, page size
 *               and flags, and the command line;
 *   chunks      every chunk's magic, bounds and checksum (FNV-1a-64 folded),
 *               event count and payload length agree with its events, no
 *               event runs past its chunk, the kernel thread id is set;
 *   end record  it is last and counts the threads, events and chunks read,
 *               with no event dropped;
 *   events      per thread, after dropping SAMPLE events (whose 9 fields
 *               are decoded), the events are exactly the calls made, in
 *               order: each one's kind, sizes, alignment and addresses
 *               (zigzag deltas undone); free(NULL) is not recorded; the
 *               helper thread ends with THREAD_EXIT; one CLASSES event
 *               (a size for every class, matching fly_classes) and one
 *               NOTE (non-empty text) end the main thread's events;
 *   order       sequence numbers are positive and never decrease within a
 *               thread, across its chunks too; merging all events by
 *               (sequence number, thread) gives a valid history: every
 *               block is allocated before it is released, by whichever
 *               thread, an address is never live twice, and nothing is
 *               left live at the end (every free was recorded).
 */
#define _GNU_SOURCE
#include "check.h"
#include "flymalloc.h"
#include "sizeclass.h"
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum { EV_MALLOC = 1, EV_CALLOC, EV_FREE, EV_REALLOC, EV_ALIGNED, EV_SAMPLE, EV_THREAD_EXIT, EV_CLASSES, EV_NOTE };

#define MiB ((size_t)1 << 20)

/* One expected event, as the recording process saw it. */
typedef struct {
    uint32_t thread;        /* 1: main, 2: the helper */
    uint32_t op;
    uint64_t v[3];          /* operands in the format's order */
} expect_t;

#define MAX_EXPECT 200000
static expect_t *expect;    /* shared by the recording threads, in program order per thread */
static size_t nexpect;
static pthread_mutex_t expect_lock = PTHREAD_MUTEX_INITIALIZER;

static void note(uint32_t thread, uint32_t op, uint64_t a, uint64_t b, uint64_t c)
{
    pthread_mutex_lock(&expect_lock);
    CHECK(nexpect < MAX_EXPECT, "too many events");
    expect[nexpect++] = (expect_t){ thread, op, { a, b, c } };
    pthread_mutex_unlock(&expect_lock);
}

#define U(p) ((uint64_t)(uintptr_t)(p))

/* ---- the recording process -------------------------------------------- */

static void *handed[2][50];

static void *helper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        fly_free(handed[0][i]);
        note(2, EV_FREE, U(handed[0][i]), 0, 0);
    }
    for (int i = 0; i < 50; i++) {
        size_t n = 40 + (size_t)i * 8;
        handed[1][i] = fly_malloc(n);
        note(2, EV_MALLOC, n, U(handed[1][i]), 0);
    }
    note(2, EV_THREAD_EXIT, 0, 0, 0);
    return NULL;
}

static int record(const char *expect_path)
{
    expect = calloc(MAX_EXPECT, sizeof(expect_t));      /* glibc's: not recorded */
    CHECK(expect != NULL, "calloc");
    void *p1 = fly_malloc(24);
    note(1, EV_MALLOC, 24, U(p1), 0);
    void *p2 = fly_calloc(3, 100);
    note(1, EV_CALLOC, 300, U(p2), 0);
    void *p3 = fly_realloc(p1, 2000);                    /* another class: moves */
    CHECK(p3 != p1, "realloc to another class did not move");
    note(1, EV_REALLOC, U(p1), 2000, U(p3));
    void *p4 = fly_realloc(p3, 1990);                    /* the same class: in place */
    CHECK(p4 == p3, "realloc within the class moved");
    note(1, EV_REALLOC, U(p3), 1990, U(p4));
    void *p5;
    CHECK(fly_posix_memalign(&p5, 256, 1000) == 0, "posix_memalign");
    note(1, EV_ALIGNED, 256, 1000, U(p5));
    void *p6 = fly_aligned_alloc(4096, 8192);
    note(1, EV_ALIGNED, 4096, 8192, U(p6));
    void *p7 = fly_memalign(64, 100);
    note(1, EV_ALIGNED, 64, 100, U(p7));
    void *p8 = fly_valloc(5000);
    note(1, EV_ALIGNED, 4096, 5000, U(p8));
    void *p9 = fly_pvalloc(5000);
    note(1, EV_ALIGNED, 4096, 8192, U(p9));              /* pvalloc records the rounded size */
    fly_free(NULL);                                      /* not recorded */
    fly_free(p2);
    note(1, EV_FREE, U(p2), 0, 0);
    void *pl = fly_malloc(100000);
    note(1, EV_MALLOC, 100000, U(pl), 0);
    void *ph = fly_malloc(70 * MiB);
    note(1, EV_MALLOC, 70 * MiB, U(ph), 0);
    void *ph2 = fly_realloc(ph, 90 * MiB);
    note(1, EV_REALLOC, U(ph), 90 * MiB, U(ph2));
    fly_free(pl);
    note(1, EV_FREE, U(pl), 0, 0);
    fly_free_sized(ph2, 90 * MiB);
    note(1, EV_FREE, U(ph2), 0, 0);
    void *pn = fly_realloc(NULL, 50);
    note(1, EV_REALLOC, 0, 50, U(pn));
    CHECK(fly_realloc(pn, 0) == NULL, "realloc(p, 0)");
    note(1, EV_REALLOC, U(pn), 0, 0);
    size_t too_big = SIZE_MAX - 100;
    CHECK(fly_malloc(t_opaque(too_big)) == NULL, "an impossible malloc succeeded");
    note(1, EV_MALLOC, too_big, 0, 0);
    CHECK(fly_calloc(t_opaque(SIZE_MAX / 2), 3) == NULL, "an overflowing calloc succeeded");
    note(1, EV_CALLOC, SIZE_MAX, 0, 0);                  /* the product saturates */
    void *ra = fly_reallocarray(NULL, 10, 10);
    note(1, EV_REALLOC, 0, 100, U(ra));
    void *rest[] = { p4, p5, p6, p7, p8, p9, ra };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        fly_free(rest[i]);
        note(1, EV_FREE, U(rest[i]), 0, 0);
    }

    /* 80000 events: a window of 100 live blocks of random sizes. */
    static void *win[100];
    uint64_t seed = 0x7ace;
    for (int i = 0; i < 40000; i++) {
        int k = i % 100;
        if (win[k]) {
            fly_free(win[k]);
            note(1, EV_FREE, U(win[k]), 0, 0);
        }
        size_t n = 1 + t_rand(&seed) % 5000;
        win[k] = fly_malloc(n);
        note(1, EV_MALLOC, n, U(win[k]), 0);
    }
    for (int k = 0; k < 100; k++) {
        fly_free(win[k]);
        note(1, EV_FREE, U(win[k]), 0, 0);
    }

    /* Blocks handed to the helper thread and back. */
    for (int i = 0; i < 50; i++) {
        size_t n = 16 + (size_t)i * 16;
        handed[0][i] = fly_malloc(n);
        note(1, EV_MALLOC, n, U(handed[0][i]), 0);
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, helper, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    for (int i = 0; i < 50; i++) {
        fly_free(handed[1][i]);
        note(1, EV_FREE, U(handed[1][i]), 0, 0);
    }

    int fd = open(expect_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open %s", expect_path);
    CHECK(write(fd, expect, nexpect * sizeof(expect_t)) == (ssize_t)(nexpect * sizeof(expect_t)), "write");
    close(fd);
    return 0;                 /* the recorder's destructor finishes the trace */
}

/* ---- the decoder ------------------------------------------------------- */

typedef struct {
    uint32_t thread;
    uint32_t op;
    uint64_t seq;
    uint64_t v[3];
    size_t index;             /* position in the file: program order within a thread */
} event_t;

static uint8_t *file;
static size_t file_len;
static event_t *events;
static size_t nevents, cap_events;

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t fnv_fold(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i = 0;
    for (; i < n; i += 8) {
        uint64_t w = 0;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            w |= (uint64_t)p[i + k] << (8 * k);
        h = (h ^ w) * 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* A varint at *pos, not past end. */
static uint64_t varint(const uint8_t *buf, size_t *pos, size_t end)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        CHECK(*pos < end, "varint runs past its chunk at offset %zu", *pos);
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return v;
    }
    CHECK(0, "varint longer than 10 bytes at offset %zu", *pos);
}

static uint64_t addr(const uint8_t *buf, size_t *pos, size_t end, uint64_t *prev)
{
    uint64_t z = varint(buf, pos, end);
    int64_t d = (int64_t)((z >> 1) ^ (~(z & 1) + 1));
    *prev += (uint64_t)d;
    return *prev;
}

static void push_event(event_t e)
{
    if (nevents == cap_events) {
        cap_events = cap_events ? 2 * cap_events : 4096;
        events = realloc(events, cap_events * sizeof(event_t));
        CHECK(events != NULL, "realloc");
    }
    e.index = nevents;
    events[nevents++] = e;
}

static uint32_t nclasses_seen, nnotes;

/* Decodes the whole file into events[]; returns the recording pid. */
static void decode(pid_t pid)
{
    CHECK(file_len >= 48 && memcmp(file, "FLYTRACE", 8) == 0, "not a trace (%zu bytes)", file_len);
    CHECK(le(file + 8, 4) == 1, "version %llu", (unsigned long long)le(file + 8, 4));
    size_t hlen = le(file + 12, 4);
    CHECK(hlen >= 48 && hlen <= file_len, "header length %zu", hlen);
    CHECK(le(file + 16, 8) == (uint64_t)pid, "header pid %llu, recorder %d", (unsigned long long)le(file + 16, 8),
          (int)pid);
    CHECK(le(file + 24, 8) != 0 && le(file + 32, 8) != 0, "start times missing");
    CHECK(le(file + 40, 4) == 4096 && le(file + 44, 4) == 0, "page size %llu, flags %llu",
          (unsigned long long)le(file + 40, 4), (unsigned long long)le(file + 44, 4));
    CHECK(memmem(file + 48, hlen - 48, "record", 7) != NULL, "the command line lacks \"record\"");

    uint64_t last_seq[3] = { 0, 0, 0 };
    uint64_t chunks = 0;
    size_t off = hlen;
    bool ended = false;
    while (off < file_len) {
        CHECK(!ended, "data after the end record at offset %zu", off);
        CHECK(off + 40 <= file_len, "truncated head at offset %zu", off);
        const uint8_t *h = file + off;
        if (memcmp(h, "FLYE", 4) == 0) {
            CHECK(off + 40 == file_len, "end record at %zu is not last (%zu bytes)", off, file_len);
            CHECK(le(h + 4, 4) == 2, "end record: %llu threads", (unsigned long long)le(h + 4, 4));
            CHECK(le(h + 8, 8) == nevents, "end record: %llu events, read %zu", (unsigned long long)le(h + 8, 8),
                  nevents);
            CHECK(le(h + 16, 8) == chunks, "end record: %llu chunks, read %llu",
                  (unsigned long long)le(h + 16, 8), (unsigned long long)chunks);
            CHECK(le(h + 32, 8) == 0, "%llu events dropped", (unsigned long long)le(h + 32, 8));
            ended = true;
            off += 40;
            continue;
        }
        CHECK(memcmp(h, "FLYC", 4) == 0, "bad chunk magic at offset %zu", off);
        uint32_t thread = (uint32_t)le(h + 4, 4), bytes = (uint32_t)le(h + 8, 4), count = (uint32_t)le(h + 12, 4);
        CHECK(thread == 1 || thread == 2, "chunk at %zu: thread %u", off, thread);
        CHECK(off + 40 + bytes <= file_len, "chunk at %zu runs past the file", off);
        const uint8_t *pay = h + 40;
        CHECK(fnv_fold(pay, bytes) == (uint32_t)le(h + 32, 4), "chunk at %zu: checksum", off);
        CHECK(le(h + 36, 4) != 0, "chunk at %zu: no kernel thread id", off);
        uint64_t seq = le(h + 16, 8), prev_addr = 0;
        CHECK(count > 0, "empty chunk at %zu", off);
        size_t pos = 0;
        for (uint32_t i = 0; i < count; i++) {
            CHECK(pos < bytes, "chunk at %zu: event %u of %u past the payload", off, i, count);
            event_t e = { .thread = thread, .op = pay[pos++] };
            seq += varint(pay, &pos, bytes);
            (void)varint(pay, &pos, bytes);                  /* dtime */
            e.seq = seq;
            CHECK(seq > 0, "sequence number 0");
            CHECK(seq >= last_seq[thread], "thread %u: sequence %llu after %llu", thread, (unsigned long long)seq,
                  (unsigned long long)last_seq[thread]);
            last_seq[thread] = seq;
            switch (e.op) {
            case EV_MALLOC:
            case EV_CALLOC:
                e.v[0] = varint(pay, &pos, bytes);
                e.v[1] = addr(pay, &pos, bytes, &prev_addr);
                break;
            case EV_FREE:
                e.v[0] = addr(pay, &pos, bytes, &prev_addr);
                break;
            case EV_REALLOC:
                e.v[0] = addr(pay, &pos, bytes, &prev_addr);
                e.v[1] = varint(pay, &pos, bytes);
                e.v[2] = addr(pay, &pos, bytes, &prev_addr);
                break;
            case EV_ALIGNED:
                e.v[0] = varint(pay, &pos, bytes);
                e.v[1] = varint(pay, &pos, bytes);
                e.v[2] = addr(pay, &pos, bytes, &prev_addr);
                break;
            case EV_SAMPLE: {
                uint64_t f[9];
                for (int k = 0; k < 9; k++)
                    f[k] = varint(pay, &pos, bytes);
                CHECK(f[2] > 0 && f[5] > 0, "sample with no mapped bytes or mmap calls");
                break;
            }
            case EV_THREAD_EXIT:
                break;
            case EV_CLASSES: {
                uint64_t n = varint(pay, &pos, bytes);
                CHECK(n == fly_nclasses, "CLASSES lists %llu classes, there are %u", (unsigned long long)n,
                      fly_nclasses);
                for (uint64_t c = 1; c <= n; c++) {
                    uint64_t f[6];
                    for (int k = 0; k < 6; k++)
                        f[k] = varint(pay, &pos, bytes);
                    CHECK(f[0] == fly_classes[c].cl_size, "CLASSES entry %llu: size %llu",
                          (unsigned long long)c, (unsigned long long)f[0]);
                    CHECK(f[3] <= f[2], "class %llu: %llu objects used of %llu", (unsigned long long)c,
                          (unsigned long long)f[3], (unsigned long long)f[2]);
                }
                nclasses_seen++;
                break;
            }
            case EV_NOTE: {
                uint64_t n = varint(pay, &pos, bytes);
                CHECK(n > 0 && pos + n <= bytes, "NOTE of %llu bytes", (unsigned long long)n);
                pos += n;
                nnotes++;
                break;
            }
            default:
                CHECK(0, "unknown op %u in the chunk at %zu", e.op, off);
            }
            push_event(e);
        }
        CHECK(pos == bytes, "chunk at %zu: %u events end at %zu of %u bytes", off, count, pos, bytes);
        chunks++;
        off += 40 + bytes;
    }
    CHECK(ended, "no end record");
    CHECK(chunks >= 3, "only %llu chunks: the loop should have filled a buffer", (unsigned long long)chunks);
}

static const char *op_name(uint32_t op)
{
    static const char *names[] = { "?", "MALLOC", "CALLOC", "FREE", "REALLOC", "ALIGNED", "SAMPLE", "THREAD_EXIT",
                                   "CLASSES", "NOTE" };
    return op < 10 ? names[op] : "?";
}

static void compare(const expect_t *exp, size_t nexp)
{
    for (uint32_t t = 1; t <= 2; t++) {
        size_t ei = 0, seen_last = 0;
        bool after_classes = false;
        for (size_t i = 0; i < nevents; i++) {
            const event_t *e = &events[i];
            if (e->thread != t || e->op == EV_SAMPLE)
                continue;
            if (e->op == EV_CLASSES || e->op == EV_NOTE) {
                CHECK(t == 1, "CLASSES or NOTE from thread %u", t);
                after_classes = true;
                continue;
            }
            CHECK(!after_classes, "an event after CLASSES");
            while (ei < nexp && exp[ei].thread != t)
                ei++;
            CHECK(ei < nexp, "thread %u: more events recorded than made (%s)", t, op_name(e->op));
            const expect_t *x = &exp[ei++];
            CHECK(e->op == x->op && e->v[0] == x->v[0] && e->v[1] == x->v[1] && e->v[2] == x->v[2],
                  "thread %u, call %zu: recorded %s %#llx %#llx %#llx, made %s %#llx %#llx %#llx", t, seen_last,
                  op_name(e->op), (unsigned long long)e->v[0], (unsigned long long)e->v[1],
                  (unsigned long long)e->v[2], op_name(x->op), (unsigned long long)x->v[0],
                  (unsigned long long)x->v[1], (unsigned long long)x->v[2]);
            seen_last++;
        }
        while (ei < nexp && exp[ei].thread != t)
            ei++;
        CHECK(ei == nexp, "thread %u: call %zu (%s) was not recorded", t, seen_last, op_name(exp[ei].op));
        CHECK(t == 2 || after_classes, "no CLASSES at the end of the main thread");
    }
    CHECK(nclasses_seen == 1 && nnotes == 1, "%u CLASSES and %u NOTE events", nclasses_seen, nnotes);
}

/* A set of live addresses, open addressing with tombstones. */
#define LIVE_SLOTS (1u << 16)
static uint64_t live_set[LIVE_SLOTS];
static size_t nlive;
#define TOMB 1

static size_t live_find(uint64_t a, bool *found)
{
    size_t i = (size_t)((a * 0x9E3779B97F4A7C15ull) >> 48), tomb = SIZE_MAX;
    for (;; i = (i + 1) & (LIVE_SLOTS - 1)) {
        if (live_set[i] == a) {
            *found = true;
            return i;
        }
        if (live_set[i] == TOMB && tomb == SIZE_MAX)
            tomb = i;
        if (live_set[i] == 0) {
            *found = false;
            return tomb != SIZE_MAX ? tomb : i;
        }
    }
}

static void born(uint64_t a, const event_t *e)
{
    if (a == 0)
        return;
    bool found;
    size_t i = live_find(a, &found);
    CHECK(!found, "merged history: %s by thread %u (seq %llu) returned live address %#llx", op_name(e->op), e->thread,
          (unsigned long long)e->seq, (unsigned long long)a);
    CHECK(nlive < LIVE_SLOTS / 2, "too many live blocks");
    live_set[i] = a;
    nlive++;
}

static void dies(uint64_t a, const event_t *e)
{
    bool found;
    size_t i = live_find(a, &found);
    CHECK(found, "merged history: %s by thread %u (seq %llu) releases %#llx, which is not live", op_name(e->op),
          e->thread, (unsigned long long)e->seq, (unsigned long long)a);
    live_set[i] = TOMB;
    nlive--;
}

static int by_seq(const void *a, const void *b)
{
    const event_t *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->thread != y->thread)
        return x->thread < y->thread ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void check_history(void)
{
    qsort(events, nevents, sizeof(event_t), by_seq);
    memset(live_set, 0, sizeof live_set);
    nlive = 0;
    for (size_t i = 0; i < nevents; i++) {
        const event_t *e = &events[i];
        switch (e->op) {
        case EV_MALLOC:
        case EV_CALLOC:
            born(e->v[1], e);
            break;
        case EV_ALIGNED:
            born(e->v[2], e);
            break;
        case EV_FREE:
            dies(e->v[0], e);
            break;
        case EV_REALLOC:
            if (e->v[0] != 0 && (e->v[2] != 0 || e->v[1] == 0))
                dies(e->v[0], e);
            born(e->v[2], e);
            break;
        default:
            break;
        }
    }
    CHECK(nlive == 0, "%zu blocks live at the end of the merged history", nlive);
}

static void run_one(const char *argv0, const char *clock)
{
    char trace_path[128], expect_path[128];
    snprintf(trace_path, sizeof trace_path, "/tmp/flytest-encode-%d-%s.trace", (int)getpid(), clock);
    snprintf(expect_path, sizeof expect_path, "/tmp/flytest-encode-%d-%s.expect", (int)getpid(), clock);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        setenv("FLYMALLOC_TRACE", trace_path, 1);
        setenv("FLYMALLOC_TRACE_CLOCK", clock, 1);
        char *args[] = { (char *)argv0, "record", expect_path, NULL };
        execv("/proc/self/exe", args);
        _exit(99);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the recording process (%s) ended with status %#x", clock,
          status);

    struct stat st;
    int fd = open(expect_path, O_RDONLY);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size % sizeof(expect_t) == 0, "expect file");
    expect_t *exp = malloc((size_t)st.st_size + 1);
    CHECK(exp && read(fd, exp, (size_t)st.st_size) == st.st_size, "read expect file");
    close(fd);
    size_t nexp = (size_t)st.st_size / sizeof(expect_t);

    fd = open(trace_path, O_RDONLY);
    CHECK(fd >= 0 && fstat(fd, &st) == 0, "trace file %s", trace_path);
    file_len = (size_t)st.st_size;
    file = malloc(file_len + 1);
    size_t got = 0;
    while (got < file_len) {
        ssize_t r = read(fd, file + got, file_len - got);
        CHECK(r > 0, "read trace");
        got += (size_t)r;
    }
    close(fd);
    unlink(trace_path);
    unlink(expect_path);

    nevents = 0;
    nclasses_seen = nnotes = 0;
    decode(pid);
    compare(exp, nexp);
    check_history();
    t_log("%s clock: %zu calls, %zu events in %zu bytes\n", clock, nexp, nevents, file_len);
    free(exp);
    free(file);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "record") == 0)
        return record(argv[2]);
    CHECK(getenv("FLYMALLOC_TRACE") == NULL, "run without FLYMALLOC_TRACE");
    run_one(argv[0], "tsc");
    run_one(argv[0], "counter");
    return 0;
}
