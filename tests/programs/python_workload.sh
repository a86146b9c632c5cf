#!/usr/bin/env bash
# python_workload: Debian's python3 running an allocation-heavy script
# (tests/programs/workload.py: dicts, lists, strings, bytes, JSON, re,
# sorting, big integers, reference cycles, threads) prints exactly the same
# on flymalloc as on glibc, exits 0, and flymalloc reports nothing.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
py=$(pyexe) || skip "no python3"
compare python_workload "$py" "$FLY_ROOT/tests/programs/workload.py"
