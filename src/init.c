/*
 * init.c: initialization, the thread-exit destructor and the process's end.
 *
 * Initialization is lazy (first allocation) and idempotent, and calls
 * nothing that allocates before the tables are usable: a recursive malloc
 * from pthread_atfork or pthread_key_create (glibc may allocate there) finds
 * the allocator ready.  The settings are read once here (config.c, from the
 * FLYMALLOC_* variables listed in options.def, and the policy seed a
 * program may link in, exe.c, or its stored profile, profile.c); a setuid
 * or setgid program (AT_SECURE) ignores the environment and profiles.  The
 * secure mode (secure.c) is chosen here, before the first block, and is
 * always on when this file is built with FLY_SECURE_BUILD
 * (libflymalloc-secure.so).  The fork handlers are in fork.c and the
 * statistics report at exit in report.c.
 */
#include "init.h"
#include "background.h"
#include "config.h"
#include "bump.h"
#include "exe.h"
#include "freemark.h"
#include "fork.h"
#include "secure.h"
#include "vmem.h"
#include "heap.h"
#include "huge.h"
#include "maintain.h"
#include "node.h"
#include "report.h"
#include "sample.h"
#include "sizeclass.h"
#include "tcache.h"
#include "trace.h"
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

bool fly_initialized;
static int init_state;            /* 0 none, 1 running, 2 done */

/* The thread-exit destructor: the cache drains, then the recorder writes
 * the thread's last events. */
static void thread_exit_os(void *cache)
{
    if (fly_secure_on)
        fly_secure_thread_exit_os();
    if (fly_tcache_thread_exit_os(cache) && fly_trace_on)
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
#ifdef FLY_SECURE_BUILD
    fly_settings.se_secure = true;      /* libflymalloc-secure.so: not to be turned off */
#endif
    /* A program's own seed holds even when it runs privileged; the
     * environment of a privileged program is its invoker's, not trusted. */
    fly_program_t pg;
    pg.pg_seed = fly_exe_policy_seed(&pg.pg_seed_len);
    pg.pg_key = fly_exe_build_id(&pg.pg_key_len);
    fly_config_parse(fly_exe_secure() ? NULL : environ, &pg, &po, &fly_settings);
    fly_settings.se_start_ms = fly_now_ms();
    /* The secure mode sizes and checks every block itself: no samples. */
    fly_sample_on = fly_settings.se_profile && !fly_settings.se_secure;
    fly_free_mark_init();
    if (fly_settings.se_secure) {
        po.po_engine = FLY_ENGINE_SLAB;     /* every small block in a zone slot (secure.c) */
        po.po_owner_heaps = 0;              /* its caches are swapped in and out (secure.c) */
        po.po_zone_purge_pages = 0;         /* a purge would erase a write after free unseen */
        fly_vmem_guard_regions();
        fly_secure_init();
    }
    fly_sizeclass_init(&po);
    fly_heap_init_default(&po, fly_maintain_release_os);
    fly_huge_init(po.po_huge_cache_bytes, fly_maintain_release_os);
    fly_bump_init(po.po_bump_free_permille, (uint64_t)4 << 20);
    fly_numa_set_sources(fly_settings.se_numa_topology, fly_settings.se_numa_sysfs);
    fly_node_init(&fly_settings.se_numa, fly_settings.se_numa_bind);
    /* Started by the first slow path after this: not from a constructor. */
    fly_background_wanted = fly_settings.se_background;
    fly_tcache_init();
    __atomic_store_n(&fly_initialized, true, __ATOMIC_RELEASE);
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    /* These may allocate; the allocator is ready for them. */
    pthread_key_create(&fly_thread_key, thread_exit_os);
    pthread_atfork(fly_prefork, fly_postfork_parent, fly_postfork_child);
    if (fly_settings.se_secure && fly_settings.se_trace)
        fly_warn("FLYMALLOC_TRACE is not recorded in the secure mode");
    else
        fly_trace_init(fly_settings.se_trace, fly_settings.se_trace_pid, fly_settings.se_trace_counter);
}

__attribute__((constructor(101))) static void fly_init_early(void)
{
    if (!fly_initialized)
        fly_init();
}

/* At exit the secure mode checks the quarantine, the recorder writes its
 * last events, then the report prints. */
__attribute__((destructor)) static void fly_fini(void)
{
    if (fly_secure_on)
        fly_secure_check_at_exit();
    fly_trace_finish_os();
    fly_report_at_exit_os();
}
