#!/usr/bin/env bash
# numa.sh: bench/numa.c over thread counts, local and remote use, per
# allocator; medians of interleaved repetitions, Mops/s (higher is better).
#   bench/numa.sh [--repeat N] [--threads "1 2 4 ..."] [NAME=LIBRARY ...]
# flymalloc runs with FLYMALLOC_NUMA=local (each thread on its node's heap);
# the others as they come.  Without NAME=LIBRARY arguments it compares
# flymalloc, glibc, Debian's mimalloc and mimalloc 3.4.3 from
# ../shared/anchors when they are there.  Meant for a machine with several
# NUMA nodes (bench/README.md); on one node it shows only the cost of
# cross-thread frees.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repeat=3
threads=""
libs=()
while [ $# -gt 0 ]; do
    case $1 in
        --repeat) repeat=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *=*) libs+=("$1"); shift ;;
        *) echo "usage: bench/numa.sh [--repeat N] [--threads \"1 2 4\"] [NAME=LIBRARY ...]" >&2; exit 64 ;;
    esac
done
ncpu=$(nproc)
if [ -z "$threads" ]; then
    t=1
    while [ "$t" -lt "$ncpu" ]; do threads="$threads $t"; t=$((t * 2)); done
    threads="$threads $ncpu"
fi
if [ ${#libs[@]} -eq 0 ]; then
    [ -e "$root/build/libflymalloc.so" ] || make -C "$root" all >/dev/null
    libs=("flymalloc=$root/build/libflymalloc.so" "glibc=")
    l=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
    [ -e "$l" ] && libs+=("mimalloc=$l")
    l=$root/../shared/anchors/lib/libmimalloc-3.4.3.so
    [ -e "$l" ] && libs+=("mimalloc-3.4.3=$l")
fi
mkdir -p "$root/build/bench"
cc -O2 -Wall -Wextra -o "$root/build/bench/numa" "$root/bench/numa.c" -lpthread -lm
printf "%-28s %8s %7s %s\n" allocator threads remote "Mops/s (median of $repeat)"
for t in $threads; do
    for remote in 0 1; do
        [ "$remote" = 1 ] && [ $((t % 2)) -ne 0 ] && continue
        declare -A runs=()
        for rep in $(seq "$repeat"); do
            for spec in "${libs[@]}"; do
                name=${spec%%=*} lib=${spec#*=}
                env=()
                [ -n "$lib" ] && env+=("LD_PRELOAD=$lib")
                [ "$name" = flymalloc ] && env+=("FLYMALLOC_NUMA=local")
                line=$(env "${env[@]}" "$root/build/bench/numa" --threads "$t" --remote "$remote") ||
                    { echo "numa.sh: $name failed at $t threads" >&2; exit 1; }
                mops=$(sed -n 's/.*mops=\([0-9.]*\).*/\1/p' <<<"$line")
                runs[$name]="${runs[$name]:-} $mops"
            done
        done
        for spec in "${libs[@]}"; do
            name=${spec%%=*}
            med=$(tr ' ' '\n' <<<"${runs[$name]}" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
            printf "%-28s %8s %7s %s\n" "$name" "$t" "$remote" "$med"
        done
        unset runs
    done
done
