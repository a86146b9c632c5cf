#!/usr/bin/env bash
# profile_sample: what profiling learns from its sampled blocks
# (src/sample.c) and its realloc count, end to end through
# `flymalloc profile` and `flymalloc policy`, with FLYMALLOC_PROFILE_DIR
# set to a fresh directory.  Each program checks its own blocks' contents.
#
# Proves:
#   - a producer/consumer (one thread allocates, the other checks and
#     frees) is sampled, with 90 % or more of its samples freed by another
#     thread, and raises cross-thread-frees;
#   - a single thread that frees each block at once has 75 % or more of
#     its samples living under 100 us and raises short-lived, and none
#     freed by another thread;
#   - a program that keeps every block has 90 % or more of its samples
#     living to the end, and raises neither;
#   - 100,000 realloc calls are counted as that many (and a few of libc's);
#   - the profile stays at most 4 KiB.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
export FLYMALLOC_PROFILE_DIR=$FLY_TMP/store
cat >"$FLY_TMP/samples.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define RING 1024
static void *ring[RING];
static unsigned long head, tail;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
enum { OBJECTS = 1000000 };
static size_t size_of(unsigned long i) { return 16 + (i * 37) % 240; }
static void fill(unsigned char *p, unsigned long i) { memset(p, (int)(i & 0xff), size_of(i)); }
static int check(const unsigned char *p, unsigned long i)
{
    for (size_t k = 0; k < size_of(i); k++)
        if (p[k] != (unsigned char)(i & 0xff))
            return 0;
    return 1;
}
static void *consumer(void *arg)
{
    unsigned long bad = 0;
    for (unsigned long i = 0; i < OBJECTS; i++) {
        pthread_mutex_lock(&mu);
        while (tail == head)
            pthread_cond_wait(&cv, &mu);
        void *p = ring[tail++ % RING];
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        bad += !check(p, i);
        free(p);
    }
    *(unsigned long *)arg = bad;
    return NULL;
}
int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned long bad = 0;
    if (!strcmp(mode, "pc")) {
        pthread_t t;
        pthread_create(&t, NULL, consumer, &bad);
        for (unsigned long i = 0; i < OBJECTS; i++) {
            unsigned char *p = malloc(size_of(i));
            fill(p, i);
            pthread_mutex_lock(&mu);
            while (head - tail == RING)
                pthread_cond_wait(&cv, &mu);
            ring[head++ % RING] = p;
            pthread_cond_broadcast(&cv);
            pthread_mutex_unlock(&mu);
        }
        pthread_join(t, NULL);
    } else if (!strcmp(mode, "churn")) {
        for (unsigned long i = 0; i < 4 * OBJECTS; i++) {
            unsigned char *p = malloc(size_of(i));
            fill(p, i);
            bad += !check(p, i);
            free(p);
        }
    } else if (!strcmp(mode, "keep")) {
        static unsigned char *kept[OBJECTS];
        for (unsigned long i = 0; i < OBJECTS; i++) {
            kept[i] = malloc(size_of(i));
            fill(kept[i], i);
        }
        for (unsigned long i = 0; i < OBJECTS; i++)
            bad += !check(kept[i], i);
    } else if (!strcmp(mode, "realloc")) {
        char *p = NULL;
        for (unsigned long i = 0; i < 100000; i++) {
            p = realloc(p, 1 + i % 3000);
            p[i % 3000] = 'x';
        }
        free(p);
    } else {
        return 2;
    }
    printf("%s: %lu bad\n", mode, bad);
    return bad != 0;
}
C
"${CC:-cc}" -O1 -Wl,--build-id -o "$FLY_TMP/samples" "$FLY_TMP/samples.c" -lpthread || fail "cannot compile samples.c"

# Runs `samples MODE` profiled (into a store of its own, so each mode has
# its own profile) and prints `flymalloc policy`'s report.
profiled() {
    local store=$FLY_TMP/store_$1
    out=$(FLYMALLOC_PROFILE_DIR=$store "$FLY_LAUNCHER" profile -- "$FLY_TMP/samples" "$1" 2>&1) ||
        fail "samples $1: $out"
    [ "$out" = "$1: 0 bad" ] || fail "samples $1 printed: $out"
    for f in "$store"/*.prof; do
        [ "$(stat -c %s "$f")" -le 4096 ] || fail "the profile is larger than 4 KiB"
    done
    FLYMALLOC_PROFILE_DIR=$store "$FLY_LAUNCHER" policy "$FLY_TMP/samples" || fail "flymalloc policy failed"
}
# The tenths of a percent after "$2 " in report $1 (e.g. "another thread").
share() {
    sed -n "s/.*$2 \([0-9]*\)\.\([0-9]\)%.*/\1\2/p" <<<"$1" | head -n 1
}
sampled() { sed -n 's/^sampled blocks: \([0-9]*\) per run.*/\1/p' <<<"$1"; }

r=$(profiled pc)
[ "$(sampled "$r")" -ge 16 ] || fail "producer/consumer: too few samples: $r"
[ "$(share "$r" "another thread")" -ge 900 ] || fail "producer/consumer: not freed by another thread: $r"
grep -q '^flags:.*cross-thread-frees' <<<"$r" || fail "producer/consumer: no cross-thread-frees flag: $r"
echo "ok: producer/consumer: $(grep '^sampled' <<<"$r" | cut -d';' -f1-2)"

r=$(profiled churn)
[ "$(sampled "$r")" -ge 16 ] || fail "churn: too few samples: $r"
brief=$(( $(share "$r" "<1us") + $(share "$r" "<10us") + $(share "$r" "<100us") ))
[ "$brief" -ge 750 ] || fail "churn: blocks freed at once do not live under 100 us: $r"
[ "$(share "$r" "another thread")" -eq 0 ] || fail "churn: frees counted as cross-thread: $r"
grep -q '^flags:.*short-lived' <<<"$r" || fail "churn: no short-lived flag: $r"
echo "ok: churn: $brief/1000 of the samples lived under 100 us"

r=$(profiled keep)
[ "$(sampled "$r")" -ge 16 ] || fail "keep: too few samples: $r"
[ "$(share "$r" "to the end")" -ge 900 ] || fail "keep: kept blocks did not live to the end: $r"
grep -q '^flags:.*\(short-lived\|cross-thread\)' <<<"$r" && fail "keep: a flag it should not raise: $r"
echo "ok: keep: $(share "$r" "to the end")/1000 of the samples lived to the end"

r=$(profiled realloc)
n=$(sed -n 's/.* \([0-9]*\) reallocs.*/\1/p' <<<"$r")
[ -n "$n" ] && [ "$n" -ge 100000 ] && [ "$n" -le 100100 ] || fail "realloc: counted $n of 100000: $r"
echo "ok: realloc: $n counted"
echo "every sampling check passed"
