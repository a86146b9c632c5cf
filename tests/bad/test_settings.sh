#!/usr/bin/env bash
# test_settings: malformed FLYMALLOC_* settings give exactly one warning and
# the default, never a crash.
#
# Proves: a small program that allocates (run with LD_PRELOAD) with
# FLYMALLOC_DECAY_MS set to abc, -5, 99999999999999999999 (overflows 64
# bits) and 12abc, and with FLYMALLOC_TCACHE_BYTES=xyz,
# exits 0 with its normal output and prints exactly one line on stderr, which
# starts with "flymalloc: warning: FLYMALLOC_<NAME>"; with both malformed at
# once, exactly two lines, one per setting; an unknown FLYMALLOC_ name
# warns too.  Controls: no setting, and the
# well-formed FLYMALLOC_DECAY_MS=1000, print nothing on stderr.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"

prog=$FLY_TMP/trivial
cat >"$FLY_TMP/trivial.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
    size_t total = 0;
    for (int i = 0; i < 100000; i++) {
        char *p = malloc((size_t)(i % 5000) + 1);
        if (!p)
            return 3;
        memset(p, 1, (size_t)(i % 5000) + 1);
        total += (size_t)(i % 5000) + 1;
        free(p);
    }
    printf("total %zu\n", total);
    return 0;
}
C
cc -O1 -o "$prog" "$FLY_TMP/trivial.c" || fail "cannot compile the trivial program"
expected=$("$prog")

# check NAME EXPECTED_WARNING_LINES VAR=VALUE...
check() {
    local what=$1 nwarn=$2
    shift 2
    env "$@" LD_PRELOAD="$FLY_SO" "$prog" >"$FLY_TMP/out" 2>"$FLY_TMP/err"
    local rc=$?
    [ $rc -eq 0 ] || fail "$what: exit status $rc; stderr: $(head -c 300 "$FLY_TMP/err")"
    [ "$(cat "$FLY_TMP/out")" = "$expected" ] || fail "$what: stdout '$(head -c 200 "$FLY_TMP/out")', expected '$expected'"
    local lines
    lines=$(wc -l <"$FLY_TMP/err")
    if [ -s "$FLY_TMP/err" ] && [ "$(tail -c 1 "$FLY_TMP/err" | od -An -c | tr -d ' ')" != '\n' ]; then
        lines=$((lines + 1)) # last line without newline
    fi
    [ "$lines" -eq "$nwarn" ] || fail "$what: $lines lines on stderr, expected $nwarn: $(head -c 400 "$FLY_TMP/err")"
    local v name
    for v in "$@"; do
        name=${v%%=*}
        if [ "$nwarn" -gt 0 ]; then
            grep -q "^flymalloc: warning: $name" "$FLY_TMP/err" ||
                fail "$what: no line starting 'flymalloc: warning: $name' on stderr: $(head -c 400 "$FLY_TMP/err")"
        fi
    done
    echo "ok: $what ($nwarn warning lines)"
}

check "no setting" 0 FLYTEST_DUMMY=1
check "FLYMALLOC_DECAY_MS=1000" 0 FLYMALLOC_DECAY_MS=1000
check "FLYMALLOC_DECAY_MS=abc" 1 FLYMALLOC_DECAY_MS=abc
check "FLYMALLOC_DECAY_MS=-5" 1 FLYMALLOC_DECAY_MS=-5
check "FLYMALLOC_DECAY_MS=99999999999999999999" 1 FLYMALLOC_DECAY_MS=99999999999999999999
check "FLYMALLOC_DECAY_MS=12abc" 1 FLYMALLOC_DECAY_MS=12abc
check "FLYMALLOC_TCACHE_BYTES=xyz" 1 FLYMALLOC_TCACHE_BYTES=xyz
check "FLYMALLOC_TRACE_CLOCK=counter" 0 FLYMALLOC_TRACE_CLOCK=counter
check "FLYMALLOC_TRACE_CLOCK=hpet" 1 FLYMALLOC_TRACE_CLOCK=hpet
check "FLYMALLOC_NO_SUCH_SETTING=1 (unknown)" 1 FLYMALLOC_NO_SUCH_SETTING=1
check "both malformed" 2 FLYMALLOC_DECAY_MS=abc FLYMALLOC_TCACHE_BYTES=xyz
exit 0
