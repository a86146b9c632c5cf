#!/bin/bash
# deps.sh: before `make bench`, the packages the comparison needs (the other
# allocators, valgrind for bench/fastpath.sh, time, the real programs).  As root with apt, the
# missing ones are installed; otherwise one line says which to install.
# Never fails the benchmark: a missing allocator is reported and skipped.
pkgs=(libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind time sqlite3 lua5.4 jq bc mawk git)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing ${missing[*]}"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}"; } >/dev/null 2>&1 || echo "bench: could not install ${missing[*]}; they are skipped"
else
    echo "bench: to compare with every allocator, install: sudo apt-get install ${missing[*]}"
fi
exit 0
