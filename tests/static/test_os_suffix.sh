#!/usr/bin/env bash
# test_os_suffix: "_os" means "may make a system call", everywhere in src/
# (tests/static/check_os_suffix.py).  Then proves the check can fail: a
# function named _os that makes no call, and a function that reaches the
# os layer without the suffix, must each be caught.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CHECK="python3 tests/static/check_os_suffix.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

$CHECK || fail "src/ breaks the _os rule"

cp -r src "$T/src"
sed -i 's/\bfly_vmem_free\b/fly_vmem_free_os/g' "$T"/src/*.c "$T"/src/*.h
out=$($CHECK --src "$T/src") && fail "an _os function without a system call passed"
grep -q 'fly_vmem_free_os is named _os but makes no system call' <<<"$out" || fail "not named: $out"

rm -rf "$T/src" && cp -r src "$T/src"
printf '\nvoid fly_slab_map_more(void)\n{\n    fly_os_unmap(0, 0);\n}\n' >> "$T/src/slab.c"
out=$($CHECK --src "$T/src") && fail "a system call without _os passed"
grep -q 'fly_slab_map_more may make a system call but is not named _os' <<<"$out" ||
    fail "not named: $out"
echo "the _os rule holds, and both ways of breaking it are caught"
