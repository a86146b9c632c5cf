#!/usr/bin/env bash
# test_exports: libflymalloc.so and libflymalloc.a define the whole malloc
# surface, so that a preload or a static link never leaves some calls on
# glibc's allocator.
#
# Proves: both libraries define (as global, default-visibility code) malloc,
# free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
# memalign, valloc, pvalloc, malloc_usable_size, free_sized,
# free_aligned_sized, malloc_trim, mallinfo2, plus glibc's other public
# malloc.h functions (mallinfo, mallopt, malloc_stats, malloc_info) and
# every fly_* function of include/flymalloc.h; the prefixed library defines
# every fly_* function and none of the unprefixed names.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
std="malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc pvalloc
     malloc_usable_size free_sized free_aligned_sized malloc_trim mallinfo2 mallinfo mallopt malloc_stats malloc_info"
fly=$(sed -n 's/^[a-z].*[ *]\(fly_[a-z0-9_]*\)(.*/\1/p' "$FLY_ROOT/include/flymalloc.h" | sort -u)
[ "$(echo "$fly" | wc -w)" -ge 17 ] || fail "found only $(echo $fly | wc -w) fly_ functions in flymalloc.h"

dyn=$(nm -D --defined-only "$FLY_SO" | awk '$2 ~ /^[TtWwi]$/ { print $3 }' | sed 's/@.*//')
static=$(nm --defined-only "$FLY_STATIC_LIB" 2>/dev/null | awk '$2 ~ /^[TWi]$/ { print $3 }')
prefixed=$(nm --defined-only "$FLY_PREFIXED_LIB" 2>/dev/null | awk '$2 ~ /^[TWi]$/ { print $3 }')
missing=""
for s in $std $fly; do
    echo "$dyn" | grep -qx "$s" || missing="$missing so:$s"
    echo "$static" | grep -qx "$s" || missing="$missing a:$s"
done
for s in $fly; do
    echo "$prefixed" | grep -qx "$s" || missing="$missing prefixed:$s"
done
for s in $std; do
    echo "$prefixed" | grep -qx "$s" && missing="$missing prefixed-defines-$s"
done
[ -z "$missing" ] || fail "symbols missing (or wrongly present):$missing"
echo "ok: $(echo $std | wc -w) libc names and $(echo $fly | wc -w) fly_ names"
