/*
 * init.c: initialization, settings, fork and thread-exit glue.
 *
 * Initialization is lazy (first allocation) and idempotent, and calls
 * nothing that allocates before the tables are usable: a recursive malloc
 * from pthread_atfork or pthread_key_create (glibc may allocate there) finds
 * the allocator ready.  Settings come from the environment, read once here
 * by walking environ (getenv-free, no allocation):
 *
 *   FLYMALLOC_DECAY_MS      idle time before dirty pages are purged (1000)
 *   FLYMALLOC_TCACHE_BYTES  per-thread cache budget, suffix k/m/g (4m)
 *   FLYMALLOC_STATS         1 or text: print statistics to stderr at exit;
 *                           json: the same as one JSON object
 *   FLYMALLOC_STATS_FILE    print them to this file instead ("%p": the pid)
 *   FLYMALLOC_TRACE         record every allocation event into this file
 *                           ("%p": the pid; trace.c, docs/trace-format.md)
 *   FLYMALLOC_TRACE_PID     only the process with this id records (set by
 *                           `flymalloc trace`, so child processes do not)
 *   FLYMALLOC_TRACE_CLOCK   tsc or counter: what numbers trace events
 *                           (default tsc where the kernel keeps time with it)
 *
 * A malformed or unknown FLYMALLOC_ setting gives one warning and the default.
 *
 * fork: the prepare handler takes every allocator lock in the documented
 * order (lock.h); the parent releases them; the child reinitializes them and
 * forgets the caches of threads that do not exist in it.
 */
#include "init.h"
#include "heap.h"
#include "huge.h"
#include "maintain.h"
#include "meta.h"
#include "sizeclass.h"
#include "stats.h"
#include "tcache.h"
#include "trace.h"
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

bool fly_initialized;
static int init_state;            /* 0 none, 1 running, 2 done */
fly_settings_t fly_settings;

/* Parses digits with an optional k/m/g suffix; false if malformed or > max. */
static bool parse_size(const char *s, uint64_t max, bool suffix, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (suffix && *s) {
        unsigned shift = *s == 'k' || *s == 'K' ? 10 : *s == 'm' || *s == 'M' ? 20
                       : *s == 'g' || *s == 'G' ? 30 : 0;
        if (shift == 0 || v > (max >> shift))
            return false;
        v <<= shift;
        s++;
    }
    if (*s != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static void warn_setting(const char *entry, const char *why)
{
    char msg[200];
    size_t n = 0, len = strlen(entry);
    if (len > 80)
        len = 80;
    memcpy(msg, entry, len);
    n = len;
    const char *tail = why;
    size_t tl = strlen(tail);
    if (tl > sizeof(msg) - n - 1)
        tl = sizeof(msg) - n - 1;
    memcpy(msg + n, tail, tl);
    msg[n + tl] = '\0';
    fly_warn(msg);
}

static bool match(const char *entry, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(entry, name, n) != 0 || entry[n] != '=')
        return false;
    *value = entry + n + 1;
    return true;
}

void fly_config_parse(char **env, fly_policy_t *po, fly_settings_t *se)
{
    for (char **e = env; e && *e; e++) {
        const char *v;
        uint64_t x;
        if (strncmp(*e, "FLYMALLOC_", 10) != 0)
            continue;
        if (match(*e, "FLYMALLOC_DECAY_MS", &v)) {
            if (parse_size(v, 3600u * 1000 * 24, false, &x))
                po->po_decay_ms = x;
            else
                warn_setting(*e, " is malformed (want milliseconds, 0 to 86400000); using 1000");
        } else if (match(*e, "FLYMALLOC_TCACHE_BYTES", &v)) {
            if (parse_size(v, (uint64_t)1 << 30, true, &x))
                po->po_tcache_bytes = x;
            else
                warn_setting(*e, " is malformed (want bytes with k/m/g suffix, up to 1g); using 1m");
        } else if (match(*e, "FLYMALLOC_STATS", &v)) {
            if (strcmp(v, "0") == 0)
                se->se_stats = 0;
            else if (strcmp(v, "1") == 0 || strcmp(v, "text") == 0)
                se->se_stats = FLY_STATS_TEXT;
            else if (strcmp(v, "json") == 0)
                se->se_stats = FLY_STATS_JSON;
            else
                warn_setting(*e, " is malformed (want 0, 1, text or json); using 0");
        } else if (match(*e, "FLYMALLOC_STATS_FILE", &v)) {
            if (*v)
                se->se_stats_file = v;
            else
                warn_setting(*e, " is empty (want a file name); using stderr");
        } else if (match(*e, "FLYMALLOC_TRACE", &v)) {
            if (*v)
                se->se_trace = v;
            else
                warn_setting(*e, " is empty (want a file name); not tracing");
        } else if (match(*e, "FLYMALLOC_TRACE_PID", &v)) {
            if (parse_size(v, 1u << 30, false, &x) && x > 0)
                se->se_trace_pid = (long)x;
            else
                warn_setting(*e, " is malformed (want a process id); any process traces");
        } else if (match(*e, "FLYMALLOC_TRACE_CLOCK", &v)) {
            if (strcmp(v, "tsc") == 0 || strcmp(v, "counter") == 0)
                se->se_trace_counter = v[0] == 'c';
            else
                warn_setting(*e, " is malformed (want tsc or counter); using tsc if the kernel does");
        } else {
            warn_setting(*e, " is not a flymalloc setting; ignored");
        }
    }
}

static void prefork(void)
{
    fly_heap_lock_classes();
    fly_huge_lock_all();
    fly_heap_lock_arenas();
    fly_meta_lock_all();
    fly_tcache_lock_all();
    fly_trace_lock_all();
}

static void postfork_parent(void)
{
    fly_trace_unlock_all(false);
    fly_tcache_unlock_all(false);
    fly_meta_unlock_all(false);
    fly_heap_unlock_arenas(false);
    fly_huge_unlock_all(false);
    fly_heap_unlock_classes(false);
}

static void postfork_child(void)
{
    fly_meta_unlock_all(true);
    fly_heap_unlock_arenas(true);
    fly_huge_unlock_all(true);
    fly_heap_unlock_classes(true);
    fly_tcache_unlock_all(true);
    fly_trace_unlock_all(true);
}

/* The thread-exit destructor: the cache drains, then the recorder writes
 * the thread's last events. */
static void thread_exit(void *cache)
{
    if (fly_tcache_thread_exit(cache) && fly_trace_on)
        fly_trace_thread_exit();
}

extern char **environ;

void fly_init(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&init_state, &expected, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
            sched_yield();
        return;
    }
    fly_policy_t po;
    fly_policy_defaults(&po);
    if (sysconf(_SC_PAGESIZE) != (long)FLY_PAGE)
        fly_warn("the system page size is not 4096; flymalloc's pages stay 4096 bytes");
    fly_config_parse(environ, &po, &fly_settings);
    fly_sizeclass_init(&po);
    fly_heap_init_default(&po, fly_maintain_release_os);
    fly_huge_init(po.po_huge_cache_bytes, fly_maintain_release_os);
    fly_tcache_init();
    __atomic_store_n(&fly_initialized, true, __ATOMIC_RELEASE);
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    /* These may allocate; the allocator is ready for them. */
    pthread_key_create(&fly_thread_key, thread_exit);
    pthread_atfork(prefork, postfork_parent, postfork_child);
    fly_trace_init(fly_settings.se_trace, fly_settings.se_trace_pid, fly_settings.se_trace_counter);
}

__attribute__((constructor(101))) static void fly_init_early(void)
{
    if (!fly_initialized)
        fly_init();
}

int fly_open_output(const char *path)
{
    char name[4096];
    size_t n = 0;
    for (const char *s = path; *s && n < sizeof(name) - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += fly_fmt_u64(name + n, (uint64_t)getpid());
            s++;
        } else {
            name[n++] = *s;
        }
    }
    name[n] = '\0';
    return open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
}

__attribute__((destructor)) static void fly_report_at_exit(void)
{
    fly_trace_finish();
    int mode = fly_settings.se_stats;
    if (mode == 0 && fly_settings.se_stats_file)
        mode = FLY_STATS_TEXT;
    if (mode == 0)
        return;
    int fd = 2;
    if (fly_settings.se_stats_file) {
        fd = fly_open_output(fly_settings.se_stats_file);
        if (fd < 0) {
            warn_setting("FLYMALLOC_STATS_FILE", ": cannot open the file; using stderr");
            fd = 2;
        }
    }
    fly_stats_print(fd, mode);
    if (fd != 2)
        close(fd);
}
