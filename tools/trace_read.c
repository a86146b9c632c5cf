/*
 * trace_read.c: reads a flymalloc trace (format v1, docs/trace-format.md).
 *
 * Two passes over the memory-mapped file.  The first walks the chunk heads:
 * it checks the header, every chunk's bounds and checksum, and stops with a
 * warning at a chunk cut short by the end of the file.  The second merges
 * the threads' event streams (each already in sequence order: chunks of one
 * thread are in file order, numbers in a thread never go back) with a binary heap,
 * decoding each event only when it is next in its stream, so addresses are
 * never stored: they are turned into dense object ids on the spot through
 * an address -> id hash map that holds only live objects.  Each event is
 * kept in 33 bytes (fly_event and its alignment byte).
 *
 * Every error names the byte offset; nothing in the file is trusted (all
 * counts are checked against the bytes that hold them before anything is
 * sized by them).
 */
#define _GNU_SOURCE
#include "trace_read.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES 48
#define CHUNK_HEAD_BYTES 40
#define END_BYTES 40
/* Smallest event: op, dseq, dtime (THREAD_EXIT). */
#define MIN_EVENT_BYTES 3
/* Warnings of one kind kept word for word; the rest are counted. */
#define WARN_KEEP 10

_Static_assert(sizeof(fly_event) == 32, "an event should stay 32 bytes");

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The chunk checksum: FNV-1a-64 over the payload's little-endian 64-bit
 * words, the last one zero-padded, folded to 32 bits. */
static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = (h ^ get64(p + i)) * UINT64_C(1099511628211);
    if (i < n) {
        uint64_t w = 0;
        for (unsigned k = 0; i + k < n; k++)
            w |= (uint64_t)p[i + k] << (8 * k);
        h = (h ^ w) * UINT64_C(1099511628211);
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- address -> object id map (open addressing, linear probing) ---- */

typedef struct map_slot {
    uint64_t addr; /* 0: empty (no object lives at address 0) */
    uint32_t obj;
} map_slot;

typedef struct addr_map {
    map_slot *slots;
    size_t mask, count;
} addr_map;

static size_t map_home(const addr_map *m, uint64_t addr)
{
    /* Fibonacci hashing: block addresses share their low bits. */
    return (size_t)((addr * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & m->mask;
}

static int map_init(addr_map *m)
{
    m->mask = 1023;
    m->count = 0;
    m->slots = calloc(m->mask + 1, sizeof(map_slot));
    return m->slots ? 0 : -1;
}

static uint32_t map_get(const addr_map *m, uint64_t addr)
{
    for (size_t i = map_home(m, addr);; i = (i + 1) & m->mask) {
        if (m->slots[i].addr == addr)
            return m->slots[i].obj;
        if (m->slots[i].addr == 0)
            return FLY_NO_OBJ;
    }
}

static int map_put(addr_map *m, uint64_t addr, uint32_t obj);

static int map_grow(addr_map *m)
{
    addr_map bigger = { calloc((m->mask + 1) * 2, sizeof(map_slot)), m->mask * 2 + 1, 0 };
    if (!bigger.slots)
        return -1;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].addr)
            map_put(&bigger, m->slots[i].addr, m->slots[i].obj);
    free(m->slots);
    *m = bigger;
    return 0;
}

/* Inserts or replaces. */
static int map_put(addr_map *m, uint64_t addr, uint32_t obj)
{
    if ((m->count + 1) * 2 > m->mask + 1 && map_grow(m) != 0)
        return -1;
    size_t i = map_home(m, addr);
    while (m->slots[i].addr != 0 && m->slots[i].addr != addr)
        i = (i + 1) & m->mask;
    if (m->slots[i].addr == 0)
        m->count++;
    m->slots[i].addr = addr;
    m->slots[i].obj = obj;
    return 0;
}

/* Removes ADDR, shifting later entries of its run back so lookups never
 * need tombstones. */
static void map_del(addr_map *m, uint64_t addr)
{
    size_t i = map_home(m, addr);
    while (m->slots[i].addr != addr) {
        if (m->slots[i].addr == 0)
            return;
        i = (i + 1) & m->mask;
    }
    size_t hole = i;
    for (size_t j = (hole + 1) & m->mask; m->slots[j].addr != 0; j = (j + 1) & m->mask) {
        size_t home = map_home(m, m->slots[j].addr);
        /* Entry j may fill the hole if its home is not cyclically in (hole, j]. */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].addr = 0;
    m->count--;
}

/* ---- reader state ---- */

typedef struct chunk {
    uint64_t off; /* of the chunk head */
    uint64_t base_seq, base_t;
    uint32_t number, payload, events, tid;
} chunk;

/* One decoded event waiting for its turn in the merge. */
typedef struct pending {
    uint64_t off, seq, t;
    uint64_t size, addr, old_addr, align;
    uint64_t v[FLY_S_COUNT];
    fly_class *classes; /* CLASSES: decoded table (owned until taken) */
    size_t nclasses;
    const uint8_t *note; /* NOTE: text inside the mapping */
    size_t note_len;
    int op;
} pending;

/* One thread's stream: its chunks in file order, decoded lazily. */
typedef struct cursor {
    const chunk *chunks;
    size_t nchunks, next_chunk;
    const chunk *cur;
    const uint8_t *p, *end;
    uint32_t left;
    uint64_t seq, t, addr;
    uint64_t last_seq; /* of the stream's previous event: numbers must not go back */
    int started;
    uint32_t thread;
    pending ev;
} cursor;

typedef struct reader {
    fly_trace *t;
    const uint8_t *map;
    size_t size;
    char *err;
    size_t errlen;
    int failed;
    addr_map live;
    size_t sample_cap, evict_cap;
    uint64_t collisions, unknown; /* warnings of these kinds so far */
} reader;

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader *r, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
        r->failed = 1;
    }
    return -1;
}

static void warn(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(reader *r, const char *fmt, ...)
{
    fly_trace *t = r->t;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char **more = realloc(t->warnings, (t->nwarnings + 1) * sizeof(char *));
    if (!more) {
        free(msg);
        return;
    }
    t->warnings = more;
    t->warnings[t->nwarnings++] = msg;
}

/* Reads one varint.  0, or -1 past END, -2 longer than 10 bytes, -3 more
 * than 64 bits. */
static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (i == 10)
            return -2;
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        if (i == 9 && (b & 0x7f) > 1)
            return b & 0x80 ? -2 : -3;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *pp = p;
    *out = v;
    return 0;
}

static const char *varint_why(int rc)
{
    switch (rc) {
    case -1:
        return "event runs past the end of its chunk";
    case -2:
        return "varint longer than 10 bytes";
    default:
        return "varint larger than 64 bits";
    }
}

/* ---- pass 1: header and chunk heads ---- */

/* Checks the header and reads the command line; *HBYTES_OUT: where chunks begin. */
static int read_header(reader *r, size_t *hbytes_out)
{
    fly_trace *t = r->t;
    if (r->size == 0)
        return fail(r, "not a flymalloc trace: the file is empty (offset 0)");
    if (r->size < 8 || memcmp(r->map, "FLYTRACE", 8) != 0)
        return fail(r, "not a flymalloc trace: no FLYTRACE magic at offset 0");
    if (r->size < 12)
        return fail(r, "truncated header at offset 8: the file ends at byte %zu", r->size);
    t->version = get32(r->map + 8);
    if (t->version != 1)
        return fail(r, "trace version %u, this reader knows 1 (offset 8)", t->version);
    if (r->size < HEADER_BYTES)
        return fail(r, "truncated header at offset %zu: the file ends before byte %d", r->size,
                    HEADER_BYTES);
    uint32_t hbytes = get32(r->map + 12);
    if (hbytes < HEADER_BYTES)
        return fail(r, "corrupt header at offset 12: header bytes %u (at least %d)", hbytes,
                    HEADER_BYTES);
    if (hbytes > r->size)
        return fail(r, "truncated header at offset %zu: header bytes %u", r->size, hbytes);
    t->pid = get64(r->map + 16);
    t->start_mono_ns = get64(r->map + 24);
    t->start_real_ns = get64(r->map + 32);
    t->page_size = get32(r->map + 40);
    t->header_flags = get32(r->map + 44);

    /* Command line: NUL-separated, maybe without a final NUL. */
    const char *cmd = (const char *)r->map + HEADER_BYTES;
    size_t len = hbytes - HEADER_BYTES, n = 0;
    for (size_t i = 0; i < len; i++)
        if (cmd[i] == '\0' || i + 1 == len)
            n++;
    t->argv = calloc(n + 1, sizeof(char *));
    if (!t->argv)
        return fail(r, "out of memory");
    for (size_t i = 0, start = 0; i < len; i++) {
        if (cmd[i] == '\0' || i + 1 == len) {
            size_t end = cmd[i] == '\0' ? i : i + 1;
            t->argv[t->argc] = strndup(cmd + start, end - start);
            if (!t->argv[t->argc])
                return fail(r, "out of memory");
            t->argc++;
            start = i + 1;
        }
    }
    *hbytes_out = hbytes;
    return 0;
}

static int by_thread_then_offset(const void *a, const void *b)
{
    const chunk *x = a, *y = b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Walks the chunk heads from OFF.  On success fills *CHUNKS (sorted by
 * thread, then file order) and *TOTAL (events they hold). */
static int scan_chunks(reader *r, size_t off, chunk **chunks, size_t *nchunks, size_t *total)
{
    fly_trace *t = r->t;
    size_t cap = 0, n = 0, events = 0;
    chunk *list = NULL;
    int cut = 0;
    while (off < r->size) {
        size_t rem = r->size - off;
        const uint8_t *h = r->map + off;
        if (rem >= 4 && memcmp(h, "FLYE", 4) == 0) {
            if (rem < END_BYTES) {
                warn(r, "truncated end record at offset %zu (%zu of %d bytes)", off, rem,
                     END_BYTES);
                cut = 1;
                break;
            }
            t->has_end = 1;
            t->end_threads = get32(h + 4);
            t->end_events = get64(h + 8);
            t->end_chunks = get64(h + 16);
            t->end_time_ns = get64(h + 24);
            t->end_dropped = get64(h + 32);
            off += END_BYTES;
            if (off < r->size)
                warn(r, "%zu bytes after the end record at offset %zu ignored", r->size - off,
                     off);
            break;
        }
        if (rem < 4 || (rem < CHUNK_HEAD_BYTES && memcmp(h, "FLYC", 4) == 0)) {
            warn(r, "truncated chunk at offset %zu (the file ends %zu bytes into its head); "
                    "the events before it are used", off, rem);
            cut = 1;
            break;
        }
        if (memcmp(h, "FLYC", 4) != 0) {
            free(list);
            return fail(r, "corrupt chunk at offset %zu (no chunk magic)", off);
        }
        chunk c = { .off = off, .number = get32(h + 4), .payload = get32(h + 8),
                    .events = get32(h + 12), .base_seq = get64(h + 16), .base_t = get64(h + 24),
                    .tid = get32(h + 36) };
        if (c.payload > rem - CHUNK_HEAD_BYTES) {
            warn(r, "truncated chunk at offset %zu (payload of %u bytes, %zu in the file); "
                    "the events before it are used", off, c.payload, rem - CHUNK_HEAD_BYTES);
            cut = 1;
            break;
        }
        if (checksum(h + CHUNK_HEAD_BYTES, c.payload) != get32(h + 32)) {
            free(list);
            return fail(r, "corrupt chunk at offset %zu (checksum)", off);
        }
        if ((uint64_t)c.events * MIN_EVENT_BYTES > c.payload) {
            free(list);
            return fail(r, "corrupt chunk at offset %zu (%u events cannot fit in %u bytes)", off,
                        c.events, c.payload);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            chunk *more = realloc(list, cap * sizeof(chunk));
            if (!more) {
                free(list);
                return fail(r, "out of memory");
            }
            list = more;
        }
        list[n++] = c;
        events += c.events;
        off += CHUNK_HEAD_BYTES + c.payload;
    }
    if (!t->has_end)
        warn(r, "no end record: the program did not exit normally");
    t->complete = t->has_end && !cut;
    if (n)
        qsort(list, n, sizeof(chunk), by_thread_then_offset);
    *chunks = list;
    *nchunks = n;
    *total = events;
    return 0;
}

/* ---- pass 2: decoding and merging ---- */

/* Decodes the next event of C's stream into C->ev: 1, 0 at the end of the
 * stream, -1 on error. */
static int cursor_next(reader *r, cursor *c)
{
    while (c->left == 0) {
        if (c->cur && c->p != c->end)
            return fail(r, "corrupt chunk at offset %llu (%zu bytes after its last event)",
                        (unsigned long long)c->cur->off, (size_t)(c->end - c->p));
        if (c->next_chunk == c->nchunks)
            return 0;
        c->cur = &c->chunks[c->next_chunk++];
        c->p = r->map + c->cur->off + CHUNK_HEAD_BYTES;
        c->end = c->p + c->cur->payload;
        c->left = c->cur->events;
        c->seq = c->cur->base_seq;
        c->t = c->cur->base_t;
        c->addr = 0;
    }
    pending *e = &c->ev;
    const uint8_t *p = c->p, *end = c->end;
    e->off = (uint64_t)(p - r->map);
    if (p >= end)
        return fail(r, "corrupt event at offset %llu: event runs past the end of its chunk",
                    (unsigned long long)e->off);
    e->op = *p++;
    uint64_t dseq, dt;
    int rc;
    if ((rc = get_varint(&p, end, &dseq)) || (rc = get_varint(&p, end, &dt)))
        return fail(r, "corrupt event at offset %llu: %s", (unsigned long long)e->off,
                    varint_why(rc));
    if (dseq > UINT64_MAX - c->seq)
        return fail(r, "corrupt event at offset %llu: sequence number overflows 64 bits",
                    (unsigned long long)e->off);
    if (dt > UINT64_MAX - c->t)
        return fail(r, "corrupt event at offset %llu: time overflows 64 bits",
                    (unsigned long long)e->off);
    c->seq += dseq;
    c->t += dt;
    if (c->seq == 0)
        return fail(r, "corrupt event at offset %llu: sequence number 0 (they start at 1)",
                    (unsigned long long)e->off);
    if (c->started && c->seq < c->last_seq)
        return fail(r, "corrupt event at offset %llu: sequence number %llu goes back (after %llu "
                       "in the same thread)", (unsigned long long)e->off,
                    (unsigned long long)c->seq, (unsigned long long)c->last_seq);
    c->started = 1;
    c->last_seq = c->seq;
    e->seq = c->seq;
    e->t = c->t;

    /* Operands; addresses are zigzag deltas from the chunk's previous one. */
    uint64_t ops[3] = { 0, 0, 0 };
    int nops = 0, addr_mask = 0; /* bit i: operand i is an address */
    switch (e->op) {
    case FLY_OP_MALLOC:
    case FLY_OP_CALLOC:
        nops = 2, addr_mask = 2;
        break;
    case FLY_OP_FREE:
        nops = 1, addr_mask = 1;
        break;
    case FLY_OP_REALLOC:
        nops = 3, addr_mask = 5;
        break;
    case FLY_OP_ALIGNED:
        nops = 3, addr_mask = 4;
        break;
    case FLY_OP_SAMPLE:
        for (int i = 0; i < FLY_S_COUNT; i++)
            if ((rc = get_varint(&p, end, &e->v[i])))
                return fail(r, "corrupt event at offset %llu: %s", (unsigned long long)e->off,
                            varint_why(rc));
        break;
    case FLY_OP_THREAD_EXIT:
        break;
    case FLY_OP_CLASSES: {
        uint64_t n;
        if ((rc = get_varint(&p, end, &n)))
            return fail(r, "corrupt event at offset %llu: %s", (unsigned long long)e->off,
                        varint_why(rc));
        if (n > (uint64_t)(end - p) / 6)
            return fail(r, "corrupt event at offset %llu: %llu classes cannot fit in the chunk",
                        (unsigned long long)e->off, (unsigned long long)n);
        e->classes = calloc(n ? n : 1, sizeof(fly_class));
        if (!e->classes)
            return fail(r, "out of memory");
        e->nclasses = n;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t f[6];
            for (int k = 0; k < 6; k++)
                if ((rc = get_varint(&p, end, &f[k])))
                    return fail(r, "corrupt event at offset %llu: %s",
                                (unsigned long long)e->off, varint_why(rc));
            e->classes[i] = (fly_class){ f[0], f[1], f[2], f[3], f[4], f[5] };
        }
        break;
    }
    case FLY_OP_NOTE: {
        uint64_t n;
        if ((rc = get_varint(&p, end, &n)))
            return fail(r, "corrupt event at offset %llu: %s", (unsigned long long)e->off,
                        varint_why(rc));
        if (n > (uint64_t)(end - p))
            return fail(r, "corrupt event at offset %llu: event runs past the end of its chunk",
                        (unsigned long long)e->off);
        e->note = p;
        e->note_len = (size_t)n;
        p += n;
        break;
    }
    default:
        return fail(r, "corrupt event at offset %llu: unknown op %d", (unsigned long long)e->off,
                    e->op);
    }
    for (int i = 0; i < nops; i++) {
        if ((rc = get_varint(&p, end, &ops[i])))
            return fail(r, "corrupt event at offset %llu: %s", (unsigned long long)e->off,
                        varint_why(rc));
        if (addr_mask & (1 << i)) {
            uint64_t zz = ops[i];
            uint64_t delta = (zz >> 1) ^ (0 - (zz & 1));
            c->addr += delta;
            ops[i] = c->addr;
        }
    }
    switch (e->op) {
    case FLY_OP_MALLOC:
    case FLY_OP_CALLOC:
        e->size = ops[0], e->addr = ops[1];
        break;
    case FLY_OP_FREE:
        e->addr = ops[0];
        break;
    case FLY_OP_REALLOC:
        e->old_addr = ops[0], e->size = ops[1], e->addr = ops[2];
        break;
    case FLY_OP_ALIGNED:
        e->align = ops[0], e->size = ops[1], e->addr = ops[2];
        break;
    }
    c->p = p;
    c->left--;
    return 1;
}

static unsigned log2_ceil(uint64_t v)
{
    unsigned k = 0;
    while (k < 63 && (UINT64_C(1) << k) < v)
        k++;
    return k;
}

/* A block was reported at ADDR while object OLD still lived there. */
static int evict(reader *r, size_t event, uint32_t old, const pending *e)
{
    fly_trace *t = r->t;
    if (r->collisions++ < WARN_KEEP)
        warn(r, "address 0x%llx returned at offset %llu (seq %llu) still held object %u; "
                "that object is treated as freed", (unsigned long long)e->addr,
                (unsigned long long)e->off, (unsigned long long)e->seq, old);
    if (t->nevictions == r->evict_cap) {
        r->evict_cap = r->evict_cap ? r->evict_cap * 2 : 64;
        fly_eviction *more = realloc(t->evictions, r->evict_cap * sizeof(fly_eviction));
        if (!more)
            return fail(r, "out of memory");
        t->evictions = more;
    }
    t->evictions[t->nevictions++] = (fly_eviction){ event, old };
    return 0;
}

static void unknown_address(reader *r, const pending *e, uint64_t addr, const char *what,
                            const char *outcome)
{
    if (r->unknown++ < WARN_KEEP)
        warn(r, "%s of unknown address 0x%llx at offset %llu (seq %llu) %s", what,
             (unsigned long long)addr, (unsigned long long)e->off, (unsigned long long)e->seq,
             outcome);
}

/* Places a new block for object OBJ at E->addr, ending whatever lived there. */
static int place(reader *r, size_t i, uint32_t obj, const pending *e, fly_event *out)
{
    uint32_t there = map_get(&r->live, e->addr);
    if (there != FLY_NO_OBJ && there != obj) {
        if (evict(r, i, there, e) != 0)
            return -1;
        out->flags |= FLY_EV_EVICTS;
    }
    if (map_put(&r->live, e->addr, obj) != 0)
        return fail(r, "out of memory");
    return 0;
}

static int new_object(reader *r, uint32_t *obj)
{
    if (r->t->nobjects >= FLY_NO_OBJ)
        return fail(r, "more than %u objects: too many for this reader", FLY_NO_OBJ - 1);
    *obj = (uint32_t)r->t->nobjects++;
    return 0;
}

/* Turns the pending event of thread THREAD into events[i]. */
static int take(reader *r, size_t i, uint32_t thread, pending *e)
{
    fly_trace *t = r->t;
    fly_event *out = &t->events[i];
    *out = (fly_event){ .seq = e->seq, .op = (unsigned)e->op, .t_ns = e->t, .size = e->size,
                        .obj = FLY_NO_OBJ, .thread = thread };
    t->align_log2[i] = 0;
    uint32_t obj = FLY_NO_OBJ;
    switch (e->op) {
    case FLY_OP_ALIGNED:
        t->align_log2[i] = (uint8_t)log2_ceil(e->align);
        /* fall through */
    case FLY_OP_MALLOC:
    case FLY_OP_CALLOC:
        if (e->addr == 0) {
            if (e->size > 0)
                out->flags |= FLY_EV_FAILED;
            break;
        }
        if (new_object(r, &obj) || place(r, i, obj, e, out))
            return -1;
        out->obj = obj;
        out->flags |= FLY_EV_NEW;
        break;
    case FLY_OP_FREE:
        obj = map_get(&r->live, e->addr);
        if (obj == FLY_NO_OBJ) {
            unknown_address(r, e, e->addr, "free", "ignored");
            out->flags |= FLY_EV_IGNORED;
            break;
        }
        map_del(&r->live, e->addr);
        out->obj = obj;
        out->flags |= FLY_EV_ENDS;
        break;
    case FLY_OP_REALLOC:
        obj = FLY_NO_OBJ;
        if (e->old_addr != 0) {
            obj = map_get(&r->live, e->old_addr);
            if (obj == FLY_NO_OBJ) {
                unknown_address(r, e, e->old_addr, "realloc",
                                e->addr ? "taken as a new block" : "ignored");
                out->flags |= FLY_EV_IGNORED;
            }
        }
        if (e->addr == 0) {
            if (e->size > 0) {
                out->flags |= FLY_EV_FAILED; /* the old block, if any, lives on */
                out->obj = obj;
            } else if (obj != FLY_NO_OBJ) {
                map_del(&r->live, e->old_addr);
                out->obj = obj;
                out->flags |= FLY_EV_ENDS;
            }
            break;
        }
        if (obj == FLY_NO_OBJ) {
            /* realloc(NULL, n), or of an address we do not know: a new object */
            out->flags &= ~FLY_EV_IGNORED;
            if (new_object(r, &obj))
                return -1;
            out->flags |= FLY_EV_NEW;
        } else if (e->addr != e->old_addr) {
            map_del(&r->live, e->old_addr);
        }
        if (place(r, i, obj, e, out))
            return -1;
        out->obj = obj;
        break;
    case FLY_OP_SAMPLE: {
        if (t->nsamples == r->sample_cap) {
            r->sample_cap = r->sample_cap ? r->sample_cap * 2 : 256;
            fly_sample *more = realloc(t->samples, r->sample_cap * sizeof(fly_sample));
            if (!more)
                return fail(r, "out of memory");
            t->samples = more;
        }
        fly_sample *s = &t->samples[t->nsamples];
        s->t_ns = e->t;
        s->seq = e->seq;
        memcpy(s->v, e->v, sizeof(s->v));
        out->size = t->nsamples++;
        break;
    }
    case FLY_OP_CLASSES:
        free(t->classes);
        t->classes = e->classes;
        t->nclasses = e->nclasses;
        e->classes = NULL;
        break;
    case FLY_OP_NOTE: {
        char *text = malloc(e->note_len + 1);
        if (!text)
            return fail(r, "out of memory");
        memcpy(text, e->note, e->note_len);
        text[e->note_len] = '\0';
        free(t->note);
        t->note = text;
        t->note_len = e->note_len;
        break;
    }
    }
    fly_thread_info *th = &t->threads[thread];
    th->events++;
    if (fly_event_is_request(out)) {
        th->allocations++;
        th->bytes += out->size;
    }
    return 0;
}

/* Merge order: sequence number, then thread number. */
static int before(const cursor *a, const cursor *b)
{
    return a->ev.seq < b->ev.seq || (a->ev.seq == b->ev.seq && a->thread < b->thread);
}

/* Binary heap of cursors keyed by their pending event. */
static void heap_down(cursor **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(h[l], h[m]))
            m = l;
        if (l + 1 < n && before(h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        cursor *tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static int merge(reader *r, const chunk *chunks, size_t nchunks, size_t total)
{
    fly_trace *t = r->t;
    /* Threads: runs of equal numbers in the sorted chunk list. */
    size_t nthreads = 0;
    for (size_t i = 0; i < nchunks; i++)
        if (i == 0 || chunks[i].number != chunks[i - 1].number)
            nthreads++;
    if (nthreads > FLY_MAX_THREADS)
        return fail(r, "%zu threads: this reader handles at most %u", nthreads, FLY_MAX_THREADS);
    t->threads = calloc(nthreads ? nthreads : 1, sizeof(fly_thread_info));
    cursor *cur = calloc(nthreads ? nthreads : 1, sizeof(cursor));
    cursor **heap = calloc(nthreads ? nthreads : 1, sizeof(cursor *));
    t->events = malloc((total ? total : 1) * sizeof(fly_event));
    t->align_log2 = malloc(total ? total : 1);
    int rc = -1;
    if (!t->threads || !cur || !heap || !t->events || !t->align_log2 || map_init(&r->live)) {
        fail(r, "out of memory (%zu events)", total);
        goto out;
    }
    t->nthreads = nthreads;
    for (size_t i = 0, k = 0; i < nchunks; k++) {
        size_t j = i;
        while (j < nchunks && chunks[j].number == chunks[i].number)
            j++;
        t->threads[k].number = chunks[i].number;
        t->threads[k].tid = chunks[i].tid;
        cur[k].chunks = &chunks[i];
        cur[k].nchunks = j - i;
        cur[k].thread = (uint32_t)k;
        i = j;
    }

    size_t nheap = 0;
    for (size_t k = 0; k < nthreads; k++) {
        int got = cursor_next(r, &cur[k]);
        if (got < 0)
            goto out;
        if (got)
            heap[nheap++] = &cur[k];
    }
    for (size_t i = nheap; i-- > 0;)
        heap_down(heap, nheap, i);

    size_t n = 0;
    while (nheap) {
        cursor *c = heap[0];
        if (take(r, n, c->thread, &c->ev) != 0)
            goto out;
        n++;
        memset(&c->ev, 0, sizeof(c->ev));
        int got = cursor_next(r, c);
        if (got < 0)
            goto out;
        if (!got)
            heap[0] = heap[--nheap];
        heap_down(heap, nheap, 0);
    }
    t->nevents = n;
    rc = 0;
out:
    for (size_t k = 0; k < nthreads && cur; k++)
        free(cur[k].ev.classes);
    free(cur);
    free(heap);
    free(r->live.slots);
    r->live.slots = NULL;
    return rc;
}

/* ---- live bytes ---- */

int fly_live_init(fly_live *l, const fly_trace *t)
{
    memset(l, 0, sizeof(*l));
    l->size = calloc(t->nobjects + 1, sizeof(uint64_t));
    return l->size ? 0 : -1;
}

void fly_live_free(fly_live *l)
{
    free(l->size);
    l->size = NULL;
}

int fly_live_step(fly_live *l, const fly_trace *t, size_t i, uint32_t ended[2])
{
    const fly_event *e = &t->events[i];
    int n = 0;
    if (e->flags & FLY_EV_EVICTS) {
        while (l->next_eviction < t->nevictions && t->evictions[l->next_eviction].event < i)
            l->next_eviction++;
        if (l->next_eviction < t->nevictions && t->evictions[l->next_eviction].event == i) {
            uint32_t o = t->evictions[l->next_eviction++].obj;
            l->bytes -= l->size[o];
            l->objects--;
            ended[n++] = o;
        }
    }
    if (e->obj == FLY_NO_OBJ || (e->flags & (FLY_EV_FAILED | FLY_EV_IGNORED)))
        return n;
    if (e->flags & FLY_EV_NEW) {
        l->size[e->obj] = e->size;
        l->bytes += e->size;
        l->objects++;
    } else if (e->flags & FLY_EV_ENDS) {
        l->bytes -= l->size[e->obj];
        l->objects--;
        ended[n++] = e->obj;
    } else if (e->op == FLY_OP_REALLOC) {
        l->bytes = l->bytes - l->size[e->obj] + e->size;
        l->size[e->obj] = e->size;
    }
    return n;
}

static int live_summary(reader *r)
{
    fly_trace *t = r->t;
    fly_live l;
    if (fly_live_init(&l, t) != 0)
        return fail(r, "out of memory");
    uint32_t ended[2];
    t->peak_event = SIZE_MAX;
    for (size_t i = 0; i < t->nevents; i++) {
        fly_live_step(&l, t, i, ended);
        if (l.bytes > t->peak_live_bytes) {
            t->peak_live_bytes = l.bytes;
            t->peak_event = i;
        }
        if (l.objects > t->peak_live_objects)
            t->peak_live_objects = l.objects;
    }
    t->final_live_bytes = l.bytes;
    t->final_live_objects = l.objects;
    fly_live_free(&l);
    return 0;
}

size_t fly_trace_curve_points(const fly_trace *t, size_t max_points, size_t *out)
{
    size_t n = t->nevents, count = 0;
    if (n == 0 || max_points == 0)
        return 0;
    size_t k = (n + max_points - 1) / max_points;
    for (size_t j = k;; j += k) {
        out[count++] = (j < n ? j : n) - 1;
        if (j >= n)
            break;
    }
    size_t p = t->peak_event;
    if (p != SIZE_MAX && p < n) {
        size_t pos = 0;
        while (pos < count && out[pos] < p)
            pos++;
        if (pos == count || out[pos] != p) {
            memmove(out + pos + 1, out + pos, (count - pos) * sizeof(size_t));
            out[pos] = p;
            count++;
        }
    }
    return count;
}

/* ---- open / close ---- */

int fly_trace_open(fly_trace *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->path = path;
    t->peak_event = SIZE_MAX;
    reader r = { .t = t, .err = err, .errlen = errlen };
    chunk *chunks = NULL;
    size_t nchunks = 0, total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        close(fd);
        return -1;
    }
    r.size = (size_t)st.st_size;
    if (r.size > 0) {
        void *m = mmap(NULL, r.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            snprintf(err, errlen, "cannot map: %s", strerror(errno));
            close(fd);
            return -1;
        }
        madvise(m, r.size, MADV_SEQUENTIAL);
        r.map = m;
    }
    close(fd);

    size_t hbytes = 0;
    if (read_header(&r, &hbytes) != 0 || scan_chunks(&r, hbytes, &chunks, &nchunks, &total) != 0 ||
        merge(&r, chunks, nchunks, total) != 0 || live_summary(&r) != 0) {
        free(chunks);
        if (r.map)
            munmap((void *)r.map, r.size);
        fly_trace_close(t);
        return -1;
    }
    free(chunks);
    if (r.map)
        munmap((void *)r.map, r.size);

    if (r.collisions > WARN_KEEP)
        warn(&r, "%llu more address collisions like the above",
             (unsigned long long)(r.collisions - WARN_KEEP));
    if (r.unknown > WARN_KEEP)
        warn(&r, "%llu more frees or reallocs of unknown addresses",
             (unsigned long long)(r.unknown - WARN_KEEP));
    if (t->has_end && t->end_events != t->nevents)
        warn(&r, "the end record counts %llu events, the file holds %zu",
             (unsigned long long)t->end_events, t->nevents);
    if (t->has_end && t->end_dropped)
        warn(&r, "%llu events were dropped after the end record was begun",
             (unsigned long long)t->end_dropped);
    uint64_t last_t = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].t_ns > last_t)
            last_t = t->events[i].t_ns;
    t->duration_ns = t->has_end && t->end_time_ns >= last_t ? t->end_time_ns : last_t;
    /* Shrink the sample table to what was found. */
    if (t->nsamples == 0) {
        free(t->samples);
        t->samples = NULL;
    } else {
        fly_sample *s = realloc(t->samples, t->nsamples * sizeof(fly_sample));
        if (s)
            t->samples = s;
    }
    return 0;
}

void fly_trace_drop_events(fly_trace *t)
{
    free(t->events);
    t->events = NULL;
    free(t->align_log2);
    t->align_log2 = NULL;
    free(t->evictions);
    t->evictions = NULL;
    t->nevictions = 0;
}

void fly_trace_close(fly_trace *t)
{
    fly_trace_drop_events(t);
    t->nevents = 0;
    for (size_t i = 0; i < t->argc; i++)
        free(t->argv[i]);
    free(t->argv);
    free(t->threads);
    free(t->samples);
    free(t->classes);
    free(t->note);
    for (size_t i = 0; i < t->nwarnings; i++)
        free(t->warnings[i]);
    free(t->warnings);
    const char *path = t->path;
    memset(t, 0, sizeof(*t));
    t->path = path;
    t->peak_event = SIZE_MAX;
}
