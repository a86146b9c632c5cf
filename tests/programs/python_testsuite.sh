#!/usr/bin/env bash
# python_testsuite: CPython's own regression tests for the object types and
# modules that allocate the most (dict, list, set, tuple, str, bytes, json,
# re, collections, deque, heapq, sort, gc, itertools, pickle, threading)
# pass on flymalloc.  Needs Debian's libpython3.11-testsuite (installed by
# .ci/run); skips when the test package is absent or the tests already fail
# on glibc.
# flytest: timeout=400
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
py=$(pyexe) || skip "no python3"
"$py" -c 'import test.test_dict, test.libregrtest' 2>/dev/null ||
    skip "python3 test package missing (apt-get install libpython3.11-testsuite)"

mods="test_dict test_list test_set test_tuple test_json test_re test_unicode test_bytes
      test_collections test_deque test_heapq test_sort test_gc test_itertools test_pickle test_threading"
cd "$FLY_TMP" || exit 1
# shellcheck disable=SC2086
env LD_PRELOAD="$FLY_SO" "$py" -m test -q $mods >fly.log 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'Tests result: SUCCESS' fly.log && ! grep -q '^flymalloc:' fly.log; then
    grep -E 'tests? OK|Total duration' fly.log
    echo "ok: python3 -m test $(echo $mods | wc -w) modules on flymalloc"
    exit 0
fi
echo "--- under flymalloc (status $rc):"
tail -n 30 fly.log
# shellcheck disable=SC2086
"$py" -m test -q $mods >ref.log 2>&1 || skip "python3 -m test fails on glibc too: $(tail -n 3 ref.log)"
fail "python3 -m test fails on flymalloc (status $rc), passes on glibc"
