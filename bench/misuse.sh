#!/usr/bin/env bash
# misuse.sh: a table of which heap misuses each allocator detects
# (bench/misuse.c), flymalloc's default and secure modes first.
#   bench/misuse.sh [--so NAME=PATH]...
# docs/security.md quotes it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$root/build/bench"
bin=$root/build/bench/misuse
cc -std=gnu11 -O1 -Wall -Wextra -Werror -fno-builtin-malloc -fno-builtin-free -o "$bin" \
    "$root/bench/misuse.c" -ldl
names=(flymalloc flymalloc-secure)
libs=("$root/build/libflymalloc.so" "$root/build/libflymalloc-secure.so")
while [ $# -gt 0 ]; do
    case $1 in
        --so) names+=("${2%%=*}"); libs+=("${2#*=}"); shift 2 ;;
        *) echo "usage: bench/misuse.sh [--so NAME=PATH]..." >&2; exit 2 ;;
    esac
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in "${!names[@]}"; do
    [ -f "${libs[$i]}" ] || { echo "misuse: no ${libs[$i]}" >&2; exit 1; }
    env LD_PRELOAD="${libs[$i]}" "$bin" | cut -f2 >"$out/$i"
done
"$bin" | cut -f1 >"$out/names"      # the case names (glibc's run)
printf '| misuse |'; printf ' %s |' "${names[@]}"; echo
printf '| --- |'; printf ' --- |%.0s' "${names[@]}"; echo
paste -d'|' "$out/names" $(for i in "${!names[@]}"; do echo "$out/$i"; done) |
    sed 's/|/ | /g; s/^/| /; s/$/ |/'
