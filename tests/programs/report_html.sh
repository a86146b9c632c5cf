#!/usr/bin/env bash
# report_html: `flymalloc report` writes one self-contained HTML page that
# renders in a real browser.  flytest: timeout=400
#
# Every page is loaded in headless Chromium by report_check.py (see there):
# no URL or external resource, no JavaScript exception, console error or
# network request (also while hovering the charts), all six figures
# (live-rss, sizes, lifetimes, classes, syscalls, fragmentation) with drawn,
# non-degenerate SVG or, for an empty trace, explanatory text; a screenshot
# that is not one colour.
#
# Proves, from the checked-in fixtures (tests/programs/fixtures/):
#   - the full page (analysis and a 5-allocator replay) passes, also with
#     JavaScript disabled (the charts are plain SVG);
#   - without a replay, and for a trace with no events at all, the page is
#     still valid and explains what is missing;
#   - the checks catch a broken page: an uncaught JavaScript error, a
#     console error, an external URL, and a chart whose marks were removed
#     are each reported as failures;
#   - report.py runs `BIN analyze FILE` and `BIN replay FILE --compare A,B
#     --json TMP` (checked with a stand-in BIN), writes FILE.html by default,
#     and when analyze fails exits non-zero, passes analyze's message through
#     and writes no page.
# And for real: `flymalloc trace` of a Python workload, `flymalloc analyze`
# of it, and `flymalloc report T --compare glibc,flymalloc` produce a page
# that passes the same checks with a replay panel and comparison table; so
# does the trace of /bin/true, which allocates nothing (explanations instead
# of charts).
# Skips (77) only when chromium is not installed.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
py=$(pyexe) || fail "no python3"
L=$FLY_LAUNCHER
REPORT=$FLY_ROOT/tools/report.py
CHECK=$FLY_ROOT/tests/programs/report_check.py
FIX=$FLY_ROOT/tests/programs/fixtures
T=$FLY_TMP

[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 ||
    skip "chromium is not installed (apt-get install chromium)"

# page_ok NAME PAGE CHECK-ARGS...: the browser checks pass.
page_ok() {
    local name=$1 page=$2
    shift 2
    "$py" "$CHECK" "$page" "$@" >"$T/$name.check" 2>&1
    local rc=$?
    sed "s/^/    [$name] /" "$T/$name.check"
    [ $rc -eq 77 ] && skip "chromium is not usable: $(tail -n 1 "$T/$name.check")"
    [ $rc -eq 0 ] || fail "$name: $(grep -m1 '^FAIL' "$T/$name.check")"
    echo "ok: $name"
}

# page_bad NAME PAGE PATTERN CHECK-ARGS...: the checks fail, saying PATTERN.
page_bad() {
    local name=$1 page=$2 pattern=$3
    shift 3
    "$py" "$CHECK" "$page" "$@" >"$T/$name.check" 2>&1
    local rc=$?
    [ $rc -eq 1 ] || fail "$name: the check did not catch it (status $rc): $(tail -n 3 "$T/$name.check")"
    grep -q "^FAIL: .*$pattern" "$T/$name.check" ||
        fail "$name: failed for another reason: $(grep -m1 '^FAIL' "$T/$name.check")"
    echo "ok: $name is caught: $(grep -m1 '^FAIL' "$T/$name.check" | cut -c1-150)"
}

# report ARGS...: runs report.py; fails on a non-zero status.
report() {
    "$py" "$REPORT" "$@" >"$T/report.out" 2>&1 ||
        fail "report.py $*: status $?: $(tail -n 5 "$T/report.out")"
}

# ---- (a) fixtures -------------------------------------------------------
report --analysis "$FIX/report-analysis.json" --replay "$FIX/report-replay.json" -o "$T/full.html"
page_ok fixture-full "$T/full.html" --replay --screenshot "$T/full.png"
page_ok fixture-full-nojs "$T/full.html" --replay --no-js
grep -q 'id="comparison"' "$T/full.html" || fail "no comparison table in the page"
for a in glibc jemalloc mimalloc tcmalloc flymalloc; do
    grep -q ">$a<" "$T/full.html" || fail "allocator $a missing from the page"
done

report --analysis "$FIX/report-analysis.json" -o "$T/plain.html" --title "Plain <report> & co"
page_ok fixture-no-replay "$T/plain.html"
grep -q '<title>Plain &lt;report&gt; &amp; co</title>' "$T/plain.html" || fail "--title not used (escaped)"
! grep -q 'id="comparison"' "$T/plain.html" || fail "comparison table without a replay"

report --analysis "$FIX/report-empty.json" -o "$T/empty.html"
page_ok fixture-empty "$T/empty.html" --empty
grep -qi 'no per-class data (trace not recorded by flymalloc)' "$T/empty.html" ||
    fail "empty page does not explain the missing classes"

# The checks must catch a broken page.
sed 's#</body>#<script>reportIsBroken(1);</script></body>#' "$T/full.html" >"$T/bad-js.html"
page_bad bad-js "$T/bad-js.html" "JavaScript exception" --replay
sed 's#</body>#<script>console.error("boom");</script></body>#' "$T/full.html" >"$T/bad-console.html"
page_bad bad-console "$T/bad-console.html" "console.error" --replay
sed 's#</main>#<img alt="" src="https://example.invalid/x.png"></main>#' "$T/full.html" >"$T/bad-url.html"
page_bad bad-url "$T/bad-url.html" "URL" --replay
"$py" - "$T/full.html" "$T/bad-chart.html" <<'EOF'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
start = page.index('<figure class="chart" id="sizes">')
end = page.index("</figure>", start)
fig = re.sub(r"<rect[^>]*>(<title>.*?</title></rect>)?", "", page[start:end])
open(sys.argv[2], "w", encoding="utf-8").write(page[:start] + fig + page[end:])
EOF
page_bad bad-chart "$T/bad-chart.html" "figure sizes" --replay

# Running flymalloc: a stand-in launcher records its arguments.
cat >"$T/fakefly" <<EOF
#!/bin/sh
echo "\$@" >>"$T/fakefly.args"
case \$1 in
analyze) cat "$FIX/report-analysis.json" ;;
replay)
    while [ \$# -gt 0 ]; do
        if [ "\$1" = --json ]; then cp "$FIX/report-replay.json" "\$2"; fi
        shift
    done
    echo "replay table on stdout" ;;
esac
EOF
chmod +x "$T/fakefly"
echo "not really a trace" >"$T/prog.trace"
report --flymalloc "$T/fakefly" "$T/prog.trace" --compare glibc,flymalloc
[ -s "$T/prog.trace.html" ] || fail "default output FILE.html not written"
grep -qx "analyze $T/prog.trace" "$T/fakefly.args" || fail "analyze not run as expected: $(cat "$T/fakefly.args")"
grep -q "^replay $T/prog.trace --compare glibc,flymalloc --json " "$T/fakefly.args" ||
    fail "replay not run as expected: $(cat "$T/fakefly.args")"
page_ok fake-launcher "$T/prog.trace.html" --replay

cat >"$T/badfly" <<'EOF'
#!/bin/sh
echo "flymalloc analyze: prog.trace: corrupt chunk at offset 4096 (checksum)" >&2
exit 1
EOF
chmod +x "$T/badfly"
"$py" "$REPORT" --flymalloc "$T/badfly" "$T/prog.trace" -o "$T/never.html" >"$T/bad.out" 2>&1
rc=$?
[ $rc -ne 0 ] || fail "report.py succeeded although analyze failed"
grep -q 'corrupt chunk at offset 4096' "$T/bad.out" || fail "analyze's message not passed through: $(cat "$T/bad.out")"
grep -q 'analyze.*failed' "$T/bad.out" || fail "no clear failure message: $(cat "$T/bad.out")"
[ ! -e "$T/never.html" ] || fail "a page was written although analyze failed"
echo "ok: a failing analyze: status $rc, $(grep -m1 failed "$T/bad.out")"

# ---- (b) a real trace ---------------------------------------------------
[ -x "$L" ] || fail "missing launcher $L"
cat >"$T/work.py" <<'EOF'
import random
r = random.Random(7)
keep, big = [], []
for i in range(60000):
    keep.append(bytes(r.randrange(1, 600)))
    if len(keep) > 8000:
        del keep[r.randrange(len(keep))]
    if i % 2000 == 0:
        big.append(bytearray(r.randrange(100000, 3000000)))
    if len(big) > 6:
        big.pop(0)
d = {str(i): [i] * 8 for i in range(50000)}
del d, keep, big
print("done")
EOF
env PYTHONMALLOC=malloc "$L" trace -o "$T/real.trace" -- "$py" "$T/work.py" >"$T/trace.out" 2>&1 ||
    fail "flymalloc trace failed: $(tail -n 5 "$T/trace.out")"
[ -s "$T/real.trace" ] || fail "flymalloc trace wrote no trace"
"$L" analyze "$T/real.trace" >"$T/real.json" 2>"$T/analyze.err" ||
    fail "flymalloc analyze failed: $(tail -n 5 "$T/analyze.err")"
"$L" report "$T/real.trace" --compare glibc,flymalloc -o "$T/real.html" >"$T/real.out" 2>&1 ||
    fail "flymalloc report failed: $(tail -n 8 "$T/real.out")"
page_ok real "$T/real.html" --replay
grep -q 'work.py' "$T/real.html" || fail "the real page does not name the traced command"
echo "ok: real trace of $(grep -o '"events":[0-9]*' "$T/real.json" | head -n 1)"

# A program that allocates nothing still gets a valid page.
"$L" trace -o "$T/true.trace" -- /bin/true >"$T/true.out" 2>&1 ||
    fail "flymalloc trace -- /bin/true failed: $(tail -n 5 "$T/true.out")"
"$L" report "$T/true.trace" --compare glibc,flymalloc -o "$T/true.html" >"$T/true.out" 2>&1 ||
    fail "flymalloc report of /bin/true failed: $(tail -n 8 "$T/true.out")"
page_ok real-empty "$T/true.html" --empty --replay
