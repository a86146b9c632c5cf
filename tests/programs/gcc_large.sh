#!/usr/bin/env bash
# gcc_large: gcc -O2 compiling a generated ~20,000-line C file (see
# gen_big_c.py) under LD_PRELOAD, which reaches cc1, as and collect2/ld too,
# produces a byte-identical object file to the one built on glibc (same nm
# and size listings), and the linked program, also run on flymalloc, prints
# the same checksums.
# flytest: timeout=400
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v gcc >/dev/null || skip "gcc not installed"
py=$(pyexe) || skip "no python3 to generate the source"
"$py" "$FLY_ROOT/tests/programs/gen_big_c.py" 850 >"$FLY_TMP/big.c" || fail "generator failed"
lines=$(wc -l <"$FLY_TMP/big.c")
[ "$lines" -ge 19000 ] || fail "generated only $lines lines"
compare gcc_large bash -c "cd '$FLY_TMP' && gcc -O2 -c big.c -o big.o && nm big.o | md5sum && size big.o && md5sum big.o && gcc big.o -o big && ./big"
