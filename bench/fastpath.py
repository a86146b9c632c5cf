#!/usr/bin/python3
"""fastpath.py: instructions per malloc+free pair, counted by callgrind.

    bench/fastpath.sh [--allocators glibc,jemalloc,...] [--so NAME=PATH]
                      [--n1 N] [--n2 N] [--format text|md|json]

For each allocator and pattern (a: malloc then free at once; b: 64 mallocs
then 64 frees, see bench/fastpath.c) the program runs twice under
`valgrind --tool=callgrind`, with N1 and N2 pairs.  Callgrind counts every
instruction the process executes (Ir), startup included; the difference
divided by the difference in pairs is the cost of one pair, loop included,
with startup and the fixed-cost check cancelled out.

Callgrind does not replace malloc (memcheck and massif do), so the client
runs the allocator that LD_PRELOAD puts in front; valgrind appends its own
preload to the client's LD_PRELOAD.  To be sure the counted malloc really
is the preloaded one, both profiles are read back and the instructions
executed inside the allocator's library (libc.so.6 for glibc) must account
for at least half of the difference between the two runs (the rest is the
loop), and, for a
preloaded allocator, libc's for less than a quarter; the table shows the
first share.  Code valgrind cannot place in an object counts as the
preloaded library's: gperftools puts malloc and free in a section of their
own, which callgrind reports as "???".
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import allocators as alloc_mod  # noqa: E402
import workloads as wl_mod  # noqa: E402

VALGRIND = "/usr/bin/valgrind"


def callgrind(fastpath, alloc, pattern, pairs, outfile):
    """Total Ir of one run of fastpath under callgrind."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(alloc.env())
    cmd = [VALGRIND, "--tool=callgrind", "--soname-synonyms=somalloc=NONE",
           "--callgrind-out-file=" + outfile, fastpath, pattern, str(pairs)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("callgrind failed for %s %s: %s" % (alloc.name, pattern, r.stderr[-500:]))
    with open(outfile) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1]), cmd
    raise RuntimeError("no totals in " + outfile)


def _name(text, table):
    """Callgrind name compression: "(id) name" defines an id, "(id)" uses it."""
    m = re.match(r"\((\d+)\)(?:\s+(.*))?$", text.strip())
    if not m:
        return text.strip()
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), "?")


def ir_by_object(outfile):
    """{object path: self Ir}, read from the callgrind profile itself.

    Cost lines belong to the current "ob="; the cost line after a "calls="
    line is the callee's inclusive cost and is skipped.
    """
    objs, res = {}, {}
    cur, skip = "?", False
    with open(outfile) as f:
        for line in f:
            if line.startswith("ob="):
                cur = _name(line[3:], objs)
            elif line.startswith("cob="):
                _name(line[4:], objs)
            elif line.startswith("calls="):
                skip = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    res[cur] = res.get(cur, 0) + int(parts[1])
    return res


def measure(fastpath, alloc, pattern, n1, n2, tmp):
    f1 = os.path.join(tmp, "%s-%s-1.out" % (alloc.name, pattern))
    f2 = os.path.join(tmp, "%s-%s-2.out" % (alloc.name, pattern))
    ir1, _ = callgrind(fastpath, alloc, pattern, n1, f1)
    ir2, cmd = callgrind(fastpath, alloc, pattern, n2, f2)
    per_pair = (ir2 - ir1) / float(n2 - n1)
    lib = alloc.lib or "libc.so.6"
    real = os.path.realpath(lib) if os.path.isabs(lib) else None
    mine = lambda k: (os.path.realpath(k) == real or os.path.basename(k) == os.path.basename(lib)
                      or (alloc.lib is not None and k == "???"))
    libc = lambda k: os.path.basename(k) == "libc.so.6"

    def delta(pred):
        o1, o2 = ir_by_object(f1), ir_by_object(f2)
        return (sum(v for k, v in o2.items() if pred(k)) -
                sum(v for k, v in o1.items() if pred(k))) / float(ir2 - ir1)
    share = delta(mine) if ir2 > ir1 else 0.0
    libc_share = delta(libc) if ir2 > ir1 else 0.0
    verified = share >= 0.5 and (alloc.lib is None or libc_share < 0.25)
    return {"allocator": alloc.name, "pattern": pattern, "n1": n1, "n2": n2, "ir1": ir1,
            "ir2": ir2, "per_pair": per_pair, "lib": lib, "lib_share": share,
            "libc_share": libc_share, "verified": verified, "command": " ".join(
                (["LD_PRELOAD=" + alloc.lib] if alloc.lib else []) + cmd)}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/fastpath.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--allocators", help="comma-separated allocators (default: all known)")
    ap.add_argument("--so", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--n1", type=int, default=200000, help="pairs in the short run")
    ap.add_argument("--n2", type=int, default=1000000, help="pairs in the long run")
    ap.add_argument("--format", choices=["text", "md", "json"], default="text")
    args = ap.parse_args(argv)
    if args.n2 <= args.n1 or args.n1 % 64 or args.n2 % 64:
        ap.error("--n1 and --n2 must be multiples of 64 with n2 > n1")
    for tool in (VALGRIND,):
        if not os.path.exists(tool):
            print("fastpath: %s is not installed (apt-get install valgrind)" % tool, file=sys.stderr)
            return 2
    names = args.allocators.split(",") if args.allocators else None
    if names is not None:
        names += [s.split("=", 1)[0] for s in args.so if s.split("=", 1)[0] not in names]
    allocs, missing = alloc_mod.resolve(names, args.so)
    for name, why in missing:
        print("MISSING allocator %s: %s -- skipped" % (name, why), file=sys.stderr)
    wl_mod.build(["fastpath"], log=lambda m: print(m, file=sys.stderr))
    fastpath = os.path.join(wl_mod.BUILD_DIR, "fastpath")

    results = []
    with tempfile.TemporaryDirectory(prefix="fastpath-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        jobs = [pool.submit(measure, fastpath, a, p, args.n1, args.n2, tmp)
                for a in allocs for p in ("a", "b")]
        for j in jobs:
            results.append(j.result())

    by = {(r["allocator"], r["pattern"]): r for r in results}
    if args.format == "json":
        json.dump({"results": results, "missing": [{"name": n, "reason": w} for n, w in missing]},
                  sys.stdout, indent=1)
        print()
    else:
        md = args.format == "md"
        head = ["allocator", "a: malloc+free", "b: 64 then 64", "in allocator lib (a/b)"]
        rows = []
        for a in allocs:
            ra, rb = by[(a.name, "a")], by[(a.name, "b")]
            rows.append([a.name, "%.1f" % ra["per_pair"], "%.1f" % rb["per_pair"],
                         "%.0f%% / %.0f%%%s" % (100 * ra["lib_share"], 100 * rb["lib_share"],
                                               "" if ra["verified"] and rb["verified"]
                                               else "  NOT VERIFIED")])
        if md:
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for r in rows:
                print("| " + " | ".join(r) + " |")
        else:
            print("Instructions per malloc+free pair, sizes 16-256 B, loop included "
                  "(callgrind, (Ir(%d) - Ir(%d)) / %d pairs)" % (args.n2, args.n1, args.n2 - args.n1))
            w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
            print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
            for r in rows:
                print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
        for name, why in missing:
            print("%s missing: %s" % (name, why))
    return 0 if all(r["verified"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
