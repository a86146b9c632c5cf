/*
 * heap.c: heaps, their list, and the maintenance of one heap.
 *
 * The list is append-only: a heap is set up completely, then published by
 * storing its pointer and raising the count with a release store, so a
 * reader that loads the count with acquire sees every heap below it whole.
 * Heaps are never destroyed (their memory may be in use anywhere).
 *
 * The owner policy's heaps are made one by one as threads need them,
 * under owner_lock, which is held across the heap's set-up (two system
 * calls at most) so that two threads never make the same one: it is
 * taken only when a thread's cache is made, and first in the fork order.
 *
 * Maintenance of a heap: every po_gc_interval_ms (claimed by one thread
 * with a compare-and-swap on hp_next_reap) a purge pass, then the depot's
 * working-set reap (purging first: pages the reap frees now are not idle
 * yet); in between, a purge pass whenever the arena's earliest dirty span
 * has waited out the decay time.  Who calls it, and when, is the
 * maintenance layer's business (maintain.c).
 */
#include "heap.h"
#include "lock.h"
#include "meta.h"
#include <errno.h>
#include <string.h>

fly_heap_t fly_heap_default;
static fly_vmem_t heap_default_vmem;

fly_heap_t *fly_heap_list[FLY_MAX_HEAPS];
uint32_t fly_heap_list_count;                       /* atomic, release on publish */
static fly_lock_t heap_list_lock = FLY_LOCK_INITIALIZER;
static fly_vmem_import_fail_fn heap_import_hook;    /* fixed at fly_heap_init_default */
static fly_heap_t *owner_heaps[FLY_OWNER_HEAPS];    /* atomic, release on publish */
static fly_lock_t owner_lock = FLY_LOCK_INITIALIZER;

static void heap_setup(fly_heap_t *h, fly_vmem_t *vm, const fly_policy_t *po)
{
    memset(h, 0, sizeof(*h));
    h->hp_policy = *po;
    h->hp_vmem = vm;
    h->hp_node = -1;
    fly_vmem_init(vm, h, po->po_decay_ms, heap_import_hook);
    fly_slab_init(&h->hp_slab, vm, po->po_engine == FLY_ENGINE_BUMP, po->po_zone_purge_pages);
    fly_depot_init(&h->hp_depot, &h->hp_slab, po);
    h->hp_tcache_budget = po->po_tcache_bytes;
}

void fly_heap_init_default(const fly_policy_t *po, fly_vmem_import_fail_fn hook)
{
    heap_import_hook = hook;
    heap_setup(&fly_heap_default, &heap_default_vmem, po);
    fly_heap_list[0] = &fly_heap_default;
    __atomic_store_n(&fly_heap_list_count, 1, __ATOMIC_RELEASE);
}

fly_heap_t *fly_heap_create_os(const fly_policy_t *po)
{
    return fly_heap_create_placed_os(po, -1, NULL);
}

fly_heap_t *fly_heap_create_placed_os(const fly_policy_t *po, int node,
                                      void (*place)(void *h, void *region, size_t size))
{
    if (po->po_nclasses != fly_heap_default.hp_policy.po_nclasses ||
        memcmp(po->po_class_size, fly_heap_default.hp_policy.po_class_size,
               sizeof(po->po_class_size)) != 0 ||
        fly_heap_count() == FLY_MAX_HEAPS) {
        errno = ENOMEM;
        return NULL;
    }
    fly_heap_t *h = fly_meta_alloc_os(sizeof(fly_heap_t));
    fly_vmem_t *vm = h ? fly_meta_alloc_os(sizeof(fly_vmem_t)) : NULL;
    if (vm == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    heap_setup(h, vm, po);
    h->hp_node = node;
    vm->vm_place = place;
    fly_lock(&heap_list_lock);
    uint32_t n = fly_heap_list_count;
    if (n < FLY_MAX_HEAPS) {
        h->hp_index = n;
        fly_heap_list[n] = h;
        __atomic_store_n(&fly_heap_list_count, n + 1, __ATOMIC_RELEASE);
    }
    fly_unlock(&heap_list_lock);
    if (n == FLY_MAX_HEAPS) {
        errno = ENOMEM;      /* the bookkeeping stays with meta, which never frees */
        return NULL;
    }
    return h;
}

fly_heap_t *fly_heap_owner_peek(uint32_t i)
{
    if (i == 0)
        return &fly_heap_default;
    return i < FLY_OWNER_HEAPS ? __atomic_load_n(&owner_heaps[i], __ATOMIC_ACQUIRE) : NULL;
}

fly_heap_t *fly_heap_owner_os(uint32_t i)
{
    fly_heap_t *h = fly_heap_owner_peek(i);
    if (h || i >= FLY_OWNER_HEAPS)
        return h;
    fly_lock(&owner_lock);
    h = owner_heaps[i];
    if (h == NULL) {
        fly_policy_t po = fly_heap_default.hp_policy;
        h = fly_heap_create_os(&po);
        if (h)
            __atomic_store_n(&owner_heaps[i], h, __ATOMIC_RELEASE);
    }
    fly_unlock(&owner_lock);
    return h;
}

bool fly_heap_maintain_os(fly_heap_t *h, uint64_t now)
{
    bool reaped = false;
    uint64_t reap = __atomic_load_n(&h->hp_next_reap, __ATOMIC_RELAXED);
    if (now >= reap && __atomic_compare_exchange_n(&h->hp_next_reap, &reap,
                                                   now + h->hp_policy.po_gc_interval_ms, false,
                                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        fly_vmem_purge_os(h->hp_vmem, now, false);
        fly_depot_reap(&h->hp_depot, false);
        __atomic_fetch_add(&h->hp_reaps, 1, __ATOMIC_RELAXED);
        reaped = true;
    }
    if (fly_vmem_purge_due(h->hp_vmem, now))
        fly_vmem_purge_os(h->hp_vmem, now, false);
    return reaped;
}

void fly_heap_trim_os(fly_heap_t *h)
{
    fly_depot_reap(&h->hp_depot, true);
    fly_vmem_purge_os(h->hp_vmem, 0, true);
}

bool fly_heap_release_empty_os(fly_heap_t *h)
{
    return fly_vmem_release_empty_os(h->hp_vmem) > 0;
}

uint64_t fly_heap_decay_ms(const fly_heap_t *h)
{
    return __atomic_load_n(&h->hp_vmem->vm_decay_ms, __ATOMIC_RELAXED);
}

void fly_heap_set_decay_ms(fly_heap_t *h, uint64_t ms)
{
    __atomic_store_n(&h->hp_vmem->vm_decay_ms, ms, __ATOMIC_RELAXED);
}

/* The prepare handler takes owner_lock and heap_list_lock first (only
 * heap_list_lock is ever taken under owner_lock), so the count read here stays valid until the handlers
 * are done. */
void fly_heap_lock_classes(void)
{
    fly_lock(&owner_lock);
    fly_lock(&heap_list_lock);
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        fly_slab_lock_all(&fly_heap_list[i]->hp_slab);
}

void fly_heap_unlock_classes(bool child)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        fly_slab_unlock_all(&fly_heap_list[i]->hp_slab, child);
    if (child) {
        fly_lock_reinit(&heap_list_lock);
        fly_lock_reinit(&owner_lock);
    } else {
        fly_unlock(&heap_list_lock);
        fly_unlock(&owner_lock);
    }
}

void fly_heap_lock_arenas(void)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        fly_vmem_lock_all(fly_heap_list[i]->hp_vmem);
}

void fly_heap_unlock_arenas(bool child)
{
    for (uint32_t i = 0; i < fly_heap_count(); i++)
        fly_vmem_unlock_all(fly_heap_list[i]->hp_vmem, child);
}
