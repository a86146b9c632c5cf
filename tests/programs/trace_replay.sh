#!/usr/bin/env bash
# trace_replay: the real round trip: record a multi-threaded program with
# `flymalloc trace`, read it with `flymalloc analyze`, replay it with
# `flymalloc replay`.
# flytest: timeout=300
#
# Proves: a 4-thread C program passing blocks between threads through a
# shared queue (so most frees are cross-thread) and using malloc, calloc,
# realloc, posix_memalign, aligned_alloc and free, checking every block's
# contents, runs correctly under `flymalloc trace -o T --` and leaves a
# trace; analyze reports 5 threads (main and 4 workers), complete=true, no
# warnings (the recorded order is a valid history: no address met twice,
# no free of an unknown address), with TSC numbers and with counter ones,
# and per op at least the calls the program counted itself and at most a
# few more (libc's own); `replay --exact --curve` on flymalloc and on glibc
# reproduces analyze's live curve point for point; `replay --compare
# glibc,flymalloc` (parallel order) succeeds with both results in its
# --json, no failed allocation, and its curves end at analyze's final live
# bytes.
set -u
. "$FLY_ROOT/tests/programs/lib.sh"
L=$FLY_LAUNCHER
[ -x "$L" ] || fail "missing launcher $L"
py=$(pyexe) || skip "no python3"
T=$FLY_TMP

cat >"$T/prog.c" <<'C'
/* 4 threads hand blocks to each other through a queue; counts its calls. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 6000
#define QCAP 128
enum { MALLOC, CALLOC, REALLOC, ALIGNED, FREE, NCOUNT };

typedef struct { unsigned char *p; size_t n; unsigned char v; } block;
static block queue[QCAP];
static int qhead, qcount;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counts[THREADS + 1][NCOUNT];
static int bad;

static int intact(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void release(block b, unsigned long *c)
{
    if (!intact(b.p, b.n, b.v))
        bad = 1;
    free(b.p);
    c[FREE]++;
}

static void *worker(void *arg)
{
    long id = (long)arg;
    unsigned long *c = counts[id];
    unsigned seed = (unsigned)id * 7919u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = (size_t)(rand_r(&seed) % 3000) + 1;
        unsigned char v = (unsigned char)(rand_r(&seed) | 1);
        unsigned char *p = NULL;
        switch (rand_r(&seed) % 5) {
        case 0:
            p = malloc(n), c[MALLOC]++;
            break;
        case 1:
            p = calloc(1, n), c[CALLOC]++;
            if (p && !intact(p, n, 0))
                bad = 1;
            break;
        case 2:
            p = realloc(NULL, n), c[REALLOC]++;
            break;
        case 3:
            if (posix_memalign((void **)&p, 64, n) != 0)
                p = NULL;
            c[ALIGNED]++;
            if ((uintptr_t)p % 64)
                bad = 1;
            break;
        default:
            n = (n + 31) / 32 * 32;
            p = aligned_alloc(32, n), c[ALIGNED]++;
            break;
        }
        if (!p) {
            bad = 1;
            continue;
        }
        memset(p, v, n);
        if (rand_r(&seed) % 3 == 0) { /* resize: grow or shrink */
            size_t m = (size_t)(rand_r(&seed) % 6000) + 1;
            unsigned char *q = realloc(p, m);
            c[REALLOC]++;
            if (!q) {
                bad = 1;
                continue;
            }
            if (!intact(q, m < n ? m : n, v))
                bad = 1;
            p = q, n = m;
            memset(p, v, n);
        }
        block mine = { p, n, v }, out = { NULL, 0, 0 };
        pthread_mutex_lock(&qlock);
        if (qcount == QCAP || (qcount > 0 && rand_r(&seed) % 2)) {
            out = queue[qhead]; /* most likely another thread's */
            qhead = (qhead + 1) % QCAP;
            qcount--;
        }
        queue[(qhead + qcount) % QCAP] = mine;
        qcount++;
        pthread_mutex_unlock(&qlock);
        if (out.p)
            release(out, c);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(i + 1)) != 0)
            return 2;
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    while (qcount > 16) { /* leave 16 blocks live at exit */
        release(queue[qhead], counts[0]);
        qhead = (qhead + 1) % QCAP;
        qcount--;
    }
    unsigned long total[NCOUNT] = { 0 };
    for (int t = 0; t <= THREADS; t++)
        for (int k = 0; k < NCOUNT; k++)
            total[k] += counts[t][k];
    char line[200];
    int len = snprintf(line, sizeof(line), "%s malloc %lu calloc %lu realloc %lu aligned %lu free %lu\n",
                       bad ? "BAD" : "ok", total[MALLOC], total[CALLOC], total[REALLOC],
                       total[ALIGNED], total[FREE]);
    if (write(1, line, (size_t)len) != len)
        return 3;
    return bad;
}
C
cc -O1 -g -std=gnu11 -Wall -Wextra -Werror -fno-builtin-malloc -fno-builtin-calloc \
    -fno-builtin-realloc -fno-builtin-free -o "$T/prog" "$T/prog.c" -lpthread ||
    fail "cannot compile the test program"

"$T/prog" >"$T/plain.out" || fail "the test program fails on its own: $(cat "$T/plain.out")"

rm -f "$T/prog.trace"
"$L" trace -o "$T/prog.trace" -- "$T/prog" >"$T/prog.out" 2>"$T/prog.err"
rc=$?
[ $rc -eq 0 ] || fail "flymalloc trace -- prog: status $rc: $(head -c 400 "$T/prog.err") $(cat "$T/prog.out")"
grep -q '^ok ' "$T/prog.out" || fail "the program failed its checks while traced: $(cat "$T/prog.out")"
[ -s "$T/prog.trace" ] || fail "flymalloc trace wrote no trace file (is the recorder in libflymalloc.so?)"
echo "ok: recorded $(wc -c <"$T/prog.trace") bytes: $(cat "$T/prog.out")"

"$L" analyze "$T/prog.trace" -o "$T/prog.json" 2>"$T/analyze.err" ||
    fail "analyze: $(head -c 600 "$T/analyze.err")"
"$py" - "$T/prog.json" "$T/prog.out" <<'PY' || fail "analyze of the recorded trace is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
words = open(sys.argv[2]).read().split()
calls = {words[i]: int(words[i + 1]) for i in range(1, len(words), 2)}
tr = d["trace"]
problems = []
if tr["threads"] != 5:
    problems.append("threads %d, expected 5 (main and 4 workers)" % tr["threads"])
if tr["complete"] is not True:
    problems.append("complete is %r" % tr["complete"])
if tr["warnings"]:
    problems.append("%d warnings, first: %s" % (len(tr["warnings"]), tr["warnings"][:3]))
SLACK = 64  # libc's own allocations (thread start-up, stdio)
ops = d["ops"]
for k in ("malloc", "calloc", "realloc", "aligned", "free"):
    if not calls[k] <= ops[k] <= calls[k] + SLACK:
        problems.append("%s: %d recorded, the program made %d" % (k, ops[k], calls[k]))
if ops["failed"]:
    problems.append("%d failed allocations" % ops["failed"])
least = sum(calls.values())
if not least <= tr["events"] <= least + 5 * SLACK + 1000:
    problems.append("events %d, the program made %d calls" % (tr["events"], least))
if d["totals"]["final_live_objects"] < 16:
    problems.append("final live objects %d < 16" % d["totals"]["final_live_objects"])
for p in problems:
    print("FAIL: " + p)
sys.exit(1 if problems else 0)
PY
echo "ok: analyze: $("$py" -c 'import json,sys; t=json.load(open(sys.argv[1]))["trace"]; print(t["threads"], "threads,", t["events"], "events, complete")' "$T/prog.json")"

# The counter numbering (machines without a usable TSC) must give a valid
# history too.
rm -f "$T/counter.trace"
FLYMALLOC_TRACE_CLOCK=counter "$L" trace -o "$T/counter.trace" -- "$T/prog" >"$T/counter.out" 2>&1 ||
    fail "flymalloc trace with FLYMALLOC_TRACE_CLOCK=counter: $(head -c 400 "$T/counter.out")"
"$L" analyze "$T/counter.trace" -o "$T/counter.json" 2>"$T/analyze.err" ||
    fail "analyze (counter clock): $(head -c 600 "$T/analyze.err")"
"$py" - "$T/counter.json" <<'PY' || fail "the counter-numbered trace is not a valid history"
import json, sys
t = json.load(open(sys.argv[1]))["trace"]
assert t["complete"] is True and t["threads"] == 5 and not t["warnings"], (t["complete"], t["threads"], t["warnings"][:3])
PY
echo "ok: the counter-numbered trace is complete and valid too"

"$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("seq,live_bytes")
for s, b in zip(d["live"]["seq"], d["live"]["bytes"]):
    print("%d,%d" % (s, b))' "$T/prog.json" >"$T/analyze.csv"
for alloc in flymalloc glibc; do
    "$L" replay "$T/prog.trace" --exact --allocator $alloc --curve "$T/$alloc.csv" \
        >"$T/replay.$alloc.out" 2>&1 || fail "replay --exact on $alloc: $(tail -n 5 "$T/replay.$alloc.out")"
    cmp -s "$T/analyze.csv" "$T/$alloc.csv" ||
        fail "replay --exact on $alloc: curve differs from analyze's: $(diff "$T/analyze.csv" "$T/$alloc.csv" | head -n 6)"
done
echo "ok: replay --exact on flymalloc and glibc reproduces analyze's live curve ($(($(wc -l <"$T/analyze.csv") - 1)) points)"

"$L" replay "$T/prog.trace" --compare glibc,flymalloc --json "$T/replay.json" \
    >"$T/compare.out" 2>&1 || fail "replay --compare glibc,flymalloc: $(tail -n 8 "$T/compare.out")"
"$py" - "$T/replay.json" "$T/prog.json" <<'PY' || fail "replay --compare json is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
a = json.load(open(sys.argv[2]))
assert r["mode"] == "parallel", r["mode"]
assert [x["allocator"] for x in r["results"]] == ["glibc", "flymalloc"], r["results"]
for x in r["results"]:
    assert x["failed_allocations"] == 0, x
    assert x["curve"]["live"][-1] == a["totals"]["final_live_bytes"], (x["curve"]["live"][-1], a["totals"])
    assert x["peak_rss_bytes"] > 0 and x["time_s"] > 0, x
print("ok: replay --compare glibc,flymalloc")
PY
cat "$T/compare.out"
