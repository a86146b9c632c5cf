#!/usr/bin/env bash
# launcher: `flymalloc run [--stats] -- CMD ARGS...` runs CMD on flymalloc.
#
# Proves: `run -- /bin/echo hi` prints hi and nothing on stderr; arguments
# with spaces and special characters arrive unchanged; the exit status of
# the command is passed through; LD_PRELOAD in the command is an absolute
# path to libflymalloc.so, also when the launcher is started from another
# directory; the command really runs on flymalloc (the fly_* symbols are
# visible to it); `run --stats -- python3 -c 'print(1)'` prints 1 on stdout
# and a summary on stderr reporting a non-zero number of allocations; and
# FLYMALLOC_STATS=1 under plain LD_PRELOAD prints such a summary at exit;
# `flymalloc numa` prints a synthetic topology exactly, and node 0 here.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
L=$FLY_LAUNCHER
[ -x "$L" ] || fail "missing launcher $L"
py=$(pyexe) || skip "no python3"

out=$("$L" run -- /bin/echo hi 2>"$FLY_TMP/err")
rc=$?
[ $rc -eq 0 ] && [ "$out" = hi ] || fail "run -- /bin/echo hi: status $rc, stdout '$out'"
[ ! -s "$FLY_TMP/err" ] || fail "run -- /bin/echo hi printed on stderr: $(head -c 300 "$FLY_TMP/err")"
echo "ok: echo"

out=$("$L" run -- printf '%s|' 'a b' '$HOME' '' "x'y" 2>&1)
[ "$out" = "a b|\$HOME||x'y|" ] || fail "arguments changed: '$out'"
echo "ok: arguments"

"$L" run -- sh -c 'exit 3' >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ] || fail "exit status 3 came back as $rc"
echo "ok: exit status"

pre=$(cd / && "$L" run -- sh -c 'echo "$LD_PRELOAD"')
case $pre in
/*libflymalloc.so*) ;;
*) fail "LD_PRELOAD in the command is '$pre'" ;;
esac
for f in $(echo "$pre" | tr ': ' '\n\n'); do
    [ -f "$f" ] || fail "LD_PRELOAD names a missing file: $f"
done
echo "ok: LD_PRELOAD=$pre"

out=$(cd / && "$L" run -- "$py" -c 'import ctypes; print(hasattr(ctypes.CDLL(None), "fly_stats_get"))' 2>&1)
[ "$out" = True ] || fail "command run by the launcher does not see flymalloc: '$out'"
echo "ok: command runs on flymalloc"

out=$("$L" run --stats -- "$py" -c 'print(1)' 2>"$FLY_TMP/stats")
rc=$?
[ $rc -eq 0 ] && [ "$out" = 1 ] || fail "run --stats: status $rc, stdout '$out'"
grep -Eiq 'allocations[^0-9]*[1-9]|malloc[^0-9]*[1-9]' "$FLY_TMP/stats" ||
    fail "run --stats printed no allocation count on stderr: $(head -c 400 "$FLY_TMP/stats")"
echo "ok: --stats: $(grep -Ei -m1 'allocations|malloc' "$FLY_TMP/stats")"

env FLYMALLOC_STATS=1 LD_PRELOAD="$FLY_SO" "$py" -c 'x = [str(i) for i in range(100000)]' 2>"$FLY_TMP/stats2"
rc=$?
[ $rc -eq 0 ] || fail "FLYMALLOC_STATS=1: status $rc"
grep -Eiq 'allocations[^0-9]*[1-9]|malloc[^0-9]*[1-9]' "$FLY_TMP/stats2" ||
    fail "FLYMALLOC_STATS=1 printed no allocation count at exit: $(head -c 400 "$FLY_TMP/stats2")"
echo "ok: FLYMALLOC_STATS=1"

# `flymalloc numa` prints the topology the library reads, seams included.
out=$(FLYMALLOC_NUMA_TOPOLOGY='0-1/2-3/;10,21,30/21,10,30/30,30,10' "$L" numa) || fail "numa failed"
want='topology: synthetic (FLYMALLOC_NUMA_TOPOLOGY or FLYMALLOC_NUMA_SYSFS)
online: 0-2
with memory: 0-2
allowed to this process: 0-2
node 0: cpus 0-1; distances 10 21 30
node 1: cpus 2-3; distances 21 10 30
node 2: cpus none; distances 30 30 10'
[ "$out" = "$want" ] || fail "flymalloc numa printed: $out"
"$L" numa | grep -q '^node 0: cpus ' || fail "flymalloc numa shows no node 0 on this machine"
echo "ok: flymalloc numa"
