#!/usr/bin/env python3
"""check_os_suffix.py: the `_os` suffix means "may make a system call".

A function of src/ is named ..._os exactly when it may reach a memory
system call: mmap, munmap, madvise or mremap, directly or through the os
layer (fly_os_*) or through other functions of src/ that may.  The check
reads the sources (function bodies found by their definitions, calls by
name), closes "may reach" over the call graph, and fails on
  - a function named _os that cannot reach a system call;
  - a function that can, not named _os, unless it is an entry point, whose
    name the API fixes: an exported function (FLY_EXPORT, or aliased to a
    libc name with FLY_ALIAS), an inline fast path of tcache_inline.h, a
    traced twin of an entry point (fly_traced_*), or a constructor or
    destructor.
Calls through function pointers are not followed (the import-failure
hooks: their targets are named _os by this same rule).

usage: check_os_suffix.py [--src src]
"""
import argparse
import os
import re
import sys

SYSCALLS = {"mmap", "munmap", "madvise", "mremap"}
DEFINITION = re.compile(
    r"^((?:[A-Za-z_][\w]*(?:\(\([^)]*\)\))?[ \t*]+)+)(\w+)\(([^;{]*?)\)\s*\n\{(.*?)\n\}",
    re.M | re.S)
CALL = re.compile(r"\b(\w+)\s*\(")


def functions(src):
    found = {}
    aliased = set()
    for f in sorted(os.listdir(src)):
        if not f.endswith((".c", ".h")):
            continue
        text = open(os.path.join(src, f), encoding="utf-8").read()
        aliased |= set(re.findall(r"FLY_ALIAS\(\w+,\s*(\w+)\)", text))
        for m in DEFINITION.finditer(text):
            prefix, name, body = m.group(1), m.group(2), m.group(4)
            if name in ("if", "while", "for", "switch", "return", "sizeof"):
                continue
            found[name] = (f, prefix, set(CALL.findall(body)))
    return found, aliased


def entry_point(name, f, prefix, aliased):
    return ("FLY_EXPORT" in prefix or name in aliased
            or (f == "tcache_inline.h" and name.endswith("_inline"))
            or name.startswith("fly_traced_")
            or "constructor" in prefix or "destructor" in prefix)


def check(src):
    found, aliased = functions(src)
    may = {n for n, (_, _, calls) in found.items() if calls & SYSCALLS}
    may |= {n for n in found if n.startswith("fly_os_")}
    changed = True
    while changed:
        changed = False
        for n, (_, _, calls) in found.items():
            if n not in may and calls & may:
                may.add(n)
                changed = True
    errors = []
    for n in sorted(found):
        f, prefix, _ = found[n]
        if f == "os.c" or n.startswith("fly_os_"):
            continue                 # the os layer is where the calls are made
        if n.endswith("_os") and n not in may:
            errors.append("src/%s: %s is named _os but makes no system call" % (f, n))
        if n in may and not n.endswith("_os") and not entry_point(n, f, prefix, aliased):
            errors.append("src/%s: %s may make a system call but is not named _os" % (f, n))
    return found, errors


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default="src")
    args = ap.parse_args(argv)
    found, errors = check(args.src)
    for e in errors:
        print("os suffix: " + e)
    if errors:
        return 1
    print("os suffix: %d functions, every _os one may make a system call and every other "
          "one cannot (entry points aside)" % len(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
