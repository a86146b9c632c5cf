#!/usr/bin/env bash
# test_man: the manual pages render without a warning (groff -ww), every
# subcommand of the launcher's usage has its place in flymalloc(1), and
# flymalloc(7) names every setting of the options table (it is generated
# from it: build/man/flymalloc.7).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
fail() { echo "FAIL: $*"; exit 1; }
command -v groff >/dev/null || { echo "SKIP: groff not installed"; exit 77; }
B=${FLY_BUILD:-$ROOT/build}
[ -f "$B/man/flymalloc.7" ] || fail "no $B/man/flymalloc.7: run make"
for page in man/flymalloc.1 man/flymalloc.3 "$B/man/flymalloc.7"; do
    warn=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
    [ -z "$warn" ] || fail "$page: $warn"
    [ "$(groff -man -Tutf8 "$page" 2>/dev/null | wc -l)" -gt 20 ] || fail "$page renders to almost nothing"
done
for sub in $("$B/flymalloc" --help | sed -n 's/^ *\(usage: \)\{0,1\}flymalloc \([a-z-]*\).*/\2/p' | sort -u); do
    r=${sub//-/\\-}                       # roff writes a hyphen as \-
    grep -qE "^\.B flymalloc ${r//\\/\\\\}( |\$)" man/flymalloc.1 ||
        fail "flymalloc(1) has no synopsis line for '$sub'"
    grep -qxF ".B $r" man/flymalloc.1 || fail "flymalloc(1) does not describe '$sub'"
done
for name in $(sed -n 's/^FLY_OPTION(\([A-Z_]*\),.*/FLYMALLOC_\1/p' src/options.def); do
    grep -q "^\.B $name\$" "$B/man/flymalloc.7" || fail "flymalloc(7) does not list $name"
done
echo "the manual pages render cleanly and cover every subcommand and setting"
