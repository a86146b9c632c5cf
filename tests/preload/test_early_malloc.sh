#!/usr/bin/env bash
# test_early_malloc: malloc called before flymalloc's own constructor ran
# works.  A shared library whose constructor allocates (as libselinux's
# does in mkdir, ls, cp...) is initialized before the preloaded
# libflymalloc.so, so the very first malloc of the process must initialize
# the allocator itself.
#
# Proves: a program linked with such a library runs under LD_PRELOAD and
# exits 0 with its output; the blocks the constructor allocated (small,
# large, calloc'd, realloc'd, aligned) are intact in main and can be freed
# there; and coreutils' mkdir (linked with libselinux) runs on flymalloc.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
cat >"$FLY_TMP/ctor.c" <<'C'
#include <stdlib.h>
#include <string.h>
void *early[5];
__attribute__((constructor)) static void early_init(void)
{
    early[0] = malloc(24);
    early[1] = malloc(200000);
    early[2] = calloc(10, 100);
    early[3] = realloc(malloc(10), 5000);
    if (posix_memalign(&early[4], 4096, 100) != 0)
        early[4] = NULL;
    for (int i = 0; i < 5; i++)
        if (early[i])
            memset(early[i], 'a' + i, i == 1 ? 200000 : 24);
}
C
cat >"$FLY_TMP/main.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
extern void *early[5];
int main(void)
{
    for (int i = 0; i < 5; i++) {
        if (!early[i]) { printf("early[%d] is NULL\n", i); return 1; }
        const char *c = early[i];
        for (int k = 0; k < 24; k++)
            if (c[k] != 'a' + i) { printf("early[%d] corrupted\n", i); return 1; }
        free(early[i]);
    }
    puts("early allocations ok");
    return 0;
}
C
cc -O1 -fPIC -shared -o "$FLY_TMP/libctor.so" "$FLY_TMP/ctor.c" -fno-builtin || fail "cannot build libctor.so"
cc -O1 -o "$FLY_TMP/main" "$FLY_TMP/main.c" -L"$FLY_TMP" -lctor -Wl,-rpath,"$FLY_TMP" || fail "cannot build main"
compare early_malloc "$FLY_TMP/main"
rm -rf "$FLY_TMP/d"
env LD_PRELOAD="$FLY_SO" mkdir "$FLY_TMP/d" 2>"$FLY_TMP/mkdir.err"
rc=$?
[ $rc -eq 0 ] && [ -d "$FLY_TMP/d" ] || fail "mkdir under flymalloc: status $rc: $(head -c 300 "$FLY_TMP/mkdir.err")"
echo "ok: mkdir"
