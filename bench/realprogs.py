"""realprogs.py: real Debian programs as benchmark workloads.

Each real-program workload is described by a function that writes its
inputs into a work directory and returns how to run it and how to check
what it printed.  The check never trusts the program alone: for sqlite3 and
gcc the expected output is computed here, independently, from the same
formulas the generated input uses; the Python and Perl scripts compare
their checksum with the value recorded for their size (and print it).

With corrupt=True the input is altered so that the result is wrong (one
row updated, one value flipped): the check must then fail, which is how
the tests prove it works.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
M32 = 0xFFFFFFFF


PACKAGES = {"lua5.4": "lua5.4", "mawk": "mawk", "jq": "jq", "bc": "bc", "make": "make",
            "git": "git"}


class MissingTool(Exception):
    """A real-program workload's program is not installed."""


def tool(name):
    """Absolute path of a program, preferring Debian's /usr/bin copy."""
    p = "/usr/bin/" + name
    found = p if os.path.exists(p) else shutil.which(name)
    if found is None:
        raise MissingTool("%s is not installed (apt-get install %s)" % (
            name, PACKAGES.get(name, name)))
    return found


class Prepared:
    """What a prepared workload runs: argv, extra environment, checker.

    check(stdout_text) returns (ok, message, metrics dict).
    """

    def __init__(self, argv, env, check, cwd=None):
        self.argv = argv
        self.env = env
        self.check = check
        self.cwd = cwd


# ---- python3 -------------------------------------------------------------

def _script_check(name):
    def check(out):
        m = re.search(r"checksum=(\d+)", out)
        if not m:
            return False, "%s printed no checksum" % name, {}
        return True, "", {"checksum": m.group(1)}
    return check


def prepare_python(n, workdir, corrupt):
    """python3 running bench/real/pywork.py N (the script checks itself)."""
    py = tool("python3")
    env = {"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    if corrupt:
        env["BENCH_CORRUPT"] = "1"
    return Prepared([py, os.path.join(BENCH_DIR, "real", "pywork.py"), str(n)], env,
                    _script_check("pywork.py"))


def prepare_perl(n, workdir, corrupt):
    """perl running bench/real/perlwork.pl N (the script checks itself)."""
    env = {"PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0"}
    if corrupt:
        env["BENCH_CORRUPT"] = "1"
    return Prepared([tool("perl"), os.path.join(BENCH_DIR, "real", "perlwork.pl"), str(n)], env,
                    _script_check("perlwork.pl"))


# ---- sqlite3 -------------------------------------------------------------

SQL = """PRAGMA cache_size=-200000;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c INTEGER, d TEXT);
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{n})
INSERT INTO t SELECT i, (i*7919)%1000, 'k'||((i*31)%9973), (i*i)%100003,
  printf('%08d-%x', i, (i*2654435761)%4294967296) FROM s;
COMMIT;
{corrupt}CREATE INDEX ta ON t(a);
CREATE INDEX tb ON t(b);
CREATE INDEX td ON t(d);
CREATE TABLE u AS SELECT b, count(*) AS n, sum(c) AS s FROM t GROUP BY b;
CREATE INDEX ub ON u(b);
SELECT count(*), sum(c), sum(a) FROM t;
SELECT a, count(*), sum(c) FROM t WHERE a BETWEEN 100 AND 103 GROUP BY a ORDER BY a;
SELECT count(DISTINCT b) FROM t;
SELECT sum(u.n * u.s) % 1000000007 FROM t JOIN u ON t.b = u.b WHERE t.a < 50;
SELECT id, c FROM t ORDER BY c DESC, id LIMIT 3;
UPDATE t SET c = c + 1 WHERE a % 10 = 3;
DELETE FROM t WHERE a % 7 = 0;
SELECT count(*), sum(c), sum(length(d)) FROM t;
SELECT length(group_concat(d, ',')) FROM t WHERE a < 100;
"""


def sqlite_expected(n):
    """The output of SQL for n rows, computed without sqlite."""
    rows = []
    for i in range(1, n + 1):
        rows.append((i, (i * 7919) % 1000, (i * 31) % 9973, (i * i) % 100003,
                     "%08d-%x" % (i, (i * 2654435761) % 4294967296)))
    out = []
    out.append("%d|%d|%d" % (n, sum(r[3] for r in rows), sum(r[1] for r in rows)))
    for a in range(100, 104):
        sel = [r for r in rows if r[1] == a]
        if sel:
            out.append("%d|%d|%d" % (a, len(sel), sum(r[3] for r in sel)))
    out.append("%d" % len({r[2] for r in rows}))
    cnt, tot = {}, {}
    for r in rows:
        cnt[r[2]] = cnt.get(r[2], 0) + 1
        tot[r[2]] = tot.get(r[2], 0) + r[3]
    out.append("%d" % (sum(cnt[r[2]] * tot[r[2]] for r in rows if r[1] < 50) % 1000000007))
    for r in sorted(rows, key=lambda r: (-r[3], r[0]))[:3]:
        out.append("%d|%d" % (r[0], r[3]))
    rows = [(r[0], r[1], r[2], r[3] + (1 if r[1] % 10 == 3 else 0), r[4])
            for r in rows if r[1] % 7 != 0]
    out.append("%d|%d|%d" % (len(rows), sum(r[3] for r in rows), sum(len(r[4]) for r in rows)))
    sel = [r for r in rows if r[1] < 100]
    out.append("%d" % (sum(len(r[4]) for r in sel) + len(sel) - 1) if sel else "")
    return "\n".join(out) + "\n"


def prepare_sqlite(n, workdir, corrupt):
    """sqlite3 on an in-memory database: insert n rows, index, query, update."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "sqlite-%d%s.sql" % (n, "-corrupt" if corrupt else ""))
    bad = "UPDATE t SET c = c + 1 WHERE id = 17;\n" if corrupt else ""
    with open(path, "w") as f:
        f.write(SQL.format(n=n, corrupt=bad))
    want = sqlite_expected(n)

    def check(out):
        if out != want:
            got = out.splitlines()
            exp = want.splitlines()
            for k, (g, e) in enumerate(zip(got, exp)):
                if g != e:
                    return False, "sqlite3 output line %d is %r, expected %r" % (k + 1, g, e), {}
            return False, "sqlite3 printed %d lines, expected %d" % (len(got), len(exp)), {}
        return True, "", {}
    # sqlite3 reads the script itself (-init would also work); stdin is the file.
    return Prepared([tool("sqlite3"), "-batch", ":memory:", ".read " + path], {}, check)


# ---- gcc -----------------------------------------------------------------

def _fa(x, c, ck, mk, rk):
    a = list(c)
    u, v = x, ck
    for i in range(8):
        a[i] = (a[i] * mk + (x ^ i)) & M32
        x = (((x << rk) | (x >> (32 - rk))) + a[i]) & M32
    v ^= x
    r = x % 5
    if r == 0:
        x ^= (u * 3) & M32
    elif r == 1:
        x = (x + v) & M32
    elif r == 2:
        x = (x * 2654435761 + a[3]) & M32
    elif r == 3:
        x = (x - a[x % 8]) & M32
    else:
        x = (x >> 7) ^ ((x << 9) & M32) ^ v
    return x


def _fb(x, ck, mk):
    h = ck
    for _ in range((x & 7) + 4):
        h = ((h ^ x) * 16777619) & M32
        x = (x + (h >> 5) + mk) & M32
    return x ^ h


def gcc_source(nfunc, corrupt):
    """A C file of nfunc generated functions and the value its main prints."""
    seed = 12345
    lines = ["#include <stdint.h>", "#include <stdio.h>", ""]
    funcs = []
    st = 2463534242
    def rnd():
        nonlocal st
        st ^= (st << 13) & M32
        st ^= st >> 17
        st ^= (st << 5) & M32
        return st
    for k in range(nfunc):
        if k % 3 != 2:
            c = [rnd() for _ in range(8)]
            ck, mk, rk = rnd(), rnd() | 1, 1 + rnd() % 31
            lines += [
                "static uint32_t f%d(uint32_t x)" % k, "{",
                "    uint32_t a[8] = { %s };" % ", ".join("%uu" % v for v in c),
                "    struct pt { uint32_t u, v; } p = { x, %uu };" % ck,
                "    for (int i = 0; i < 8; i++) {",
                "        a[i] = a[i] * %uu + (x ^ (uint32_t)i);" % mk,
                "        x = ((x << %d) | (x >> %d)) + a[i];" % (rk, 32 - rk),
                "    }",
                "    p.v ^= x;",
                "    switch (x % 5u) {",
                "    case 0: x ^= p.u * 3u; break;",
                "    case 1: x += p.v; break;",
                "    case 2: x = x * 2654435761u + a[3]; break;",
                "    case 3: x -= a[x % 8u]; break;",
                "    default: x = (x >> 7) ^ (x << 9) ^ p.v; break;",
                "    }",
                "    return x;", "}", ""]
            funcs.append(lambda x, c=c, ck=ck, mk=mk, rk=rk: _fa(x, c, ck, mk, rk))
        else:
            ck, mk = rnd(), rnd()
            lines += [
                "static uint32_t f%d(uint32_t x)" % k, "{",
                "    uint32_t h = %uu;" % ck,
                "    unsigned n = (x & 7u) + 4u;",
                "    while (n--) {",
                "        h = (h ^ x) * 16777619u;",
                "        x = x + (h >> 5) + %uu;" % mk,
                "    }",
                "    return x ^ h;", "}", ""]
            funcs.append(lambda x, ck=ck, mk=mk: _fb(x, ck, mk))
    lines.append("typedef uint32_t (*fn_t)(uint32_t);")
    lines.append("static fn_t const table[] = {")
    for k in range(0, nfunc, 8):
        lines.append("    " + " ".join("f%d," % j for j in range(k, min(k + 8, nfunc))))
    lines += ["};", "", "int main(void)", "{",
              "    uint32_t x = %du;" % seed,
              "    for (uint32_t r = 0; r < 3; r++)",
              "        for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)",
              "            x = table[i](x ^ r);"]
    if corrupt:
        lines.append("    x ^= 1u;")
    lines += ['    printf("%u\\n", (unsigned)x);', "    return 0;", "}", ""]
    x = seed
    for r in range(3):
        for f in funcs:
            x = f(x ^ r)
    return "\n".join(lines), "%d\n" % x


def prepare_gcc(nfunc, workdir, corrupt):
    """gcc -O2 compiling and linking a generated file; the program is run to check."""
    import subprocess
    os.makedirs(workdir, exist_ok=True)
    tag = "%d%s" % (nfunc, "-corrupt" if corrupt else "")
    src = os.path.join(workdir, "gen-%s.c" % tag)
    exe = os.path.join(workdir, "gen-%s" % tag)
    text, want = gcc_source(nfunc, corrupt)
    if os.path.exists(exe):
        os.unlink(exe)
    with open(src, "w") as f:
        f.write(text)

    def check(out):
        if not os.path.exists(exe):
            return False, "gcc produced no program", {}
        run = subprocess.run([exe], capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin"})
        os.unlink(exe)
        if run.stdout != want:
            return False, "the compiled program printed %r, expected %r" % (
                run.stdout.strip(), want.strip()), {}
        return True, "", {}
    cc = tool("gcc")
    return Prepared([cc, "-O2", "-w", "-o", exe, src], {}, check)


# ---- programs checked against a clean glibc run ---------------------------
#
# For the programs below the expected output is that of the same program on
# the clean input without any preloaded allocator (glibc's malloc), run once
# when the workload is prepared; with corrupt=True the measured run reads an
# altered input, so its output must differ from that reference.

def _lcg(seed):
    x = seed & 0xFFFFFFFF
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        yield x


def _generated(workdir, name, write):
    """workdir/name, written by write(path) unless it already exists."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, name)
    if not os.path.exists(path):
        tmp = path + ".tmp%d" % os.getpid()
        write(tmp)
        os.rename(tmp, path)
    return path


def _clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("FLYMALLOC_")}
    env.update(extra)
    return env


def _reference(argv, env, cwd=None):
    """stdout of argv under glibc (no preload): the expected output."""
    run = subprocess.run(argv, env=_clean_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError("reference run of %s failed: %s" % (
            argv[0], run.stderr.decode("utf-8", "replace")[-300:]))
    return run.stdout.decode("utf-8", "replace")


def _same_as(name, want):
    digest = hashlib.sha1(want.encode()).hexdigest()[:16]

    def check(out):
        if out == want:
            return True, "", {"checksum": digest}
        got, exp = out.splitlines(), want.splitlines()
        for k, (g, e) in enumerate(zip(got, exp)):
            if g != e:
                return False, "%s output line %d is %r, expected %r (glibc run)" % (
                    name, k + 1, g[:80], e[:80]), {}
        return False, "%s printed %d lines, the glibc run %d" % (name, len(got), len(exp)), {}
    return check


def _against_reference(name, clean_argv, argv, env, cwd=None):
    return Prepared(argv, env, _same_as(name, _reference(clean_argv, env, cwd)), cwd)


def prepare_lua(n, workdir, corrupt):
    """lua5.4 running bench/real/luawork.lua N: tables, strings, sort."""
    argv = [tool("lua5.4"), os.path.join(BENCH_DIR, "real", "luawork.lua"), str(n)]
    p = _against_reference("lua", argv, argv, {})
    if corrupt:
        p.env = {"BENCH_CORRUPT": "1"}
    return p


def _records(n, corrupt):
    rnd = _lcg(n)
    recs = []
    for i in range(n):
        v = next(rnd)
        recs.append({"id": i, "g": "g%d" % (v % 211), "v": v % 100003,
                     "name": "n%x" % (v * 7 % 999983),
                     "tags": ["t%d" % ((v >> k) % 31) for k in range(v % 5 + 1)],
                     "w": (v % 1000) / 8})
    if corrupt:
        recs[n // 2]["v"] += 1
    return recs


JQ_PROGRAM = ("group_by(.g) | map({g: .[0].g, n: length, s: (map(.v) | add), w: (map(.w) | add),"
              " tags: ([.[].tags[]] | unique | length), first: (map(.name) | sort | .[0:2])})"
              " | sort_by(-.s)")


def prepare_jq(n, workdir, corrupt):
    """jq grouping, summing and sorting n JSON records."""
    def data(c):
        return _generated(workdir, "jq-%d%s.json" % (n, "-corrupt" if c else ""),
                          lambda path: open(path, "w").write(json.dumps(_records(n, c))))
    jq = tool("jq")
    return _against_reference("jq", [jq, "-c", JQ_PROGRAM, data(False)],
                              [jq, "-c", JQ_PROGRAM, data(corrupt)], {})


def _text(n, corrupt, path):
    rnd = _lcg(n)
    with open(path, "w") as f:
        for i in range(n):
            v = next(rnd)
            words = ["w%x" % ((v >> k) % (5000 + k * 977)) for k in range(v % 9 + 3)]
            if corrupt and i == n // 2:
                words[0] += "x"
            f.write("%d %s %d\n" % (i, " ".join(words), v % 1000))


def prepare_awk(n, workdir, corrupt):
    """mawk counting words and building strings over n generated lines."""
    def text(c):
        return _generated(workdir, "awk-%d%s.txt" % (n, "-corrupt" if c else ""),
                          lambda path: _text(n, c, path))
    awk = [tool("mawk"), "-f", os.path.join(BENCH_DIR, "real", "wordfreq.awk")]
    return _against_reference("mawk", awk + [text(False)], awk + [text(corrupt)], {})


def prepare_bc(n, workdir, corrupt):
    """bc -l summing n terms to 60 digits and taking n factorial."""
    def prelude(c):
        return _generated(workdir, "bc-%d%s.bc" % (n, "-corrupt" if c else ""),
                          lambda path: open(path, "w").write("n = %d\n" % (n + (1 if c else 0))))
    bc = [tool("bc"), "-lq"]
    series = os.path.join(BENCH_DIR, "real", "series.bc")
    return _against_reference("bc", bc + [prelude(False), series],
                              bc + [prelude(corrupt), series], {})


def _makefile(n, corrupt, path):
    lines = ["SRCS := " + " ".join("src/m%d.c" % i for i in range(n)),
             "OBJS := $(patsubst src/%.c,obj/%.o,$(SRCS))",
             "FLAGS := $(foreach s,$(wordlist 1,40,$(SRCS)),"
             "-I$(dir $(s))inc/$(basename $(notdir $(s))))",
             "all: prog",
             "prog: $(OBJS)\n\techo link $(words $^) objects $(sort $(filter %7.o,$^))",
             "obj/%.o: src/%.c\n\techo cc $(FLAGS) -c $< -o $@ $(subst m,M,$(notdir $*))"
             " $(sort $(V$(notdir $*)))"]
    for i in range(n):
        deps = " ".join("inc/h%d.h" % ((i * 7 + k * 13) % 500) for k in range(i % 6 + 1))
        if corrupt and i == n // 2:
            deps += " inc/extra.h"
        lines.append("obj/m%d.o: %s" % (i, deps))
        lines.append("Vm%d := %s $(addsuffix .d,$(basename %s))" % (i, deps, deps))
    lines += ["src/%.c:\n\t@:", "inc/%.h:\n\t@:"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def prepare_make(n, workdir, corrupt):
    """GNU make -n over a generated makefile of n objects (variables, functions, rules)."""
    def mk(c):
        return _generated(workdir, "make-%d%s.mk" % (n, "-corrupt" if c else ""),
                          lambda path: _makefile(n, c, path))
    make = [tool("make"), "-n", "-f"]
    return _against_reference("make", make + [mk(False), "all"], make + [mk(corrupt), "all"], {},
                              cwd=workdir)


def _git_history(ncommit, corrupt, out):
    """A fast-import stream: ncommit commits, each changing lines of 8 of 300 files."""
    rnd = _lcg(ncommit)
    nfile = 300
    files = {f: ["line %d of file %d: %x" % (k, f, next(rnd)) for k in range(40 + f % 200)]
             for f in range(nfile)}
    for c in range(ncommit):
        touched = sorted({next(rnd) % nfile for _ in range(8)}) if c else range(nfile)
        for f in touched:
            text = files[f]
            for _ in range(3 if c else 0):
                v = next(rnd)
                k = v % len(text)
                if v % 3 == 0:
                    text[k] = "changed in %d: %x" % (c, v)
                elif v % 3 == 1:
                    text.insert(k, "added in %d: %x" % (c, v))
                elif len(text) > 20:
                    del text[k]
            if corrupt and c == ncommit // 2 and f == touched[0]:
                text[0] += " (altered)"
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer Bench <bench@example.org> %d +0000\n" % (1700000000 + c * 60))
        msg = b"commit %d\n" % c
        out.write(b"data %d\n%s" % (len(msg), msg))
        for f in touched:
            blob = ("\n".join(files[f]) + "\n").encode()
            out.write(b"M 100644 inline d%d/f%d.txt\ndata %d\n" % (f % 10, f, len(blob)))
            out.write(blob)


GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "TZ": "UTC",
           "LC_ALL": "C"}


def prepare_git(n, workdir, corrupt):
    """git log --numstat over a generated history of n commits (diffs of packed blobs)."""
    git = tool("git")

    def repo(c):
        def build(path):
            subprocess.run([git, "init", "-q", "--bare", path], check=True,
                           env=_clean_env(GIT_ENV))
            imp = subprocess.Popen([git, "-C", path, "fast-import", "--quiet"],
                                   stdin=subprocess.PIPE, env=_clean_env(GIT_ENV))
            _git_history(n, c, imp.stdin)
            imp.stdin.close()
            if imp.wait() != 0:
                raise RuntimeError("git fast-import failed")
        return _generated(workdir, "git-%d%s.git" % (n, "-corrupt" if c else ""), build)
    log = ["log", "main", "--numstat", "--format=%H %s"]
    return _against_reference("git", [git, "-C", repo(False)] + log,
                              [git, "-C", repo(corrupt)] + log, GIT_ENV)
