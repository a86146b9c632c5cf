"""workloads.py: the benchmark workloads, their sizes, and how they are built.

Each workload has three sizes: "tiny" (a fraction of a second, for tests
and for the corruption checks), "quick" (`--quick`) and "full" (the
default).  A C workload is a program in bench/ built into build/bench/; a
real-program workload is prepared by realprogs.py.  `metrics` names the
key=value figures of the workload's "bench:" line that the report shows;
`series` marks workloads that print "sample:" lines (RSS over time);
`syscalls` marks workloads that are also run under strace to count memory
system calls.
"""

import os
import subprocess

import realprogs

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
BUILD_DIR = os.path.join(REPO, "build", "bench")
GEN_DIR = os.path.join(BUILD_DIR, "gen")
CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"]
NCPU = os.cpu_count() or 2
PROGRAMS = ["spawn", "fastpath", "randsize", "larson", "xmalloc", "cache", "mstress", "rpdist",
            "large", "realloc", "memret", "fragserver"]


class Workload:
    def __init__(self, name, title, prog=None, sizes=None, real=None, threaded=False,
                 metrics=(), series=False, syscalls=False, default=True):
        self.name = name
        self.title = title
        self.prog = prog            # C program in bench/, or None
        self.sizes = sizes or {}    # size -> list of arguments (C) or a number (real)
        self.real = real            # realprogs.prepare_* for real programs
        self.threaded = threaded
        self.metrics = list(metrics)  # (key, label, higher_is_better)
        self.series = series
        self.syscalls = syscalls
        self.default = default

    def prepare(self, size, corrupt=False):
        """Returns a realprogs.Prepared for this workload at the given size."""
        if self.real is not None:
            return self.real(self.sizes[size], GEN_DIR, corrupt)
        argv = [os.path.join(BUILD_DIR, self.prog)] + [str(a) for a in self.sizes[size]]
        if corrupt:
            argv.append("--corrupt")
        return realprogs.Prepared(argv, {}, lambda out: (True, "", {}))


T = str(NCPU)
THROUGHPUT = ("mops_s", "Mops/s", True)

WORKLOADS = [
    Workload("tiny", "tiny random sizes (for tests)", "randsize",
             {"tiny": ["--iters", "20000"], "quick": ["--iters", "20000"],
              "full": ["--iters", "20000"]}, default=False),
    Workload("st-rand", "single thread, random sizes 8 B-32 KiB (glibc bench-malloc shape)",
             "randsize",
             {"tiny": ["--iters", "50000"], "quick": ["--iters", "4000000"],
              "full": ["--iters", "16000000"]}, metrics=[THROUGHPUT]),
    Workload("mt-rand", "the same on every core, one working set per thread", "randsize",
             {"tiny": ["--threads", T, "--iters", "50000"],
              "quick": ["--threads", T, "--iters", "4000000"],
              "full": ["--threads", T, "--iters", "16000000"]},
             threaded=True, metrics=[THROUGHPUT]),
    Workload("larson", "larson server: threads free what others allocated, in rounds", "larson",
             {"tiny": ["--threads", T, "--rounds", "4", "--ops", "5000"],
              "quick": ["--threads", T, "--rounds", "60", "--ops", "200000"],
              "full": ["--threads", T, "--rounds", "200", "--ops", "250000"]},
             threaded=True, metrics=[THROUGHPUT]),
    Workload("xmalloc", "producer/consumer: one thread allocates, another frees", "xmalloc",
             {"tiny": ["--objects", "100000"], "quick": ["--objects", "5000000"],
              "full": ["--objects", "20000000"]},
             threaded=True, metrics=[THROUGHPUT]),
    Workload("cache-scratch", "passive false sharing (Hoard cache-scratch)", "cache",
             {"tiny": ["--scratch", "--threads", T, "--iters", "100", "--writes", "1000"],
              "quick": ["--scratch", "--threads", T, "--iters", "1000", "--writes", "40000"],
              "full": ["--scratch", "--threads", T, "--iters", "2000", "--writes", "100000"]},
             threaded=True),
    Workload("cache-thrash", "active false sharing (Hoard cache-thrash)", "cache",
             {"tiny": ["--thrash", "--threads", T, "--iters", "100", "--writes", "1000"],
              "quick": ["--thrash", "--threads", T, "--iters", "1000", "--writes", "40000"],
              "full": ["--thrash", "--threads", T, "--iters", "2000", "--writes", "100000"]},
             threaded=True),
    Workload("mstress", "mstress: changing size mixes, migrating objects, thread churn",
             "mstress",
             {"tiny": ["--threads", str(2 * NCPU), "--phases", "3", "--ops", "5000"],
              "quick": ["--threads", str(2 * NCPU), "--phases", "8", "--ops", "100000"],
              "full": ["--threads", str(2 * NCPU), "--phases", "12", "--ops", "400000"]},
             threaded=True, metrics=[THROUGHPUT]),
    Workload("rpdist", "rpmalloc-benchmark size distribution, cross-thread frees", "rpdist",
             {"tiny": ["--threads", T, "--loops", "40"],
              "quick": ["--threads", T, "--loops", "2000"],
              "full": ["--threads", T, "--loops", "8000"]},
             threaded=True, metrics=[THROUGHPUT]),
    Workload("large", "large blocks 64 KiB-32 MiB, random alloc/free", "large",
             {"tiny": ["--ops", "100"], "quick": ["--ops", "1000"], "full": ["--ops", "2000"]},
             syscalls=True),
    Workload("realloc", "realloc growth: string builders and vectors", "realloc",
             {"tiny": ["--bytes", "4m"], "quick": ["--bytes", "256m"],
              "full": ["--bytes", "1g"]}),
    Workload("memret", "memory returned: 1 GiB small objects, free oldest 90 %, idle 2 s",
             "memret",
             {"tiny": ["--bytes", "16m", "--idle-ms", "100"],
              "quick": ["--bytes", "256m"], "full": ["--bytes", "1g"]},
             metrics=[("ratio", "(RSS end - start) / live", False)]),
    Workload("fragserver", "long-running server: waves of growth and shrink", "fragserver",
             {"tiny": ["--peak", "8m", "--phases", "4", "--sample", "20000"],
              "quick": ["--peak", "64m", "--phases", "8", "--sample", "20000"],
              "full": ["--peak", "192m", "--phases", "12", "--sample", "50000"]},
             series=True,
             metrics=[("mean_ratio", "mean heap RSS / live", False),
                      ("end_ratio", "end heap RSS / live", False)]),
    Workload("python", "python3: records, JSON, strings (real program)",
             sizes={"tiny": 300, "quick": 40000, "full": 150000},
             real=realprogs.prepare_python),
    Workload("sqlite", "sqlite3: insert, index, query, update (real program)",
             sizes={"tiny": 2000, "quick": 100000, "full": 300000},
             real=realprogs.prepare_sqlite),
    Workload("gcc", "gcc -O2 compiling a generated C file (real program)",
             sizes={"tiny": 10, "quick": 150, "full": 600},
             real=realprogs.prepare_gcc),
    Workload("perl", "perl: hash and string churn (real program)",
             sizes={"tiny": 300, "quick": 100000, "full": 400000},
             real=realprogs.prepare_perl),
    Workload("lua", "lua5.4: tables, strings, sort (real program)",
             sizes={"tiny": 300, "quick": 40000, "full": 150000},
             real=realprogs.prepare_lua),
    Workload("jq", "jq: group, sum and sort JSON records (real program)",
             sizes={"tiny": 300, "quick": 40000, "full": 150000},
             real=realprogs.prepare_jq),
    Workload("awk", "mawk: word counts and string building (real program)",
             sizes={"tiny": 300, "quick": 200000, "full": 600000},
             real=realprogs.prepare_awk),
    Workload("bc", "bc -l: 60-digit series and a large factorial (real program)",
             sizes={"tiny": 20, "quick": 1000, "full": 2500},
             real=realprogs.prepare_bc),
    Workload("make", "GNU make -n: a generated makefile of many objects (real program)",
             sizes={"tiny": 50, "quick": 20000, "full": 60000},
             real=realprogs.prepare_make),
    Workload("git", "git log --numstat over a generated history (real program)",
             sizes={"tiny": 20, "quick": 2000, "full": 6000},
             real=realprogs.prepare_git),
]

BY_NAME = {w.name: w for w in WORKLOADS}


def select(only):
    """Workloads named in `only` (a list), or the default suite."""
    if not only:
        return [w for w in WORKLOADS if w.default]
    unknown = [n for n in only if n not in BY_NAME]
    if unknown:
        raise ValueError("unknown workload(s): %s (known: %s)" % (
            ", ".join(unknown), ", ".join(BY_NAME)))
    return [BY_NAME[n] for n in only]


def build(progs=None, cc=None, log=print):
    """Compiles the C workloads into build/bench/ when their sources changed."""
    cc = cc or os.environ.get("CC", "cc")
    os.makedirs(BUILD_DIR, exist_ok=True)
    header = os.path.join(BENCH_DIR, "bench_common.h")
    for prog in ["spawn"] + [p for p in progs or PROGRAMS if p != "spawn"]:
        src = os.path.join(BENCH_DIR, prog + ".c")
        out = os.path.join(BUILD_DIR, prog)
        newest = max(os.path.getmtime(src), os.path.getmtime(header))
        if os.path.exists(out) and os.path.getmtime(out) >= newest:
            continue
        cmd = [cc] + CFLAGS + ["-o", out, src, "-lm"]
        log("build: " + " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("building %s failed:\n%s" % (prog, r.stderr))
