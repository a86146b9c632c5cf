#!/usr/bin/env bash
# trace_read: `flymalloc analyze` and `flymalloc replay` read generated
# traces (tests/common/tracegen.py, no recorder needed) exactly.
# flytest: timeout=300
#
# Proves: on a hand-checked 2-thread trace of 15 events (cross-thread free,
# address reuse, realloc moved / in place / from NULL / to 0, a failed
# malloc, SAMPLE, THREAD_EXIT, CLASSES, NOTE; chunks of the two threads
# interleaved and out of sequence order in the file) analyze reports the
# counts, totals, live curve, histograms, threads, classes, samples and
# summary worked out by hand; on random 4-thread traces (all ops, 20000
# events, with and without repeated sequence numbers, with and without an
# end record) every figure equals the generator's own independent
# computation; `replay --exact` on glibc and on flymalloc writes a
# `seq,live_bytes` curve identical to analyze's live curve; the parallel
# replay ends at analyze's final live bytes; --json has the documented
# shape; an allocator handing out overlapping blocks makes the replay fail
# naming the damaged block; and an allocator that does not exist is a clear
# error.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
L=$FLY_LAUNCHER
[ -x "$L" ] || fail "missing launcher $L"
py=$(pyexe) || skip "no python3"
GEN="$py $FLY_ROOT/tests/common/tracegen.py"
T=$FLY_TMP

# analyze's live curve as the CSV replay --curve writes.
live_csv() {
    "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("seq,live_bytes")
for s, b in zip(d["live"]["seq"], d["live"]["bytes"]):
    print("%d,%d" % (s, b))' "$1"
}

# ---- the hand-checked trace ----
$GEN small "$T/small.trace" || fail "tracegen small"
"$L" analyze "$T/small.trace" -o "$T/small.json" 2>"$T/small.err" ||
    fail "analyze small: $(cat "$T/small.err")"
[ ! -s "$T/small.err" ] || fail "analyze small printed: $(cat "$T/small.err")"
"$py" - "$T/small.json" <<'PY' || fail "analyze of the small trace differs from the hand count"
import json, sys
d = json.load(open(sys.argv[1]))
def eq(what, got, want):
    if got != want:
        print("FAIL: %s: got %r, expected %r" % (what, got, want))
        sys.exit(1)
eq("format", (d["format"], d["version"]), ("flymalloc-analyze", 1))
tr = d["trace"]
eq("trace", (tr["trace_version"], tr["pid"], tr["command"], tr["threads"], tr["events"],
             tr["complete"], tr["warnings"], tr["duration_ns"]),
   (1, 777, ["small", "x y"], 2, 15, True, [], 16000))
eq("ops", d["ops"], {"malloc": 3, "calloc": 1, "free": 2, "realloc": 4, "aligned": 1, "failed": 1})
eq("totals", d["totals"], {"allocated_objects": 5, "requested_bytes": 4398,
                           "peak_live_bytes": 3058, "peak_live_objects": 3,
                           "final_live_bytes": 3050, "final_live_objects": 2})
eq("live.seq", d["live"]["seq"], list(range(1, 16)))
eq("live.t_ns", d["live"]["t_ns"], [1000 * i for i in range(1, 16)])
eq("live.bytes", d["live"]["bytes"],
   [100, 140, 340, 240, 1200, 1208, 1058, 1058, 1058, 58, 58, 3058, 3050, 3050, 3050])
eq("live.objects", d["live"]["objects"], [1, 2, 3, 2, 2, 3, 3, 3, 3, 2, 2, 3, 2, 2, 2])
eq("size_histogram", [(b["lo"], b["hi"], b["count"], b["bytes"]) for b in d["size_histogram"]],
   [(0, 16, 1, 8), (17, 32, 0, 0), (33, 64, 2, 90), (65, 128, 1, 100), (129, 256, 1, 200),
    (257, 512, 0, 0), (513, 1024, 1, 1000), (1025, 2048, 0, 0), (2049, 4096, 1, 3000)])
# A lived 3000 ns; B (realloc'd to D) 8000 ns; the second block at A 7000 ns.
eq("lifetime_histogram", d["lifetime_histogram"],
   {"unit": "ns", "buckets": [{"lo": 2048, "hi": 4095, "count": 1},
                              {"lo": 4096, "hi": 8191, "count": 2}], "never_freed": 2})
eq("threads", d["threads"],
   [{"thread": 1, "tid": 1001, "events": 9, "allocations": 5, "bytes": 4308},
    {"thread": 2, "tid": 1002, "events": 6, "allocations": 2, "bytes": 90}])
eq("classes", d["classes"],
   [{"size": 16, "zones": 1, "capacity": 4096, "used": 10, "allocations": 12, "requested_bytes": 150},
    {"size": 48, "zones": 2, "capacity": 2730, "used": 5, "allocations": 9, "requested_bytes": 400}])
eq("samples", d["samples"], {"t_ns": [9000], "rss": [1048576], "live": [1058], "mapped": [65536],
                             "dirty": [4096], "cold": [0], "mmap": [3], "munmap": [1],
                             "madvise": [0], "mremap": [0]})
eq("summary", d["summary"], "2 classes; fragmentation 3% \u2014 fine")
print("ok: small trace: every figure as counted by hand")
PY

# stdout is the default output
"$L" analyze "$T/small.trace" >"$T/small.stdout.json" 2>/dev/null || fail "analyze to stdout"
cmp -s "$T/small.json" "$T/small.stdout.json" || fail "analyze to stdout differs from -o"

for alloc in glibc flymalloc; do
    "$L" replay "$T/small.trace" --exact --allocator $alloc --curve "$T/small.$alloc.csv" \
        --no-syscalls >"$T/small.$alloc.out" 2>&1 ||
        fail "replay small on $alloc: $(tail -n 5 "$T/small.$alloc.out")"
    live_csv "$T/small.json" | cmp -s - "$T/small.$alloc.csv" ||
        fail "replay --exact curve on $alloc differs from analyze's: $(diff <(live_csv "$T/small.json") "$T/small.$alloc.csv" | head -n 6)"
done
echo "ok: small trace: replay --exact curves on glibc and flymalloc equal analyze's"

# ---- random traces against the generator's own figures ----
check_random() {
    local name=$1
    shift
    $GEN random "$T/$name.trace" --expect "$T/$name.exp" "$@" || fail "tracegen random $*"
    "$L" analyze "$T/$name.trace" -o "$T/$name.json" 2>"$T/$name.err" ||
        fail "analyze $name: $(head -c 400 "$T/$name.err")"
    $GEN check "$T/$name.json" "$T/$name.exp" || fail "analyze $name differs from the generator"
}
check_random r1 --seed 1 --events 20000 --threads 4
check_random r2 --seed 2 --events 20000 --threads 4 --chunk-events 7
check_random ties --seed 3 --events 20000 --threads 4 --ties
check_random noend --seed 4 --events 5000 --threads 3 --no-end
grep -q 'no end record: the program did not exit normally' "$T/noend.err" ||
    fail "no warning for a trace without end record: $(cat "$T/noend.err")"
grep -q 'no end record' "$T/noend.json" || fail "the missing end record is not in trace.warnings"
[ ! -s "$T/r1.err" ] || fail "analyze r1 warned: $(head -c 300 "$T/r1.err")"
echo "ok: random traces: analyze equals the generator's figures"

for name in r1 ties; do
    for alloc in glibc flymalloc; do
        "$L" replay "$T/$name.trace" --exact --allocator $alloc --curve "$T/$name.$alloc.csv" \
            --json "$T/$name.$alloc.json" --no-syscalls >"$T/$name.$alloc.out" 2>&1 ||
            fail "replay --exact $name on $alloc: $(tail -n 5 "$T/$name.$alloc.out")"
        live_csv "$T/$name.json" | cmp -s - "$T/$name.$alloc.csv" ||
            fail "replay --exact $name on $alloc: curve differs from analyze's: $(diff <(live_csv "$T/$name.json") "$T/$name.$alloc.csv" | head -n 6)"
    done
done
echo "ok: random traces: replay --exact curves on glibc and flymalloc equal analyze's"

# Parallel order: threads run independently; the end state is the trace's.
"$L" replay "$T/r1.trace" --compare glibc,flymalloc --json "$T/par.json" --no-syscalls \
    >"$T/par.out" 2>&1 || fail "parallel replay: $(tail -n 5 "$T/par.out")"
"$py" - "$T/par.json" "$T/r1.json" "$T/r1.glibc.json" <<'PY' || fail "replay --json is not as documented"
import json, sys
par, an, ex = (json.load(open(f)) for f in sys.argv[1:4])
assert par["format"] == "flymalloc-replay" and par["version"] == 1, par["format"]
assert par["mode"] == "parallel" and ex["mode"] == "exact", (par["mode"], ex["mode"])
assert par["trace"] == an["trace"], "replay's trace object differs from analyze's"
names = [r["allocator"] for r in par["results"]]
assert names == ["glibc", "flymalloc"], names
for r in par["results"]:
    for k in ("allocator", "library", "time_s", "peak_rss_bytes", "baseline_rss_bytes",
              "syscalls", "failed_allocations", "curve"):
        assert k in r, "result has no " + k
    assert r["time_s"] > 0 and r["peak_rss_bytes"] >= r["baseline_rss_bytes"] > 0, r["time_s"]
    assert r["failed_allocations"] == 0, r["failed_allocations"]
    c = r["curve"]
    assert sorted(c) == ["live", "rss", "seq", "t_ns"], sorted(c)
    assert len(c["live"]) == len(an["live"]["bytes"]), (len(c["live"]), len(an["live"]["bytes"]))
    assert c["live"][-1] == an["totals"]["final_live_bytes"], (c["live"][-1], an["totals"])
    assert all(x > 0 for x in c["rss"]), "an RSS sample of 0"
assert par["results"][0]["library"] is None and par["results"][1]["library"].endswith("libflymalloc.so")
assert set(par["ratios"]["time"]) == {"glibc", "flymalloc"}
assert min(par["ratios"]["time"].values()) == 1.0 and min(par["ratios"]["peak_rss"].values()) == 1.0
print("ok: parallel replay json")
PY

# An allocator that hands out overlapping blocks is caught by the content
# checks: the replay fails, naming the damage.
cat >"$T/broken.c" <<'C'
/* A broken malloc: every block starts at one of two places in one arena. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
static _Alignas(4096) unsigned char arena[1 << 22];
static unsigned long calls;
void *malloc(size_t n) { return n < sizeof(arena) - 8192 ? arena + 64 * (calls++ % 2) : NULL; }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
void *realloc(void *p, size_t n) { void *q = malloc(n); if (p && q) memmove(q, p, n); return q; }
void *aligned_alloc(size_t a, size_t n) { (void)a; return arena + 4096 * (calls++ % 2 + 1) + 0 * n; }
void *memalign(size_t a, size_t n) { return aligned_alloc(a, n); }
int posix_memalign(void **out, size_t a, size_t n) { *out = aligned_alloc(a, n); return 0; }
C
cc -O1 -shared -fPIC -fno-builtin -o "$T/libbroken.so" "$T/broken.c" || fail "cannot build the broken allocator"
out=$("$L" replay "$T/r1.trace" --exact --allocator "$T/libbroken.so" --no-syscalls 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "replay on an allocator that overlaps blocks: status $rc: $(echo "$out" | tail -n 5)"
echo "$out" | grep -q 'corrupted or lost' || fail "replay on a broken allocator says: $(echo "$out" | tail -n 5)"
echo "ok: a broken allocator is caught: $(echo "$out" | grep -m1 'corrupted or lost' | cut -c1-160)"

# Allocator errors are clear and come before any work.
out=$("$L" replay "$T/small.trace" --allocator /nonexistent/libnothing.so 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "replay with a missing library: status $rc"
echo "$out" | grep -q 'not found' || fail "replay with a missing library says: $out"
out=$("$L" replay "$T/small.trace" --allocator nosuch 2>&1)
echo "$out" | grep -q 'unknown allocator nosuch' || fail "replay --allocator nosuch says: $out"
echo "ok: allocator errors"
