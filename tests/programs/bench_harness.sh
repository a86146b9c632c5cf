#!/usr/bin/env bash
# bench_harness.sh: proves the benchmark harness end to end (bench/selftest.sh):
# a tiny workload run against glibc and flymalloc produces a table, JSON, CSV
# and an HTML page that agree with each other, and every workload's
# self-check fails on a deliberately corrupted result.
# flytest: timeout=300
set -euo pipefail
cd "$FLY_ROOT"
out=$(bash bench/selftest.sh 2>&1) || { printf '%s\n' "$out" | tail -n 30; exit 1; }
printf '%s\n' "$out" | tail -n 1
