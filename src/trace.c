/*
 * trace.c: the allocation-event recorder (FLYMALLOC_TRACE, `flymalloc
 * trace`), writing the format of docs/trace-format.md.
 *
 * Each thread encodes its events into a buffer of its own (varints, so a
 * small malloc takes about 12 bytes) and writes the buffer as one chunk
 * with one write() to a file opened O_APPEND, when it fills, when the thread
 * exits and when the process exits.  Sequence numbers let readers merge the
 * threads' chunks into one valid history although addresses are reused:
 * a thread renews its number only after contact with shared state, and a
 * free numbers itself above its block's allocation through a shadow word
 * ("Sequence numbers" below).
 *
 * At exit the destructor closes the trace: it marks it closed (threads
 * still running drop later events and count them), takes each buffer (a
 * thread flushing its own is waited for), writes what each had committed,
 * then the end record.  Events a thread records after its cache destructor
 * ran (other TLS destructors freeing) are written at once as one-event
 * chunks, since its buffer is gone.  A fork child stops recording: the
 * file belongs to the parent.
 *
 * Nothing here allocates: buffers are mapped through the os layer (and
 * show in its counters), text is formatted by hand.
 */
#define _GNU_SOURCE
#include "trace.h"
#include "config.h"
#include "tcache.h"
#include "lock.h"
#include "os.h"
#include "stats.h"
#include "tcache_inline.h"
#include "flymalloc.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Event types (docs/trace-format.md). */
enum {
    FLY_TRACE_MALLOC = 1,
    FLY_TRACE_CALLOC = 2,
    FLY_TRACE_FREE = 3,
    FLY_TRACE_REALLOC = 4,
    FLY_TRACE_ALIGNED = 5,
    FLY_TRACE_SAMPLE = 6,
    FLY_TRACE_THREAD_EXIT = 7,
    FLY_TRACE_CLASSES = 8,
    FLY_TRACE_NOTE = 9,
};

#define TRACE_VERSION      1
#define TRACE_HEADER_FIXED 48
#define TRACE_CHUNK_HEAD   40
#define TRACE_BUF_BYTES    ((size_t)128 << 10)
#define TRACE_EVENT_MAX    64               /* op, seq, time, 3 operands */
#define TRACE_SAMPLE_NS    10000000ull      /* 10 ms between samples */

typedef struct trace_buf {
    struct trace_buf *tb_next;       /* trace_live list, trace_lock */
    struct trace_buf *tb_next_free;  /* trace_free list, trace_lock */
    uint32_t tb_thread, tb_tid;
    uint32_t tb_len, tb_nevents;     /* payload written so far */
    uint32_t tb_cap;                 /* payload capacity */
    int tb_busy;                     /* atomic: a flush owns the buffer */
    uint64_t tb_committed;           /* atomic: events << 32 | bytes, for the exit flush */
    uint64_t tb_base_seq, tb_base_time;
    uint64_t tb_last_seq, tb_last_time, tb_prev_addr;
    uint8_t tb_data[];               /* chunk head, then payload */
} trace_buf_t;

/* The sequence number realloc_move_os took between its two steps (0: none). */
static __thread uint64_t trace_mid_seq __attribute__((tls_model("initial-exec")));
/* The always-missing cache a traced thread's fly_tc points at. */
static fly_tcache_t fly_tcache_traced = FLY_TCACHE_INIT(FLY_TC_TRACED);

static __thread trace_buf_t *trace_self __attribute__((tls_model("initial-exec")));
static __thread fly_tcache_t *trace_real_tc __attribute__((tls_model("initial-exec"))) =
    &fly_tcache_empty;
static __thread uint32_t trace_thread_no __attribute__((tls_model("initial-exec")));
static __thread bool trace_thread_gone __attribute__((tls_model("initial-exec")));
/* Ordering key of the thread's events since its last contact with shared
 * state, and the time last read (see "Sequence numbers" below). */
static __thread uint64_t trace_epoch __attribute__((tls_model("initial-exec")));
static __thread uint64_t trace_last_time __attribute__((tls_model("initial-exec")));
static __thread uint32_t trace_time_left __attribute__((tls_model("initial-exec")));
#define TRACE_TIME_EVERY 8           /* events between clock reads within an epoch */

static int trace_fd = -1;
static int trace_closed;                 /* atomic */
static uint64_t trace_start_ns;
static uint32_t trace_threads;           /* atomic */
static uint64_t trace_events, trace_chunks, trace_dropped;   /* atomic */
static uint64_t trace_next_sample_ns;    /* atomic */
static fly_lock_t trace_lock = FLY_LOCK_INITIALIZER;
static trace_buf_t *trace_live, *trace_free;                 /* trace_lock */

static void trace_clock_choose(bool by_counter);

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Event times.  Where the kernel itself keeps time with the TSC, events
 * read it directly and scale it (calibrated against CLOCK_MONOTONIC over
 * 2 ms at start): a third of the cost of clock_gettime in the VMs we
 * measured, where clock_gettime was a third of the tracing cost. */
static uint64_t tsc_base, tsc_mult;      /* ns = (tsc - base) * mult >> 32 */

static bool kernel_uses_tsc(void)
{
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                  O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n == 4 && memcmp(buf, "tsc\n", 4) == 0;
}

static void clock_calibrate(void)
{
#if defined(__x86_64__)
    if (!kernel_uses_tsc())
        return;
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = __builtin_ia32_rdtsc(), t1, c1;
    do {
        t1 = clock_ns(CLOCK_MONOTONIC);
        c1 = __builtin_ia32_rdtsc();
    } while (t1 - t0 < 2000000);
    if (c1 > c0) {
        tsc_mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) / (c1 - c0));
        /* One tick before the start, so sequence numbers are positive. */
        tsc_base = c0 - (uint64_t)(((unsigned __int128)(t0 - trace_start_ns) << 32) / tsc_mult) - 1;
    }
#endif
}

/* Nanoseconds since the trace started. */
static uint64_t trace_now(void)
{
#if defined(__x86_64__)
    if (fly_likely(tsc_mult)) {
        uint64_t d = __builtin_ia32_rdtsc() - tsc_base;
        return (uint64_t)(((unsigned __int128)d * tsc_mult) >> 32);
    }
#endif
    return clock_ns(CLOCK_MONOTONIC) - trace_start_ns;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

FLY_INLINE uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* The chunk checksum: FNV-1a-64 over little-endian 64-bit words (the last
 * one zero-padded), folded to 32 bits.  Word-wise, it costs a multiply per
 * event rather than one per byte. */
static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);            /* little-endian machines only, as the format */
        h = (h ^ w) * 1099511628211ull;
    }
    if (i < n) {
        uint64_t w = 0;
        for (unsigned k = 0; i + k < n; k++)
            w |= (uint64_t)p[i + k] << (8 * k);
        h = (h ^ w) * 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static void write_file(const void *p, size_t n)
{
    if (trace_fd >= 0)
        fly_write_all(trace_fd, p, n);
}

void fly_trace_init(const char *path, long only_pid, bool by_counter)
{
    if (path == NULL || (only_pid && only_pid != (long)getpid()))
        return;
    trace_fd = fly_open_output(path);
    if (trace_fd < 0) {
        fly_warn("FLYMALLOC_TRACE: cannot open the trace file; not tracing");
        return;
    }
    uint8_t head[TRACE_HEADER_FIXED + 4096];
    size_t cmd = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        while (cmd < 4096 && (n = read(fd, head + TRACE_HEADER_FIXED + cmd, 4096 - cmd)) > 0)
            cmd += (size_t)n;
        close(fd);
    }
    trace_start_ns = clock_ns(CLOCK_MONOTONIC);
    clock_calibrate();
    trace_clock_choose(by_counter);
    memcpy(head, "FLYTRACE", 8);
    put_le(head + 8, TRACE_VERSION, 4);
    put_le(head + 12, TRACE_HEADER_FIXED + cmd, 4);
    put_le(head + 16, (uint64_t)getpid(), 8);
    put_le(head + 24, trace_start_ns, 8);
    put_le(head + 32, clock_ns(CLOCK_REALTIME), 8);
    put_le(head + 40, FLY_PAGE, 4);
    put_le(head + 44, 0, 4);
    write_file(head, TRACE_HEADER_FIXED + cmd);
    __atomic_store_n(&fly_trace_on, true, __ATOMIC_RELEASE);
}

static uint64_t epoch_new(void);

/* Around each recorded operation: the thread's real cache in, then the
 * sentinel back (trace.h). */
FLY_INLINE void enter(void)
{
    fly_trace_inside = true;
    fly_trace_shared = false;
    fly_tc = trace_real_tc;
}

FLY_INLINE void leave(void)
{
    trace_real_tc = fly_tc;
    fly_tc = &fly_tcache_traced;
    fly_trace_inside = false;
    if (fly_trace_shared)
        epoch_new();
}

void fly_trace_enter(void)
{
    enter();
}

void fly_trace_leave(void)
{
    leave();
}

/* Sequence numbers (docs/trace-format.md, "Ordering").  Blocks move
 * between threads only through shared state (depot, zones, vmem, the huge
 * table), never through a magazine hit.  So a thread's events need a fresh
 * number only after an operation that touched shared state (the slow paths
 * set fly_trace_shared); in between, its allocations carry the number of
 * that last contact (its epoch) and keep their program order.  An
 * allocation takes the epoch from after the operation, so a block freed by
 * one thread and taken by another through shared state is numbered before
 * the other's allocation.
 *
 * A release needs a number above that of the block's allocation, which
 * another thread may have made and handed over through the program's own
 * queues.  With the TSC (synchronized across cores) each allocation leaves
 * its number in a shadow word for the block's address (below), and a
 * release numbers itself max(epoch, that + 1): no clock read, no shared
 * line, whatever the threads do.  That stays below any later fresh stamp:
 * it is at most a past reading plus one per hand-over, and each hand-over
 * takes far longer than a tick.  Huge blocks, outside the regions, take a
 * fresh stamp (rdtscp: its fence keeps the read after the loads that
 * brought the block).
 *
 * Without the TSC a process-wide counter numbers epochs; a release keeps
 * its thread's epoch when the counter has not moved since the thread took
 * it (nothing was numbered since, so whatever block arrived was numbered
 * below), and otherwise takes the next number. */
static bool seq_by_tsc;
static uint64_t trace_seq_next FLY_ALIGNED_CL = 1;     /* atomic */
static __thread uint64_t trace_seq_seen __attribute__((tls_model("initial-exec")));
static __thread bool trace_epoch_fresh __attribute__((tls_model("initial-exec")));

static uint64_t epoch_new(void)
{
    trace_epoch_fresh = true;
#if defined(__x86_64__)
    if (seq_by_tsc) {
        unsigned aux;
        return trace_epoch = __builtin_ia32_rdtscp(&aux) - tsc_base;
    }
#endif
    trace_epoch = __atomic_fetch_add(&trace_seq_next, 1, __ATOMIC_SEQ_CST);
    trace_seq_seen = trace_epoch + 1;
    return trace_epoch;
}

FLY_INLINE uint64_t key(void)
{
    if (fly_unlikely(trace_epoch == 0))
        return epoch_new();
    return trace_epoch;
}

/* The shadow: per region, one word per 16 bytes (the smallest class, and
 * every block starts on a multiple), mapped when the region's first block
 * is recorded; the region header points at it.  Its pages are taken out of
 * the resident figures that samples record (shadow_resident). */
#define SHADOW_BYTES   (FLY_REGION / 16 * sizeof(uint64_t))
#define SHADOW_MAX     4096                 /* regions: 256 GiB of heap */
static uint64_t *shadow_maps[SHADOW_MAX];  /* trace_lock to add */
static uint32_t shadow_count;              /* atomic */

static FLY_NOINLINE uint64_t *shadow_map_os(fly_region_t *r)
{
    fly_lock(&trace_lock);
    uint64_t *keys = r->r_trace_keys;
    if (keys == NULL && shadow_count < SHADOW_MAX) {
        fly_unlock(&trace_lock);
        uint64_t *fresh = fly_os_map_aligned(SHADOW_BYTES, FLY_PAGE);
        fly_lock(&trace_lock);
        keys = r->r_trace_keys;
        if (keys == NULL && fresh != NULL && shadow_count < SHADOW_MAX) {
            shadow_maps[shadow_count] = fresh;
            __atomic_store_n(&shadow_count, shadow_count + 1, __ATOMIC_RELEASE);
            __atomic_store_n(&r->r_trace_keys, fresh, __ATOMIC_RELEASE);
            keys = fresh;
            fresh = NULL;
        }
        fly_unlock(&trace_lock);
        if (fresh)
            fly_os_unmap(fresh, SHADOW_BYTES);
        return keys;
    }
    fly_unlock(&trace_lock);
    return keys;
}

/* The shadow word of a block starting at p; NULL outside the regions. */
FLY_INLINE uint64_t *shadow_word_os(const void *p, bool make)
{
    if (fly_region_kind(p) != FLY_REGION_MAP_HEAP)
        return NULL;
    fly_region_t *r = fly_region_of(p);
    uint64_t *keys = __atomic_load_n(&r->r_trace_keys, __ATOMIC_ACQUIRE);
    if (fly_unlikely(keys == NULL)) {
        if (!make)
            return NULL;
        keys = shadow_map_os(r);
        if (keys == NULL)
            return NULL;
    }
    return &keys[((uintptr_t)p & (FLY_REGION - 1)) >> 4];
}

/* An allocation numbered seq returned p: remember the number for p's
 * release.  The program's own hand-over orders this store before the
 * other thread's load. */
FLY_INLINE void shadow_set_os(const void *p, uint64_t seq)
{
    if (seq_by_tsc && p != NULL) {
        uint64_t *w = shadow_word_os(p, true);
        if (w)
            __atomic_store_n(w, seq, __ATOMIC_RELAXED);
    }
}

/* Resident bytes of the shadow maps, which samples leave out. */
static uint64_t shadow_resident(void)
{
    unsigned char vec[SHADOW_BYTES / FLY_PAGE / 8];
    uint64_t pages = 0;
    uint32_t n = __atomic_load_n(&shadow_count, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        for (size_t off = 0; off < SHADOW_BYTES; off += sizeof(vec) * FLY_PAGE) {
            if (mincore((char *)shadow_maps[i] + off, sizeof(vec) * FLY_PAGE, vec) != 0)
                continue;
            for (size_t k = 0; k < sizeof(vec); k++)
                pages += vec[k] & 1;
        }
    return pages * FLY_PAGE;
}

FLY_INLINE uint64_t key_release_os(const void *p)
{
    if (fly_unlikely(trace_epoch == 0))
        epoch_new();
    if (seq_by_tsc) {
        uint64_t *w = shadow_word_os(p, false);
        if (fly_unlikely(w == NULL))
            return epoch_new();
        uint64_t born = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (born >= trace_epoch)
            trace_epoch = born + 1;
        return trace_epoch;
    }
    if (__atomic_load_n(&trace_seq_next, __ATOMIC_ACQUIRE) == trace_seq_seen)
        return trace_epoch;
    return epoch_new();
}

/* A realloc that moves its block numbers itself between allocating the
 * new block and releasing the old (api.c). */
void fly_trace_realloc_mid(void)
{
    trace_mid_seq = epoch_new();
}

/* A realloc's number: the one realloc_move_os took, or a release's for old. */
static uint64_t key_realloc_os(const void *old)
{
    uint64_t mid = trace_mid_seq;
    return mid ? mid : key_release_os(old);
}

/* TSC numbers where the kernel keeps time with the TSC (then times come
 * from it too), else, or if FLYMALLOC_TRACE_CLOCK=counter, the counter. */
static void trace_clock_choose(bool by_counter)
{
    seq_by_tsc = tsc_mult != 0 && !by_counter;
}

/* The time of an event: derived from a fresh TSC number, else read at a
 * fresh counter number and every TRACE_TIME_EVERY events. */
FLY_INLINE uint64_t event_time(trace_buf_t *b)
{
    if (trace_epoch_fresh || b->tb_nevents == 0 || --trace_time_left == 0) {
        trace_time_left = TRACE_TIME_EVERY;
        trace_last_time = seq_by_tsc && trace_epoch_fresh
                              ? (uint64_t)(((unsigned __int128)trace_epoch * tsc_mult) >> 32)
                              : trace_now();
        trace_epoch_fresh = false;
    }
    return trace_last_time;
}

/* Fills the chunk head for the first `events` events (`bytes` of payload)
 * and writes the chunk. */
static void write_chunk(trace_buf_t *b, uint32_t events, uint32_t bytes)
{
    if (events == 0)
        return;
    uint8_t *h = b->tb_data;
    memcpy(h, "FLYC", 4);
    put_le(h + 4, b->tb_thread, 4);
    put_le(h + 8, bytes, 4);
    put_le(h + 12, events, 4);
    put_le(h + 16, b->tb_base_seq, 8);
    put_le(h + 24, b->tb_base_time, 8);
    put_le(h + 32, checksum(h + TRACE_CHUNK_HEAD, bytes), 4);
    put_le(h + 36, b->tb_tid, 4);
    write_file(h, TRACE_CHUNK_HEAD + bytes);
    __atomic_fetch_add(&trace_events, events, __ATOMIC_RELAXED);
    __atomic_fetch_add(&trace_chunks, 1, __ATOMIC_RELAXED);
}

static void reset(trace_buf_t *b)
{
    b->tb_len = b->tb_nevents = 0;
    b->tb_prev_addr = 0;
    __atomic_store_n(&b->tb_committed, 0, __ATOMIC_RELEASE);
}

/* The owner writes its buffer out; false if the trace was closed (the
 * exit flush owns the buffer now). */
static bool flush_own(trace_buf_t *b)
{
    int idle = 0;
    if (!__atomic_compare_exchange_n(&b->tb_busy, &idle, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return false;
    write_chunk(b, b->tb_nevents, b->tb_len);
    reset(b);
    __atomic_store_n(&b->tb_busy, 0, __ATOMIC_RELEASE);
    return true;
}

static trace_buf_t *buf_new_os(void)
{
    fly_lock(&trace_lock);
    trace_buf_t *b = trace_free;
    if (b)
        trace_free = b->tb_next_free;
    fly_unlock(&trace_lock);
    if (b == NULL) {
        b = fly_os_map_aligned(TRACE_BUF_BYTES, FLY_PAGE);
        if (b == NULL)
            return NULL;
        b->tb_cap = (uint32_t)(TRACE_BUF_BYTES - sizeof(*b) - TRACE_CHUNK_HEAD);
    }
    if (trace_thread_no == 0)
        trace_thread_no = __atomic_add_fetch(&trace_threads, 1, __ATOMIC_RELAXED);
    b->tb_thread = trace_thread_no;
    b->tb_tid = (uint32_t)gettid();
    b->tb_busy = 0;
    reset(b);
    fly_lock(&trace_lock);
    b->tb_next = trace_live;
    trace_live = b;
    fly_unlock(&trace_lock);
    return b;
}

/* Unlinks b from the live list (trace_lock held). */
static void unlink_live(trace_buf_t *b)
{
    for (trace_buf_t **pp = &trace_live; *pp; pp = &(*pp)->tb_next)
        if (*pp == b) {
            *pp = b->tb_next;
            return;
        }
}

/* Room for need more payload bytes in the calling thread's buffer; NULL
 * drops the event. */
static trace_buf_t *buf_for_os(size_t need)
{
    trace_buf_t *b = trace_self;
    if (fly_unlikely(b == NULL)) {
        if (trace_thread_gone)
            return NULL;
        b = trace_self = buf_new_os();
        if (b == NULL)
            return NULL;
    }
    if (b->tb_cap - b->tb_len < need && !flush_own(b))
        return NULL;
    return b;
}

/* Encodes op, seq and time at the buffer's end; returns the write cursor. */
FLY_INLINE uint8_t *event_start(trace_buf_t *b, unsigned op, uint64_t seq, uint64_t t)
{
    if (b->tb_nevents == 0) {
        b->tb_base_seq = b->tb_last_seq = seq;
        b->tb_base_time = b->tb_last_time = t;
    }
    uint8_t *p = b->tb_data + TRACE_CHUNK_HEAD + b->tb_len;
    *p++ = (uint8_t)op;
    p = put_varint(p, seq - b->tb_last_seq);
    p = put_varint(p, t >= b->tb_last_time ? t - b->tb_last_time : 0);
    b->tb_last_seq = seq;
    b->tb_last_time = FLY_MAX(t, b->tb_last_time);
    return p;
}

FLY_INLINE uint8_t *put_addr(trace_buf_t *b, uint8_t *p, const void *addr)
{
    uint64_t a = (uintptr_t)addr;
    int64_t d = (int64_t)(a - b->tb_prev_addr);
    b->tb_prev_addr = a;
    return put_varint(p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
}

FLY_INLINE void event_end(trace_buf_t *b, uint8_t *p)
{
    b->tb_len = (uint32_t)(p - (b->tb_data + TRACE_CHUNK_HEAD));
    b->tb_nevents++;
    __atomic_store_n(&b->tb_committed, (uint64_t)b->tb_nevents << 32 | b->tb_len,
                     __ATOMIC_RELEASE);
}

/* A one-event chunk for a thread whose buffer is gone (see the top). */
typedef struct {
    trace_buf_t b;
    uint8_t data[TRACE_CHUNK_HEAD + TRACE_EVENT_MAX];
} trace_late_t;

static trace_buf_t *late_buf(trace_late_t *l)
{
    memset(&l->b, 0, sizeof(l->b));
    l->b.tb_thread = trace_thread_no;
    l->b.tb_tid = (uint32_t)gettid();
    l->b.tb_cap = TRACE_EVENT_MAX;
    return &l->b;
}

static void take_sample_os(uint64_t t);

/* Encodes one event of up to three operands (addresses flagged in
 * addr_mask) into b, which has room, and takes a sample when it is due. */
FLY_INLINE void encode_os(trace_buf_t *b, unsigned op, uint64_t seq, unsigned n, const uint64_t *v,
                       unsigned addr_mask)
{
    uint64_t t = event_time(b);
    uint8_t *p = event_start(b, op, seq, t);
    for (unsigned i = 0; i < n; i++)
        p = (addr_mask >> i) & 1 ? put_addr(b, p, (const void *)(uintptr_t)v[i])
                                 : put_varint(p, v[i]);
    event_end(b, p);
    uint64_t next = __atomic_load_n(&trace_next_sample_ns, __ATOMIC_RELAXED);
    if (fly_unlikely(t >= next) &&
        __atomic_compare_exchange_n(&trace_next_sample_ns, &next, t + TRACE_SAMPLE_NS, false,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        take_sample_os(t);
}

/* Every case but the common one: a closed trace, a thread without a
 * buffer (first event, or after its exit), a full buffer, a chunk's first
 * event. */
static FLY_NOINLINE void record_slow_os(unsigned op, uint64_t seq, unsigned n, const uint64_t *v,
                                     unsigned addr_mask)
{
    if (__atomic_load_n(&trace_closed, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&trace_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    trace_late_t late;
    trace_buf_t *b = trace_thread_gone ? late_buf(&late) : buf_for_os(TRACE_EVENT_MAX);
    if (b == NULL) {
        __atomic_fetch_add(&trace_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    encode_os(b, op, seq, n, v, addr_mask);
    if (b == &late.b)
        write_chunk(b, b->tb_nevents, b->tb_len);
}

/* Records one event: inlined into each recording function, so the
 * operand loop unrolls. */
FLY_INLINE void record_os(unsigned op, uint64_t seq, unsigned n, const uint64_t *v, unsigned addr_mask)
{
    trace_buf_t *b = trace_self;
    if (fly_likely(b != NULL) && fly_likely(b->tb_nevents != 0) &&
        fly_likely(b->tb_cap - b->tb_len >= TRACE_EVENT_MAX) &&
        fly_likely(!__atomic_load_n(&trace_closed, __ATOMIC_RELAXED)))
        encode_os(b, op, seq, n, v, addr_mask);
    else
        record_slow_os(op, seq, n, v, addr_mask);
}

FLY_INLINE void alloc_event_os(unsigned op, uint64_t seq, size_t align, size_t size, const void *p)
{
    shadow_set_os(p, seq);
    uint64_t v[3] = { align, size, (uintptr_t)p };
    if (op == FLY_TRACE_ALIGNED)
        record_os(op, seq, 3, v, 4);
    else
        record_os(op, seq, 2, v + 1, 2);
}

/* malloc and free while tracing, entered from their slow paths (the
 * thread's cache is the always-missing sentinel).  The number is taken
 * after an allocation and before a release (see "Sequence numbers"). */
void *fly_traced_malloc(size_t size)
{
    enter();
    void *p = fly_malloc(size);
    leave();
    alloc_event_os(FLY_TRACE_MALLOC, key(), 0, size, p);
    return p;
}

void fly_traced_free(void *p, const char *fname)
{
    if (p == NULL)
        return;
    uint64_t seq = key_release_os(p);
    uint64_t v[1] = { (uintptr_t)p };
    record_os(FLY_TRACE_FREE, seq, 1, v, 1);
    enter();
    fly_free_inline(p, fname);
    leave();
}

static void realloc_event_os(uint64_t seq, const void *old, size_t size, const void *p)
{
    shadow_set_os(p, seq);
    uint64_t v[3] = { (uintptr_t)old, size, (uintptr_t)p };
    record_os(FLY_TRACE_REALLOC, seq, 3, v, 5);
}

/* The other entry points while tracing, called by the API when
 * fly_trace_wanted(): each does the operation with the real cache and
 * records it, taking the number after an allocation and before a
 * release. */
void *fly_traced_calloc(size_t nmemb, size_t size)
{
    enter();
    void *p = fly_calloc(nmemb, size);
    leave();
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total))
        total = SIZE_MAX;
    alloc_event_os(FLY_TRACE_CALLOC, key(), 0, total, p);
    return p;
}

void *fly_traced_realloc(void *p, size_t size)
{
    if (p && size == 0) {
        uint64_t seq = key_release_os(p);
        realloc_event_os(seq, p, 0, NULL);
        enter();
        fly_realloc(p, 0);
        leave();
        return NULL;
    }
    trace_mid_seq = 0;
    enter();
    void *q = fly_realloc(p, size);
    leave();
    uint64_t seq = key_realloc_os(p);
    realloc_event_os(seq, p, size, q);
    return q;
}

int fly_traced_posix_memalign(void **memptr, size_t alignment, size_t size)
{
    enter();
    int err = fly_posix_memalign(memptr, alignment, size);
    leave();
    alloc_event_os(FLY_TRACE_ALIGNED, key(), alignment, size, err == 0 ? *memptr : NULL);
    return err;
}

void *fly_traced_aligned(enum fly_traced_aligned_kind kind, size_t alignment, size_t size)
{
    enter();
    void *p = kind == FLY_ALIGNED_ALLOC ? fly_aligned_alloc(alignment, size)
              : kind == FLY_MEMALIGN    ? fly_memalign(alignment, size)
              : kind == FLY_VALLOC      ? fly_valloc(size)
                                        : fly_pvalloc(size);
    leave();
    if (kind == FLY_PVALLOC && p)
        size = FLY_ALIGN_UP(FLY_MAX(size, 1), FLY_PAGE);
    alloc_event_os(FLY_TRACE_ALIGNED, key(), alignment, size, p);
    return p;
}

/* SAMPLE: the allocator's state now, written by whichever thread noticed
 * that 10 ms had passed. */
static void take_sample_os(uint64_t t)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    trace_buf_t *b = buf_for_os(TRACE_EVENT_MAX * 2);
    if (b == NULL)
        return;
    /* The shadow is the recorder's, not the program's: left out. */
    uint32_t shadows = __atomic_load_n(&shadow_count, __ATOMIC_ACQUIRE);
    uint64_t resident = st.st_resident_bytes, shadow_res = shadow_resident();
    resident = resident > shadow_res ? resident - shadow_res : 0;
    uint8_t *p = event_start(b, FLY_TRACE_SAMPLE, key(), t);
    const uint64_t v[] = { resident, st.st_live_bytes,
                           st.st_mapped_bytes - shadows * SHADOW_BYTES,
                           st.st_dirty_bytes, st.st_cold_bytes, st.st_mmap_calls - shadows,
                           st.st_munmap_calls, st.st_madvise_calls, st.st_mremap_calls };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        p = put_varint(p, v[i]);
    event_end(b, p);
}

void fly_trace_thread_exit(void)
{
    trace_buf_t *b = trace_self;
    trace_real_tc = &fly_tcache_dead;
    if (b == NULL || __atomic_load_n(&trace_closed, __ATOMIC_RELAXED))
        return;
    uint8_t *p = event_start(b, FLY_TRACE_THREAD_EXIT, key(),
                             trace_now());
    event_end(b, p);
    if (!flush_own(b))
        return;                  /* closed meanwhile: the exit flush owns it */
    fly_lock(&trace_lock);
    unlink_live(b);
    b->tb_next_free = trace_free;
    trace_free = b;
    fly_unlock(&trace_lock);
    trace_self = NULL;
    trace_thread_gone = true;
}

/* CLASSES and NOTE, into the calling thread's buffer. */
static void write_final_figures_os(void)
{
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    uint64_t t = trace_now();
    trace_buf_t *b = buf_for_os((size_t)st.st_nclasses * 6 * 10 + 32);
    if (b == NULL)
        return;
    uint8_t *p = event_start(b, FLY_TRACE_CLASSES, key(), t);
    p = put_varint(p, st.st_nclasses);
    for (unsigned i = 0; i < st.st_nclasses; i++) {
        const fly_class_stats_t *cs = &st.st_class[i];
        p = put_varint(p, cs->cs_size);
        p = put_varint(p, cs->cs_zones);
        p = put_varint(p, cs->cs_capacity);
        p = put_varint(p, cs->cs_live + cs->cs_cached);
        p = put_varint(p, cs->cs_nmalloc);
        p = put_varint(p, cs->cs_requested);
    }
    event_end(b, p);
    char note[1024];
    size_t n = fly_frag_summary(&st, note, sizeof(note));
    b = buf_for_os(n + 32);
    if (b == NULL)
        return;
    p = event_start(b, FLY_TRACE_NOTE, key(), t);
    p = put_varint(p, n);
    memcpy(p, note, n);
    event_end(b, p + n);
}

void fly_trace_finish_os(void)
{
    if (!fly_trace_on || __atomic_load_n(&trace_closed, __ATOMIC_RELAXED))
        return;
    if (!trace_thread_gone)
        write_final_figures_os();
    __atomic_store_n(&trace_closed, 1, __ATOMIC_RELAXED);
    /* Detached, so no lock is held across the writes: a thread exiting now
     * finds its buffer busy and leaves it to us. */
    fly_lock(&trace_lock);
    trace_buf_t *all = trace_live;
    trace_live = NULL;
    fly_unlock(&trace_lock);
    for (trace_buf_t *b = all; b; b = b->tb_next) {
        int idle = 0;
        while (!__atomic_compare_exchange_n(&b->tb_busy, &idle, 1, false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED)) {
            idle = 0;
            sched_yield();
        }
        uint64_t c = __atomic_load_n(&b->tb_committed, __ATOMIC_ACQUIRE);
        write_chunk(b, (uint32_t)(c >> 32), (uint32_t)c);
    }
    uint8_t end[40];
    memcpy(end, "FLYE", 4);
    put_le(end + 4, __atomic_load_n(&trace_threads, __ATOMIC_RELAXED), 4);
    put_le(end + 8, __atomic_load_n(&trace_events, __ATOMIC_RELAXED), 8);
    put_le(end + 16, __atomic_load_n(&trace_chunks, __ATOMIC_RELAXED), 8);
    put_le(end + 24, trace_now(), 8);
    put_le(end + 32, __atomic_load_n(&trace_dropped, __ATOMIC_RELAXED), 8);
    write_file(end, sizeof(end));
}

void fly_trace_lock_all(void)
{
    fly_lock(&trace_lock);
}

void fly_trace_unlock_all(bool child)
{
    if (!child) {
        fly_unlock(&trace_lock);
        return;
    }
    fly_lock_reinit(&trace_lock);
    if (!fly_trace_on)
        return;
    fly_trace_on = false;
    if (fly_tc == &fly_tcache_traced)
        fly_tc = trace_real_tc;
    close(trace_fd);
    trace_fd = -1;
}
