/*
 * heap.h: a heap, the unit the allocator can have several of (heap.c).
 *
 * A heap is a frozen policy, the slab zones and depot of every class that
 * the policy shapes, the page arena both take their memory from, and the
 * heap's maintenance state.  The default heap is static, so nothing is
 * allocated to start; other heaps (a program's policy, a NUMA node) are
 * made with fly_heap_create_os and live as long as the process.  The size
 * classes are process-wide; what differs per heap is everything above them
 * (magazine sizes, depot bounds, decay, caches) and where the memory is.
 *
 * A thread cache points to its heap (tcache.h); a block's heap is found in
 * O(1) from its region (fly_heap_of): every region belongs to one arena and
 * every arena to one heap.
 */
#ifndef FLY_HEAP_H
#define FLY_HEAP_H

#include "depot.h"
#include "policy.h"
#include "slab.h"
#include "vmem.h"

#define FLY_MAX_HEAPS 64

typedef struct fly_heap {
    fly_slab_t hp_slab;
    fly_depot_t hp_depot;
    fly_vmem_t *hp_vmem;
    fly_policy_t hp_policy;        /* frozen when the heap is made */
    uint32_t hp_index;             /* in the heap list: 0 is the default heap */
    int32_t hp_node;               /* the NUMA node it is bound to (node.c), or -1 */
    /* Changed at run time (fly_ctl opt.tcache_bytes), atomic: */
    uint64_t hp_tcache_budget;     /* per-thread cache budget of threads on this heap */
    /* Maintenance state, atomic: */
    uint64_t hp_next_reap;         /* ms: the next depot reap and purge pass */
    uint64_t hp_reaps;             /* reap passes run */
} fly_heap_t;

extern fly_heap_t fly_heap_default;

/* Sets up the default heap from po (fly_init); hook is every heap's
 * arena's import-failure hook. */
void fly_heap_init_default(const fly_policy_t *po, fly_vmem_import_fail_fn hook);
/* A new heap with its own arena.  po's class set must be the default
 * heap's.  NULL (errno ENOMEM) when out of memory or heaps. */
fly_heap_t *fly_heap_create_os(const fly_policy_t *po);
/* The same, its arena's new regions passed to place(h, region, size)
 * before anything touches them, and hp_node set to node. */
fly_heap_t *fly_heap_create_placed_os(const fly_policy_t *po, int node,
                                      void (*place)(void *h, void *region, size_t size));
/* The owner policy's heaps (po_owner_heaps): owner heap 0 is the default
 * heap; owner heap i, 0 < i < FLY_OWNER_HEAPS, is made with the default
 * heap's policy on first use.  NULL (errno ENOMEM) when none can be made.
 * fly_heap_owner_peek says whether owner heap i exists, making nothing. */
#define FLY_OWNER_HEAPS 16
fly_heap_t *fly_heap_owner_os(uint32_t i);
fly_heap_t *fly_heap_owner_peek(uint32_t i);

/* Heaps made so far, and heap i of them (0: the default heap).  The list
 * is append-only and published with a release store of the count. */
extern fly_heap_t *fly_heap_list[FLY_MAX_HEAPS];
extern uint32_t fly_heap_list_count;
FLY_INLINE uint32_t fly_heap_count(void)
{
    return __atomic_load_n(&fly_heap_list_count, __ATOMIC_ACQUIRE);
}
FLY_INLINE fly_heap_t *fly_heap_at(uint32_t i)
{
    return fly_heap_list[i];
}
/* The heap whose arena holds p, a pointer into one of our heap regions. */
FLY_INLINE fly_heap_t *fly_heap_of(const void *p)
{
    return (fly_heap_t *)fly_vmem_of(p)->vm_owner;
}

/* Whether heap h has maintenance due at now: a tick asks this of every
 * heap, so it is inline and reads two words. */
FLY_INLINE bool fly_heap_maintenance_due(const fly_heap_t *h, uint64_t now)
{
    return now >= __atomic_load_n(&h->hp_next_reap, __ATOMIC_RELAXED) ||
           fly_vmem_purge_due(h->hp_vmem, now);
}
/* Maintenance at now: the depot reap and purge pass when the reap interval
 * is due (claimed by one thread; true if this call ran it), and a purge
 * pass when the arena's next purge is. */
bool fly_heap_maintain_os(fly_heap_t *h, uint64_t now);
/* Every cached object back to the zones, every dirty page to the OS. */
void fly_heap_trim_os(fly_heap_t *h);
/* Unmaps the heap's regions that hold nothing; true if any. */
bool fly_heap_release_empty_os(fly_heap_t *h);
uint64_t fly_heap_decay_ms(const fly_heap_t *h);
void fly_heap_set_decay_ms(fly_heap_t *h, uint64_t ms);

/* fork: every heap's class locks, in heap order (first in the lock order),
 * and every heap's arena lock (after the huge lock). */
void fly_heap_lock_classes(void);
void fly_heap_unlock_classes(bool child);
void fly_heap_lock_arenas(void);
void fly_heap_unlock_arenas(bool child);

#endif
