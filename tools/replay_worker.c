/*
 * replay_worker.c: the child of `flymalloc replay` that replays a plan
 * (replay_plan.h) on whatever malloc LD_PRELOAD gave it.
 *
 * Started as `flymalloc replay --replay-worker FD MODE LIB [--dry]`.  Every
 * table of its own (slots, thread state, read buffers) comes from mmap, and
 * the ops are read with pread, so the only malloc calls in the process
 * during the replay are the trace's.  One thread per trace thread:
 *
 *  - exact order: a global turn counter; a thread runs its next op when the
 *    turn is that op's position in the merged order, then passes the turn
 *    on, waking the next op's thread if it went to sleep (spin, then yield,
 *    then a futex).  Curve points are taken by the thread holding the turn
 *    after exactly the planned number of ops, so live bytes there equal
 *    `flymalloc analyze`'s.
 *  - parallel order: each thread runs its ops in order and waits only until
 *    the op's slot has seen every earlier op on it (its version).  Points
 *    are taken as a shared op counter, advanced in batches, passes the
 *    planned counts.
 *  A single-thread plan always runs the exact way (the orders coincide).
 *
 * Blocks are made resident and checked: on allocation the first and last
 * byte and one byte in every page (only the two ends when the plan says
 * the trace's blocks would not fit in memory) get a pattern byte of the
 * block's own (calloc's block must read zero there first); before free and
 * realloc the pattern must be intact, and after realloc the kept part too.
 * A mismatch is the allocator's fault and stops the worker with a message.
 */
#define _GNU_SOURCE
#include "replay_plan.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF_OPS 4096
#define THREAD_STACK (256 * 1024)

typedef struct slot {
    unsigned char *ptr;
    uint64_t size;
    _Atomic uint32_t version; /* ops done on this slot (parallel order) */
    uint8_t pattern;
} slot;

typedef struct worker {
    pthread_t th;
    uint32_t index;
    uint64_t first, nops;
    fly_plan_op *buf;
    uint64_t failed;
    _Atomic int64_t live;      /* bytes this thread added minus bytes it removed */
    _Atomic uint32_t sleeping; /* futex word: waiting for the turn */
} __attribute__((aligned(64))) worker;

static struct {
    int fd, statm_fd;
    long page;
    int exact;
    fly_plan_header *hdr;
    fly_plan_thread *threads;
    fly_plan_sample *samples;
    fly_plan_results *res;
    fly_plan_point *points;
    slot *slots;
    worker *workers;
    uint64_t t0;
    uint64_t next_sample; /* exact order: owned by the turn holder */
    uint64_t batch;
    pthread_barrier_t ready, start;
    _Alignas(64) _Atomic uint64_t turn;
    _Alignas(64) _Atomic uint64_t ops_done; /* parallel order, in batches */
} R;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reports and stops the whole process; used for allocator faults. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (R.res)
        memcpy(R.res->message, msg, sizeof(msg));
    dprintf(2, "flymalloc replay: %s\n", msg);
    _exit(3);
}

static uint64_t rss_now(void)
{
    char buf[128];
    ssize_t n = pread(R.statm_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return resident * (uint64_t)R.page;
}

/* Peak RSS of this program image: VmHWM.  Not getrusage's ru_maxrss, which
 * keeps the high-water mark of the process before execve (here the forked
 * copy of the parent, with its trace). */
static uint64_t peak_rss(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *hwm = strstr(buf, "VmHWM:");
    unsigned long long kb = 0;
    if (!hwm || sscanf(hwm + 6, "%llu", &kb) != 1)
        return 0;
    return kb * 1024;
}

static void *map_table(size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        die("cannot map %zu bytes for the replay's tables: %s", bytes, strerror(errno));
    return p;
}

/* ---- touching and checking blocks ---- */

/* The offsets of a block that get the pattern: 0, the start of every page
 * after the first (by address), and size - 1. */
#define FOR_EACH_MARK(base, size, off)                                                    \
    for (uint64_t off = 0, next_ = 0; (size) > 0 && off < (size);                         \
         next_ = mark_next((base), (size), off), off = next_)

static uint64_t mark_next(uintptr_t base, uint64_t size, uint64_t off)
{
    if (off == size - 1)
        return size; /* done */
    if (!R.hdr->touch_pages)
        return size - 1;
    uint64_t page = (uint64_t)R.page;
    uint64_t next = ((base + off) / page + 1) * page - base;
    return next < size - 1 ? next : size - 1;
}

static void touch(unsigned char *p, uint64_t size, uint8_t v)
{
    FOR_EACH_MARK((uintptr_t)p, size, off)
        p[off] = v;
}

static void check(const slot *s, uint64_t upto, const unsigned char *at, const char *when)
{
    /* The marks were placed by the block's address when written: AT may be
     * the block after a moving realloc, holding the same bytes. */
    uint64_t size = s->size;
    FOR_EACH_MARK((uintptr_t)s->ptr, size, off) {
        if (off >= upto)
            break;
        if (at[off] != s->pattern)
            die("%s: byte %llu of a %llu-byte block at %p is 0x%02x, expected 0x%02x: "
                "the allocator under test corrupted or lost it",
                when, (unsigned long long)off, (unsigned long long)size, (void *)at, at[off],
                s->pattern);
    }
}

static uint8_t pattern_of(uint32_t slot_no, uint32_t version)
{
    return (uint8_t)((slot_no * 7u + version * 13u) % 255u + 1u);
}

static void allocated(worker *w, const fly_plan_op *op, slot *s, unsigned char *p)
{
    if (!p) {
        if (op->size > 0)
            w->failed++;
        s->ptr = NULL;
        s->size = 0;
        return;
    }
    if (op->kind == FLY_PK_CALLOC)
        FOR_EACH_MARK((uintptr_t)p, op->size, off)
            if (p[off] != 0)
                die("calloc(%llu) returned %p whose byte %llu is 0x%02x, not zero",
                    (unsigned long long)op->size, (void *)p, (unsigned long long)off, p[off]);
    if (op->kind == FLY_PK_ALIGNED && ((uintptr_t)p & ((UINT64_C(1) << op->align_log2) - 1)))
        die("an allocation aligned to %llu bytes returned %p",
            (unsigned long long)(UINT64_C(1) << op->align_log2), (void *)p);
    s->ptr = p;
    s->size = op->size;
    s->pattern = pattern_of(op->slot, op->version);
    touch(p, op->size, s->pattern);
    atomic_store_explicit(&w->live,
                          atomic_load_explicit(&w->live, memory_order_relaxed) +
                              (int64_t)op->size, memory_order_relaxed);
}

static void add_live(worker *w, int64_t d)
{
    atomic_store_explicit(&w->live, atomic_load_explicit(&w->live, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static void run_op(worker *w, const fly_plan_op *op)
{
    slot *s = &R.slots[op->slot];
    switch (op->kind) {
    case FLY_PK_MALLOC:
        allocated(w, op, s, malloc(op->size));
        break;
    case FLY_PK_CALLOC:
        allocated(w, op, s, calloc(1, op->size));
        break;
    case FLY_PK_ALIGNED: {
        void *p = NULL;
        size_t align = (size_t)1 << op->align_log2;
        if (align < sizeof(void *))
            align = sizeof(void *);
        if (posix_memalign(&p, align, op->size) != 0)
            p = NULL;
        allocated(w, op, s, p);
        break;
    }
    case FLY_PK_REALLOC: {
        if (s->ptr)
            check(s, s->size, s->ptr, "before realloc");
        slot old = *s;
        unsigned char *p = realloc(old.ptr, op->size);
        if (!p && op->size > 0) {
            w->failed++; /* the old block stays */
            break;
        }
        if (old.ptr && p)
            check(&old, op->size < old.size ? op->size : old.size, p, "after realloc");
        add_live(w, -(int64_t)old.size);
        if (!p) { /* realloc(p, 0) freed it */
            s->ptr = NULL;
            s->size = 0;
            break;
        }
        s->ptr = p;
        s->size = op->size;
        s->pattern = pattern_of(op->slot, op->version);
        touch(p, op->size, s->pattern);
        add_live(w, (int64_t)op->size);
        break;
    }
    case FLY_PK_FREE:
        if (s->ptr)
            check(s, s->size, s->ptr, "before free");
        free(s->ptr);
        add_live(w, -(int64_t)s->size);
        s->ptr = NULL;
        s->size = 0;
        break;
    default:
        die("bad op kind %d in the plan", op->kind);
    }
}

/* ---- curve points ---- */

static void take_point(uint64_t j)
{
    int64_t live = 0;
    for (uint32_t i = 0; i < R.hdr->nthreads; i++)
        live += atomic_load_explicit(&R.workers[i].live, memory_order_relaxed);
    R.points[j] = (fly_plan_point){ now_ns() - R.t0, R.samples[j].seq,
                                    live > 0 ? (uint64_t)live : 0, rss_now() };
}

/* Parallel order: OLD..NEW ops were just counted; take the points in between. */
static void points_crossed(uint64_t old, uint64_t new)
{
    uint64_t lo = 0, hi = R.hdr->nsamples;
    while (lo < hi) { /* first point with after_ops > old */
        uint64_t mid = (lo + hi) / 2;
        if (R.samples[mid].after_ops > old)
            hi = mid;
        else
            lo = mid + 1;
    }
    for (uint64_t j = lo; j < R.hdr->nsamples && R.samples[j].after_ops <= new; j++)
        take_point(j);
}

/* ---- ordering ---- */

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void wait_turn(worker *w, uint64_t g)
{
    for (int i = 0; i < 200; i++) {
        if (atomic_load(&R.turn) == g)
            return;
        cpu_relax();
    }
    for (int i = 0; i < 50; i++) {
        if (atomic_load(&R.turn) == g)
            return;
        sched_yield();
    }
    for (;;) {
        atomic_store(&w->sleeping, 1);
        if (atomic_load(&R.turn) == g)
            break;
        futex_wait(&w->sleeping, 1);
        if (atomic_load(&R.turn) == g)
            break;
    }
    atomic_store(&w->sleeping, 0);
}

static void pass_turn(worker *w, uint64_t g, uint32_t owner)
{
    atomic_store(&R.turn, g);
    worker *o = &R.workers[owner];
    if (o != w && owner < R.hdr->nthreads && atomic_load(&o->sleeping)) {
        atomic_store(&o->sleeping, 0);
        futex_wake(&o->sleeping);
    }
}

static void wait_version(slot *s, uint32_t v)
{
    if (atomic_load_explicit(&s->version, memory_order_acquire) == v)
        return;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&s->version, memory_order_acquire) == v)
            return;
        if (i < 100) {
            cpu_relax();
        } else if (i < 2000) {
            sched_yield();
        } else {
            struct timespec ts = { 0, 20000 };
            nanosleep(&ts, NULL);
        }
    }
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    uint64_t done = 0, counted = 0, have = 0, at = 0;
    pthread_barrier_wait(&R.ready);
    pthread_barrier_wait(&R.start);
    while (done < w->nops) {
        if (at == have) {
            uint64_t want = w->nops - done < BUF_OPS ? w->nops - done : BUF_OPS;
            size_t bytes = (size_t)want * sizeof(fly_plan_op);
            off_t off = (off_t)(R.hdr->ops_off + (w->first + done) * sizeof(fly_plan_op));
            size_t got = 0;
            while (got < bytes) {
                ssize_t n = pread(R.fd, (char *)w->buf + got, bytes - got, off + (off_t)got);
                if (n <= 0)
                    die("cannot read the plan: %s", n < 0 ? strerror(errno) : "short file");
                got += (size_t)n;
            }
            have = want;
            at = 0;
        }
        const fly_plan_op *op = &w->buf[at++];
        if (R.exact) {
            wait_turn(w, op->turn);
            run_op(w, op);
            uint64_t g = (uint64_t)op->turn + 1;
            while (R.next_sample < R.hdr->nsamples && R.samples[R.next_sample].after_ops == g)
                take_point(R.next_sample++);
            pass_turn(w, g, op->next_owner);
        } else {
            slot *s = &R.slots[op->slot];
            wait_version(s, op->version);
            run_op(w, op);
            atomic_store_explicit(&s->version, op->version + 1, memory_order_release);
            if (++counted == R.batch) {
                uint64_t old = atomic_fetch_add(&R.ops_done, counted);
                points_crossed(old, old + counted);
                counted = 0;
            }
        }
        done++;
    }
    if (!R.exact && counted) {
        uint64_t old = atomic_fetch_add(&R.ops_done, counted);
        points_crossed(old, old + counted);
    }
    return NULL;
}

/* Is LIB (a real path) among the loaded objects? */
static int lib_found;
static const char *lib_wanted;
static int find_lib(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    char real[PATH_MAX];
    if (info->dlpi_name && info->dlpi_name[0] && realpath(info->dlpi_name, real) &&
        strcmp(real, lib_wanted) == 0)
        lib_found = 1;
    return 0;
}

int fly_replay_worker(int argc, char **argv)
{
    if (argc < 3) {
        dprintf(2, "flymalloc replay: the worker needs FD MODE LIB\n");
        return 2;
    }
    R.fd = atoi(argv[0]);
    R.exact = strcmp(argv[1], "exact") == 0;
    int dry = argc > 3 && strcmp(argv[3], "--dry") == 0;
    R.page = sysconf(_SC_PAGESIZE);

    fly_plan_header h;
    if (pread(R.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        memcmp(h.magic, FLY_PLAN_MAGIC, 8) != 0) {
        dprintf(2, "flymalloc replay: the worker got no plan on fd %d\n", R.fd);
        return 2;
    }
    void *head = mmap(NULL, h.ops_off, PROT_READ | PROT_WRITE, MAP_SHARED, R.fd, 0);
    if (head == MAP_FAILED) {
        dprintf(2, "flymalloc replay: cannot map the plan: %s\n", strerror(errno));
        return 2;
    }
    R.hdr = head;
    R.threads = (fly_plan_thread *)((char *)head + h.threads_off);
    R.samples = (fly_plan_sample *)((char *)head + h.samples_off);
    R.res = (fly_plan_results *)((char *)head + h.results_off);
    R.points = (fly_plan_point *)((char *)head + h.points_off);
    R.res->dry = (uint32_t)dry;

    if (strcmp(argv[2], "-") != 0) {
        lib_wanted = argv[2];
        dl_iterate_phdr(find_lib, NULL);
        if (!lib_found)
            die("%s was not loaded (LD_PRELOAD): is it a malloc library for this machine?",
                argv[2]);
    }
    R.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (R.statm_fd < 0)
        die("cannot open /proc/self/statm: %s", strerror(errno));

    uint32_t nthreads = h.nthreads;
    if (nthreads == 1)
        R.exact = 1; /* one thread: both orders are the trace's */
    R.slots = map_table(h.nslots * sizeof(slot));
    R.workers = map_table((nthreads ? nthreads : 1) * sizeof(worker));
    R.batch = h.nops / (h.nsamples * 4 + 1);
    R.batch = R.batch < 1 ? 1 : R.batch > 256 ? 256 : R.batch;

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    /* Two barriers: every thread is up before the clock starts. */
    pthread_barrier_init(&R.ready, NULL, nthreads + 1);
    pthread_barrier_init(&R.start, NULL, nthreads + 1);
    for (uint32_t i = 0; i < nthreads; i++) {
        worker *w = &R.workers[i];
        w->index = i;
        w->first = R.threads[i].first_op;
        w->nops = dry ? 0 : R.threads[i].nops;
        w->buf = map_table(BUF_OPS * sizeof(fly_plan_op));
        int rc = pthread_create(&w->th, &attr, thread_main, w);
        if (rc != 0)
            die("cannot create replay thread %u of %u: %s", i + 1, nthreads, strerror(rc));
    }
    pthread_barrier_wait(&R.ready);
    R.res->baseline_rss = rss_now();
    R.t0 = now_ns();
    while (R.next_sample < h.nsamples && R.samples[R.next_sample].after_ops == 0)
        take_point(R.next_sample++);
    if (!R.exact) /* the parallel points are found by search */
        R.next_sample = h.nsamples;
    pthread_barrier_wait(&R.start);
    for (uint32_t i = 0; i < nthreads; i++)
        pthread_join(R.workers[i].th, NULL);
    uint64_t t1 = now_ns();

    uint64_t failed = 0;
    for (uint32_t i = 0; i < nthreads; i++)
        failed += R.workers[i].failed;
    R.res->time_ns = t1 - R.t0;
    R.res->peak_rss = peak_rss();
    R.res->failed = failed;
    R.res->points = dry ? 0 : h.nsamples;
    R.res->done = 1;
    return 0;
}
