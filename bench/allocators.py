"""allocators.py: which allocators the benchmarks compare, and where they are.

An allocator is a name and the shared library that LD_PRELOAD puts in front
of glibc's malloc; glibc itself has no library (the baseline runs with no
preload).  The standard set is glibc, flymalloc (this repository's
build/libflymalloc.so) and Debian's jemalloc, mimalloc and tcmalloc
(`make bench-deps` installs them).  `--so NAME=PATH` adds any other
library.  An allocator whose library file is absent is reported as missing
and skipped; it is never dropped silently.
"""

import os
import re
import subprocess

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
MULTIARCH = "/usr/lib/x86_64-linux-gnu"

# name -> (candidate library paths, Debian package or None)
KNOWN = {
    "glibc": ([], "libc6"),
    "flymalloc": ([os.path.join(REPO, "build", "libflymalloc.so")], None),
    "jemalloc": (["libjemalloc.so.2"], "libjemalloc2"),
    "mimalloc": (["libmimalloc.so.2"], "libmimalloc2.0"),
    "tcmalloc": (["libtcmalloc_minimal.so.4"], "libtcmalloc-minimal4"),
}
DEFAULT_ORDER = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "flymalloc"]


class Allocator:
    """One allocator: its name, its library (None for glibc), its version."""

    def __init__(self, name, lib, package=None, settings=None):
        self.name = name
        self.lib = lib
        self.package = package
        self.version = None
        self.settings = dict(settings or {})   # environment it runs with

    def env(self):
        """Environment additions that put this allocator in front."""
        env = {"LD_PRELOAD": self.lib} if self.lib else {}
        env.update(self.settings)
        return env

    def __repr__(self):
        return "Allocator(%r, %r)" % (self.name, self.lib)


def _lib_dirs():
    dirs = [MULTIARCH, "/usr/lib64", "/usr/lib", "/usr/local/lib"]
    return [d for d in dirs if os.path.isdir(d)]


def _find(candidates):
    for c in candidates:
        if os.path.isabs(c):
            if os.path.exists(c):
                return c
            continue
        for d in _lib_dirs():
            p = os.path.join(d, c)
            if os.path.exists(p):
                return p
    return None


def _candidate_text(candidates):
    return " or ".join(candidates) if candidates else "(none)"


def package_version(package):
    """The installed Debian version of a package, or None."""
    if not package:
        return None
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def glibc_version():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None


def flymalloc_version():
    """The git commit of the working tree the library was built from."""
    try:
        out = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10)
        return ("git " + out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_so(specs):
    """--so NAME=PATH arguments -> {name: path}; raises ValueError."""
    extra = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.+-]+)=(.+)", spec)
        if not m:
            raise ValueError("--so wants NAME=PATH, not %r" % spec)
        extra[m.group(1)] = os.path.abspath(m.group(2))
    return extra


def resolve(names, so_specs=()):
    """Returns (present allocators in order, [(name, reason) missing]).

    names: list of allocator names, or None for the default set plus every
    --so library.  Unknown names are missing with a reason.
    """
    extra = parse_so(so_specs)
    if names is None:
        names = list(DEFAULT_ORDER) + [n for n in extra if n not in DEFAULT_ORDER]
    present, missing = [], []
    seen = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if ":" in name:
            # flymalloc:POLICY, flymalloc under one of its policies, and/or
            # settings: flymalloc:numa=local+numa_topology=0/1 sets
            # FLYMALLOC_NUMA and FLYMALLOC_NUMA_TOPOLOGY ('+' between items);
            # NAME:POLICY likewise for a flymalloc build given as --so NAME=PATH
            base, spec = name.split(":", 1)
            found, lost = resolve([base], so_specs)
            env = {}
            for item in spec.split("+") if spec else []:
                if "=" in item:
                    key, value = item.split("=", 1)
                    env["FLYMALLOC_" + key.upper()] = value
                elif item:
                    env["FLYMALLOC_POLICY"] = item
            if (base != "flymalloc" and base not in extra) or not env:
                missing.append((name, "only flymalloc (or a build of it given with --so) takes a policy or settings (flymalloc:NAME, flymalloc:setting=value+...)"))
            elif lost:
                missing.append((name, lost[0][1]))
            else:
                a = Allocator(name, found[0].lib, found[0].package, env)
                a.version = "%s, %s" % (found[0].version, " ".join("%s=%s" % kv for kv in sorted(env.items())))
                present.append(a)
            continue
        if name in extra:
            path = extra[name]
            if os.path.exists(path):
                a = Allocator(name, path)
                a.version = "library " + path
                present.append(a)
            else:
                missing.append((name, "no such file: %s" % path))
            continue
        if name not in KNOWN:
            missing.append((name, "unknown allocator (use --so %s=PATH)" % name))
            continue
        candidates, package = KNOWN[name]
        if name == "glibc":
            a = Allocator("glibc", None, package)
            a.version = glibc_version()
            present.append(a)
            continue
        path = _find(candidates)
        if path is None:
            hint = " (run `make`)" if name == "flymalloc" else " (run `make bench-deps`)"
            missing.append((name, "library not found: %s%s" % (_candidate_text(candidates), hint)))
            continue
        a = Allocator(name, path, package)
        a.version = flymalloc_version() if name == "flymalloc" else package_version(package)
        present.append(a)
    return present, missing
