#!/usr/bin/env bash
# many-threads.sh: 64 and 256 threads on this machine's cores (issue 18):
# a pool whose threads are all alive and allocate in bursts (bench/pool.c),
# and threads that start, allocate and exit (bench/larson.c, threads
# recreated each round).  Median wall time and peak RSS (/usr/bin/time) of
# 3 interleaved runs per allocator, with ratios to the best other one.
#   bench/many-threads.sh [--so NAME=PATH]...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchors=$root/../shared/anchors/lib
ma=/usr/lib/$(gcc -print-multiarch)
names=(flymalloc glibc jemalloc mimalloc tcmalloc mimalloc3 snmalloc rpmalloc)
libs=("$root/build/libflymalloc.so" "" "$ma/libjemalloc.so.2" "$ma/libmimalloc.so.2"
      "$ma/libtcmalloc_minimal.so.4" "$anchors/libmimalloc-3.4.3.so" "$anchors/libsnmalloc-0.7.5.so"
      "$anchors/librpmalloc-2.0.1.so")
while [ $# -gt 0 ]; do
    case $1 in
        --so) names+=("${2%%=*}"); libs+=("${2#*=}"); shift 2 ;;
        *) echo "usage: bench/many-threads.sh [--so NAME=PATH]..." >&2; exit 2 ;;
    esac
done
mkdir -p "$root/build/bench"
for p in pool larson; do
    cc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread -o "$root/build/bench/$p" "$root/bench/$p.c" -lm
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in 64 256; do
    for w in pool churn; do
        case $w in
            pool) cmd=("$root/build/bench/pool" --threads $t --rounds $((12800 / t))) ;;
            churn) cmd=("$root/build/bench/larson" --threads $t --rounds 10 --ops $((400000 / t)) --slots 200) ;;
        esac
        for r in 1 2 3; do
            for i in "${!names[@]}"; do
                [ -z "${libs[$i]}" ] || [ -f "${libs[$i]}" ] || continue
                m=$( { env LD_PRELOAD="${libs[$i]}" /usr/bin/time -f "%e %M" "${cmd[@]}" >/dev/null; } 2>&1 | tail -n 1)
                echo "$t $w ${names[$i]} $m" >>"$out"
            done
        done
    done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    t, w, a, secs, kib = line.split()
    runs[(t, w, a)].append((float(secs), int(kib)))
for t in ("64", "256"):
    for w in ("pool", "churn"):
        rows = [(a, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                for (t2, w2, a), v in runs.items() if (t2, w2) == (t, w)]
        others = [r for r in rows if r[0] != "flymalloc"]
        bt, bm = min(r[1] for r in others), min(r[2] for r in others)
        print(f"{t} threads, {w}: best other {bt:.2f} s, {bm / 1024:.1f} MiB")
        for a, secs, kib in sorted(rows, key=lambda r: r[1]):
            print(f"  {a:10s} {secs:6.2f} s x{secs / bt:5.2f}  {kib / 1024:7.1f} MiB x{kib / bm:5.2f}")
PY
