/*
 * frag.c: fragmentation characterization, from one statistics snapshot.
 *
 * Everything flymalloc holds (fr_held) is split into what the program uses
 * and the kinds of waste, each with its own cure:
 *   internal   rounding inside live small objects: a request of 40 bytes in
 *              the 48-byte class wastes 8.  Estimated per class from the
 *              bytes requested by all its allocations so far, applied to
 *              the objects live now;
 *   zone free  free slots in partly used zones (external fragmentation of
 *              the slab layer: one live object keeps its whole zone);
 *   cached     free objects in thread caches and the depot, and freed huge
 *              mappings kept for reuse (the price of speed);
 *   dirty      free pages still resident, returned after the decay time;
 *   cold       free pages already returned (address space only, not RSS);
 *   meta       the allocator's bookkeeping.
 * The summary names the largest kind of waste and the class responsible.
 */
#include "stats.h"
#include "heap.h"

void fly_frag_compute(const fly_stats_t *st, fly_frag_t *fr)
{
    __builtin_memset(fr, 0, sizeof(*fr));
    uint64_t worst = 0;
    for (unsigned i = 0; i < st->st_nclasses; i++) {
        const fly_class_stats_t *cs = &st->st_class[i];
        uint64_t used = cs->cs_live + cs->cs_cached;
        uint64_t free_slots = cs->cs_capacity > used ? cs->cs_capacity - used : 0;
        uint64_t zone_free = free_slots * cs->cs_size;
        fr->fr_zone_free += zone_free;
        if (cs->cs_nmalloc && cs->cs_requested < cs->cs_nmalloc * cs->cs_size) {
            /* Mean waste per allocation, times the live objects. */
            uint64_t waste_per_alloc_x1024 =
                (cs->cs_nmalloc * cs->cs_size - cs->cs_requested) * 1024 / cs->cs_nmalloc;
            fr->fr_internal += cs->cs_live * waste_per_alloc_x1024 / 1024;
        }
        if (zone_free > worst) {
            worst = zone_free;
            fr->fr_worst_class_size = cs->cs_size;
            fr->fr_worst_class_free = zone_free;
            fr->fr_worst_class_util_pct = cs->cs_capacity ? used * 100 / cs->cs_capacity : 0;
        }
    }
    fr->fr_live = st->st_live_bytes;
    fr->fr_cached = st->st_cached_bytes;
    fr->fr_dirty = st->st_dirty_bytes;
    fr->fr_cold = st->st_cold_bytes;
    fr->fr_meta = st->st_meta_bytes;
    fr->fr_held = fr->fr_live + fr->fr_zone_free + fr->fr_cached + fr->fr_dirty + fr->fr_meta;
}

static void put_share(fly_text_t *t, uint64_t part, uint64_t whole)
{
    fly_text_bytes(t, part);
    fly_text_put(t, " (");
    fly_text_u64(t, whole ? (part * 100 + whole / 2) / whole : 0);
    fly_text_put(t, " %)");
}

size_t fly_frag_summary(const fly_stats_t *st, char *buf, size_t len)
{
    if (len == 0)
        return 0;
    fly_frag_t fr;
    fly_frag_compute(st, &fr);
    fly_text_t t = { buf, 0, len - 1, -1 };
    if (fr.fr_held == 0) {
        fly_text_put(&t, "flymalloc holds no memory yet.");
        buf[t.tx_len] = '\0';
        return t.tx_len;
    }
    fly_text_put(&t, "flymalloc holds ");
    fly_text_bytes(&t, fr.fr_held);
    fly_text_put(&t, " (the whole process has ");
    fly_text_bytes(&t, st->st_resident_bytes);
    fly_text_put(&t, " resident). Live blocks use ");
    put_share(&t, fr.fr_live, fr.fr_held);
    fly_text_put(&t, ", of which about ");
    fly_text_bytes(&t, fr.fr_internal);
    fly_text_put(&t, " is rounding up to size classes. Free space in partly used zones: ");
    put_share(&t, fr.fr_zone_free, fr.fr_held);
    if (fr.fr_worst_class_free) {
        fly_text_put(&t, ", most of it in ");
        fly_text_u64(&t, fr.fr_worst_class_size);
        fly_text_put(&t, "-byte zones (");
        fly_text_bytes(&t, fr.fr_worst_class_free);
        fly_text_put(&t, " free, ");
        fly_text_u64(&t, fr.fr_worst_class_util_pct);
        fly_text_put(&t, " % used)");
    }
    fly_text_put(&t, ". Thread caches and depots hold ");
    put_share(&t, fr.fr_cached, fr.fr_held);
    fly_text_put(&t, "; free pages kept for reuse (dirty): ");
    put_share(&t, fr.fr_dirty, fr.fr_held);
    fly_text_put(&t, ", returned to the OS after ");
    fly_text_u64(&t, fly_heap_decay_ms(&fly_heap_default));
    fly_text_put(&t, " ms idle; bookkeeping: ");
    put_share(&t, fr.fr_meta, fr.fr_held);
    fly_text_put(&t, ". Already returned to the OS (cold): ");
    fly_text_bytes(&t, fr.fr_cold);
    fly_text_put(&t, ".");
    buf[t.tx_len] = '\0';
    return t.tx_len;
}
