#!/usr/bin/env python3
"""tracegen.py: writes flymalloc trace files (format v1, docs/trace-format.md)
with known content, so the readers (flymalloc analyze / replay) can be tested
without the library's recorder.  An independent implementation of the format
and of the figures analyze derives, for cross-checking.

  tracegen.py small OUT
      a fixed 2-thread trace of 15 events whose figures are worked out by
      hand in tests/programs/trace_read.sh.
  tracegen.py random OUT [--seed S] [--events N] [--threads T]
                         [--chunk-events C] [--max-live BYTES] [--expect EXP.json]
      a random multi-threaded trace using every op (cross-thread frees,
      address reuse, realloc in place / moved / to 0 / from NULL, failed
      allocations, SAMPLE, THREAD_EXIT, CLASSES, NOTE, end record); --expect
      writes the figures analyze must report, computed here independently.
  tracegen.py bad KIND OUT
      a small trace broken one way: truncated, header, checksum, version,
      magic, unknown-op, empty, no-end, long-varint, seq-back, past-chunk.
  tracegen.py mutate IN OUTDIR --count N --seed S
      N copies of IN, each with random byte flips or a truncation.
  tracegen.py check ANALYZE.json EXPECT.json
      exit 1 (listing the differences) unless every value in EXPECT.json
      equals the same key's value in the analyze output.
"""
import argparse
import json
import os
import random
import struct
import sys

OP_MALLOC, OP_CALLOC, OP_FREE, OP_REALLOC, OP_ALIGNED = 1, 2, 3, 4, 5
OP_SAMPLE, OP_THREAD_EXIT, OP_CLASSES, OP_NOTE = 6, 7, 8, 9
OP_NAMES = {OP_MALLOC: "malloc", OP_CALLOC: "calloc", OP_FREE: "free",
            OP_REALLOC: "realloc", OP_ALIGNED: "aligned"}
M64 = (1 << 64) - 1


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(d):
    d &= M64
    signed = d - (1 << 64) if d >> 63 else d
    return ((signed << 1) ^ (signed >> 63)) & M64


def fnv1a(data):
    """The chunk checksum: FNV-1a-64 over little-endian 64-bit words, the
    last zero-padded, folded to 32 bits."""
    h = 14695981039346656037
    data = bytes(data)
    if len(data) % 8:
        data += bytes(8 - len(data) % 8)
    for (w,) in struct.iter_unpack("<Q", data):
        h = ((h ^ w) * 1099511628211) & M64
    return (h ^ (h >> 32)) & 0xFFFFFFFF


class ThreadBuf:
    """One thread's chunk buffer, as the recorder keeps it."""

    def __init__(self, number, tid):
        self.number, self.tid = number, tid
        self.reset()

    def reset(self):
        self.payload = bytearray()
        self.count = 0
        self.base_seq = self.base_t = None
        self.prev_seq = self.prev_t = 0
        self.prev_addr = 0


class TraceWriter:
    """Writes events in any order per thread; a thread's buffer becomes a
    chunk when it holds chunk_events events or on flush()."""

    def __init__(self, path, pid=4242, argv=("prog", "arg"), chunk_events=64,
                 version=1, magic=b"FLYTRACE"):
        self.f = open(path, "wb")
        cmd = b"\0".join(a.encode() for a in argv) + b"\0"
        hdr = struct.pack("<8sIIQQQII", magic, version, 48 + len(cmd), pid,
                          1_000_000, 1_700_000_000_000_000_000, 4096, 0)
        self.f.write(hdr + cmd)
        self.threads = {}
        self.chunk_events = chunk_events
        self.events = self.chunks = 0
        self.last_t = 0

    def thread(self, number):
        if number not in self.threads:
            self.threads[number] = ThreadBuf(number, 1000 + number)
        return self.threads[number]

    def event(self, thread, op, seq, t, operands, addr_mask=0, raw=None):
        """operands: list of ints; bit i of addr_mask marks an address."""
        b = self.thread(thread)
        if b.base_seq is None:
            # A base at or before the first event, as dseq/dtime may be >= 0.
            b.base_seq = max(0, seq - (seq % 3))
            b.base_t = max(0, t - (t % 7))
            b.prev_seq, b.prev_t = b.base_seq, b.base_t
        body = bytearray([op]) + varint(seq - b.prev_seq) + varint(t - b.prev_t)
        b.prev_seq, b.prev_t = seq, t
        for i, v in enumerate(operands):
            if addr_mask >> i & 1:
                body += varint(zigzag(v - b.prev_addr))
                b.prev_addr = v
            else:
                body += varint(v)
        if raw is not None:
            body += raw
        b.payload += body
        b.count += 1
        self.events += 1
        self.last_t = max(self.last_t, t)
        if b.count >= self.chunk_events:
            self.flush(thread)

    def flush(self, thread):
        b = self.threads.get(thread)
        if not b or b.count == 0:
            return
        head = struct.pack("<4sIIIQQII", b"FLYC", b.number, len(b.payload), b.count,
                           b.base_seq, b.base_t, fnv1a(b.payload), b.tid)
        self.f.write(head + bytes(b.payload))
        self.chunks += 1
        b.reset()

    def flush_all(self):
        for n in sorted(self.threads):
            self.flush(n)

    def end(self, end_t, dropped=0):
        self.flush_all()
        self.f.write(struct.pack("<4sIQQQQ", b"FLYE", len(self.threads), self.events,
                                 self.chunks, end_t, dropped))

    def close(self):
        self.f.close()

    # Typed helpers.
    def malloc(self, th, seq, t, size, addr, op=OP_MALLOC):
        self.event(th, op, seq, t, [size, addr], 0b10)

    def free(self, th, seq, t, addr):
        self.event(th, OP_FREE, seq, t, [addr], 0b1)

    def realloc(self, th, seq, t, old, size, new):
        self.event(th, OP_REALLOC, seq, t, [old, size, new], 0b101)

    def aligned(self, th, seq, t, align, size, addr):
        self.event(th, OP_ALIGNED, seq, t, [align, size, addr], 0b100)

    def sample(self, th, seq, t, values):
        self.event(th, OP_SAMPLE, seq, t, list(values))

    def thread_exit(self, th, seq, t):
        self.event(th, OP_THREAD_EXIT, seq, t, [])

    def classes(self, th, seq, t, rows):
        ops = [len(rows)]
        for r in rows:
            ops += list(r)
        self.event(th, OP_CLASSES, seq, t, ops)

    def note(self, th, seq, t, text):
        data = text.encode()
        self.event(th, OP_NOTE, seq, t, [len(data)], raw=data)


def write_small(path):
    """The hand-checked trace: see tests/programs/trace_read.sh."""
    w = TraceWriter(path, pid=777, argv=("small", "x y"), chunk_events=3)
    A, B, C, D, E = 0x10000, 0x20000, 0x30040, 0x7f0000001000, 0x50000
    us = 1000
    w.malloc(1, 1, 1 * us, 100, A)
    w.malloc(2, 2, 2 * us, 40, B, op=OP_CALLOC)
    w.aligned(1, 3, 3 * us, 64, 200, C)
    w.free(2, 4, 4 * us, A)
    w.realloc(1, 5, 5 * us, B, 1000, D)      # T1 chunk 1 full: written
    w.realloc(2, 7, 7 * us, C, 50, C)        # T2 chunk 1 full (2, 4, 7): written
    w.malloc(1, 6, 6 * us, 8, A)             # address reuse; seq 6 after 7 in the file
    w.malloc(2, 8, 8 * us, 1 << 40, 0)       # failed
    w.sample(1, 9, 9 * us, [1 << 20, 1058, 65536, 4096, 0, 3, 1, 0, 0])
    w.free(2, 10, 10 * us, D)
    w.thread_exit(2, 11, 11 * us)            # T2 chunk 2 (8, 10, 11) written
    w.realloc(1, 12, 12 * us, 0, 3000, E)    # T1 chunk 2 (6, 9, 12) written
    w.realloc(1, 13, 13 * us, A, 0, 0)       # freed by realloc
    w.classes(1, 14, 14 * us, [(16, 1, 4096, 10, 12, 150), (48, 2, 2730, 5, 9, 400)])
    w.note(1, 15, 15 * us, "2 classes; fragmentation 3% \u2014 fine")
    w.end(16 * us)
    w.close()


def size_bucket(size):
    b = 0
    while size > (16 << b):
        b += 1
    return b


def life_bucket(ns):
    return 0 if ns < 2 else ns.bit_length() - 1


def write_random(path, seed, nevents, nthreads, chunk_events, max_live, expect=None,
                 no_end=False, ties=False):
    """Writes a random trace of nevents events in merged order, each on a
    random running thread; with expect, also the figures analyze must give.
    With ties, about a third of the events repeat the previous event's
    sequence number when that was of the same thread or of a lower-numbered
    one (the reader then keeps the order they were made in)."""
    rng = random.Random(seed)
    w = TraceWriter(path, pid=10000 + seed, argv=("random", str(seed)), chunk_events=chunk_events)
    live = {}          # addr -> (obj, size, birth_t)
    live_list = []     # addrs, for picking a random live object
    freed_addrs = []   # for address reuse
    bump = 0x100000
    nobj = 0
    seq = 0
    t = 0
    live_bytes = 0
    ex = {"ops": {k: 0 for k in ("malloc", "calloc", "free", "realloc", "aligned", "failed")},
          "requested": 0, "size_count": {}, "size_bytes": {}, "life": {},
          "threads": {n: [0, 0, 0] for n in range(1, nthreads + 1)},
          "samples": []}
    state = []         # (t, seq, live_bytes, live_objects) after each event

    def new_addr(size, align=16):
        nonlocal bump
        if freed_addrs and rng.random() < 0.5:
            i = rng.randrange(len(freed_addrs))
            a = freed_addrs[i]
            if a % align == 0:
                freed_addrs[i] = freed_addrs[-1]
                freed_addrs.pop()
                return a
        bump = (bump + align - 1) // align * align
        a = bump
        bump += max(16, (size + 15) // 16 * 16)
        return a

    def remove_live(a):
        nonlocal live_bytes
        obj, size, birth = live.pop(a)
        idx = pos[a]
        last = live_list[-1]
        live_list[idx] = last
        pos[last] = idx
        live_list.pop()
        del pos[a]
        live_bytes -= size
        return obj, size, birth

    def add_live(a, obj, size, birth):
        nonlocal live_bytes
        live[a] = (obj, size, birth)
        pos[a] = len(live_list)
        live_list.append(a)
        live_bytes += size

    def request(th, size):
        ex["requested"] += size
        b = size_bucket(size)
        ex["size_count"][b] = ex["size_count"].get(b, 0) + 1
        ex["size_bytes"][b] = ex["size_bytes"].get(b, 0) + size
        ex["threads"][th][1] += 1
        ex["threads"][th][2] += size

    def lifetime(birth):
        b = life_bucket(max(0, t - birth))
        ex["life"][b] = ex["life"].get(b, 0) + 1

    def rand_size():
        r = rng.random()
        if r < 0.80:
            return rng.randint(0, 256)
        if r < 0.97:
            return rng.randint(257, 65536)
        return rng.randint(65537, 1 << 21)

    pos = {}
    running = list(range(1, nthreads + 1))
    made = 0
    prev_th = None
    # Events are produced in merged order; each goes to a random running thread.
    while made < nevents:
        made += 1
        t += rng.randint(0, 2000)
        th = rng.choice(running)
        if not (ties and prev_th is not None and prev_th <= th and rng.random() < 0.3):
            seq += 1
        prev_th = th
        ex["threads"][th][0] += 1
        r = rng.random()
        if made == nevents - 1 or made == nevents:
            r = 2.0  # the last two events: CLASSES and NOTE (below)
        if r == 2.0:
            if made == nevents - 1:
                rows = [(16 * (i + 1), i + 1, 100 * i, 50 * i, 1000 + i, 12345 * i)
                        for i in range(5)]
                w.classes(th, seq, t, rows)
                ex["classes"] = rows
            else:
                w.note(th, seq, t, "random trace %d: note text" % seed)
                ex["summary"] = "random trace %d: note text" % seed
        elif r < 0.01 and len(running) > 1 and made < nevents - 10 and th != 1:
            w.thread_exit(th, seq, t)
            running.remove(th)
            w.flush(th)
        elif r < 0.02:
            vals = [rng.randint(0, 1 << 30) for _ in range(9)]
            w.sample(th, seq, t, vals)
            ex["samples"].append([t] + vals)
        elif r < 0.025:
            size = (1 << 45) + rng.randint(0, 1000)
            kind = rng.choice((OP_MALLOC, OP_CALLOC))
            w.malloc(th, seq, t, size, 0, op=kind)
            ex["ops"][OP_NAMES[kind]] += 1
            ex["ops"]["failed"] += 1
        elif r < 0.55 - (0.3 if live_bytes > max_live else 0) or not live_list:
            size = rand_size()
            k = rng.random()
            if k < 0.1:
                op, align = OP_CALLOC, 16
            elif k < 0.2:
                op, align = OP_ALIGNED, 1 << rng.randint(3, 12)
            else:
                op, align = OP_MALLOC, 16
            a = new_addr(size, align)
            if op == OP_ALIGNED:
                w.aligned(th, seq, t, align, size, a)
            else:
                w.malloc(th, seq, t, size, a, op=op)
            ex["ops"][OP_NAMES[op]] += 1
            add_live(a, nobj, size, t)
            nobj += 1
            request(th, size)
        elif r < 0.85:
            a = rng.choice(live_list)
            w.free(th, seq, t, a)
            ex["ops"]["free"] += 1
            _, _, birth = remove_live(a)
            lifetime(birth)
            freed_addrs.append(a)
        else:
            ex["ops"]["realloc"] += 1
            k = rng.random()
            if k < 0.1:
                size = rand_size()
                a = new_addr(size)
                w.realloc(th, seq, t, 0, size, a)
                add_live(a, nobj, size, t)
                nobj += 1
                request(th, size)
            elif k < 0.2:
                a = rng.choice(live_list)
                w.realloc(th, seq, t, a, 0, 0)
                _, _, birth = remove_live(a)
                lifetime(birth)
                freed_addrs.append(a)
            elif k < 0.23:
                a = rng.choice(live_list)
                w.realloc(th, seq, t, a, (1 << 44) + 5, 0)
                ex["ops"]["failed"] += 1
            else:
                a = rng.choice(live_list)
                size = rand_size()
                obj, old, birth = remove_live(a)
                if rng.random() < 0.4:
                    na = a
                else:
                    freed_addrs.append(a)
                    na = new_addr(size)
                w.realloc(th, seq, t, a, size, na)
                add_live(na, obj, size, birth)
                request(th, size)
        state.append((t, seq, live_bytes, len(live)))

    end_t = t + 5000
    if no_end:
        w.flush_all()
    else:
        w.end(end_t)
    w.close()
    if not expect:
        return
    # The live curve, by the rule in tools/analyze.c.
    n = len(state)
    K = -(-n // 2000)
    idx = [min(n, (j + 1) * K) - 1 for j in range(-(-n // K))]
    peak = max(s[2] for s in state)
    if peak > 0:
        p = next(i for i, s in enumerate(state) if s[2] == peak)
        if p not in idx:
            idx = sorted(idx + [p])
    sb = sorted(ex["size_count"])
    sizes = []
    for b in range(0, (sb[-1] + 1) if sb else 0):
        sizes.append({"lo": 0 if b == 0 else (8 << b) + 1, "hi": 16 << b,
                      "count": ex["size_count"].get(b, 0), "bytes": ex["size_bytes"].get(b, 0)})
    lb = sorted(ex["life"])
    lifes = []
    if lb:
        for b in range(lb[0], lb[-1] + 1):
            lifes.append({"lo": 0 if b == 0 else 1 << b, "hi": (2 << b) - 1,
                          "count": ex["life"].get(b, 0)})
    sample_keys = ["rss", "live", "mapped", "dirty", "cold", "mmap", "munmap", "madvise",
                   "mremap"]
    samples = {"t_ns": [s[0] for s in ex["samples"]]}
    for i, k in enumerate(sample_keys):
        samples[k] = [s[1 + i] for s in ex["samples"]]
    out = {
        "trace": {"pid": 10000 + seed, "command": ["random", str(seed)], "threads": nthreads,
                  "events": n, "complete": not no_end,
                  "duration_ns": state[-1][0] if no_end else end_t},
        "ops": ex["ops"],
        "totals": {"allocated_objects": nobj, "requested_bytes": ex["requested"],
                   "peak_live_bytes": peak, "peak_live_objects": max(s[3] for s in state),
                   "final_live_bytes": live_bytes, "final_live_objects": len(live)},
        "live": {"t_ns": [state[i][0] for i in idx], "seq": [state[i][1] for i in idx],
                 "bytes": [state[i][2] for i in idx], "objects": [state[i][3] for i in idx]},
        "samples": samples,
        "size_histogram": sizes,
        "lifetime_histogram": {"unit": "ns", "buckets": lifes, "never_freed": len(live)},
        "threads": [{"thread": n_, "tid": 1000 + n_, "events": v[0], "allocations": v[1],
                     "bytes": v[2]} for n_, v in sorted(ex["threads"].items())],
        "classes": [dict(zip(("size", "zones", "capacity", "used", "allocations",
                              "requested_bytes"), r)) for r in ex.get("classes", [])],
        "summary": ex.get("summary", ""),
    }
    with open(expect, "w") as f:
        json.dump(out, f)


def write_bad(kind, path):
    tmp = path + ".ok"
    write_small(tmp)
    data = bytearray(open(tmp, "rb").read())
    os.unlink(tmp)
    hbytes = struct.unpack_from("<I", data, 12)[0]
    first = hbytes  # the first chunk's head
    payload = struct.unpack_from("<I", data, first + 8)[0]
    if kind == "truncated":
        data = data[:first + 40 + payload + 40 + 5]  # into the second chunk's payload
    elif kind == "header":
        data = data[:30]
    elif kind == "checksum":
        data[first + 40 + 2] ^= 0x40
    elif kind == "version":
        struct.pack_into("<I", data, 8, 7)
    elif kind == "magic":
        data[0:8] = b"NOTTRACE"
    elif kind == "empty":
        data = bytearray()
    elif kind == "no-end":
        data = data[:-40]
    elif kind in ("unknown-op", "long-varint", "seq-back", "past-chunk"):
        w = TraceWriter(path, chunk_events=100)
        w.malloc(1, 1, 10, 32, 0x1000)
        if kind == "unknown-op":
            w.event(1, 42, 2, 20, [])
        elif kind == "long-varint":
            w.event(1, OP_MALLOC, 2, 20, [], raw=b"\xff" * 11 + b"\x01" + varint(0x2000))
        elif kind == "seq-back":
            w.malloc(1, 5, 20, 48, 0x2000)
            w.flush(1)
            w.malloc(1, 3, 30, 64, 0x3000)  # a later chunk of thread 1 going back
        else:
            w.event(1, OP_MALLOC, 2, 20, [], raw=b"\x10")  # size, then no address
        w.end(100)
        w.close()
        return
    else:
        sys.exit("unknown kind " + kind)
    open(path, "wb").write(bytes(data))


def mutate(src, outdir, count, seed):
    rng = random.Random(seed)
    data = open(src, "rb").read()
    os.makedirs(outdir, exist_ok=True)
    for i in range(count):
        d = bytearray(data)
        how = rng.random()
        if how < 0.3:
            d = d[:rng.randrange(len(d))]
        else:
            for _ in range(rng.randint(1, 4)):
                p = rng.randrange(len(d))
                if rng.random() < 0.5:
                    d[p] ^= 1 << rng.randrange(8)
                else:
                    d[p] = rng.randrange(256)
            if how > 0.8:
                # Flip inside a chunk and fix its checksum, to reach the event decoder.
                fix_checksums(d)
        with open(os.path.join(outdir, "m%04d.trace" % i), "wb") as f:
            f.write(bytes(d))


def fix_checksums(d):
    if len(d) < 48:
        return
    off = struct.unpack_from("<I", d, 12)[0]
    while off + 40 <= len(d) and d[off:off + 4] == b"FLYC":
        n = struct.unpack_from("<I", d, off + 8)[0]
        if off + 40 + n > len(d):
            return
        struct.pack_into("<I", d, off + 32, fnv1a(d[off + 40:off + 40 + n]))
        off += 40 + n


def diff(got, want, path, out):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            out.append("%s: %r is not an object" % (path, got))
            return
        for k, v in want.items():
            if k not in got:
                out.append("%s.%s: missing" % (path, k))
            else:
                diff(got[k], v, path + "." + k, out)
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (g, w) in enumerate(zip(got, want)):
            diff(g, w, "%s[%d]" % (path, i), out)
    elif got != want:
        out.append("%s: got %s, expected %s" % (path, json.dumps(got)[:200],
                                                json.dumps(want)[:200]))


def check(got_path, want_path):
    got = json.load(open(got_path))
    want = json.load(open(want_path))
    out = []
    diff(got, want, "", out)
    for line in out[:30]:
        print("mismatch " + line)
    if out:
        sys.exit(1)
    print("ok: %s matches %s" % (got_path, want_path))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("small")
    s.add_argument("out")
    r = sub.add_parser("random")
    r.add_argument("out")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--events", type=int, default=20000)
    r.add_argument("--threads", type=int, default=4)
    r.add_argument("--chunk-events", type=int, default=200)
    r.add_argument("--max-live", type=int, default=32 << 20)
    r.add_argument("--expect")
    r.add_argument("--no-end", action="store_true")
    r.add_argument("--ties", action="store_true")
    b = sub.add_parser("bad")
    b.add_argument("kind")
    b.add_argument("out")
    m = sub.add_parser("mutate")
    m.add_argument("src")
    m.add_argument("outdir")
    m.add_argument("--count", type=int, default=300)
    m.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("check")
    c.add_argument("got")
    c.add_argument("want")
    a = ap.parse_args()
    if a.cmd == "small":
        write_small(a.out)
    elif a.cmd == "random":
        write_random(a.out, a.seed, a.events, a.threads, a.chunk_events, a.max_live, a.expect,
                     a.no_end, a.ties)
    elif a.cmd == "bad":
        write_bad(a.kind, a.out)
    elif a.cmd == "check":
        check(a.got, a.want)
    else:
        mutate(a.src, a.outdir, a.count, a.seed)


if __name__ == "__main__":
    main()
