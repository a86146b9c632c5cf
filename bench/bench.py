#!/usr/bin/python3
"""bench.py: the flymalloc benchmark harness (entry point: bench/run.sh).

    bench/run.sh [--quick] [--only W1,W2] [--allocators glibc,jemalloc,...]
                 [--repeat N] [--so NAME=PATH]... [--out DIR]

1. Builds the C workloads into build/bench/ (cc -O2, see workloads.py) and
   resolves the allocators (allocators.py): a missing library is reported
   and skipped, never dropped silently.
2. For each workload, runs the repetitions interleaved across allocators
   (A B C A B C ...), each run a fresh process (fork/exec) reaped with
   wait4, which gives peak RSS (ru_maxrss) and user and system CPU time;
   wall time is measured around it.  The fork happens in bench/spawn.c, a
   tiny helper, so that the harness's own RSS does not leak into ru_maxrss.  A progress line per run says what ran
   and estimates the time left.
3. Every run must pass its own check (exit status 0, a "bench:" line, the
   real program's expected output), and workloads whose checksum does not
   depend on the allocator must print the same checksum for all of them.
   A run that fails is reported as failed and left out of the medians.
4. Workloads marked `syscalls` are run once more per allocator under
   `strace -f -c` at N and 2N steps, to count memory system calls and the
   steady-state calls per step.
5. Prints the table and writes bench/results/<date-time>/ (or --out DIR):
   runs.json (everything, including each run's exact command line),
   runs.csv (one row per run), table.txt and index.html (inline SVG).

Other modes: --list (workloads and allocators), --corrupt-test (each
workload at its tiny size must pass, and fail when told to corrupt its
result).  Exit status: 0 when every run passed, 1 when a run failed, 2 on
bad usage or a build failure.
"""

import argparse
import datetime
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import allocators as alloc_mod  # noqa: E402
import realprogs  # noqa: E402
import report  # noqa: E402
import workloads as wl_mod  # noqa: E402

# Environment variables that change an allocator's behaviour: recorded, and
# shown in each run's command line when set.
TUNING_ENV = re.compile(r"^(MALLOC_|GLIBC_TUNABLES$|FLYMALLOC_|MIMALLOC_|JE_MALLOC_CONF$|"
                        r"TCMALLOC_|LD_LIBRARY_PATH$)")
# First-run estimates, seconds per run, used until a workload has been timed.
EST = {"tiny": 0.2, "quick": 1.0, "full": 3.0}
EST_EXTRA = {"memret": 2.5, "gcc": 1.5, "fragserver": 2.0}


def log(msg):
    print(msg, flush=True)


def machine_info():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "ncpu": os.cpu_count(), "mem_mib": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "thp": _read("/sys/kernel/mm/transparent_hugepage/enabled")}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def base_env():
    """The environment every run starts from: ours, without any preload."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("BENCH_CORRUPT", None)
    return env


def command_line(argv, extra_env, cwd=None):
    """A shell command that reproduces a run exactly (as far as env goes)."""
    tuning = {k: v for k, v in os.environ.items() if TUNING_ENV.match(k)}
    tuning.update(extra_env)
    pre = ["env"] + ["%s=%s" % (k, shlex.quote(v)) for k, v in sorted(tuning.items())] if tuning else []
    cmd = " ".join(pre + [shlex.quote(a) for a in argv])
    return ("cd %s && " % shlex.quote(cwd) + cmd) if cwd else cmd


def parse_output(text):
    """key=value pairs of the last "bench:" line, and the "sample:" series."""
    metrics, samples = {}, []
    for line in text.splitlines():
        if line.startswith("bench:"):
            metrics = dict(kv.split("=", 1) for kv in line[6:].split() if "=" in kv)
        elif line.startswith("sample:"):
            kv = dict(x.split("=", 1) for x in line[7:].split() if "=" in x)
            try:
                samples.append((float(kv["t"]), int(kv["live"]), int(kv["rss"])))
            except (KeyError, ValueError):
                pass
    return metrics, samples


class Usage:
    """The resource usage bench/spawn.c reports for one process."""

    def __init__(self, line):
        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
        self.status = int(kv.get("status", "-1"))
        self.wall = float(kv.get("wall", "0"))
        self.ru_utime = float(kv.get("utime", "0"))
        self.ru_stime = float(kv.get("stime", "0"))
        self.ru_maxrss = int(kv.get("maxrss_kib", "0"))
        self.ru_minflt = int(kv.get("minflt", "0"))
        self.ru_majflt = int(kv.get("majflt", "0"))
        self.ru_nvcsw = int(kv.get("nvcsw", "0"))
        self.ru_nivcsw = int(kv.get("nivcsw", "0"))


def spawn(argv, env, timeout, cwd=None):
    """Runs argv; returns (exit code, Usage, wall seconds, stdout, stderr, timed out).

    The command is started through bench/spawn.c (build/bench/spawn), which
    forks it from a tiny image and reaps it with wait4: forked straight from
    this Python process, the child's ru_maxrss would include the harness's own
    RSS.  The exit code is negative for a signal, as in subprocess.
    """
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile(prefix="bench-usage-") as fu:
        helper = [os.path.join(wl_mod.BUILD_DIR, "spawn"), fu.name]
        p = subprocess.Popen(helper + list(argv), env=env, stdin=subprocess.DEVNULL, stdout=fo,
                             stderr=fe, cwd=cwd, start_new_session=True)
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            p.wait()
        finally:
            timer.cancel()
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode("utf-8", "replace")
        err = fe.read().decode("utf-8", "replace")
        line = open(fu.name).read()
    if p.returncode != 0 or not line:
        ru = Usage("")
        code = p.returncode if p.returncode < 0 else -signal.SIGKILL if timed_out else 127
        return code, ru, 0.0, out, err, bool(timed_out)
    ru = Usage(line)
    return os.waitstatus_to_exitcode(ru.status), ru, ru.wall, out, err, bool(timed_out)


def run_one(w, prep, a, rep, timeout):
    env = base_env()
    env.update(prep.env)
    env.update(a.env())
    extra = dict(prep.env)
    extra.update(a.env())
    code, ru, wall, out, err, timed_out = spawn(prep.argv, env, timeout, prep.cwd)
    metrics, samples = parse_output(out)
    error = ""
    if timed_out:
        error = "timed out after %d s" % timeout
    elif code < 0:
        error = "killed by signal %d (%s)" % (-code, signal.Signals(-code).name)
    elif code != 0:
        last = [l for l in err.splitlines() if l.strip()]
        error = "exit %d: %s" % (code, last[-1][:300] if last else "(no message)")
    elif w.real is None and "ops" not in metrics:
        error = "no bench: line in the output"
    else:
        ok, msg, more = prep.check(out)
        if not ok:
            error = "check failed: " + msg
        metrics.update(more)
    return {
        "workload": w.name, "allocator": a.name, "rep": rep, "ok": not error, "exit": code,
        "error": error, "wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
        "maxrss_kib": ru.ru_maxrss, "minflt": ru.ru_minflt, "majflt": ru.ru_majflt,
        "nvcsw": ru.ru_nvcsw, "nivcsw": ru.ru_nivcsw, "metrics": metrics,
        "samples": samples if w.series else None,
        "stderr_tail": err[-2000:] if error else "",
        "command": command_line(prep.argv, extra, prep.cwd),
    }


def check_checksums(w, runs):
    """Marks runs whose checksum differs from glibc's (or the most common one)."""
    sums = [r["metrics"].get("checksum") for r in runs if r["ok"] and r["workload"] == w.name]
    sums = [s for s in sums if s is not None]
    if not sums:
        return
    ref = None
    for r in runs:
        if r["ok"] and r["workload"] == w.name and r["allocator"] == "glibc":
            ref = r["metrics"].get("checksum")
            break
    if ref is None:
        ref = max(set(sums), key=sums.count)
    for r in runs:
        if r["workload"] == w.name and r["ok"] and r["metrics"].get("checksum") not in (None, ref):
            r["ok"] = False
            r["error"] = "checksum %s differs from the others' %s" % (r["metrics"]["checksum"], ref)


STRACE_RE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def strace_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            m = STRACE_RE.match(line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
    return counts


def syscall_run(w, size, a, timeout):
    """Counts memory system calls at N and 2N steps under strace."""
    strace = which_tool("strace")
    prep = w.prepare(size)
    argv = list(prep.argv)
    try:
        i = argv.index("--ops")
    except ValueError:
        return None
    n = int(argv[i + 1])
    res = {"workload": w.name, "allocator": a.name, "steps_n": n, "ok": False}
    if strace is None:
        res["error"] = "strace not installed"
        return res
    for label, steps in (("n", n), ("2n", 2 * n)):
        argv[i + 1] = str(steps)
        with tempfile.NamedTemporaryFile(suffix=".strace") as tf:
            env = base_env()
            extra = a.env()
            if a.name.split(":")[0] == "flymalloc":
                extra["FLYMALLOC_STATS"] = "1"
            # -E hands the preload to the traced program only, not to strace.
            cmd = [strace, "-f", "-c", "--seccomp-bpf", "-e", "trace=%memory", "-o", tf.name] + \
                ["-E%s=%s" % kv for kv in sorted(extra.items())] + argv
            code, _ru, _wall, out, err, timed_out = spawn(cmd, env, timeout)
            if code != 0 or timed_out:
                res["error"] = "strace run failed (exit %d)" % code
                return res
            res["counts_" + label] = strace_counts(tf.name)
            if label == "n":
                res["command"] = command_line(cmd, {})
                if a.name == "flymalloc":
                    res["flymalloc_stats"] = parse_fly_stats(err)
    cn, c2 = res["counts_n"], res["counts_2n"]
    keys = set(cn) | set(c2)
    diff = {k: (c2.get(k, 0) - cn.get(k, 0)) / n for k in keys}
    res["per_step"] = {"mmap+munmap": diff.get("mmap", 0) + diff.get("munmap", 0),
                       "all": sum(diff.values())}
    res["ok"] = True
    return res


def parse_fly_stats(text):
    """FLYMALLOC_STATS=1 output ("flymalloc: mmap_calls 7" lines) as a dict."""
    stats = {}
    for line in text.splitlines():
        m = re.match(r"^flymalloc: ([a-z][a-z_ ]*?) (\d+)$", line.strip())
        if m:
            stats[m.group(1).replace(" ", "_")] = int(m.group(2))
    return stats


def which_tool(name):
    for d in ("/usr/bin", "/bin", "/usr/local/bin"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def fmt_dur(s):
    s = int(round(s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


def corrupt_test(selected, allocs, timeout):
    """Each workload must pass at its tiny size and fail when corrupted."""
    passed = failed = 0
    for w in selected:
        for a in allocs:
            for corrupt in (False, True):
                try:
                    prep = w.prepare("tiny", corrupt=corrupt)
                except realprogs.MissingTool as e:
                    log("WRONG %-14s %-10s cannot run: %s" % (w.name, a.name, e))
                    failed += 1
                    continue
                r = run_one(w, prep, a, 0, timeout)
                want = not corrupt
                good = r["ok"] == want
                if corrupt and not r["ok"] and "check failed" not in r["error"] and \
                        "CHECK FAILED" not in r["stderr_tail"]:
                    good = False  # it must fail by its check, not by crashing
                label = "corrupted" if corrupt else "clean"
                status = "ok" if good else "WRONG"
                log("%-5s %-14s %-10s %-9s -> %s" % (status, w.name, a.name, label,
                                                     r["error"] or "passed"))
                passed += good
                failed += not good
    log("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, about 2 minutes")
    ap.add_argument("--size", choices=["tiny", "quick", "full"], help="workload size")
    ap.add_argument("--only", help="comma-separated workloads (see --list)")
    ap.add_argument("--allocators", help="comma-separated allocators (default: all known); flymalloc:POLICY runs flymalloc under one of its policies (flymalloc policies)")
    ap.add_argument("--repeat", type=int, help="repetitions (default 3; 2 with --quick)")
    ap.add_argument("--so", action="append", default=[], metavar="NAME=PATH",
                    help="add an allocator library (repeatable)")
    ap.add_argument("--out", help="results directory (default bench/results/<date-time>)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds before a run is killed")
    ap.add_argument("--no-syscalls", action="store_true", help="skip the strace runs")
    ap.add_argument("--list", action="store_true", help="list workloads and allocators")
    ap.add_argument("--corrupt-test", action="store_true",
                    help="check that every workload's self-check catches a corrupted result")
    args = ap.parse_args(argv)

    size = args.size or ("quick" if args.quick else "full")
    repeat = args.repeat or (2 if size == "quick" else 1 if size == "tiny" else 3)
    if repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        selected = wl_mod.select(args.only.split(",") if args.only else None)
        names = args.allocators.split(",") if args.allocators else None
        if names is not None and args.so:
            names += [s.split("=", 1)[0] for s in args.so if s.split("=", 1)[0] not in names]
        allocs, missing = alloc_mod.resolve(names, args.so)
    except ValueError as e:
        ap.error(str(e))

    if args.list:
        for w in wl_mod.WORKLOADS:
            log("%-14s %s%s" % (w.name, w.title, "" if w.default else "  [not in the default set]"))
        for a in allocs:
            log("allocator %-10s %s  %s" % (a.name, a.lib or "(no preload)", a.version or ""))
        for name, why in missing:
            log("allocator %-10s MISSING: %s" % (name, why))
        return 0

    for name, why in missing:
        log("MISSING allocator %s: %s -- skipped" % (name, why))
    if not allocs:
        log("no allocator to run")
        return 2
    try:
        wl_mod.build([w.prog for w in selected if w.prog] or None, log=log)
    except RuntimeError as e:
        log(str(e))
        return 2

    if args.corrupt_test:
        return corrupt_test(selected, allocs, args.timeout)

    started = datetime.datetime.now()
    stamp = started.strftime("%Y-%m-%d_%H%M%S")
    outdir = os.path.abspath(args.out or os.path.join(wl_mod.BENCH_DIR, "results", stamp))
    os.makedirs(outdir, exist_ok=True)
    load_before = list(os.getloadavg())
    total = len(selected) * len(allocs) * repeat
    log("flymalloc bench: %d workload(s) x %d allocator(s) x %d repetition(s) = %d runs, size %s"
        % (len(selected), len(allocs), repeat, total, size))
    log("allocators: " + ", ".join("%s (%s)" % (a.name, a.lib or "no preload") for a in allocs))
    log("load average %.2f %.2f %.2f; results in %s" % (tuple(load_before) + (outdir,)))
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        log("WARNING: load average %.2f on %d CPUs before the start: something else is running, "
            "and timings will be noisy" % (load_before[0], os.cpu_count() or 1))

    runs, syscalls = [], []
    done = 0
    t_start = time.monotonic()
    spent = {}  # workload -> seconds per run measured
    ratio = []  # measured / estimated, to correct estimates of workloads not yet run

    def estimate(w):
        if w.name in spent:
            return statistics.mean(spent[w.name])
        e = EST[size] + (EST_EXTRA.get(w.name, 0) if size != "tiny" else 0)
        return e * (statistics.median(ratio) if ratio else 1.0)

    skipped = []
    for wi, w in enumerate(selected):
        try:
            prep = w.prepare(size)
        except realprogs.MissingTool as e:
            log("SKIPPED workload %s: %s" % (w.name, e))
            skipped.append({"name": w.name, "reason": str(e)})
            total -= len(allocs) * repeat
            continue
        if w.real is not None:
            # One unrecorded run so that no allocator pays for a cold page cache.
            run_one(w, prep, allocs[0], -1, args.timeout)
        for rep in range(repeat):
            # Each repetition starts with a different allocator, so none
            # always runs right after the same neighbour (page cache, CPU
            # frequency and a noisy host's phases fall on all alike).
            k = rep % len(allocs)
            for a in allocs[k:] + allocs[:k]:
                r = run_one(w, prep, a, rep, args.timeout)
                runs.append(r)
                done += 1
                spent.setdefault(w.name, []).append(r["wall_s"])
                if len(spent[w.name]) == 1:
                    est0 = EST[size] + (EST_EXTRA.get(w.name, 0) if size != "tiny" else 0)
                    ratio.append(r["wall_s"] / est0)
                left = sum(estimate(x) * len(allocs) * repeat for x in selected[wi + 1:])
                left += estimate(w) * (len(allocs) * repeat - len(spent[w.name]))
                log("[%3d/%d] %-14s %-10s rep %d/%d  %7.3f s  %7.1f MiB  %s  ~%s left" % (
                    done, total, w.name, a.name, rep + 1, repeat, r["wall_s"],
                    r["maxrss_kib"] / 1024, "ok" if r["ok"] else "FAILED: " + r["error"],
                    fmt_dur(left)))
        check_checksums(w, runs)
        if w.syscalls and not args.no_syscalls:
            for a in allocs:
                s = syscall_run(w, size, a, args.timeout)
                if s is not None:
                    syscalls.append(s)
                    log("        %-14s %-10s strace: %s" % (
                        w.name, a.name, ("mmap+munmap per step in steady state %.3f"
                                         % s["per_step"]["mmap+munmap"]) if s["ok"]
                        else s.get("error")))

    load_after = list(os.getloadavg())
    names = [a.name for a in allocs]
    selected = [w for w in selected if w.name not in {x["name"] for x in skipped}]
    summary = report.summarize(runs, selected, names)
    ref = report.reference(summary, names)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(shlex.quote(x) for x in [sys.argv[0]] + (argv or sys.argv[1:])),
        "size": size, "repeat": repeat, "reference": ref,
        "machine": machine_info(), "load_before": load_before, "load_after": load_after,
        "elapsed_s": time.monotonic() - t_start,
        "allocators": [{"name": a.name, "lib": a.lib, "version": a.version} for a in allocs],
        "missing": [{"name": n, "reason": why} for n, why in missing],
        "skipped_workloads": skipped,
        "workloads": [{"name": w.name, "title": w.title, "threaded": w.threaded,
                       "series": w.series, "metrics": w.metrics} for w in selected
                      if w.name not in {x["name"] for x in skipped}],
        "tuning_env": {k: v for k, v in os.environ.items() if TUNING_ENV.match(k)},
    }
    doc = {"meta": meta, "summary": summary, "geomeans": report.geomeans(summary, names, ref),
           "syscalls": syscalls, "runs": runs}
    doc["table"] = report.text_table(doc)
    log("")
    log(doc["table"])
    report.write_json(doc, os.path.join(outdir, "runs.json"))
    report.write_csv(runs, os.path.join(outdir, "runs.csv"))
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(doc["table"] + "\n")
    report.write_html(doc, os.path.join(outdir, "index.html"))
    log("")
    log("wrote %s/{runs.json,runs.csv,table.txt,index.html} in %s" % (
        outdir, fmt_dur(time.monotonic() - t_start)))
    return 0 if all(r["ok"] for r in runs) and all(s["ok"] for s in syscalls) else 1


if __name__ == "__main__":
    sys.exit(main())
