#!/bin/bash
# fastpath.sh: instructions per malloc+free pair under callgrind, per allocator.
#   bench/fastpath.sh [--allocators glibc,jemalloc,...] [--so NAME=PATH]
#                     [--n1 N] [--n2 N] [--format text|md|json]
# See bench/fastpath.c (the two patterns) and bench/fastpath.py (the method).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
exec env -u LD_PRELOAD "$py" "$here/fastpath.py" "$@"
