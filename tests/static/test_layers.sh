#!/usr/bin/env bash
# test_layers: the layering rule of docs/design.md (section 2) holds.
#
# Runs tests/static/check_layers.py on the tree and the built objects
# (make test builds them first): no file of src/ may include a header of a
# higher layer or use a symbol defined by one, and every file is in a
# layer.  Then proves the check can fail: a copy of src/ where vmem.c
# includes tcache.h, an object directory where vmem.o calls a function of
# the thread cache, and a file left out of the table must each be caught.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CHECK="python3 tests/static/check_layers.py"
OBJS=${FLY_BUILD:-$ROOT/build}/obj
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

[ -d "$OBJS" ] || fail "no objects in $OBJS: run make first"
$CHECK --objs "$OBJS" || fail "the tree breaks the layering rule"

# An upward include.
cp -r src "$T/src"
echo '#include "tcache.h"' >> "$T/src/vmem.c"
out=$($CHECK --src "$T/src" --objs "$OBJS") && fail "an upward include passed"
grep -q 'src/vmem.c (arena) includes tcache.h' <<<"$out" || fail "upward include not named: $out"

# An upward call, seen in the object file.
mkdir "$T/objs"
cp "$OBJS"/*.o "$T/objs/"
printf 'void fly_tcache_flush(void);\nvoid fly_vmem_bad(void) { fly_tcache_flush(); }\n' > "$T/bad.c"
cc -c "$T/bad.c" -o "$T/bad.o" || fail "cannot compile the probe"
ld -r "$OBJS/vmem.o" "$T/bad.o" -o "$T/objs/vmem.o" || fail "cannot link the probe"
out=$($CHECK --objs "$T/objs") && fail "an upward call passed"
grep -q 'src/vmem.c (arena) uses fly_tcache_flush of src/tcache.c' <<<"$out" ||
    fail "upward call not named: $out"

# A file in no layer.
rm -rf "$T/src" && cp -r src "$T/src"
printf '/* stray.c */\n' > "$T/src/stray.c"
out=$($CHECK --src "$T/src" --objs "$OBJS") && fail "a file outside the table passed"
grep -q 'src/stray.c is in no layer' <<<"$out" || fail "stray file not named: $out"
echo "layering holds, and each kind of violation is caught"
