/*
 * test_heaps.c: heaps as objects (heap.h), one process, one thread at a
 * time (test_two_heaps_tsan does the threads).
 *
 *   create_rules     a heap needs the default heap's class set (another one
 *                    gives NULL and ENOMEM); heaps get consecutive indices,
 *                    each its own arena and depot; the list stops at
 *                    FLY_MAX_HEAPS with ENOMEM
 *   attach           a thread moved to another heap allocates from it, its
 *                    old cache's objects go back to the old heap (its zones
 *                    or depot), and it
 *                    can come back; a heap's budget and magazine geometry
 *                    shape the bins of the threads on it
 *   settings         opt.decay_ms and opt.tcache_bytes written through
 *                    fly_ctl apply to every heap; reads show the default's
 *   trim             malloc_trim purges every heap and releases their empty
 *                    regions
 *   fork             a child forked while two heaps are in use allocates and
 *                    frees on both (every heap's locks were taken and
 *                    reinitialized)
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "tcache.h"
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static fly_heap_t *second;

static fly_policy_t small_policy(void)
{
    fly_policy_t po = fly_heap_default.hp_policy;
    po.po_tcache_bytes = 512u << 10;
    po.po_mag_max_rounds = 32;
    return po;
}

static uint64_t heap_stat(unsigned i, const char *field)
{
    char name[64];
    snprintf(name, sizeof name, "stats.heaps.%u.%s", i, field);
    uint64_t v = 0;
    size_t len = sizeof v;
    CHECK(fly_ctl(name, &v, &len, NULL, 0) == 0, "fly_ctl(%s)", name);
    return v;
}

static void create_rules(void)
{
    fly_policy_t po = small_policy();
    po.po_class_size[3] += 16;
    errno = 0;
    CHECK(fly_heap_create_os(&po) == NULL && errno == ENOMEM, "a heap with another class set was made");
    po = small_policy();
    second = fly_heap_create_os(&po);
    CHECK(second != NULL && second->hp_index == 1 && fly_heap_count() == 2, "second heap");
    CHECK(fly_heap_at(1) == second && fly_heap_at(0) == &fly_heap_default, "heap list order");
    CHECK(second->hp_vmem != fly_heap_default.hp_vmem && second->hp_vmem->vm_owner == second,
          "the second heap's arena is not its own");
    CHECK(second->hp_depot.dp_class[1].dc_mag_cap == 32, "the policy's magazine cap is not used (%u)",
          second->hp_depot.dp_class[1].dc_mag_cap);
}

static void attach(void)
{
    void *before = fly_malloc(100);
    CHECK(fly_heap_of(before) == &fly_heap_default, "first block not from the default heap");
    CHECK(fly_tcache_attach_os(second), "attach");
    CHECK(fly_tc->tc_heap == second, "cache not on the second heap");
    void *p[200];
    for (int i = 0; i < 200; i++) {
        p[i] = fly_malloc(100 + (size_t)i * 50);
        CHECK(p[i] && fly_heap_of(p[i]) == second, "block %d not from the second heap", i);
    }
    unsigned c = fly_class_of(100);
    CHECK(fly_tc->tc_bins[c].tb_cap <= second->hp_depot.dp_class[c].dc_mag_cap,
          "bin capacity %u above the heap's magazines (%u)", fly_tc->tc_bins[c].tb_cap,
          second->hp_depot.dp_class[c].dc_mag_cap);
    void *big = fly_malloc(100000);
    CHECK(big && fly_heap_of(big) == second, "large block not from the second heap");
    fly_free(before);                        /* a default-heap block freed on the second */
    for (int i = 0; i < 200; i++)
        fly_free(p[i]);
    fly_free(big);
    CHECK(fly_tcache_attach_os(&fly_heap_default), "attach back");
    void *q = fly_malloc(100);
    CHECK(q && fly_heap_of(q) == &fly_heap_default, "back on the default heap, block from elsewhere");
    fly_free(q);
    CHECK(fly_tcache_attach_os(&fly_heap_default), "attaching to the current heap");
    fly_tcache_flush_thread();
    for (unsigned k = 1; k <= fly_nclasses; k++) {
        uint64_t out = second->hp_slab.sl_class[k].sc_objs_out;
        uint64_t in_depot = second->hp_depot.dp_class[k].dc_full_rounds;
        CHECK(out == in_depot, "class %u: %llu objects of the second heap out, %llu in its depot", k,
              (unsigned long long)out, (unsigned long long)in_depot);
    }
}

static void settings(void)
{
    uint64_t v = 123, old = 0;
    size_t len = sizeof old;
    CHECK(fly_ctl("opt.decay_ms", &old, &len, &v, sizeof v) == 0, "write opt.decay_ms");
    CHECK(fly_heap_decay_ms(&fly_heap_default) == 123 && fly_heap_decay_ms(second) == 123,
          "decay not applied to every heap (%llu, %llu)",
          (unsigned long long)fly_heap_decay_ms(&fly_heap_default),
          (unsigned long long)fly_heap_decay_ms(second));
    CHECK(fly_ctl("opt.decay_ms", NULL, NULL, &old, sizeof old) == 0, "restore opt.decay_ms");
    uint64_t budget = 2u << 20, cur = 0;
    len = sizeof cur;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &budget, sizeof budget) == 0, "write opt.tcache_bytes");
    CHECK(fly_ctl("opt.tcache_bytes", &cur, &len, NULL, 0) == 0 && cur == budget, "read back %llu",
          (unsigned long long)cur);
    CHECK(second->hp_tcache_budget == budget, "budget not applied to the second heap");
    budget = 4u << 20;
    CHECK(fly_ctl("opt.tcache_bytes", NULL, NULL, &budget, sizeof budget) == 0, "restore budget");
}

static void trim(void)
{
    CHECK(fly_tcache_attach_os(second), "attach for trim");
    void *p[64];
    for (int i = 0; i < 64; i++)
        CHECK((p[i] = fly_malloc(20000)) != NULL, "malloc");
    for (int i = 0; i < 64; i++)
        fly_free(p[i]);
    CHECK(fly_tcache_attach_os(&fly_heap_default), "attach back for trim");
    fly_malloc_trim(0);
    for (unsigned i = 0; i < 2; i++) {
        CHECK(heap_stat(i, "dirty_bytes") == 0, "heap %u kept %llu dirty bytes after trim", i,
              (unsigned long long)heap_stat(i, "dirty_bytes"));
        CHECK(heap_stat(i, "purges") > 0 || heap_stat(i, "mapped_bytes") == 0, "heap %u never purged", i);
    }
    CHECK(heap_stat(1, "mapped_bytes") == 0, "the second heap's empty regions stayed mapped (%llu)",
          (unsigned long long)heap_stat(1, "mapped_bytes"));
}

static void use_both(unsigned char tag)
{
    for (int round = 0; round < 2; round++) {
        CHECK(fly_tcache_attach_os(round ? second : &fly_heap_default), "attach in round %d", round);
        void *p[500];
        for (int i = 0; i < 500; i++) {
            p[i] = fly_malloc(16 + (size_t)i * 7);
            CHECK(p[i] != NULL, "malloc");
            memset(p[i], tag, 16);
        }
        for (int i = 0; i < 500; i++)
            fly_free(p[i]);
    }
}

static void fork_both(void)
{
    use_both(1);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        use_both(2);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child could not use both heaps (status %d)", status);
    use_both(3);
    CHECK(fly_tcache_attach_os(&fly_heap_default), "attach back after fork");
}

static void heap_limit(void)
{
    fly_policy_t po = small_policy();
    while (fly_heap_count() < FLY_MAX_HEAPS)
        CHECK(fly_heap_create_os(&po) != NULL, "heap %u", fly_heap_count());
    errno = 0;
    CHECK(fly_heap_create_os(&po) == NULL && errno == ENOMEM, "a heap beyond FLY_MAX_HEAPS");
    uint32_t n = 0;
    size_t len = sizeof n;
    CHECK(fly_ctl("stats.heaps", &n, &len, NULL, 0) == 0 && n == FLY_MAX_HEAPS, "stats.heaps %u", n);
}

int main(void)
{
    fly_free(fly_malloc(1));
    create_rules();
    attach();
    settings();
    trim();
    fork_both();
    heap_limit();
    return 0;
}
