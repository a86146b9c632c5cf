#!/usr/bin/env bash
# tests/run.sh: flymalloc's test runner (`make test` calls it after `make all`).
#
# Compiles every test into build/tests/, runs each under a timeout, prints one
# line per test (PASS/FAIL/SKIP name, with a short reason and the tail of the
# output on failure) and ends with exactly the line `N passed, N failed`.
# Exit status is non-zero if any test failed.
#
# Kinds of test, found by path:
#   tests/api/test_*.c      prefixed API; linked with libflymalloc-prefixed.a
#   tests/unit/test_*.c     internal modules; like api, plus -Isrc
#   tests/preload/test_*.c  plain libc programs run with LD_PRELOAD=libflymalloc.so;
#   tests/preload/test_*.cc   those whose source contains the marker
#                             "flytest: static" also run linked with libflymalloc.a
#   tests/bad/test_*_api.c  bad input through the prefixed API
#   tests/bad/test_*.c      (others) bad input under LD_PRELOAD
#   tests/debug/test_*.c    linked with libflymalloc-ubsan.a (FLY_DEBUG assertions + UBSan)
#   tests/tsan/test_*.c     linked with libflymalloc-tsan.a (-Isrc), -fsanitize=thread,undefined;
#                             any sanitizer report fails the test
#   tests/*/test_*.sh, tests/programs/*.sh   shell tests (exit 0 pass, 77 skip);
#                           tests/static/ checks the source itself (layering)
# A source may say "flytest: timeout=SECONDS" to change its timeout (default 120).
#
# Usage: bash tests/run.sh [PATTERN...]   runs tests whose name contains a PATTERN.
# The libraries can be overridden (for example to validate the tests against
# a glibc shim) with FLY_PREFIXED_LIB, FLY_STATIC_LIB, FLY_SO, FLY_TSAN_LIB.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$ROOT/build
OUT=$BUILD/tests
mkdir -p "$OUT"

CC=${CC:-cc}
CXX=${CXX:-c++}
TFLAGS="-std=gnu11 -Wall -Wextra -Werror -O1 -g -Itests/common"
TXXFLAGS="-std=gnu++17 -Wall -Wextra -Werror -O1 -g -Itests/common"
# Preload and bad-input tests call malloc by its libc name: keep the compiler
# from folding or removing those calls.
NOBUILTIN="-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free"

export FLY_ROOT=$ROOT
export FLY_BUILD=$BUILD
export FLY_SO=${FLY_SO:-$BUILD/libflymalloc.so}
export FLY_STATIC_LIB=${FLY_STATIC_LIB:-$BUILD/libflymalloc.a}
export FLY_PREFIXED_LIB=${FLY_PREFIXED_LIB:-$BUILD/libflymalloc-prefixed.a}
export FLY_TSAN_LIB=${FLY_TSAN_LIB:-$BUILD/libflymalloc-tsan.a}
export FLY_DEBUG_LIB=${FLY_DEBUG_LIB:-$BUILD/libflymalloc-ubsan.a}
export FLY_LAUNCHER=${FLY_LAUNCHER:-$BUILD/flymalloc}
export FLY_TESTBIN=$OUT
# Tests must not inherit settings from the caller's environment.
for v in $(env | sed -n 's/^\(FLYMALLOC_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
PATTERNS=("$@")
START=$(date +%s)

selected() {
    [ ${#PATTERNS[@]} -eq 0 ] && return 0
    local p
    for p in "${PATTERNS[@]}"; do
        case "$1" in *"$p"*) return 0 ;; esac
    done
    return 1
}

timeout_of() {
    local t
    t=$(sed -n 's/.*flytest: timeout=\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    echo "${t:-120}"
}

# report NAME STATUS REASON LOGFILE SECONDS
report() {
    local name=$1 status=$2 reason=$3 log=$4 secs=$5
    case $status in
    pass)
        PASSED=$((PASSED + 1))
        echo "PASS $name (${secs}s)"
        ;;
    skip)
        SKIPPED=$((SKIPPED + 1))
        echo "SKIP $name: $reason"
        ;;
    *)
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        echo "FAIL $name: $reason (${secs}s)"
        if [ -s "$log" ]; then
            tail -n 25 "$log" | sed 's/^/    | /'
        fi
        ;;
    esac
}

# run_test NAME LOG TIMEOUT CMD... : runs CMD and reports.  Environment for
# the command is set by the caller with `env`.
run_test() {
    local name=$1 log=$2 tmo=$3
    shift 3
    local t0 t1 rc reason status=pass
    t0=$(date +%s.%N)
    timeout -k 10 "$tmo" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ]; then
        status=pass
    elif [ $rc -eq 77 ]; then
        status=skip
        reason=$(grep -m1 -i 'skip' "$log" | cut -c1-200)
        reason=${reason:-skipped}
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        status=fail
        reason="timed out after ${tmo}s"
    elif [ $rc -gt 128 ]; then
        status=fail
        reason="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
    else
        status=fail
        reason="exit status $rc"
    fi
    if [ $status = pass ] && [ -n "${SANITIZED:-}" ] &&
        grep -q -E 'WARNING: ThreadSanitizer|runtime error:|ERROR: (ThreadSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer)' "$log"; then
        status=fail
        reason="sanitizer report"
    fi
    if [ $status = fail ]; then
        local first
        first=$(grep -m1 -E 'CHECK failed|^FAIL' "$log" | cut -c1-200)
        [ -z "$first" ] && first=$(grep -m1 -E 'Sanitizer|runtime error|flymalloc:|[Ee]rror' "$log" | cut -c1-200)
        [ -n "$first" ] && reason="$reason: $first"
    fi
    report "$name" "$status" "${reason:-}" "$log" "$secs"
}

# compile NAME LOG CMD... : compiles; on error reports FAIL and returns 1.
compile() {
    local name=$1 log=$2
    shift 2
    if ! "$@" >"$log" 2>&1; then
        report "$name" fail "compile error" "$log" 0
        return 1
    fi
    return 0
}

need_file() {
    local name=$1 file=$2
    if [ ! -f "$file" ]; then
        echo "missing $file (run make)" >"$OUT/$(echo "$name" | tr / _).log"
        report "$name" fail "missing $file (run make)" /dev/null 0
        return 1
    fi
    return 0
}

# ---- C tests against the prefixed library (api, unit, bad *_api) --------
run_prefixed_c() {
    local src=$1 extra=$2
    local name=${src#tests/}
    name=${name%.c}
    selected "$name" || return 0
    local bin=$OUT/${name//\//_} log=$OUT/${name//\//_}.log
    need_file "$name" "$FLY_PREFIXED_LIB" || return 0
    compile "$name" "$log" $CC $TFLAGS $extra -Iinclude -o "$bin" "$src" \
        "$FLY_PREFIXED_LIB" -lpthread -lm || return 0
    run_test "$name" "$log" "$(timeout_of "$src")" "$bin"
}

# ---- the debug build: FLY_DEBUG assertions and UBSan ---------------------
run_debug_c() {
    local src=$1
    local name=${src#tests/}
    name=${name%.c}
    selected "$name" || return 0
    local bin=$OUT/${name//\//_} log=$OUT/${name//\//_}.log
    need_file "$name" "$FLY_DEBUG_LIB" || return 0
    compile "$name" "$log" $CC $TFLAGS -DFLY_DEBUG -fsanitize=undefined -Isrc -Iinclude \
        -o "$bin" "$src" "$FLY_DEBUG_LIB" -lpthread -lm || return 0
    SANITIZED=1 run_test "$name" "$log" "$(timeout_of "$src")" env \
        UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" "$bin"
}

# ---- libc programs under LD_PRELOAD, and statically linked -------------
run_preload_c() {
    local src=$1
    local name=${src#tests/}
    name=${name%.*}
    local bin=$OUT/${name//\//_} log=$OUT/${name//\//_}.log
    local tmo
    tmo=$(timeout_of "$src")
    local comp=$CC flags="$TFLAGS $NOBUILTIN"
    case $src in *.cc)
        comp=$CXX
        flags="$TXXFLAGS -fno-builtin"
        ;;
    esac
    if selected "$name"; then
        if need_file "$name" "$FLY_SO" &&
            compile "$name" "$log" $comp $flags -Iinclude -o "$bin" "$src" -lpthread -ldl -lm; then
            run_test "$name" "$log" "$tmo" env LD_PRELOAD="$FLY_SO" "$bin"
        fi
    fi
    if grep -q 'flytest: static' "$src"; then
        local sname=$name.static
        selected "$sname" || return 0
        need_file "$sname" "$FLY_STATIC_LIB" || return 0
        compile "$sname" "$log.static" $comp $flags -DFLY_STATIC_LINK -Iinclude \
            -o "$bin.static" "$src" "$FLY_STATIC_LIB" -lpthread -ldl -lm || return 0
        run_test "$sname" "$log.static" "$tmo" "$bin.static"
    fi
}

# ---- ThreadSanitizer build ----------------------------------------------
run_tsan_c() {
    local src=$1
    local name=${src#tests/}
    name=${name%.c}
    selected "$name" || return 0
    local bin=$OUT/${name//\//_} log=$OUT/${name//\//_}.log
    need_file "$name" "$FLY_TSAN_LIB" || return 0
    compile "$name" "$log" $CC $TFLAGS -fsanitize=thread,undefined -Iinclude -Isrc \
        -o "$bin" "$src" "$FLY_TSAN_LIB" -lpthread || return 0
    SANITIZED=1 run_test "$name" "$log" "$(timeout_of "$src")" env \
        TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
        UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" "$bin"
}

# ---- shell tests --------------------------------------------------------
run_sh() {
    local src=$1
    local name=${src#tests/}
    name=${name%.sh}
    selected "$name" || return 0
    local log=$OUT/${name//\//_}.log
    need_file "$name" "$FLY_SO" || return 0
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/flytest.XXXXXX")
    FLY_TMP=$tmp run_test "$name" "$log" "$(timeout_of "$src")" bash "$src"
    rm -rf "$tmp"
}

shopt -s nullglob
for f in tests/unit/test_*.c; do run_prefixed_c "$f" "-Isrc"; done
for f in tests/api/test_*.c; do run_prefixed_c "$f" ""; done
for f in tests/preload/test_*.c tests/preload/test_*.cc; do run_preload_c "$f"; done
for f in tests/bad/test_*.c; do
    case $f in
    *_api.c) run_prefixed_c "$f" "$NOBUILTIN" ;;
    *) run_preload_c "$f" ;;
    esac
done
for f in tests/tsan/test_*.c; do run_tsan_c "$f"; done
for f in tests/debug/test_*.c; do run_debug_c "$f"; done
for f in tests/*/test_*.sh tests/programs/*.sh; do
    case $f in */lib*.sh) continue ;; esac
    run_sh "$f"
done

END=$(date +%s)
if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
    echo "failed: ${FAILED_NAMES[*]}"
fi
[ $SKIPPED -gt 0 ] && echo "($SKIPPED skipped)"
echo "suite took $((END - START))s"
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ] && [ $PASSED -gt 0 ]
