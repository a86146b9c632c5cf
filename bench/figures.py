#!/usr/bin/python3
"""figures.py: the core figures of the "flymalloc core" issue, as markdown.

    bench/figures.py DIR

DIR holds fastpath.json (from `fastpath.py --format json`) and suite/runs.json
(from `bench.py --only larson,xmalloc,memret,large`); bench/core-figures.sh
makes both and then calls this.  The tables put each figure beside its
target:
  - fast path: instructions per malloc+free pair, both patterns (target <= 30);
  - threads: producer/consumer (xmalloc) and larson throughput, at least the
    best of the others, and peak RSS within 1.1x of mimalloc's;
  - memory returned: (RSS_end - RSS_start) / live bytes, at most 1.5;
  - large: time at most jemalloc's, and no mmap/munmap per step in steady
    state (counts from strace).
"""

import json
import os
import re
import statistics
import sys


def _load(path):
    with open(path) as f:
        return json.load(f)


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def _sep(n):
    return "|" + "---|" * n


def fastpath_table(fp):
    out = ["### Fast path: instructions per malloc+free pair (sizes 16-256 B, loop included)", "",
           _row(["allocator", "a: malloc, free", "b: 64 mallocs, 64 frees", "verified"]), _sep(4)]
    by = {}
    for r in fp["results"]:
        by.setdefault(r["allocator"], {})[r["pattern"]] = r
    for name, pats in by.items():
        a, b = pats.get("a"), pats.get("b")
        out.append(_row([name, "%.1f" % a["per_pair"] if a else "-",
                         "%.1f" % b["per_pair"] if b else "-",
                         "yes" if a and b and a["verified"] and b["verified"] else "NO"]))
    for m in fp.get("missing", []):
        out.append(_row([m["name"], "missing", "", m["reason"]]))
    out += ["", "Target for flymalloc: at most 30 in both patterns. Method: callgrind, "
            "(Ir(N2) - Ir(N1)) / (N2 - N1) pairs, N1 = %d, N2 = %d."
            % (fp["results"][0]["n1"], fp["results"][0]["n2"]) if fp["results"] else ""]
    return out


def paired_ratios(runs, workload):
    """Per repetition, the best other allocator's wall time over flymalloc's
    (a throughput ratio: above 1, flymalloc was faster).  The runs of one
    repetition are adjacent in time, so they share the host's state."""
    reps = {}
    for r in runs:
        if r["workload"] == workload and r["ok"] and r.get("rep", -1) >= 0:
            reps.setdefault(r["rep"], {})[r["allocator"]] = r["wall_s"]
    out = []
    for walls in reps.values():
        others = [t for a, t in walls.items() if a != "flymalloc"]
        if "flymalloc" in walls and others:
            out.append(min(others) / walls["flymalloc"])
    return out


def suite_tables(doc):
    s = doc["summary"]
    allocs = [a["name"] for a in doc["meta"]["allocators"]]
    out = []

    def cell(w, a, fn):
        st = s.get(w, {}).get(a)
        return fn(st) if st and st.get("ok") else "failed" if st else "-"

    def mops(st):
        return st["metrics"]["ops"] / st["wall_median"] / 1e6

    for w, title in (("xmalloc", "Producer/consumer (xmalloc shape: one thread allocates, another frees)"),
                     ("larson", "Larson server (threads free what others allocated)")):
        if w not in s:
            continue
        out += ["### %s" % title, "",
                _row(["allocator", "throughput Mops/s", "wall s (min-max)", "CPU s", "peak RSS MiB",
                      "RSS / mimalloc"]), _sep(6)]
        mi = s[w].get("mimalloc")
        for a in allocs:
            st = s[w].get(a)
            if not st or not st.get("ok"):
                out.append(_row([a, "failed", "", "", "", ""]))
                continue
            out.append(_row([
                a, "%.1f" % mops(st),
                "%.3f (%.3f-%.3f)" % (st["wall_median"], st["wall_min"], st["wall_max"]),
                "%.2f" % st["cpu_median"], "%.1f" % (st["rss_median_kib"] / 1024),
                "%.2f" % (st["rss_median_kib"] / mi["rss_median_kib"]) if mi and mi.get("ok") else "-"]))
        others = [mops(s[w][a]) for a in allocs if a != "flymalloc" and s[w].get(a, {}).get("ok")]
        fly = s[w].get("flymalloc")
        if others and fly and fly.get("ok"):
            out += ["", "flymalloc / best other throughput: %.2f (target >= 1); "
                    "peak RSS / mimalloc: %s (target <= 1.1)." % (
                        mops(fly) / max(others),
                        "%.2f" % (fly["rss_median_kib"] / mi["rss_median_kib"])
                        if mi and mi.get("ok") else "-")]
            paired = paired_ratios(doc["runs"], w)
            if paired:
                best = min(s[w][a]["wall_min"] for a in allocs
                           if a != "flymalloc" and s[w].get(a, {}).get("ok"))
                out += ["", "Less sensitive to a noisy host: flymalloc / best other throughput "
                        "within each repetition, median %.2f (range %.2f-%.2f over %d); "
                        "fastest run against the others' fastest: %.2f." % (
                            statistics.median(paired), min(paired), max(paired), len(paired),
                            best / fly["wall_min"])]
        out.append("")

    if "memret" in s:
        cmd = next((r["command"] for r in doc["runs"] if r["workload"] == "memret"), "")
        m = re.search(r"--bytes (\S+)", cmd)
        amount = {"1g": "1 GiB", "256m": "256 MiB"}.get(m.group(1), m.group(1)) if m else "1 GiB"
        out += ["### Memory returned (%s of 16 B-1 KiB objects, oldest 90 %% freed, idle 2 s, "
                "1000 malloc/free)" % amount, "",
                _row(["allocator", "(RSS_end - RSS_start) / live", "RSS peak MiB", "RSS end MiB"]),
                _sep(4)]
        runs = [r for r in doc["runs"] if r["workload"] == "memret" and r["ok"]]
        for a in allocs:
            st = s["memret"].get(a)
            rs = [r for r in runs if r["allocator"] == a]
            if not st or not st.get("ok") or not rs:
                out.append(_row([a, "failed", "", ""]))
                continue
            med = sorted(rs, key=lambda r: float(r["metrics"]["ratio"]))[len(rs) // 2]
            out.append(_row([a, "%.2f" % float(med["metrics"]["ratio"]),
                             med["metrics"].get("rss_peak_mib", "-"),
                             med["metrics"].get("rss_end_mib", "-")]))
        out += ["", "Target for flymalloc: at most 1.5, with no background thread.", ""]

    if "large" in s:
        sc = {x["allocator"]: x for x in doc.get("syscalls", []) if x["workload"] == "large"}
        out += ["### Large blocks (64 KiB-32 MiB, random alloc/free)", "",
                _row(["allocator", "wall s (min-max)", "peak RSS MiB", "mmap / munmap (N steps)",
                      "madvise / mremap / brk", "mmap+munmap per step, steady state"]), _sep(6)]
        for a in allocs:
            st = s["large"].get(a)
            x = sc.get(a)
            calls = ("%d / %d" % (x["counts_n"].get("mmap", 0), x["counts_n"].get("munmap", 0)),
                     "%d / %d / %d" % (x["counts_n"].get("madvise", 0), x["counts_n"].get("mremap", 0),
                                       x["counts_n"].get("brk", 0)),
                     "%.3f" % x["per_step"]["mmap+munmap"]) if x and x.get("ok") else ("-", "-", "-")
            if not st or not st.get("ok"):
                out.append(_row([a, "failed", ""] + list(calls)))
                continue
            out.append(_row([a, "%.3f (%.3f-%.3f)" % (st["wall_median"], st["wall_min"], st["wall_max"]),
                             "%.1f" % (st["rss_median_kib"] / 1024)] + list(calls)))
        n = next((x["steps_n"] for x in sc.values()), None)
        out += ["", "N = %s steps; steady state = (calls(2N) - calls(N)) / N. Target for flymalloc: "
                "time at most jemalloc's, no mmap/munmap per step in steady state." % n, ""]
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: figures.py DIR", file=sys.stderr)
        return 2
    d = argv[1]
    out = []
    suite = os.path.join(d, "suite", "runs.json")
    doc = _load(suite) if os.path.exists(suite) else None
    if doc:
        m = doc["meta"]
        out += ["## flymalloc core figures, %s" % m["date"], "",
                "%s, %d CPUs, kernel %s; %d repetition(s) (medians), size %s; load average "
                "before %s, after %s." % (
                    m["machine"]["cpu"], m["machine"]["ncpu"], m["machine"]["kernel"], m["repeat"],
                    m["size"], " ".join("%.2f" % x for x in m["load_before"]),
                    " ".join("%.2f" % x for x in m["load_after"])),
                "", "Allocators: " + "; ".join("%s %s" % (a["name"], a["version"] or "")
                                               for a in m["allocators"]) + ".", ""]
        for x in m["missing"]:
            out.append("Missing: %s (%s)." % (x["name"], x["reason"]))
    fp = os.path.join(d, "fastpath.json")
    if os.path.exists(fp):
        out += fastpath_table(_load(fp)) + [""]
    if doc:
        out += suite_tables(doc)
    text = "\n".join(out).rstrip() + "\n"
    with open(os.path.join(d, "core-figures.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
