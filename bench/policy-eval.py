#!/usr/bin/env python3
"""policy-eval.py: how well does dispatch by profile choose a policy?

The evaluation the meta-allocator is judged by (docs/policies.md):

1. every workload of the suite (C workloads and real programs) runs once
   under FLYMALLOC_PROFILE=1 into a fresh profile store;
2. one interleaved benchmark run (`build/flymalloc bench`) then measures,
   per workload, every policy of the catalogue (`flymalloc:NAME`), the
   dispatched run (`flymalloc` reading that store, so each program gets the
   policy its profile says), and the other allocators;
3. from the medians it prints, per workload, the policy dispatch chose
   (from `flymalloc policy`), the oracle (the policy with the best
   objective in hindsight: time x peak RSS for `balanced`), and the ratios;
   then the geometric means the issue names: dispatched / oracle,
   dispatched / default, and dispatched / the best other allocator.

Usage: bench/policy-eval.py [--size quick] [--repeat 5] [--only W1,W2]
           [--objective balanced|time|memory] [--others glibc,jemalloc,...]
           [--so NAME=PATH ...] [--results DIR]
--results DIR re-reads a finished run (runs.json) and its store
(DIR/store) instead of running again.  Takes about 25 minutes at quick
size with 5 repetitions and the default allocators.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLY = os.path.join(ROOT, "build", "flymalloc")
ANCHORS = os.path.join(os.path.dirname(ROOT), "shared", "anchors", "lib")
DEFAULT_OTHERS = "glibc,jemalloc,mimalloc,tcmalloc,mimalloc3,snmalloc"
ANCHOR_SO = {"mimalloc3": "libmimalloc-3.4.3.so", "snmalloc": "libsnmalloc-0.7.5.so"}


def policies():
    out = subprocess.run([FLY, "policies"], capture_output=True, text=True, check=True).stdout
    # Each policy is a line "NAME  description" followed by "  sizes: ...".
    return re.findall(r"^(\w+)\s+\S.*\n\s+sizes:", out, re.M)


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def bench(args, allocators, sos, out, env, repeat):
    cmd = [FLY, "bench", "--size", args.size, "--repeat", str(repeat), "--no-syscalls",
           "--allocators", ",".join(allocators), "--out", out]
    for s in sos:
        cmd += ["--so", s]
    if args.only:
        cmd += ["--only", args.only]
    print("policy-eval: " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def medians(path):
    runs = json.load(open(path))["runs"]
    cell = {}
    for r in runs:
        if r.get("rep", 0) < 0 or not r.get("ok"):
            continue
        cell.setdefault((r["workload"], r["allocator"]), []).append(r)
    med = {}
    for key, rs in cell.items():
        med[key] = (statistics.median(r["wall_s"] for r in rs),
                    statistics.median(r["maxrss_kib"] for r in rs))
    return med


def dispatched_policy(store, argv0):
    env = dict(os.environ, FLYMALLOC_PROFILE_DIR=store)
    env.pop("FLYMALLOC_POLICY", None)
    out = subprocess.run([FLY, "policy", argv0], env=env, capture_output=True, text=True).stdout
    m = re.search(r": (\w+) \(", out)
    return m.group(1) if m else "?"


def score(t, m, objective):
    return t if objective == "time" else m if objective == "memory" else t * m


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="quick")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--objective", default="balanced", choices=("balanced", "time", "memory"))
    ap.add_argument("--others", default=DEFAULT_OTHERS)
    ap.add_argument("--so", action="append", default=[])
    ap.add_argument("--results", default="")
    args = ap.parse_args()

    pols = policies()
    others = [o for o in args.others.split(",") if o]
    sos = list(args.so)
    for o in others:
        if o in ANCHOR_SO and not any(s.startswith(o + "=") for s in sos):
            path = os.path.join(ANCHORS, ANCHOR_SO[o])
            if os.path.exists(path):
                sos.append("%s=%s" % (o, path))
            else:
                others.remove(o)
    if args.results:
        out = args.results
    else:
        out = os.path.join(ROOT, "bench", "results", "policy-eval-" + time.strftime("%Y-%m-%d_%H%M%S"))
        os.makedirs(out)
    store = os.path.join(out, "store")
    if not args.results:
        os.makedirs(store)
        env = dict(os.environ, FLYMALLOC_PROFILE="1", FLYMALLOC_PROFILE_DIR=store)
        env.pop("FLYMALLOC_POLICY", None)
        bench(args, ["flymalloc"], [], os.path.join(out, "profile"), env, 1)
        env = dict(os.environ, FLYMALLOC_PROFILE_DIR=store)
        env.pop("FLYMALLOC_POLICY", None)
        env.pop("FLYMALLOC_PROFILE", None)
        allocs = ["flymalloc"] + ["flymalloc:" + p for p in pols] + others
        bench(args, allocs, sos, os.path.join(out, "eval"), env, args.repeat)
    med = medians(os.path.join(out, "eval", "runs.json"))
    runs = json.load(open(os.path.join(out, "eval", "runs.json")))["runs"]
    argv0 = {}
    for r in runs:
        argv0.setdefault(r["workload"], r["command"])
    workloads = []
    for r in runs:
        if r["workload"] not in workloads:
            workloads.append(r["workload"])

    rows = []
    for w in workloads:
        if (w, "flymalloc") not in med or (w, "flymalloc:default") not in med:
            continue
        dt, dm = med[(w, "flymalloc")]
        cand = {p: med[(w, "flymalloc:" + p)] for p in pols if (w, "flymalloc:" + p) in med}
        oracle = min(cand, key=lambda p: score(*cand[p], args.objective))
        ot, om = cand[oracle]
        deft, defm = cand["default"]
        oth = [med[(w, o)] for o in others if (w, o) in med]
        bt = min(x[0] for x in oth) if oth else float("nan")
        bm = min(x[1] for x in oth) if oth else float("nan")
        prog = argv0[w].split()
        exe = next((a for a in prog if a.startswith("/") and "LD_PRELOAD" not in a), prog[-1])
        rows.append((w, dispatched_policy(store, exe), oracle, dt / ot, dm / om, dt / deft,
                     dm / defm, dt / bt, dm / bm))

    print("objective %s; %d workloads; medians of %d interleaved runs; results in %s" % (
        args.objective, len(rows), args.repeat, out))
    print()
    print("| workload | dispatched | oracle | time / oracle | RSS / oracle | time / default "
          "| RSS / default | time / best other | RSS / best other |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % r)
    cols = list(zip(*rows))[3:] if rows else []
    if cols:
        print("| **geomean** | | | **%.3f** | **%.3f** | **%.3f** | **%.3f** | **%.3f** | **%.3f** |"
              % tuple(geomean(c) for c in cols))
        print("| worst | | | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % tuple(max(c) for c in cols))


if __name__ == "__main__":
    main()
