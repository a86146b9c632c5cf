#!/usr/bin/env bash
# profile: a program's allocation profile is stored, and later runs are
# dispatched by it.
#
# Proves, with FLYMALLOC_PROFILE_DIR set to a fresh directory:
#   - a run under `flymalloc profile` (FLYMALLOC_PROFILE=1) writes one
#     profile, named by the program's build-id, and runs default itself;
#   - the next run of a program with two threads allocating hard stays on
#     default from "profile" (objective balanced), runs bulk with
#     FLYMALLOC_OBJECTIVE=time, and `flymalloc policy` says so with the
#     flags; a single-threaded light program stays on default, and runs
#     compact with FLYMALLOC_OBJECTIVE=memory;
#   - FLYMALLOC_POLICY still wins over a stored profile;
#   - a corrupt, a truncated and another program's profile each give one
#     warning and the default policy, and are not believed; a profiling run
#     over a corrupt one warns once and replaces it;
#   - eight processes profiling at once leave a valid profile and no
#     temporary file;
#   - a program without a build-id is not profiled (one warning), and runs.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
export FLYMALLOC_PROFILE_DIR=$FLY_TMP/store
cat >"$FLY_TMP/busy.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static void *work(void *arg)
{
    void *p[64];
    unsigned long sum = 0;
    for (int r = 0; r < 40000; r++) {
        for (int i = 0; i < 64; i++)
            p[i] = malloc(16 + (size_t)((r + i) % 200));
        for (int i = 0; i < 64; i++) {
            sum += (unsigned long)p[i] & 1;
            free(p[i]);
        }
    }
    *(unsigned long *)arg = sum;
    return NULL;
}
int main(void)
{
    pthread_t t[2];
    unsigned long s[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, work, &s[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("done %lu\n", s[0] + s[1]);
    return 0;
}
C
"${CC:-cc}" -O1 -Wl,--build-id -o "$FLY_TMP/busy" "$FLY_TMP/busy.c" -lpthread || fail "cannot compile busy.c"
"${CC:-cc}" -O1 -Wl,--build-id=none -o "$FLY_TMP/noid" "$FLY_TMP/busy.c" -lpthread || fail "cannot compile noid"
printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void) { char *p = malloc(100); printf("%%d\\n", p != NULL); free(p); return 0; }\n' >"$FLY_TMP/light.c"
"${CC:-cc}" -O1 -Wl,--build-id -o "$FLY_TMP/light" "$FLY_TMP/light.c" || fail "cannot compile light.c"

policy_of() {   # the "flymalloc: policy NAME (SOURCE)" line of a run of $@
    env FLYMALLOC_STATS=1 LD_PRELOAD="$FLY_SO" "$@" 2>"$FLY_TMP/err" >/dev/null || fail "$* failed"
    sed -n 's/^flymalloc: policy //p' "$FLY_TMP/err"
}
warnings() { grep -c 'flymalloc: warning' "$FLY_TMP/err"; }

out=$(FLYMALLOC_STATS=1 "$FLY_LAUNCHER" profile -- "$FLY_TMP/busy" 2>&1) || fail "flymalloc profile failed: $out"
grep -q '^flymalloc: policy default (default)' <<<"$out" || fail "the profiling run: $out"
files=("$FLYMALLOC_PROFILE_DIR"/*.prof)
[ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || fail "expected one profile, got: ${files[*]}"
prof=${files[0]}
[ "$(stat -c %s "$prof")" -le 4096 ] || fail "the profile is larger than 4 KiB"
[ "$(policy_of "$FLY_TMP/busy")" = "default (profile)" ] || fail "balanced run: $(cat "$FLY_TMP/err")"
[ "$(warnings)" -eq 0 ] || fail "warnings: $(cat "$FLY_TMP/err")"
export FLYMALLOC_OBJECTIVE=time
[ "$(policy_of "$FLY_TMP/busy")" = "bulk (profile)" ] || fail "dispatched run: $(cat "$FLY_TMP/err")"
p=$("$FLY_LAUNCHER" policy "$FLY_TMP/busy") || fail "flymalloc policy failed"
grep -q ': bulk (profile: ' <<<"$p" && grep -q 'flags:.* threaded alloc-heavy' <<<"$p" ||
    fail "flymalloc policy: $p"
echo "ok: profiled, stored, dispatched to bulk"

[ "$(FLYMALLOC_POLICY=compact policy_of "$FLY_TMP/busy")" = "compact (env)" ] ||
    fail "FLYMALLOC_POLICY did not win over the profile"

"$FLY_LAUNCHER" profile -- "$FLY_TMP/light" >/dev/null 2>&1 || fail "profiling light failed"
[ "$(policy_of "$FLY_TMP/light")" = "default (profile)" ] || fail "light program: $(cat "$FLY_TMP/err")"
[ "$(FLYMALLOC_OBJECTIVE=memory policy_of "$FLY_TMP/light")" = "compact (profile)" ] ||
    fail "light program, objective memory: $(cat "$FLY_TMP/err")"
echo "ok: a light single-threaded program stays on default, and gets compact for memory"

cp "$prof" "$FLY_TMP/good.prof"
printf '\x01' | dd of="$prof" bs=1 seek=100 conv=notrunc 2>/dev/null
[ "$(policy_of "$FLY_TMP/busy")" = "default (default)" ] || fail "a corrupt profile was used"
grep -q 'is corrupt' "$FLY_TMP/err" && [ "$(warnings)" -eq 1 ] || fail "corrupt: $(cat "$FLY_TMP/err")"
env FLYMALLOC_PROFILE=1 LD_PRELOAD="$FLY_SO" "$FLY_TMP/busy" >/dev/null 2>"$FLY_TMP/err" || fail "busy failed"
[ "$(warnings)" -eq 1 ] || fail "a profiling run over a corrupt profile: $(cat "$FLY_TMP/err")"
[ "$(policy_of "$FLY_TMP/busy")" = "bulk (profile)" ] || fail "the corrupt profile was not replaced"
head -c 200 "$FLY_TMP/good.prof" >"$prof"
[ "$(policy_of "$FLY_TMP/busy")" = "default (default)" ] || fail "a truncated profile was used"
grep -q 'is not a flymalloc profile' "$FLY_TMP/err" && [ "$(warnings)" -eq 1 ] ||
    fail "truncated: $(cat "$FLY_TMP/err")"
sh_prof=$(ls "$FLYMALLOC_PROFILE_DIR"/*.prof | grep -v "$(basename "$prof")" | head -n 1)
cp "$sh_prof" "$prof"
[ "$(policy_of "$FLY_TMP/busy")" = "default (default)" ] || fail "another program's profile was used"
grep -q 'another build' "$FLY_TMP/err" && [ "$(warnings)" -eq 1 ] || fail "foreign: $(cat "$FLY_TMP/err")"
echo "ok: corrupt, truncated and foreign profiles are ignored with one warning"

rm -f "$prof"
for i in 1 2 3 4 5 6 7 8; do
    env FLYMALLOC_PROFILE=1 LD_PRELOAD="$FLY_SO" "$FLY_TMP/busy" >/dev/null 2>"$FLY_TMP/err.$i" &
done
wait
cat "$FLY_TMP"/err.* | grep -q 'flymalloc: warning' && fail "concurrent writers warned: $(cat "$FLY_TMP"/err.*)"
ls "$FLYMALLOC_PROFILE_DIR" | grep -q tmp && fail "a temporary file was left: $(ls "$FLYMALLOC_PROFILE_DIR")"
[ "$(policy_of "$FLY_TMP/busy")" = "bulk (profile)" ] || fail "after concurrent writers: $(cat "$FLY_TMP/err")"
echo "ok: eight concurrent writers leave a valid profile"

env FLYMALLOC_PROFILE=1 LD_PRELOAD="$FLY_SO" "$FLY_TMP/noid" >/dev/null 2>"$FLY_TMP/err" || fail "noid failed"
grep -q 'no build-id' "$FLY_TMP/err" || fail "no warning for a program without a build-id"
echo "every profile check passed"
