#!/bin/bash
# core-figures.sh: the figures the "flymalloc core" issue asks for, in one run,
# against every allocator (glibc, jemalloc, mimalloc, tcmalloc, flymalloc):
#   - fast path instructions per malloc+free pair, both patterns (callgrind);
#   - producer/consumer (xmalloc) and larson throughput and peak RSS;
#   - the memory-returned ratio;
#   - large-block time and mmap/munmap counts (strace).
# Prints a markdown report and leaves it, with the raw data, in the output
# directory (default bench/results/core-<date-time>/).
#
#   bench/core-figures.sh [--quick] [--repeat N] [--allocators A,B,...]
#                         [--so NAME=PATH] [--out DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
out="$here/results/core-$(date +%Y-%m-%d_%H%M%S)"
suite_args=()
fp_args=()
repeat=3
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) suite_args+=(--quick); repeat=1 ;;
    --repeat) repeat="$2"; shift ;;
    --allocators) suite_args+=(--allocators "$2"); fp_args+=(--allocators "$2"); shift ;;
    --so) suite_args+=(--so "$2"); fp_args+=(--so "$2"); shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--repeat N] [--allocators A,B] [--so NAME=PATH] [--out DIR]" >&2
       exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
echo "core figures: fast path under callgrind..." >&2
env -u LD_PRELOAD "$py" "$here/fastpath.py" --format json "${fp_args[@]}" >"$out/fastpath.json"
echo "core figures: xmalloc, larson, memret, large (repeat $repeat)..." >&2
status=0
env -u LD_PRELOAD "$py" "$here/bench.py" --only xmalloc,larson,memret,large --repeat "$repeat" \
    "${suite_args[@]}" --out "$out/suite" >"$out/suite.log" 2>&1 || status=$?
[ "$status" -eq 0 ] || echo "core figures: some runs failed, see $out/suite.log" >&2
env -u LD_PRELOAD "$py" "$here/figures.py" "$out"
echo "(written to $out/core-figures.md)" >&2
exit "$status"
