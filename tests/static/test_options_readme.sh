#!/usr/bin/env bash
# test_options_readme: the README's Settings table and the options table
# (src/options.def) name the same FLYMALLOC_* settings, in the same order,
# with the same defaults; `flymalloc run --help` lists them too.
#
# Proves: a C program built from src/options.def prints every row's name and
# default; the README's "## Settings" table rows (variable and default
# columns, backquotes removed) are exactly those lines, so a setting missing
# from either side, an extra one or a changed default fails with a diff; and
# the launcher's `run --help` shows each name with "(default: DEFAULT)".
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"

cat >"$FLY_TMP/rows.c" <<'C'
#include <stdio.h>
int main(void)
{
#define FLY_OPTION(name, type, def, min, max, words, runtime, help) \
    printf("%s\t%s\n", "FLYMALLOC_" #name, def);
#include "options.def"
#undef FLY_OPTION
    return 0;
}
C
"${CC:-cc}" -std=gnu11 -Wall -Wextra -Werror -I"$FLY_ROOT/src" -o "$FLY_TMP/rows" "$FLY_TMP/rows.c" ||
    fail "cannot compile a program from src/options.def"
"$FLY_TMP/rows" >"$FLY_TMP/table" || fail "the rows program failed"
[ -s "$FLY_TMP/table" ] || fail "src/options.def has no rows"

# The README's Settings section: table rows that name a variable.
awk -F'|' '
    /^## / { inside = ($0 == "## Settings") ; next }
    inside && /^\| *`FLYMALLOC_/ {
        name = $2; def = $3
        gsub(/`/, "", name); gsub(/`/, "", def)
        gsub(/^ +| +$/, "", name); gsub(/^ +| +$/, "", def)
        print name "\t" def
    }' "$FLY_ROOT/README.md" >"$FLY_TMP/readme"
[ -s "$FLY_TMP/readme" ] || fail "no FLYMALLOC_ rows in README.md's Settings table"

if ! diff -u --label src/options.def --label README.md "$FLY_TMP/table" "$FLY_TMP/readme" \
    >"$FLY_TMP/diff"; then
    cat "$FLY_TMP/diff"
    fail "README.md's Settings table (variable, default) differs from src/options.def"
fi
echo "ok: README.md's Settings table matches src/options.def ($(wc -l <"$FLY_TMP/table") settings)"

[ -x "$FLY_LAUNCHER" ] || fail "missing launcher $FLY_LAUNCHER"
"$FLY_LAUNCHER" run --help >"$FLY_TMP/help" 2>&1 || fail "flymalloc run --help: status $?"
while IFS=$'\t' read -r name def; do
    grep -qF "  $name (default: $def)" "$FLY_TMP/help" ||
        fail "flymalloc run --help does not show '$name (default: $def)': $(head -c 600 "$FLY_TMP/help")"
done <"$FLY_TMP/table"
echo "ok: flymalloc run --help lists every setting with its default"
exit 0
