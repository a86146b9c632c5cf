#!/usr/bin/env bash
# debian: `dpkg-buildpackage -b -us -uc` builds libflymalloc1,
# libflymalloc-dev and flymalloc from debian/, lintian finds no error or
# warning in them, and the packages work unpacked into a scratch root
# (dpkg -x): a program preloading the packaged library runs on flymalloc,
# a program built against the -dev package's header and library runs, and
# the packaged launcher reports its version and finds its completion.
# Skipped without dpkg-buildpackage, debhelper or lintian (.ci/run installs
# them).
# flytest: timeout=600
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage (dpkg-dev)"
command -v dh >/dev/null || skip "no debhelper"
command -v lintian >/dev/null || skip "no lintian"

src=$FLY_TMP/src/flymalloc
mkdir -p "$src"
# The tracked files only (a fresh clone's content), or the tree without build/.
if git -C "$FLY_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$FLY_ROOT" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 cp --parents -t "$src" 2>/dev/null) || fail "cannot copy the sources"
else
    (cd "$FLY_ROOT" && tar --exclude=./build -cf - .) | (cd "$src" && tar -xf -)
fi
(cd "$src" && dpkg-buildpackage -b -us -uc >"$FLY_TMP/build.log" 2>&1) ||
    fail "dpkg-buildpackage failed: $(tail -n 15 "$FLY_TMP/build.log")"
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
for p in libflymalloc1 libflymalloc-dev flymalloc; do
    [ -f "$FLY_TMP/src/${p}_${ver}_${arch}.deb" ] || fail "no package $p: $(ls "$FLY_TMP/src")"
done
echo "ok: built $(ls "$FLY_TMP/src"/*.deb | wc -l) packages, version $ver"

lintian --tag-display-limit 0 "$FLY_TMP/src/flymalloc_${ver}_${arch}.changes" >"$FLY_TMP/lintian.log" 2>&1
grep -v 'root privileges' "$FLY_TMP/lintian.log" | grep -E '^[EW]: ' &&
    fail "lintian reports errors or warnings"
echo "ok: lintian reports no error or warning"

root=$FLY_TMP/root
for p in libflymalloc1 libflymalloc-dev flymalloc; do
    dpkg -x "$FLY_TMP/src/${p}_${ver}_${arch}.deb" "$root" || fail "dpkg -x $p failed"
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=$root/usr/lib/$ma/libflymalloc.so.1
[ -f "$lib" ] && [ -f "$root/usr/include/flymalloc.h" ] && [ -x "$root/usr/bin/flymalloc" ] &&
    [ -f "$root/usr/lib/$ma/pkgconfig/flymalloc.pc" ] && [ -f "$root/usr/share/man/man7/flymalloc.7.gz" ] ||
    fail "the packages lack files: $(cd "$root" && find . -type f | head -n 30)"

[ -f "$root/usr/lib/$ma/libflymalloc-secure.so.1" ] || fail "libflymalloc1 lacks the secure library"
printf 'b\na\n' | env LD_PRELOAD="$root/usr/lib/$ma/libflymalloc-secure.so.1" sort >/dev/null ||
    fail "sort on the packaged secure library failed"
printf 'b\na\n' | env LD_PRELOAD="$lib" FLYMALLOC_STATS=1 FLYMALLOC_STATS_FILE="$FLY_TMP/stats" sort >/dev/null ||
    fail "sort on the packaged library failed"
grep -q '^flymalloc: allocations' "$FLY_TMP/stats" 2>/dev/null ||
    fail "sort did not run on flymalloc: $(head -n 3 "$FLY_TMP/stats" 2>&1)"

cat >"$FLY_TMP/prog.c" <<'C'
#include <flymalloc.h>
#include <stdio.h>
int main(void)
{
    char *p = fly_malloc(100);
    size_t n = fly_malloc_usable_size(p);
    fly_free(p);
    printf("usable %zu\n", n);
    return n >= 100 ? 0 : 1;
}
C
${CC:-cc} -I"$root/usr/include" -o "$FLY_TMP/prog" "$FLY_TMP/prog.c" "$lib" ||
    fail "cannot build against the -dev package"
LD_LIBRARY_PATH=$root/usr/lib/$ma "$FLY_TMP/prog" >/dev/null || fail "the program built against the package failed"
"$root/usr/bin/flymalloc" --version | grep -q "^flymalloc ${ver%%-*} " ||
    fail "the packaged launcher's version: $("$root/usr/bin/flymalloc" --version)"
[ -f "$root/usr/share/bash-completion/completions/flymalloc" ] || fail "no bash completion in the package"
echo "ok: the unpacked packages run programs on flymalloc"
