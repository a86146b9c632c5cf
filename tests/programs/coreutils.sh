#!/usr/bin/env bash
# coreutils: everyday tools (ls, cp, mkdir, du, find, tar, sed, awk, grep,
# md5sum, tr, uniq, wc, xargs) run on flymalloc, through a shell script
# running them all under LD_PRELOAD, and print the same as on glibc.  Several
# of them (ls, cp, mkdir) link libselinux, whose constructor calls malloc
# before libflymalloc.so's constructor has run.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
cat >"$FLY_TMP/cu.sh" <<'SH'
set -e
export LC_ALL=C TZ=UTC
w=$1/cu
rm -rf "$w"
mkdir -p "$w/src/a/b/c"
for i in $(seq 1 300); do
    printf 'file %d\n%s\n' $i "$(seq 1 $((i % 50)))" >"$w/src/a/f$i.txt"
done
seq 1 20000 >"$w/src/a/b/c/big.txt"
cp -r "$w/src" "$w/copy"
ls -lR --time-style=+ "$w/copy" | awk '{ print $1, $5, $NF }' | md5sum
du -ab "$w/copy" | sort -k2 | md5sum
find "$w/copy" -name 'f1*.txt' | sort | xargs cat | md5sum
tar -C "$w" -cf - copy | tar -tvf - | awk '{ print $3, $NF }' | sort | md5sum
sed -n 's/^\([0-9]*\)$/n=\1/p' "$w/src/a/b/c/big.txt" | grep -c '^n=1'
awk '{ s += $1; a[$1 % 97]++ } END { print s, length(a) }' "$w/src/a/b/c/big.txt"
cat "$w"/src/a/*.txt | tr 'a-z' 'A-Z' | sort | uniq -c | sort -rn | head -n 5
wc -l "$w"/src/a/*.txt | tail -n 1
SH
compare coreutils bash "$FLY_TMP/cu.sh" "$FLY_TMP"
