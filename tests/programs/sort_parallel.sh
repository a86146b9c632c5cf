#!/usr/bin/env bash
# sort_parallel: GNU sort with --parallel=4 and a 64 MiB buffer (threads
# allocating and freeing large buffers and many line records) sorting a
# generated 1,500,000-line file in three orders gives byte-identical output on
# flymalloc and on glibc.
# flytest: timeout=300
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
awk 'BEGIN { s = 1; for (i = 0; i < 1500000; i++) { s = (s * 1103515245 + 12345) % 2147483648; printf "%d %x line-%d\n", s % 100000, s, i } }' >"$FLY_TMP/in.txt"
compare sort_parallel bash -c "LC_ALL=C sort --parallel=4 -S 64M '$FLY_TMP/in.txt' | md5sum; LC_ALL=C sort --parallel=4 -S 64M -k1,1n -k2,2r '$FLY_TMP/in.txt' | md5sum; LC_ALL=C sort --parallel=2 -u -k1,1n '$FLY_TMP/in.txt' | wc -l"
