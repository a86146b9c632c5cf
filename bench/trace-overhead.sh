#!/usr/bin/env bash
# trace-overhead.sh: what recording a trace costs, per benchmark workload.
#   bench/trace-overhead.sh [--repeat N] [--size tiny|quick]
# Runs each workload on flymalloc untraced and under FLYMALLOC_TRACE, N
# times each (default 3), and prints the median wall times, their ratio
# (the issue's bound is 3x), the events recorded and the trace's size.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 - "$here" "$@" <<'PY'
import os, statistics, subprocess, sys, tempfile, time
here = sys.argv[1]
sys.path.insert(0, here)
import workloads
args = sys.argv[2:]
repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 3
size = args[args.index("--size") + 1] if "--size" in args else "quick"
repo = os.path.dirname(here)
lib = os.path.join(repo, "build", "libflymalloc.so")
workloads.build(log=lambda *_: None)
names = ["st-rand", "mt-rand", "larson", "xmalloc", "mstress", "rpdist", "realloc", "large"]
tmp = tempfile.mkdtemp(prefix="fly-trace-")
print(f"{'workload':<10} {'untraced s':>10} {'traced s':>9} {'ratio':>6} {'events':>10} {'trace MiB':>9}")
for name in names:
    w = workloads.BY_NAME[name]
    cmd = [os.path.join(repo, "build", "bench", w.prog)] + w.sizes[size]
    times = {False: [], True: []}
    events = size_mb = 0
    for _ in range(repeat):
        for traced in (False, True):
            env = dict(os.environ, LD_PRELOAD=lib)
            path = os.path.join(tmp, name + ".trace")
            if traced:
                env["FLYMALLOC_TRACE"] = path
            t0 = time.monotonic()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            times[traced].append(time.monotonic() - t0)
            if traced:
                data = open(path, "rb").read()
                size_mb = len(data) / 2**20
                end = data.rfind(b"FLYE")
                events = int.from_bytes(data[end + 8:end + 16], "little") if end >= 0 else -1
                os.unlink(path)
    u, t = statistics.median(times[False]), statistics.median(times[True])
    print(f"{name:<10} {u:>10.3f} {t:>9.3f} {t / u:>6.2f} {events:>10} {size_mb:>9.1f}", flush=True)
PY
