#!/usr/bin/env bash
# stats_output: the statistics reach users through every door.
#
# Proves, on python3 under LD_PRELOAD: FLYMALLOC_STATS=json with
# FLYMALLOC_STATS_FILE=DIR/s.%p.json writes one JSON object to a file named
# with the process id (nothing on stderr), with allocations > 0, per-class
# entries whose hits + misses = allocations, and a fragmentation summary;
# FLYMALLOC_STATS=1 prints the text form on stderr, ending with the summary;
# glibc's malloc_info() writes well-formed XML with <size> lines, and
# malloc_stats() prints the text form; mallinfo2() reports live bytes and
# mapped bytes consistent with each other.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
py=$(pyexe) || skip "no python3"

work='d = ["x" * 600 + str(i) for i in range(20000)]; print(len(d))'
out=$(env FLYMALLOC_STATS=json FLYMALLOC_STATS_FILE="$FLY_TMP/s.%p.json" LD_PRELOAD="$FLY_SO" \
      "$py" -c "$work" 2>"$FLY_TMP/err")
[ "$out" = 20000 ] || fail "python printed '$out'"
[ ! -s "$FLY_TMP/err" ] || fail "stderr not empty: $(head -c 300 "$FLY_TMP/err")"
files=("$FLY_TMP"/s.*.json)
[ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || fail "expected one s.PID.json, got: ${files[*]}"
case ${files[0]} in *s.[0-9]*.json) ;; *) fail "no pid in ${files[0]}" ;; esac
"$py" - "${files[0]}" <<'PY' || fail "JSON statistics wrong"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["allocations"] > 20000, s["allocations"]
assert s["frees"] <= s["allocations"]
assert s["requested_bytes"] <= s["usable_bytes"]
for c in s["classes"]:
    assert c["hits"] + c["misses"] == c["allocations"], c
assert any(c["allocations"] for c in s["classes"])
assert s["fragmentation"]["summary"].startswith("flymalloc holds "), s["fragmentation"]
PY
echo "ok: json file"

env FLYMALLOC_STATS=1 LD_PRELOAD="$FLY_SO" "$py" -c "$work" >/dev/null 2>"$FLY_TMP/text" ||
    fail "python failed with FLYMALLOC_STATS=1"
grep -q '^flymalloc: allocations [1-9]' "$FLY_TMP/text" || fail "no allocations line"
grep -q '^flymalloc: class ' "$FLY_TMP/text" || fail "no class table"
tail -n 1 "$FLY_TMP/text" | grep -q '^flymalloc: flymalloc holds ' || fail "no summary last"
echo "ok: text"

env LD_PRELOAD="$FLY_SO" "$py" - >"$FLY_TMP/info.out" 2>"$FLY_TMP/info.err" <<'PY' || fail "malloc_info script failed: $(cat "$FLY_TMP/info.err")"
import ctypes, os, sys, xml.etree.ElementTree as ET
libc = ctypes.CDLL(None)
keep = [bytearray(100) for _ in range(5000)]
r, w = os.pipe()
libc.fdopen.restype = ctypes.c_void_p
fp = libc.fdopen(w, b"w")
assert libc.malloc_info(0, ctypes.c_void_p(fp)) == 0
libc.fflush(ctypes.c_void_p(fp))
libc.fclose(ctypes.c_void_p(fp))
xmltext = os.read(r, 1 << 20).decode()
root = ET.fromstring(xmltext)
assert root.tag == "malloc"
sizes = root.findall("./heap/sizes/size")
assert sizes, xmltext
for s in sizes:
    assert int(s.get("from")) <= int(s.get("to")) and int(s.get("count")) > 0
assert libc.malloc_info(1, ctypes.c_void_p(fp)) == -1
class M2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = M2
m = libc.mallinfo2()
assert 0 < m.uordblks <= m.arena, (m.uordblks, m.arena)
assert m.usmblks >= m.uordblks
libc.malloc_stats()
print("ok", len(sizes))
PY
grep -q '^ok ' "$FLY_TMP/info.out" || fail "malloc_info: $(cat "$FLY_TMP/info.out")"
grep -q '^flymalloc: allocations ' "$FLY_TMP/info.err" || fail "malloc_stats printed nothing"
echo "ok: malloc_info, mallinfo2, malloc_stats"
