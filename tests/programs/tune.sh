#!/usr/bin/env bash
# tune: `flymalloc tune` runs a program under every policy, marks the best
# for the objective and pins it in the program's profile; `flymalloc seed`
# pins a chosen one, `flymalloc forget` removes the profile.
#
# Proves, with FLYMALLOC_PROFILE_DIR set to a fresh directory: tune prints
# one row per policy of `flymalloc policies`, exactly one marked, and the
# program's next run (no FLYMALLOC_POLICY) runs the marked policy from
# "profile"; seed pins another policy and the next run follows it; forget
# brings the default back; `tune TRACE` replays a trace of the program
# (flymalloc trace) under every policy instead of running it, prints the
# same table and pins its winner for the program the trace recorded; a
# driver that runs the program as a child gets the winner pinned for
# both, the child (most of the allocations) named by its profile; a
# name that is no policy, a program without a build-id, a command that
# fails and a damaged trace are refused with a message.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
export FLYMALLOC_PROFILE_DIR=$FLY_TMP/store
cat >"$FLY_TMP/work.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    void *p[256];
    unsigned long sum = 0;
    for (int r = 0; r < 4000; r++) {
        for (int i = 0; i < 256; i++)
            p[i] = malloc(16 + (size_t)((r * 7 + i) % 3000));
        for (int i = 0; i < 256; i++) {
            sum += (unsigned long)p[i] & 16;
            free(p[i]);
        }
    }
    printf("%lu\n", sum);
    return argc > 1 ? atoi(argv[1]) : 0;
}
C
"${CC:-cc}" -O1 -Wl,--build-id -o "$FLY_TMP/work" "$FLY_TMP/work.c" || fail "cannot compile work.c"
"${CC:-cc}" -O1 -Wl,--build-id=none -o "$FLY_TMP/noid" "$FLY_TMP/work.c" || fail "cannot compile noid"

policy_of() {
    env FLYMALLOC_STATS=1 LD_PRELOAD="$FLY_SO" "$@" 2>"$FLY_TMP/err" >/dev/null || fail "$* failed"
    sed -n 's/^flymalloc: policy //p' "$FLY_TMP/err"
}

# check_tune LABEL ARGS...: tune prints a row per policy and one winner,
# and the program's next run gets the winner from its profile.
check_tune() {
    local label=$1
    shift
    out=$("$FLY_LAUNCHER" tune --repeat 1 "$@" 2>/dev/null) || fail "$label failed: $out"
    echo "$out"
    rows=$(grep -cE '^[* ] [a-z]+ +[0-9.]+ +[0-9.]+ MiB +[0-9.]+$' <<<"$out")
    [ "$rows" -eq "$("$FLY_LAUNCHER" policies --names | wc -l)" ] || fail "$label: expected a row per policy"
    [ "$(grep -c '^\* ' <<<"$out")" -eq 1 ] || fail "$label: expected exactly one winner"
    winner=$(sed -n 's/^\* \([a-z]*\) .*/\1/p' <<<"$out")
    [ "$(policy_of "$FLY_TMP/work")" = "$winner (profile)" ] || fail "after $label: $(cat "$FLY_TMP/err")"
    echo "ok: $label pinned $winner"
}

check_tune tune --objective time -- "$FLY_TMP/work"

# A driver that runs the work as a child (as gcc runs cc1): tune pins the
# winner for the driver and for the child, which made nearly all the
# allocations, and the child's next run, on its own, gets it.
"$FLY_LAUNCHER" forget "$FLY_TMP/work" >/dev/null || fail "forget failed"
printf '#include <stdlib.h>\nint main(void) { return system("%s") != 0; }\n' "$FLY_TMP/work >/dev/null" >"$FLY_TMP/driver.c"
"${CC:-cc}" -O1 -Wl,--build-id -o "$FLY_TMP/driver" "$FLY_TMP/driver.c" || fail "cannot compile driver.c"
out=$("$FLY_LAUNCHER" tune --repeat 1 --objective memory -- "$FLY_TMP/driver" 2>/dev/null) || fail "tune driver: $out"
echo "$out"
winner=$(sed -n 's/^\* \([a-z]*\) .*/\1/p' <<<"$out")
grep -q "^work, which it runs ([0-9]*% of the allocations): runs under $winner from now on" <<<"$out" ||
    fail "tune driver did not pin its child: $out"
[ "$(policy_of "$FLY_TMP/work")" = "$winner (profile)" ] || fail "the child after tune driver: $(cat "$FLY_TMP/err")"
"$FLY_LAUNCHER" policy "$FLY_TMP/work" | grep -q '^profile: 1 run(s)' || fail "the child's profile was not learned"
"$FLY_LAUNCHER" forget "$FLY_TMP/driver" >/dev/null || fail "forget driver failed"
echo "ok: tune pinned $winner for the driver and its child"

"$FLY_LAUNCHER" forget "$FLY_TMP/work" >/dev/null || fail "forget failed"
"$FLY_LAUNCHER" trace -o "$FLY_TMP/work.trace" -- "$FLY_TMP/work" >/dev/null || fail "trace failed"
check_tune "tune TRACE" "$FLY_TMP/work.trace"
grep -q "replaying $FLY_TMP/work.trace" <<<"$out" || fail "tune TRACE does not say it replays"
head -c 4000 "$FLY_TMP/work.trace" >"$FLY_TMP/cut.trace"
"$FLY_LAUNCHER" tune --repeat 1 "$FLY_TMP/cut.trace" >/dev/null 2>"$FLY_TMP/msg" && fail "tuned a damaged trace"
grep -q 'flymalloc tune: ' "$FLY_TMP/msg" || fail "damaged trace: $(cat "$FLY_TMP/msg")"

other=compact
[ "$winner" = compact ] && other=bulk
"$FLY_LAUNCHER" seed "$FLY_TMP/work" "$other" >/dev/null || fail "seed failed"
[ "$(policy_of "$FLY_TMP/work")" = "$other (profile)" ] || fail "after seed: $(cat "$FLY_TMP/err")"
"$FLY_LAUNCHER" policy "$FLY_TMP/work" | grep -q "pinned: $other" || fail "policy does not show the pin"
"$FLY_LAUNCHER" forget "$FLY_TMP/work" >/dev/null || fail "forget failed"
[ "$(policy_of "$FLY_TMP/work")" = "default (default)" ] || fail "after forget: $(cat "$FLY_TMP/err")"
echo "ok: seed and forget"

"$FLY_LAUNCHER" seed "$FLY_TMP/work" nope 2>"$FLY_TMP/msg"
[ $? -eq 2 ] && grep -q 'nope is not a policy' "$FLY_TMP/msg" || fail "a bad policy name: $(cat "$FLY_TMP/msg")"
"$FLY_LAUNCHER" seed "$FLY_TMP/noid" bulk 2>"$FLY_TMP/msg" && fail "seeded a program without a build-id"
grep -q 'has no build-id' "$FLY_TMP/msg" || fail "no build-id: $(cat "$FLY_TMP/msg")"
"$FLY_LAUNCHER" tune --repeat 1 -- "$FLY_TMP/work" 3 >/dev/null 2>"$FLY_TMP/msg" && fail "tuned a failing command"
grep -q 'failed under policy' "$FLY_TMP/msg" || fail "failing command: $(cat "$FLY_TMP/msg")"
ls "$FLYMALLOC_PROFILE_DIR" 2>/dev/null | grep -q . && fail "a failed tune left a profile"
echo "ok: bad input refused"
