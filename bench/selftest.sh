#!/bin/bash
# selftest.sh: prove the benchmark harness works, end to end.
#
#   bench/selftest.sh            (allocators: glibc,flymalloc)
#   BENCH_SELFTEST_ALLOCATORS=glibc,jemalloc bench/selftest.sh
#
# 1. Runs the tiny workload through bench/run.sh against the allocators and
#    checks that the table was printed (one row, one column per allocator
#    that is present), that runs.json, runs.csv, table.txt and index.html
#    were written, that the JSON holds one run per present allocator and as
#    many runs as the CSV has rows, that the HTML holds an <svg> chart, and
#    that an allocator whose library is absent is reported as MISSING.
# 2. Runs every workload at its tiny size, clean and with its result
#    deliberately corrupted (bench/run.sh --corrupt-test): each must pass
#    clean and fail its own check when corrupted.  Same for fastpath.
# Prints one line per check and "N passed, N failed"; exits 1 on a failure.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
allocs="${BENCH_SELFTEST_ALLOCATORS:-glibc,flymalloc}"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/bench-selftest.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { # check NAME COMMAND...
    local name="$1"
    shift
    if "$@" >/dev/null 2>&1; then
        echo "ok    $name"
        pass=$((pass + 1))
    else
        echo "FAIL  $name"
        fail=$((fail + 1))
    fi
}

# ---- 1. the tiny workload end to end ----
out="$tmp/run"
"$here/run.sh" --only tiny --allocators "$allocs" --repeat 1 --out "$out" \
    --so selftest-absent=/nonexistent/libnothing.so >"$tmp/log" 2>&1
rc=$?
check "run.sh exits 0 (got $rc)" test "$rc" -eq 0
present="$(env -u LD_PRELOAD "$py" - "$out/runs.json" <<'PY' 2>/dev/null
import json, sys
print(",".join(a["name"] for a in json.load(open(sys.argv[1]))["meta"]["allocators"]))
PY
)"
check "at least one allocator ran ($present)" test -n "$present"
check "table printed: wall time section" grep -q "^Wall time" "$tmp/log"
check "table printed: peak RSS section" grep -q "^Peak RSS" "$tmp/log"
check "table printed: a row for tiny" grep -q "^tiny " "$tmp/log"
for a in ${present//,/ }; do
    check "table has a column for $a" grep -Eq "^workload .*\b$a\b" "$tmp/log"
done
check "absent --so library reported as MISSING" grep -q "MISSING allocator selftest-absent" "$tmp/log"
if [ ! -e "$repo/build/libflymalloc.so" ] && [[ ",$allocs," == *,flymalloc,* ]]; then
    check "absent flymalloc reported as MISSING" grep -q "MISSING allocator flymalloc" "$tmp/log"
fi
for f in runs.json runs.csv table.txt index.html; do
    check "$f written" test -s "$out/$f"
done
check "index.html has an <svg> chart" grep -q "<svg" "$out/index.html"
check "index.html is self-contained (no http)" bash -c "! grep -Eq '(src|href)=\"https?:' '$out/index.html'"
check "JSON and CSV agree: one run per present allocator" env -u LD_PRELOAD "$py" - "$out" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "runs.json")))
rows = list(csv.DictReader(open(os.path.join(d, "runs.csv"))))
n = len(doc["meta"]["allocators"]) * doc["meta"]["repeat"]
assert len(doc["runs"]) == len(rows) == n, (len(doc["runs"]), len(rows), n)
assert all(r["ok"] for r in doc["runs"])
assert all(r["command"] for r in doc["runs"])
assert {r["allocator"] for r in rows} == {a["name"] for a in doc["meta"]["allocators"]}
for a in doc["meta"]["allocators"]:
    s = doc["summary"]["tiny"][a["name"]]
    assert s["ok"] == 1 and s["wall_median"] > 0 and s["rss_median_kib"] > 0
PY
check "table.txt is the printed table" grep -qF "$(head -1 "$out/table.txt")" "$tmp/log"

# ---- 2. every workload's self-check catches a corrupted result ----
"$here/run.sh" --corrupt-test --allocators "$allocs" >"$tmp/corrupt" 2>&1
while read -r status rest; do
    case "$status" in
    ok) echo "ok    corrupt-test $rest"; pass=$((pass + 1)) ;;
    WRONG) echo "FAIL  corrupt-test $rest"; fail=$((fail + 1)) ;;
    esac
done <"$tmp/corrupt"
check "corrupt-test ran every workload" grep -q " passed, 0 failed" "$tmp/corrupt"
fp="$repo/build/bench/fastpath"
(cd "$repo/bench" && /usr/bin/env python3 -c 'import workloads; workloads.build(["fastpath"], log=lambda m: None)')
check "fastpath passes clean" "$fp" a 6400
check "fastpath fails its check when corrupted" bash -c "'$fp' b 6400 --corrupt; test \$? -eq 2"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
