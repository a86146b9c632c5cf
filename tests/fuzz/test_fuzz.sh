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
# FLY_FUZZ_SECONDS (30); fuzz_ops runs again for half that under the arena
# policy, under NUMA interleaving over two synthetic nodes and in the
# secure mode.  A finding fails the test and prints the input in
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

# run TARGET MAXLEN SECONDS [LABEL]: LABEL names the run's scratch files
# (a target run again under other settings).
run() {
    local name=$1 maxlen=$2 time=$3 label=${4:-$1}
    mkdir -p "found_$label" "art_$label"
    ./"$name" -max_total_time="$time" -max_len="$maxlen" -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="art_$label/" -print_final_stats=1 \
        "found_$label" "$FLY_ROOT/tests/fuzz/corpus/${name#fuzz_}" >"$label.log" 2>&1
    local rc=$?
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)" "$label.log" |
        sed "s/^/$label: /"
    if [ $rc -ne 0 ] || ls "art_$label"/* >/dev/null 2>&1; then
        grep -v "^    #" "$label.log" | tail -n 20
        for a in "art_$label"/*; do
            [ -e "$a" ] && echo "$label finding $(basename "$a"): $(base64 -w0 "$a")"
        done
        fail "$label found a problem (exit $rc)"
    fi
}
# The model's checks fire: a deliberately lost write is found at once.
printf '\001\001\001\000\301\000\000\000' >broken_input
FLY_FUZZ_BREAK=1 ./fuzz_ops broken_input >broken.log 2>&1 &&
    fail "fuzz_ops did not notice a lost write"
grep -q "lost its contents" broken.log || fail "fuzz_ops failed on a lost write without saying so"
run fuzz_ops 512 "$secs"
# The arena policy's bump engine, and NUMA interleaving over two synthetic
# nodes, each for half the time.
FLYMALLOC_POLICY=arena run fuzz_ops 512 $((secs / 2)) fuzz_ops_arena
FLYMALLOC_NUMA=interleave FLYMALLOC_NUMA_TOPOLOGY=0/1 run fuzz_ops 512 $((secs / 2)) fuzz_ops_numa
FLYMALLOC_SECURE=1 run fuzz_ops 512 $((secs / 2)) fuzz_ops_secure
run fuzz_trace 16384 "$secs"
echo "fuzz_ops ran ${secs} s, and half that under arena, NUMA interleave and the secure mode; fuzz_trace ${secs} s; no finding"
