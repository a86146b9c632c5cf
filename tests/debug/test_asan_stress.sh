#!/usr/bin/env bash
# test_asan_stress: the stress and conformance tests of tests/api, linked
# with the AddressSanitizer and UBSan build of the prefixed library
# (build/libflymalloc-asan.a, debug assertions on), pass with no sanitizer
# report: every memory access the library makes to its globals, stacks and
# metadata is checked while threads allocate, free across threads, exit
# and hit impossible sizes, in the default mode and again in the secure
# mode (FLYMALLOC_SECURE=1).  The programs' own malloc is ASan's; the
# blocks under test are flymalloc's.
# flytest: timeout=400
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
lib=$FLY_ROOT/build/libflymalloc-asan.a
[ -f "$lib" ] || fail "no $lib (make all builds it)"
CC=${CC:-cc}
n=0
# Not test_fork_threads: ASan's own allocator, which the test program's
# malloc is, can deadlock in a child forked while other threads hold its
# locks (under load it did); the TSan and UBSan builds run that test.
for t in test_thread_stress test_no_overlap test_realloc test_memalign test_calloc test_large_steady_state \
         test_thread_churn test_impossible_sizes test_free_sized test_malloc_basic; do
    src=$FLY_ROOT/tests/api/$t.c
    [ -f "$src" ] || fail "no $src"
    $CC -std=gnu11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
        -I"$FLY_ROOT/tests/common" -I"$FLY_ROOT/include" -o "$FLY_TMP/$t" "$src" "$lib" -lpthread -lm ||
        fail "cannot build $t against the ASan library"
    for secure in 0 1; do
        if ! FLYMALLOC_SECURE=$secure ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 "$FLY_TMP/$t" \
                >"$FLY_TMP/$t.log" 2>&1; then
            tail -n 20 "$FLY_TMP/$t.log"
            fail "$t failed under ASan and UBSan (FLYMALLOC_SECURE=$secure)"
        fi
        if grep -q -E "ERROR: AddressSanitizer|runtime error:" "$FLY_TMP/$t.log"; then
            grep -m5 -E "ERROR: AddressSanitizer|runtime error:" "$FLY_TMP/$t.log"
            fail "$t: sanitizer report (FLYMALLOC_SECURE=$secure)"
        fi
    done
    n=$((n + 1))
done
echo "ok: $n tests passed on the ASan and UBSan library, in the default and the secure mode"
