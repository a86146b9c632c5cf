#!/usr/bin/env python3
"""check_layers.py: the layering rule of docs/design.md, checked.

Reads the layer table (the fenced block after the line "<!-- layers -->"
in docs/design.md: one line per layer, top first, "name: files..."), then
fails when
  - a file of src/ is in no layer, or in two, or the table names a file
    that does not exist;
  - a file includes a header of a layer above its own (include/flymalloc.h,
    the public declarations and types, may be included anywhere);
  - an object file in the build directory uses a symbol (calls a function
    or reads a variable) defined by the object of a layer above its own,
    as nm reports them.
A file may use its own layer and every layer below it.

usage: check_layers.py [--design docs/design.md] [--src src] [--objs build/obj]
Prints every violation; exit status 1 if there is any.
"""
import argparse
import os
import re
import subprocess
import sys

PUBLIC_HEADERS = {"flymalloc.h"}


def read_layers(design):
    text = open(design, encoding="utf-8").read()
    m = re.search(r"<!-- layers -->\s*```[^\n]*\n(.*?)```", text, re.S)
    if not m:
        raise SystemExit("%s: no layer table (a fenced block after <!-- layers -->)" % design)
    layers = []                     # (name, [files]), top first
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line:
            continue
        name, _, files = line.partition(":")
        layers.append((name.strip(), files.split()))
    return layers


def check(design, src, objs):
    errors = []
    layers = read_layers(design)
    rank = {}                       # file -> (index from the bottom, layer name)
    for i, (name, files) in enumerate(layers):
        for f in files:
            if f in rank:
                errors.append("%s is in two layers: %s and %s" % (f, rank[f][1], name))
            rank[f] = (len(layers) - 1 - i, name)
    present = sorted(f for f in os.listdir(src) if f.endswith((".c", ".h")))
    for f in present:
        if f not in rank:
            errors.append("src/%s is in no layer of %s" % (f, design))
    for f in rank:
        if f not in present:
            errors.append("%s names %s, which is not in src/" % (design, f))

    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in present:
        if f not in rank:
            continue
        for h in include.findall(open(os.path.join(src, f), encoding="utf-8").read()):
            h = os.path.basename(h)
            if h in PUBLIC_HEADERS or h not in rank:
                continue
            if rank[h][0] > rank[f][0]:
                errors.append("src/%s (%s) includes %s of the layer above, %s"
                              % (f, rank[f][1], h, rank[h][1]))

    defined, used = {}, {}
    for o in sorted(os.listdir(objs)) if os.path.isdir(objs) else []:
        if not o.endswith(".o"):
            continue
        out = subprocess.run(["nm", os.path.join(objs, o)], capture_output=True, text=True,
                             check=True).stdout
        c = o[:-2] + ".c"
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRCVW":
                defined[parts[2]] = c
            elif len(parts) == 2 and parts[0] == "U":
                used.setdefault(c, set()).add(parts[1])
    if not defined:
        errors.append("no object files in %s: build first (make)" % objs)
    for c, symbols in sorted(used.items()):
        if c not in rank:
            continue
        for s in sorted(symbols):
            d = defined.get(s)
            if d and d in rank and rank[d][0] > rank[c][0]:
                errors.append("src/%s (%s) uses %s of src/%s, in the layer above, %s"
                              % (c, rank[c][1], s, d, rank[d][1]))
    return layers, errors


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--design", default="docs/design.md")
    ap.add_argument("--src", default="src")
    ap.add_argument("--objs", default="build/obj")
    args = ap.parse_args(argv)
    layers, errors = check(args.design, args.src, args.objs)
    for e in errors:
        print("layering: " + e)
    if errors:
        return 1
    print("layering: %d layers, %d files, no upward include or call"
          % (len(layers), sum(len(f) for _, f in layers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
