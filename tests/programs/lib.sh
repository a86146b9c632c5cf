# tests/programs/lib.sh: helpers for the shell tests, sourced by them.
#
# The runner exports FLY_ROOT, FLY_SO (libflymalloc.so), FLY_LAUNCHER and
# FLY_TMP (a fresh directory removed afterwards).
#   fail MSG          print "FAIL: MSG" and exit 1
#   skip MSG          print "SKIP: MSG" and exit 77 (the runner counts a skip)
#   compare NAME CMD...   run CMD on glibc and under LD_PRELOAD=$FLY_SO with
#                     the same stdin (none) and working directory; fail if
#                     the exit status or stdout differ, if the preloaded run
#                     printed any "flymalloc:" line on stderr, or if it did
#                     not produce output at all.  Outputs are kept in
#                     $FLY_TMP/NAME.{ref,fly}.{out,err}.
#   pyexe             the Debian python3 (/usr/bin/python3) if present

fail() {
    echo "FAIL: $*"
    exit 1
}
skip() {
    echo "SKIP: $*"
    exit 77
}

: "${FLY_TMP:?run through tests/run.sh}"
: "${FLY_SO:?run through tests/run.sh}"
[ -f "$FLY_SO" ] || fail "missing $FLY_SO"

pyexe() {
    if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

compare() {
    local name=$1
    shift
    local ref=$FLY_TMP/$name.ref fly=$FLY_TMP/$name.fly rc_ref rc_fly
    "$@" >"$ref.out" 2>"$ref.err" </dev/null
    rc_ref=$?
    env LD_PRELOAD="$FLY_SO" "$@" >"$fly.out" 2>"$fly.err" </dev/null
    rc_fly=$?
    if grep -q '^flymalloc:' "$fly.err"; then
        echo "stderr under flymalloc:"
        grep -m5 '^flymalloc:' "$fly.err"
        fail "$name: flymalloc reported a problem"
    fi
    if [ $rc_ref -ne $rc_fly ]; then
        echo "--- stderr on glibc:"; tail -n 5 "$ref.err"
        echo "--- stderr under flymalloc:"; tail -n 15 "$fly.err"
        fail "$name: exit status $rc_fly under flymalloc, $rc_ref on glibc"
    fi
    if ! cmp -s "$ref.out" "$fly.out"; then
        echo "--- stdout differs (glibc vs flymalloc):"
        diff "$ref.out" "$fly.out" | head -n 20
        echo "--- stderr under flymalloc:"; tail -n 10 "$fly.err"
        fail "$name: output differs under flymalloc"
    fi
    [ -s "$ref.out" ] || fail "$name: the command printed nothing (test error); stderr: $(head -c 300 "$ref.err")"
    [ $rc_ref -eq 0 ] || fail "$name: the command fails even on glibc (status $rc_ref): $(tail -n 3 "$ref.err")"
    echo "ok: $name ($(wc -l <"$ref.out") lines of output match)"
}
