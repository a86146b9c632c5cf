#!/usr/bin/env bash
# test_fuzz: the libFuzzer targets run for a fixed time each and find
# nothing.
#
#   fuzz_ops    operation sequences on the prefixed library (its sources
#               compiled in with debug assertions and UBSan), checked
#               against a model (tests/fuzz/fuzz_ops.c);
#   fuzz_trace  arbitrary bytes to the trace reader (tools/trace_read.c),
#               with ASan and UBSan.
# Each starts from its corpus in tests/fuzz/corpus/ (seeds kept in the
# repository; what a run finds goes to a scratch directory) and runs for
# FLY_FUZZ_SECONDS (30).  A finding fails the test and prints the input in
# base64; it then belongs in the corpus as a regression case.  Needs clang
# with libFuzzer (Debian's clang); skipped without it.
# flytest: timeout=300
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v clang >/dev/null || skip "no clang"
secs=${FLY_FUZZ_SECONDS:-30}
cd "$FLY_TMP"
cat >probe.c <<'C'
#include <stdint.h>
#include <stddef.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
C
clang -fsanitize=fuzzer -o probe probe.c 2>/dev/null || skip "clang has no libFuzzer"

lib_flags=(-O1 -g -std=gnu11 -w -DFLY_PREFIXED_ONLY -DFLY_DEBUG -fvisibility=hidden
           -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free)
clang "${lib_flags[@]}" -fsanitize=fuzzer,undefined -fno-sanitize-recover=undefined \
      -I"$FLY_ROOT/include" -I"$FLY_ROOT/src" -o fuzz_ops "$FLY_ROOT/tests/fuzz/fuzz_ops.c" \
      "$FLY_ROOT"/src/*.c -lpthread || fail "cannot build fuzz_ops"
clang -O1 -g -std=gnu11 -w -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -I"$FLY_ROOT/tools" -o fuzz_trace "$FLY_ROOT/tests/fuzz/fuzz_trace.c" \
      "$FLY_ROOT/tools/trace_read.c" -lm || fail "cannot build fuzz_trace"

run() {
    local name=$1 maxlen=$2
    mkdir -p "found_$name" "art_$name"
    ./"$name" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="art_$name/" -print_final_stats=1 \
        "found_$name" "$FLY_ROOT/tests/fuzz/corpus/${name#fuzz_}" >"$name.log" 2>&1
    local rc=$?
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)" "$name.log" | sed "s/^/$name: /"
    if [ $rc -ne 0 ] || ls "art_$name"/* >/dev/null 2>&1; then
        grep -v "^    #" "$name.log" | tail -n 20
        for a in "art_$name"/*; do
            [ -e "$a" ] && echo "$name finding $(basename "$a"): $(base64 -w0 "$a")"
        done
        fail "$name found a problem (exit $rc)"
    fi
}
# The model's checks fire: a deliberately lost write is found at once.
printf '\001\001\001\000\301\000\000\000' >broken_input
FLY_FUZZ_BREAK=1 ./fuzz_ops broken_input >broken.log 2>&1 &&
    fail "fuzz_ops did not notice a lost write"
grep -q "lost its contents" broken.log || fail "fuzz_ops failed on a lost write without saying so"
run fuzz_ops 512
run fuzz_trace 16384
echo "both targets ran ${secs} s each with no finding"
