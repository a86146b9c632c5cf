/*
 * replay.c: `flymalloc replay FILE [--allocator NAME|PATH.so]
 *            [--compare A,B,...] [--exact] [--json OUT.json] [--curve OUT.csv]
 *            [--no-syscalls]`
 *
 * Replays a trace's allocations against one or more allocators and reports,
 * per allocator, the replay's wall time, peak and baseline RSS, memory
 * system calls, failed allocations and a curve of live bytes and RSS.
 *
 * This process reads the trace (on glibc's malloc) and writes a replay plan
 * (replay_plan.h) into a memfd: per trace thread an array of ops on dense
 * slots.  Then, per allocator, it runs this same executable as
 * `flymalloc replay --replay-worker FD ...` with LD_PRELOAD naming that
 * allocator only in the child (replay_worker.c), once to time it and, if
 * strace is installed, twice more under `strace -f -c`: once replaying and
 * once "dry" (the same start-up, tables and threads, no ops); the system
 * calls reported are the difference, i.e. those the replayed operations
 * caused (--no-syscalls skips them).
 *
 * Orders: --exact replays in the trace's merged sequence order (the live
 * curve then equals `flymalloc analyze`'s point for point, and --curve
 * writes it as `seq,live_bytes` lines); the default lets each thread run
 * its own ops in order, waiting only for the ops an op depends on.
 * Allocations that failed in the trace are not replayed.
 */
#define _GNU_SOURCE
#include "replay_plan.h"
#include "tools.h"
#include "trace_json.h"
#include "trace_read.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ALLOCATORS 16
/* A freed slot is reused only this many ops later, so that a parallel
 * replay rarely has to wait for another thread's free to reuse it. */
#define SLOT_REUSE_LAG 65536
#define LIBDIR "/usr/lib/x86_64-linux-gnu/"

typedef struct allocator {
    char name[64];
    char lib[PATH_MAX]; /* real path; empty for glibc */
    /* results */
    int ok;
    char error[600];
    double time_s;
    uint64_t peak_rss, baseline_rss, failed;
    int have_syscalls;
    uint64_t sys[5];
    fly_plan_point *points;
    size_t npoints;
} allocator;

static const char *const sys_names[5] = { "mmap", "munmap", "madvise", "mremap", "brk" };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- allocators ---- */

static int resolve_allocator(const char *spec, allocator *a)
{
    static const struct {
        const char *name, *file, *package;
    } known[] = {
        { "jemalloc", LIBDIR "libjemalloc.so.2", "libjemalloc2" },
        { "mimalloc", LIBDIR "libmimalloc.so.2", "libmimalloc2.0" },
        { "tcmalloc", LIBDIR "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4" },
    };
    memset(a, 0, sizeof(*a));
    char path[PATH_MAX + 32];
    const char *hint = "";
    if (strcmp(spec, "glibc") == 0) {
        snprintf(a->name, sizeof(a->name), "glibc");
        return 0;
    }
    if (strcmp(spec, "flymalloc") == 0) {
        fly_library_path(path, sizeof(path));
        hint = " (run make)";
    } else {
        const char *file = NULL;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (strcmp(spec, known[i].name) == 0) {
                file = known[i].file;
                hint = known[i].package;
            }
        if (file) {
            snprintf(path, sizeof(path), "%s", file);
        } else if (strstr(spec, ".so")) {
            snprintf(path, sizeof(path), "%s", spec);
        } else {
            fprintf(stderr, "flymalloc replay: unknown allocator %s (glibc, flymalloc, jemalloc, "
                            "mimalloc, tcmalloc, or a path to a .so)\n", spec);
            return -1;
        }
    }
    if (!realpath(path, a->lib) || access(a->lib, R_OK) != 0) {
        if (*hint && hint[0] != ' ')
            fprintf(stderr, "flymalloc replay: allocator %s: %s not found (install %s)\n", spec,
                    path, hint);
        else
            fprintf(stderr, "flymalloc replay: allocator %s: %s not found%s\n", spec, path, hint);
        return -1;
    }
    const char *base = strrchr(spec, '/');
    snprintf(a->name, sizeof(a->name), "%s", base ? base + 1 : spec);
    return 0;
}

/* ---- the plan ---- */

typedef struct plan {
    int fd;
    fly_plan_header *hdr; /* mapped: everything before the ops */
    fly_plan_results *res;
    fly_plan_point *points;
    uint64_t nops;
} plan;

/* Plan ops one event turns into (an eviction adds a free before it). */
static int ops_of_event(const fly_event *e)
{
    int n = (e->flags & FLY_EV_EVICTS) ? 1 : 0;
    if (e->flags & FLY_EV_FAILED)
        return n;
    switch (e->op) {
    case FLY_OP_MALLOC:
    case FLY_OP_CALLOC:
    case FLY_OP_ALIGNED:
        return n + ((e->flags & FLY_EV_NEW) ? 1 : 0);
    case FLY_OP_FREE:
        return n + ((e->flags & FLY_EV_ENDS) ? 1 : 0);
    case FLY_OP_REALLOC:
        return n + (e->obj != FLY_NO_OBJ ? 1 : 0);
    default:
        return n;
    }
}

typedef struct builder {
    fly_plan_op *ops;
    uint64_t *fill; /* per thread: next op index */
    uint32_t *slot_of;
    uint32_t *version; /* per slot */
    uint64_t nslots, cap_slots;
    uint64_t *freed_slot, *freed_at; /* FIFO of released slots */
    uint64_t q_head, q_tail, q_cap;
    uint64_t k; /* ops emitted */
    fly_plan_op *prev;
} builder;

static int take_slot(builder *b, uint32_t *out)
{
    if (b->q_head < b->q_tail && b->freed_at[b->q_head] + SLOT_REUSE_LAG <= b->k) {
        *out = (uint32_t)b->freed_slot[b->q_head++];
        return 0;
    }
    if (b->nslots == b->cap_slots) {
        b->cap_slots = b->cap_slots ? b->cap_slots * 2 : 4096;
        uint32_t *v = realloc(b->version, b->cap_slots * sizeof(uint32_t));
        if (!v)
            return -1;
        b->version = v;
    }
    b->version[b->nslots] = 0;
    *out = (uint32_t)b->nslots++;
    return 0;
}

static int release_slot(builder *b, uint32_t s)
{
    if (b->q_tail == b->q_cap) {
        if (b->q_head > 0) { /* slide the queue down before growing it */
            memmove(b->freed_slot, b->freed_slot + b->q_head,
                    (b->q_tail - b->q_head) * sizeof(uint64_t));
            memmove(b->freed_at, b->freed_at + b->q_head,
                    (b->q_tail - b->q_head) * sizeof(uint64_t));
            b->q_tail -= b->q_head;
            b->q_head = 0;
        }
        if (b->q_tail == b->q_cap) {
            b->q_cap = b->q_cap ? b->q_cap * 2 : 4096;
            uint64_t *s1 = realloc(b->freed_slot, b->q_cap * sizeof(uint64_t));
            if (s1)
                b->freed_slot = s1;
            uint64_t *s2 = realloc(b->freed_at, b->q_cap * sizeof(uint64_t));
            if (s2)
                b->freed_at = s2;
            if (!s1 || !s2)
                return -1;
        }
    }
    b->freed_slot[b->q_tail] = s;
    b->freed_at[b->q_tail++] = b->k;
    return 0;
}

static void emit(builder *b, uint32_t thread, int kind, uint32_t s, uint64_t size,
                 unsigned align_log2)
{
    fly_plan_op *op = &b->ops[b->fill[thread]++];
    *op = (fly_plan_op){ .size = size, .slot = s, .turn = (uint32_t)b->k,
                         .version = b->version[s]++, .kind = (uint8_t)kind,
                         .align_log2 = (uint8_t)align_log2 };
    if (b->prev)
        b->prev->next_owner = (uint16_t)thread;
    b->prev = op;
    b->k++;
}

/* MemAvailable from /proc/meminfo, in bytes; 0 if unknown. */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static int build_plan(const fly_trace *t, plan *p, char *err, size_t errlen)
{
    size_t nthreads = t->nthreads;
    if (nthreads > FLY_PLAN_MAX_THREADS) {
        snprintf(err, errlen, "the trace has %zu threads; replay handles at most %d", nthreads,
                 FLY_PLAN_MAX_THREADS);
        return -1;
    }
    uint64_t *count = calloc(nthreads + 1, sizeof(uint64_t));
    size_t *points = malloc((FLY_CURVE_POINTS + 1) * sizeof(size_t));
    builder b = { 0 };
    b.fill = calloc(nthreads + 1, sizeof(uint64_t));
    b.slot_of = malloc((t->nobjects + 1) * sizeof(uint32_t));
    int rc = -1;
    if (!count || !points || !b.fill || !b.slot_of) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    uint64_t nops = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        int n = ops_of_event(&t->events[i]);
        count[t->events[i].thread] += (uint64_t)n;
        nops += (uint64_t)n;
    }
    if (nops >= UINT32_MAX) {
        snprintf(err, errlen, "%llu operations: replay handles fewer than 2^32",
                 (unsigned long long)nops);
        goto out;
    }
    size_t npoints = fly_trace_curve_points(t, FLY_CURVE_POINTS, points);

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    fly_plan_header h = { .nthreads = (uint32_t)nthreads, .page_size = (uint32_t)page,
                          .nops = nops, .nsamples = npoints, .touch_pages = 1 };
    /* Touching every page of every block makes RSS real; but a trace of
     * large sparse blocks (or a damaged one) could then need more memory
     * than the machine has: touch only the ends of blocks then. */
    uint64_t avail = mem_available();
    if (avail && t->peak_live_bytes > avail / 2) {
        h.touch_pages = 0;
        fprintf(stderr, "flymalloc replay: warning: the trace's peak of %llu live bytes is more "
                        "than half the available memory (%llu bytes): only the first and last "
                        "byte of each block are touched, so RSS is understated\n",
                (unsigned long long)t->peak_live_bytes, (unsigned long long)avail);
    }
    memcpy(h.magic, FLY_PLAN_MAGIC, sizeof(h.magic));
    h.threads_off = align_up(sizeof(h), 64);
    h.samples_off = align_up(h.threads_off + nthreads * sizeof(fly_plan_thread), 64);
    h.results_off = align_up(h.samples_off + npoints * sizeof(fly_plan_sample), 64);
    h.points_off = align_up(h.results_off + sizeof(fly_plan_results), 64);
    h.ops_off = align_up(h.points_off + npoints * sizeof(fly_plan_point), page);
    h.file_size = h.ops_off + nops * sizeof(fly_plan_op);

    p->fd = memfd_create("flymalloc-replay-plan", 0);
    if (p->fd < 0 || ftruncate(p->fd, (off_t)h.file_size) != 0) {
        snprintf(err, errlen, "cannot create the replay plan (%llu bytes): %s",
                 (unsigned long long)h.file_size, strerror(errno));
        goto out;
    }
    char *m = mmap(NULL, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the replay plan: %s", strerror(errno));
        goto out;
    }
    fly_plan_thread *threads = (fly_plan_thread *)(m + h.threads_off);
    fly_plan_sample *samples = (fly_plan_sample *)(m + h.samples_off);
    b.ops = (fly_plan_op *)(m + h.ops_off);
    for (size_t i = 0, first = 0; i < nthreads; i++) {
        threads[i] = (fly_plan_thread){ first, count[i] };
        b.fill[i] = first;
        first += count[i];
    }

    size_t next_point = 0, next_eviction = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const fly_event *e = &t->events[i];
        uint32_t th = e->thread, s;
        if (e->flags & FLY_EV_EVICTS) {
            while (next_eviction < t->nevictions && t->evictions[next_eviction].event < i)
                next_eviction++;
            if (next_eviction < t->nevictions && t->evictions[next_eviction].event == i) {
                s = b.slot_of[t->evictions[next_eviction++].obj];
                emit(&b, th, FLY_PK_FREE, s, 0, 0);
                if (release_slot(&b, s))
                    goto oom;
            }
        }
        if (ops_of_event(e) > ((e->flags & FLY_EV_EVICTS) ? 1 : 0)) {
            int kind = e->op == FLY_OP_MALLOC    ? FLY_PK_MALLOC
                       : e->op == FLY_OP_CALLOC  ? FLY_PK_CALLOC
                       : e->op == FLY_OP_ALIGNED ? FLY_PK_ALIGNED
                       : e->op == FLY_OP_REALLOC ? FLY_PK_REALLOC
                                                 : FLY_PK_FREE;
            if (e->flags & FLY_EV_ENDS)
                kind = FLY_PK_FREE; /* free, or realloc that freed */
            if (e->flags & FLY_EV_NEW) {
                if (take_slot(&b, &s))
                    goto oom;
                b.slot_of[e->obj] = s;
            } else {
                s = b.slot_of[e->obj];
            }
            emit(&b, th, kind, s, kind == FLY_PK_FREE ? 0 : e->size, t->align_log2[i]);
            if (kind == FLY_PK_FREE && release_slot(&b, s))
                goto oom;
        }
        while (next_point < npoints && points[next_point] == i)
            samples[next_point++] = (fly_plan_sample){ b.k, e->seq };
    }
    h.nslots = b.nslots;
    memcpy(m, &h, sizeof(h));
    munmap(m, h.file_size);
    p->hdr = mmap(NULL, h.ops_off, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (p->hdr == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the replay plan: %s", strerror(errno));
        goto out;
    }
    p->res = (fly_plan_results *)((char *)p->hdr + h.results_off);
    p->points = (fly_plan_point *)((char *)p->hdr + h.points_off);
    p->nops = nops;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    free(count);
    free(points);
    free(b.fill);
    free(b.slot_of);
    free(b.version);
    free(b.freed_slot);
    free(b.freed_at);
    return rc;
}

/* ---- running the worker ---- */

/* The environment for a worker: ours without LD_PRELOAD and tracing, plus
 * PRELOAD if given.  Freed with free_env. */
static char **child_env(const char *preload)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(char *));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
            strncmp(environ[i], "FLYMALLOC_TRACE", 15) != 0)
            env[k++] = environ[i];
    if (preload) {
        size_t len = strlen(preload) + 16;
        if (!(env[k] = malloc(len))) {
            free(env);
            return NULL;
        }
        snprintf(env[k++], len, "LD_PRELOAD=%s", preload);
    }
    env[k] = NULL;
    return env;
}

static void free_env(char **env, const char *preload)
{
    if (preload) { /* the last entry is ours */
        size_t n = 0;
        while (env[n])
            n++;
        free(env[n - 1]);
    }
    free(env);
}

/* Runs the worker for A; with STRACE_OUT under strace writing its summary
 * there.  0, or -1 with a reason in A->error. */
static int run_worker(const char *exe, allocator *a, const plan *p, int exact, int dry,
                      const char *strace_out)
{
    char fd[16], preload[PATH_MAX + 32];
    snprintf(fd, sizeof(fd), "%d", p->fd);
    snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", a->lib);
    const char *lib = a->lib[0] ? a->lib : "-";
    const char *args[24];
    int n = 0;
    if (strace_out) {
        args[n++] = "strace";
        args[n++] = "-f";
        args[n++] = "-c";
        args[n++] = "--seccomp-bpf";
        args[n++] = "-o";
        args[n++] = strace_out;
        args[n++] = "-e";
        args[n++] = "trace=mmap,munmap,madvise,mremap,brk";
        if (a->lib[0]) {
            args[n++] = "-E";
            args[n++] = preload;
        }
    }
    args[n++] = exe;
    args[n++] = "replay";
    args[n++] = FLY_REPLAY_WORKER_ARG;
    args[n++] = fd;
    args[n++] = exact ? "exact" : "parallel";
    args[n++] = lib;
    if (dry)
        args[n++] = "--dry";
    args[n] = NULL;
    const char *env_preload = strace_out || !a->lib[0] ? NULL : a->lib;
    char **env = child_env(env_preload);
    if (!env) {
        snprintf(a->error, sizeof(a->error), "out of memory");
        return -1;
    }

    memset(p->res, 0, sizeof(*p->res));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(a->error, sizeof(a->error), "fork: %s", strerror(errno));
        free_env(env, env_preload);
        return -1;
    }
    if (pid == 0) {
        if (strace_out) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0)
                dup2(devnull, 1); /* strace's own chatter, if any, is not ours */
        }
        execvpe(args[0], (char **)args, env);
        dprintf(2, "flymalloc replay: cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    free_env(env, env_preload);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        snprintf(a->error, sizeof(a->error), "the replay on %s was killed by signal %d (%s)",
                 a->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
        return -1;
    }
    if (WEXITSTATUS(status) != 0 || !p->res->done) {
        if (p->res->message[0])
            snprintf(a->error, sizeof(a->error), "the replay on %s failed: %.500s", a->name,
                     p->res->message);
        else
            snprintf(a->error, sizeof(a->error), "the replay on %s%s exited with status %d",
                     a->name, strace_out ? " under strace" : "", WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

/* Reads the call counts of strace -c's summary table. */
static int parse_strace(const char *file, uint64_t sys[5])
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    memset(sys, 0, 5 * sizeof(uint64_t));
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof(line), f)) {
        char *tok[8];
        int n = 0;
        for (char *s = strtok(line, " \t\n"); s && n < 8; s = strtok(NULL, " \t\n"))
            tok[n++] = s;
        if (n < 5)
            continue;
        for (int k = 0; k < 5; k++)
            if (strcmp(tok[n - 1], sys_names[k]) == 0) {
                sys[k] = strtoull(tok[3], NULL, 10);
                rows++;
            }
        if (strcmp(tok[n - 1], "total") == 0)
            rows++;
    }
    fclose(f);
    return rows > 0 ? 0 : -1;
}

static int have_strace(void)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *copy = strdup(path);
    int found = 0;
    for (char *d = strtok(copy, ":"); d && !found; d = strtok(NULL, ":")) {
        char f[PATH_MAX];
        snprintf(f, sizeof(f), "%s/strace", d);
        found = access(f, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Counts A's memory system calls: a replay minus a dry run, both under strace. */
static int count_syscalls(const char *exe, allocator *a, const plan *p, int exact, char *why,
                          size_t whylen)
{
    char dir[] = "/tmp/flyreplay.XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, whylen, "no temporary directory: %s", strerror(errno));
        return -1;
    }
    char full[64], dry[64];
    snprintf(full, sizeof(full), "%s/full", dir);
    snprintf(dry, sizeof(dry), "%s/dry", dir);
    uint64_t s_full[5], s_dry[5];
    allocator scratch = *a;
    scratch.points = NULL;
    int rc = -1;
    if (run_worker(exe, &scratch, p, exact, 0, full) != 0 ||
        run_worker(exe, &scratch, p, exact, 1, dry) != 0) {
        snprintf(why, whylen, "strace failed: %s", scratch.error);
    } else if (parse_strace(full, s_full) != 0 || parse_strace(dry, s_dry) != 0) {
        snprintf(why, whylen, "strace printed no summary");
    } else {
        for (int k = 0; k < 5; k++)
            a->sys[k] = s_full[k] > s_dry[k] ? s_full[k] - s_dry[k] : 0;
        a->have_syscalls = 1;
        rc = 0;
    }
    unlink(full);
    unlink(dry);
    rmdir(dir);
    return rc;
}

/* ---- output ---- */

static void human_bytes(char *out, size_t len, uint64_t b)
{
    if (b >= (UINT64_C(1) << 30))
        snprintf(out, len, "%.2f GiB", (double)b / (1 << 30));
    else
        snprintf(out, len, "%.1f MiB", (double)b / (1 << 20));
}

static void print_table(const fly_trace *t, allocator *al, int n, int exact, int compare,
                        uint64_t nops, const char *sys_note, double best_time, uint64_t best_rss)
{
    printf("trace %s: %zu threads, %zu events%s; %llu operations replayed in %s order\n",
           t->path, t->nthreads, t->nevents, t->complete ? "" : " (incomplete)",
           (unsigned long long)nops, exact ? "exact" : "parallel");
    printf("%-12s %9s %11s %11s %7s %7s %8s %7s %6s %7s", "allocator", "time (s)", "peak RSS",
           "baseline", "mmap", "munmap", "madvise", "mremap", "brk", "failed");
    if (compare)
        printf(" %7s %7s", "time x", "RSS x");
    printf("\n");
    for (int i = 0; i < n; i++) {
        allocator *a = &al[i];
        if (!a->ok) {
            printf("%-12s failed: %s\n", a->name, a->error);
            continue;
        }
        char peak[32], base[32];
        human_bytes(peak, sizeof(peak), a->peak_rss);
        human_bytes(base, sizeof(base), a->baseline_rss);
        printf("%-12s %9.3f %11s %11s", a->name, a->time_s, peak, base);
        if (a->have_syscalls)
            for (int k = 0; k < 5; k++)
                printf(" %*llu", k == 2 ? 8 : k == 4 ? 6 : 7, (unsigned long long)a->sys[k]);
        else
            printf(" %7s %7s %8s %7s %6s", "-", "-", "-", "-", "-");
        printf(" %7llu", (unsigned long long)a->failed);
        if (compare)
            printf(" %7.2f %7.2f", best_time > 0 ? a->time_s / best_time : 1.0,
                   best_rss ? (double)a->peak_rss / (double)best_rss : 1.0);
        printf("\n");
    }
    printf("system calls: %s\n", sys_note);
}

static void write_json(FILE *f, const fly_trace *t, allocator *al, int n, int exact,
                       const char *sys_note, double best_time, uint64_t best_rss)
{
    fputs("{\"format\":\"flymalloc-replay\",\"version\":1,\n\"trace\":", f);
    fly_json_trace(f, t);
    fprintf(f, ",\n\"mode\":\"%s\",\"syscalls_note\":", exact ? "exact" : "parallel");
    fly_json_str(f, sys_note, strlen(sys_note));
    fputs(",\n\"results\":[", f);
    int first = 1;
    for (int i = 0; i < n; i++) {
        allocator *a = &al[i];
        if (!a->ok)
            continue;
        fputs(first ? "\n{\"allocator\":" : ",\n{\"allocator\":", f);
        first = 0;
        fly_json_str(f, a->name, strlen(a->name));
        fputs(",\"library\":", f);
        if (a->lib[0])
            fly_json_str(f, a->lib, strlen(a->lib));
        else
            fputs("null", f);
        fprintf(f, ",\"time_s\":%.6f,\"peak_rss_bytes\":%llu,\"baseline_rss_bytes\":%llu,"
                   "\"syscalls\":", a->time_s, (unsigned long long)a->peak_rss,
                (unsigned long long)a->baseline_rss);
        if (a->have_syscalls) {
            for (int k = 0; k < 5; k++)
                fprintf(f, "%s\"%s\":%llu", k ? "," : "{", sys_names[k],
                        (unsigned long long)a->sys[k]);
            fputc('}', f);
        } else {
            fputs("null", f);
        }
        fprintf(f, ",\"failed_allocations\":%llu,\"curve\":{\"t_ns\":",
                (unsigned long long)a->failed);
        fly_json_u64s(f, &a->points[0].t_ns, a->npoints, sizeof(fly_plan_point));
        fputs(",\"seq\":", f);
        fly_json_u64s(f, &a->points[0].seq, a->npoints, sizeof(fly_plan_point));
        fputs(",\"live\":", f);
        fly_json_u64s(f, &a->points[0].live, a->npoints, sizeof(fly_plan_point));
        fputs(",\"rss\":", f);
        fly_json_u64s(f, &a->points[0].rss, a->npoints, sizeof(fly_plan_point));
        fputs("}}", f);
    }
    fputs("],\n\"errors\":{", f);
    first = 1;
    for (int i = 0; i < n; i++) {
        if (al[i].ok)
            continue;
        if (!first)
            fputc(',', f);
        first = 0;
        fly_json_str(f, al[i].name, strlen(al[i].name));
        fputc(':', f);
        fly_json_str(f, al[i].error, strlen(al[i].error));
    }
    fputs("},\n\"ratios\":{\"time\":{", f);
    first = 1;
    for (int i = 0; i < n; i++) {
        if (!al[i].ok)
            continue;
        fputs(first ? "" : ",", f);
        first = 0;
        fly_json_str(f, al[i].name, strlen(al[i].name));
        fprintf(f, ":%.4f", best_time > 0 ? al[i].time_s / best_time : 1.0);
    }
    fputs("},\"peak_rss\":{", f);
    first = 1;
    for (int i = 0; i < n; i++) {
        if (!al[i].ok)
            continue;
        fputs(first ? "" : ",", f);
        first = 0;
        fly_json_str(f, al[i].name, strlen(al[i].name));
        fprintf(f, ":%.4f", best_rss ? (double)al[i].peak_rss / (double)best_rss : 1.0);
    }
    fputs("}}}\n", f);
}

static int write_curve(const char *path, const allocator *a)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("seq,live_bytes\n", f);
    for (size_t i = 0; i < a->npoints; i++)
        fprintf(f, "%llu,%llu\n", (unsigned long long)a->points[i].seq,
                (unsigned long long)a->points[i].live);
    return fclose(f);
}

static void usage(void)
{
    fprintf(stderr, "usage: flymalloc replay FILE [--allocator NAME|PATH.so] "
                    "[--compare A,B,...] [--exact] [--json OUT.json] [--curve OUT.csv] "
                    "[--no-syscalls]\n"
                    "  allocators: glibc, flymalloc (default), jemalloc, mimalloc, tcmalloc, "
                    "or a path to a malloc .so\n"
                    "  --exact       replay in the trace's global order (else each thread in "
                    "its own order)\n"
                    "  --curve F     write the first allocator's live-bytes curve as "
                    "seq,live_bytes lines\n"
                    "  --no-syscalls do not count system calls with strace\n");
}

int fly_cmd_replay(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], FLY_REPLAY_WORKER_ARG) == 0)
        return fly_replay_worker(argc - 1, argv + 1);

    const char *file = NULL, *json = NULL, *curve = NULL, *one = NULL, *list = NULL;
    int exact = 0, no_syscalls = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--exact") == 0) {
            exact = 1;
        } else if (strcmp(a, "--no-syscalls") == 0) {
            no_syscalls = 1;
        } else if (strcmp(a, "--allocator") == 0 && val) {
            one = val, i++;
        } else if (strncmp(a, "--allocator=", 12) == 0) {
            one = a + 12;
        } else if (strcmp(a, "--compare") == 0 && val) {
            list = val, i++;
        } else if (strncmp(a, "--compare=", 10) == 0) {
            list = a + 10;
        } else if (strcmp(a, "--json") == 0 && val) {
            json = val, i++;
        } else if (strncmp(a, "--json=", 7) == 0) {
            json = a + 7;
        } else if (strcmp(a, "--curve") == 0 && val) {
            curve = val, i++;
        } else if (strncmp(a, "--curve=", 8) == 0) {
            curve = a + 8;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "flymalloc replay: unknown option or missing value: %s\n", a);
            usage();
            return 2;
        } else if (!file) {
            file = a;
        } else {
            usage();
            return 2;
        }
    }
    if (!file) {
        usage();
        return 2;
    }
    if (one && list) {
        fprintf(stderr, "flymalloc replay: give --allocator or --compare, not both\n");
        return 2;
    }

    static allocator al[MAX_ALLOCATORS];
    int nal = 0;
    if (list) {
        char *copy = strdup(list);
        for (char *s = strtok(copy, ","); s; s = strtok(NULL, ",")) {
            if (nal == MAX_ALLOCATORS) {
                fprintf(stderr, "flymalloc replay: at most %d allocators\n", MAX_ALLOCATORS);
                return 2;
            }
            if (resolve_allocator(s, &al[nal]) != 0)
                return 2;
            nal++;
        }
        free(copy);
        if (nal == 0) {
            fprintf(stderr, "flymalloc replay: --compare needs allocator names\n");
            return 2;
        }
    } else {
        if (resolve_allocator(one ? one : "flymalloc", &al[0]) != 0)
            return 2;
        nal = 1;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len < 0) {
        perror("flymalloc replay: readlink /proc/self/exe");
        return 2;
    }
    exe[len] = '\0';

    uint64_t t_read = now_ns();
    fly_trace t;
    char err[600];
    if (fly_trace_open(&t, file, err, sizeof(err)) != 0) {
        fprintf(stderr, "flymalloc replay: %s: %s\n", file, err);
        return 1;
    }
    for (size_t i = 0; i < t.nwarnings; i++)
        fprintf(stderr, "flymalloc replay: warning: %s: %s\n", file, t.warnings[i]);
    plan p = { .fd = -1 };
    if (build_plan(&t, &p, err, sizeof(err)) != 0) {
        fprintf(stderr, "flymalloc replay: %s: %s\n", file, err);
        fly_trace_close(&t);
        return 1;
    }
    fly_trace_drop_events(&t); /* the workers need only the plan */
    fprintf(stderr, "flymalloc replay: %s read and planned in %.2f s: %llu operations, "
                    "%llu slots\n", file, (double)(now_ns() - t_read) / 1e9,
            (unsigned long long)p.nops, (unsigned long long)p.hdr->nslots);

    int strace_ok = !no_syscalls && have_strace();
    char sys_note[300];
    snprintf(sys_note, sizeof(sys_note), "%s",
             strace_ok ? "counted by strace -f -c: a replay minus a dry run of the same worker "
                         "(start-up, loading, the replay's own tables and threads)"
             : no_syscalls ? "not counted (--no-syscalls)"
                           : "not counted: strace is not installed");
    int failures = 0;
    for (int i = 0; i < nal; i++) {
        allocator *a = &al[i];
        fprintf(stderr, "flymalloc replay: %s ...\n", a->name);
        if (run_worker(exe, a, &p, exact, 0, NULL) != 0) {
            fprintf(stderr, "flymalloc replay: %s\n", a->error);
            failures++;
            continue;
        }
        a->ok = 1;
        a->time_s = (double)p.res->time_ns / 1e9;
        a->peak_rss = p.res->peak_rss;
        a->baseline_rss = p.res->baseline_rss;
        a->failed = p.res->failed;
        a->npoints = p.res->points;
        a->points = malloc((a->npoints + 1) * sizeof(fly_plan_point));
        if (!a->points) {
            fprintf(stderr, "flymalloc replay: out of memory\n");
            return 1;
        }
        memcpy(a->points, p.points, a->npoints * sizeof(fly_plan_point));
        if (strace_ok) {
            char why[700];
            if (count_syscalls(exe, a, &p, exact, why, sizeof(why)) != 0) {
                fprintf(stderr, "flymalloc replay: system calls on %s not counted: %s\n",
                        a->name, why);
                snprintf(sys_note, sizeof(sys_note), "not counted for some allocators: %.250s",
                         why);
            }
        }
    }
    double best_time = 0;
    uint64_t best_rss = 0;
    for (int i = 0; i < nal; i++) {
        if (!al[i].ok)
            continue;
        if (best_time == 0 || al[i].time_s < best_time)
            best_time = al[i].time_s;
        if (best_rss == 0 || al[i].peak_rss < best_rss)
            best_rss = al[i].peak_rss;
    }
    print_table(&t, al, nal, exact, list != NULL, p.nops, sys_note, best_time, best_rss);
    int rc = failures ? 1 : 0;
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "flymalloc replay: cannot write %s: %s\n", json, strerror(errno));
            rc = 1;
        } else {
            write_json(f, &t, al, nal, exact, sys_note, best_time, best_rss);
            if (ferror(f) | fclose(f)) {
                fprintf(stderr, "flymalloc replay: writing %s failed\n", json);
                rc = 1;
            }
        }
    }
    if (curve) {
        if (!al[0].ok) {
            fprintf(stderr, "flymalloc replay: no curve: the replay on %s failed\n", al[0].name);
            rc = 1;
        } else if (write_curve(curve, &al[0]) != 0) {
            fprintf(stderr, "flymalloc replay: cannot write %s: %s\n", curve, strerror(errno));
            rc = 1;
        }
    }
    for (int i = 0; i < nal; i++)
        free(al[i].points);
    fly_trace_close(&t);
    close(p.fd);
    return rc;
}
