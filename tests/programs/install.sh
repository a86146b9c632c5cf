#!/usr/bin/env bash
# install: `make install` into a scratch prefix gives a library, header,
# launcher, pkg-config and CMake files that work, and `make uninstall`
# takes every file back.
#
# Proves: the shared library is installed as libflymalloc.so.VERSION with
# the SONAME libflymalloc.so.1 and both symlinks, and the secure library
# beside it (libflymalloc-secure.so.1, which sort runs on); a program built with
# `pkg-config --cflags --libs flymalloc` runs on flymalloc (its mallocs are
# fly_stats_get's); one built with `pkg-config --static` and libflymalloc.a
# too; a CMake project with find_package(flymalloc) and
# flymalloc::flymalloc builds and runs on it; the three man pages are
# where man finds them; the installed launcher
# preloads the installed library (not the checkout's) and reports its
# version; `make uninstall` leaves no file in the prefix.
# flytest: timeout=300
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v make >/dev/null || skip "make not installed"
P=$FLY_TMP/prefix
make -s -C "$FLY_ROOT" install PREFIX="$P" >"$FLY_TMP/install.log" 2>&1 ||
    fail "make install failed: $(tail -n 5 "$FLY_TMP/install.log")"
LIBDIR=$(dirname "$(find "$P" -name 'libflymalloc.so.1.0.0' | head -n 1)")
[ -f "$LIBDIR/libflymalloc.so.1.0.0" ] && [ -L "$LIBDIR/libflymalloc.so.1" ] && [ -L "$LIBDIR/libflymalloc.so" ] ||
    fail "the shared library and its symlinks are not in $LIBDIR: $(ls "$LIBDIR")"
readelf -d "$LIBDIR/libflymalloc.so.1.0.0" | grep -q 'SONAME.*\[libflymalloc.so.1\]' || fail "SONAME is not libflymalloc.so.1"
[ -f "$LIBDIR/libflymalloc-secure.so.1.0.0" ] && [ -L "$LIBDIR/libflymalloc-secure.so.1" ] ||
    fail "the secure library is not in $LIBDIR: $(ls "$LIBDIR")"
env LD_PRELOAD="$LIBDIR/libflymalloc-secure.so.1" FLYMALLOC_STATS=1 FLYMALLOC_STATS_FILE="$FLY_TMP/secure.stats" \
    sort /dev/null || fail "sort on the installed secure library failed"
grep -q '^flymalloc: allocations' "$FLY_TMP/secure.stats" || fail "sort did not run on the secure library"
[ -f "$P/include/flymalloc.h" ] && [ -x "$P/bin/flymalloc" ] || fail "header or launcher missing"
for s in 1 3 7; do
    [ -f "$P/share/man/man$s/flymalloc.$s" ] || fail "man page flymalloc($s) not installed"
done
comp=$P/share/bash-completion/completions/flymalloc
[ -f "$comp" ] || fail "bash completion not installed"
# It loads, completes the commands, and a policy name after "seed PROGRAM".
got=$(PATH=$P/bin:$PATH bash -c '. "$1"; COMP_WORDS=(flymalloc po); COMP_CWORD=1; _flymalloc;
       echo "${COMPREPLY[*]}"; COMP_WORDS=(flymalloc seed ls com); COMP_CWORD=3; _flymalloc;
       echo "${COMPREPLY[*]}"' _ "$comp" 2>&1)
[ "$got" = "$(printf 'policies policy\ncompact')" ] || fail "bash completion gave: $got"
if command -v man >/dev/null; then
    MANPATH=$P/share/man man -w 7 flymalloc >/dev/null 2>&1 || fail "man does not find flymalloc(7)"
fi
echo "ok: installed into $P"

cat >"$FLY_TMP/prog.c" <<'C'
#include <flymalloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
    fly_stats_t before, after;
    fly_stats_get(&before, sizeof before);
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = malloc(100);
    fly_stats_get(&after, sizeof after);
    for (int i = 0; i < 100; i++)
        free(p[i]);
    printf("%s\n", after.st_nmalloc >= before.st_nmalloc + 100 ? "on flymalloc" : "not on flymalloc");
    return 0;
}
C
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
if command -v pkg-config >/dev/null; then
    # shellcheck disable=SC2046
    cc -o "$FLY_TMP/prog" "$FLY_TMP/prog.c" $(pkg-config --cflags --libs flymalloc) || fail "pkg-config build"
    out=$(LD_LIBRARY_PATH=$LIBDIR "$FLY_TMP/prog") || fail "the pkg-config program failed"
    [ "$out" = "on flymalloc" ] || fail "pkg-config program: $out"
    readelf -d "$FLY_TMP/prog" | grep -q 'NEEDED.*libflymalloc.so.1' || fail "the program does not need libflymalloc.so.1"
    # shellcheck disable=SC2046
    cc -o "$FLY_TMP/prog-static" "$FLY_TMP/prog.c" $(pkg-config --cflags flymalloc) \
        "$LIBDIR/libflymalloc.a" $(pkg-config --static --libs-only-l flymalloc | sed 's/-lflymalloc//') ||
        fail "static build"
    [ "$("$FLY_TMP/prog-static")" = "on flymalloc" ] || fail "the static program is not on flymalloc"
    echo "ok: pkg-config, shared and static"
else
    echo "note: pkg-config not installed; skipped its check"
fi

if command -v cmake >/dev/null; then
    mkdir -p "$FLY_TMP/cm"
    cp "$FLY_TMP/prog.c" "$FLY_TMP/cm/"
    cat >"$FLY_TMP/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(flytest C)
find_package(flymalloc 1.0 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE flymalloc::flymalloc)
CM
    cmake -S "$FLY_TMP/cm" -B "$FLY_TMP/cm/build" -DCMAKE_PREFIX_PATH="$P" >"$FLY_TMP/cmake.log" 2>&1 &&
        cmake --build "$FLY_TMP/cm/build" >>"$FLY_TMP/cmake.log" 2>&1 ||
        fail "the CMake project did not build: $(tail -n 15 "$FLY_TMP/cmake.log")"
    out=$(LD_LIBRARY_PATH=$LIBDIR "$FLY_TMP/cm/build/prog") || fail "the CMake program failed"
    [ "$out" = "on flymalloc" ] || fail "CMake program: $out"
    echo "ok: CMake find_package and flymalloc::flymalloc"
else
    echo "note: cmake not installed; skipped its check"
fi

v=$("$P/bin/flymalloc" --version) || fail "installed launcher --version"
grep -q "library: $LIBDIR/libflymalloc.so.1" <<<"$v" || fail "installed launcher finds: $v"
pre=$("$P/bin/flymalloc" run -- sh -c 'echo "$LD_PRELOAD"') || fail "installed launcher run"
[ "${pre%%:*}" = "$LIBDIR/libflymalloc.so.1" ] || fail "installed launcher preloads $pre"
echo "ok: the installed launcher runs programs on the installed library"

make -s -C "$FLY_ROOT" uninstall PREFIX="$P" >/dev/null 2>&1 || fail "make uninstall failed"
left=$(find "$P" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "ok: make uninstall removes every file"
