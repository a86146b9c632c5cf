#!/usr/bin/env bash
# test_trace_bad_input: broken trace files make `flymalloc analyze` and
# `flymalloc replay` fail cleanly with a message naming the byte offset,
# never crash.
# flytest: timeout=600
#
# Proves: for an empty file, a wrong magic, another version, a header cut
# short, a checksum mismatch, an unknown op, a varint longer than 10 bytes,
# an event running past its chunk and a sequence number going back within a
# thread, both commands exit with status 1 and print the documented words
# ("not a flymalloc trace", "trace version 7, this reader knows 1",
# "truncated header at offset", "corrupt chunk at offset N (checksum)",
# "corrupt event at offset N: ...") naming the offset; a trace cut inside
# a chunk and one without its end record are read up to the cut with the
# warnings "truncated chunk at offset N" / "no end record", complete=false;
# and a few hundred seeded random corruptions (byte flips, truncations,
# flips behind a repaired checksum) of two traces never crash either
# command: status 0 or 1, never a signal or a sanitizer report, and every
# failure names an offset.  The launcher is rebuilt with ASan and UBSan
# for this when the compiler can.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
py=$(pyexe) || skip "no python3"
GEN="$py $FLY_ROOT/tests/common/tracegen.py"
T=$FLY_TMP

L=$FLY_LAUNCHER
SAN=""
if cc -O1 -g -std=gnu11 -Wall -Wextra -Werror -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -I"$FLY_ROOT/include" -I"$FLY_ROOT/tools" \
    -o "$T/flymalloc-asan" "$FLY_ROOT"/tools/*.c -lpthread -lm 2>"$T/asan-build.log"; then
    L=$T/flymalloc-asan
    SAN=" (ASan+UBSan build)"
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=99:allocator_may_return_null=1
    export UBSAN_OPTIONS=halt_on_error=1:exitcode=98:print_stacktrace=1
else
    echo "note: no sanitizer build ($(head -c 200 "$T/asan-build.log")); using $L"
fi
[ -x "$L" ] || fail "missing launcher $L"

# run CMD FILE: runs analyze or replay on FILE; sets rc, out (stderr + stdout).
run() {
    local cmd=$1 file=$2
    if [ "$cmd" = analyze ]; then
        out=$("$L" analyze "$file" -o "$T/out.json" 2>&1)
    else
        out=$("$L" replay "$file" --allocator glibc --no-syscalls 2>&1)
    fi
    rc=$?
    if [ $rc -ge 128 ] || [ $rc -eq 99 ] || [ $rc -eq 98 ] ||
        echo "$out" | grep -q -E 'ERROR: AddressSanitizer|UndefinedBehaviorSanitizer|runtime error'; then
        echo "$out" | head -n 30
        fail "$cmd $file crashed: status $rc"
    fi
}

# expect_error KIND WORDS...: both commands exit 1 with each of WORDS in the message.
expect_error() {
    local kind=$1
    shift
    $GEN bad "$kind" "$T/$kind.trace" || fail "tracegen bad $kind"
    for cmd in analyze replay; do
        run $cmd "$T/$kind.trace"
        [ $rc -eq 1 ] || fail "$cmd on a $kind trace: status $rc (expected 1): $out"
        for w in "$@"; do
            echo "$out" | grep -q -F -- "$w" || fail "$cmd on a $kind trace: no '$w' in: $out"
        done
    done
    echo "ok: $kind: $(echo "$out" | head -n 1)"
}

expect_error empty "not a flymalloc trace" "offset 0"
expect_error magic "not a flymalloc trace" "offset 0"
expect_error version "trace version 7, this reader knows 1" "offset 8"
expect_error header "truncated header at offset"
expect_error checksum "corrupt chunk at offset" "(checksum)"
expect_error unknown-op "corrupt event at offset" "unknown op 42"
expect_error long-varint "corrupt event at offset" "varint longer than 10 bytes"
expect_error past-chunk "corrupt event at offset" "runs past the end of its chunk"
expect_error seq-back "corrupt event at offset" "goes back"

# Cut short: what is complete is used, with warnings.
for kind in truncated no-end; do
    $GEN bad $kind "$T/$kind.trace" || fail "tracegen bad $kind"
    for cmd in analyze replay; do
        run $cmd "$T/$kind.trace"
        [ $rc -eq 0 ] || fail "$cmd on a $kind trace: status $rc: $out"
        echo "$out" | grep -q 'no end record: the program did not exit normally' ||
            fail "$cmd on a $kind trace: no 'no end record' warning: $out"
    done
    "$py" -c 'import json, sys; d = json.load(open(sys.argv[1]))["trace"]; sys.exit(d["complete"])' \
        "$T/out.json" || fail "analyze says a $kind trace is complete"
done
echo "$out" | grep -q 'no end record' || fail "no-end: $out"
"$L" analyze "$T/truncated.trace" -o "$T/out.json" 2>&1 | grep -q 'truncated chunk at offset' ||
    fail "no 'truncated chunk at offset' warning for a trace cut inside a chunk"
echo "ok: truncated and no-end traces are read up to the cut, with warnings"

# Random corruption.
$GEN random "$T/base.trace" --seed 21 --events 3000 --threads 3 --chunk-events 40 || fail "tracegen random"
$GEN small "$T/small.trace" || fail "tracegen small"
$GEN mutate "$T/base.trace" "$T/mut" --count 250 --seed 7 || fail "tracegen mutate"
$GEN mutate "$T/small.trace" "$T/mut2" --count 150 --seed 8 || fail "tracegen mutate"
n=0
errors=0
for f in "$T"/mut/*.trace "$T"/mut2/*.trace; do
    for cmd in analyze replay; do
        run $cmd "$f"
        if [ $rc -ne 0 ]; then
            [ $rc -eq 1 ] || fail "$cmd $f: status $rc: $out"
            echo "$out" | grep -q 'offset' || fail "$cmd $f: error without an offset: $out"
            errors=$((errors + 1))
        fi
        n=$((n + 1))
    done
done
[ $errors -gt 0 ] || fail "no corrupted file was rejected: the corruption did not work"
echo "ok: $n runs on corrupted traces$SAN: $errors clean errors, no crash"
