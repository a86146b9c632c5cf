#!/bin/bash
# run.sh: run the flymalloc benchmark suite (see bench/bench.py for details).
#   bench/run.sh [--quick] [--only W1,W2] [--allocators glibc,jemalloc,...]
#                [--repeat N] [--so NAME=PATH] [--out DIR] [--list] [--corrupt-test]
# `make bench` and `flymalloc bench ARGS` both end up here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
# The harness sets LD_PRELOAD per run; it must not run under one itself.
exec env -u LD_PRELOAD "$py" "$here/bench.py" "$@"
