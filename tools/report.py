#!/usr/bin/env python3
"""tools/report.py: `flymalloc report`, one self-contained HTML page about a trace.

    flymalloc report FILE [-o OUT.html] [--compare A,B,...] [--title T]

The launcher runs `python3 tools/report.py --flymalloc BUILD/flymalloc FILE ...`.
This script asks `flymalloc analyze FILE` for the trace's figures (JSON on
stdout) and, with --compare, `flymalloc replay FILE --compare A,B,... --json
TMP` for a replay of the trace against several allocators; then it writes one
HTML page (default: FILE.html): inline CSS, charts as inline SVG drawn here,
a few lines of JavaScript for hover read-outs (the charts do not need it), no
network, no external fonts.  `--analysis JSON` and `--replay JSON` use
precomputed outputs instead of running flymalloc (tests, documentation).
The JSON shapes are those of tools/analyze.c and tools/replay.c.

Layout of this file:
  inputs       command line; running analyze and replay; loading their JSON
  formatting   bytes, durations, counts; axes with nice ticks
  svg          a small SVG writer and Plot (grid, axes, lines, bars, legend)
  charts       one function per figure (live-rss, sizes, lifetimes, classes,
               syscalls, fragmentation) and the comparison table
  page         header, CSS, JavaScript, assembling the document
Python standard library only.
"""

import argparse
import bisect
import html
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

PROG = "flymalloc report"


class ReportError(Exception):
    """A problem the user must fix; printed as one line, exit status 1."""


# ====================================================================== inputs

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Write one self-contained HTML page of charts about a flymalloc trace.")
    ap.add_argument("trace", nargs="?", metavar="FILE", help="trace written by `flymalloc trace`")
    ap.add_argument("-o", "--output", metavar="OUT.html", help="output page (default: FILE.html)")
    ap.add_argument("--compare", metavar="A,B,...",
                    help="also replay the trace against these allocators and compare them")
    ap.add_argument("--title", metavar="T", help="page title")
    ap.add_argument("--flymalloc", metavar="BIN",
                    help="the flymalloc launcher to run (default: build/flymalloc beside tools/)")
    ap.add_argument("--analysis", metavar="JSON", help="use this `flymalloc analyze` output")
    ap.add_argument("--replay", metavar="JSON", help="use this `flymalloc replay --json` output")
    args = ap.parse_args(argv)
    if not args.trace and not args.analysis:
        ap.error("a trace FILE (or --analysis JSON) is needed")
    if args.compare and not args.replay and not args.trace:
        ap.error("--compare replays the trace: give the trace FILE (or --replay JSON)")
    if not args.flymalloc:
        here = os.path.dirname(os.path.abspath(__file__))
        args.flymalloc = os.path.join(here, "..", "build", "flymalloc")
    if not args.output:
        args.output = (args.trace or args.analysis) + ".html"
    return args


def run_tool(cmd):
    """Runs a flymalloc subcommand; returns its stdout.  Its stderr is passed
    through; a failure raises ReportError naming the command."""
    sys.stderr.flush()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise ReportError("cannot run %s: %s" % (cmd[0], e.strerror or e))
    if p.stderr:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
    if p.returncode != 0:
        how = ("exit status %d" % p.returncode if p.returncode > 0
               else "signal %d" % -p.returncode)
        raise ReportError("`%s` failed (%s)" % (shlex.join(cmd), how))
    return p.stdout


def parse_json(text, what, expected_format):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ReportError("%s is not valid JSON: %s" % (what, e))
    if not isinstance(doc, dict) or doc.get("format") != expected_format:
        raise ReportError("%s is not %s output (format %r)" % (
            what, expected_format, doc.get("format") if isinstance(doc, dict) else None))
    if doc.get("version") != 1:
        sys.stderr.write("%s: warning: %s has version %r, this report knows 1\n"
                         % (PROG, what, doc.get("version")))
    return doc


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        raise ReportError("cannot read %s: %s" % (path, e.strerror))


def load_analysis(args):
    if args.analysis:
        return parse_json(read_file(args.analysis), args.analysis, "flymalloc-analyze")
    out = run_tool([args.flymalloc, "analyze", args.trace])
    return parse_json(out.decode("utf-8", "replace"), "the output of `flymalloc analyze`",
                      "flymalloc-analyze")


def load_replay(args):
    if args.replay:
        return parse_json(read_file(args.replay), args.replay, "flymalloc-replay")
    if not args.compare:
        return None
    fd, tmp = tempfile.mkstemp(prefix="flymalloc-replay-", suffix=".json")
    os.close(fd)
    try:
        sys.stderr.write("%s: replaying %s against %s\n" % (PROG, args.trace, args.compare))
        table = run_tool([args.flymalloc, "replay", args.trace, "--compare", args.compare, "--json", tmp])
        sys.stdout.write(table.decode("utf-8", "replace"))   # the replay's own summary table
        return parse_json(read_file(tmp), "the output of `flymalloc replay --json`",
                          "flymalloc-replay")
    finally:
        os.unlink(tmp)


# ================================================================== formatting

BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def fmt_num(x):
    """A tick value: integers plainly, others with up to 3 decimals."""
    if abs(x - round(x)) < 1e-9 * max(1.0, abs(x)):
        return "%d" % round(x)
    return ("%.3f" % x).rstrip("0").rstrip(".")


def fmt_sig(x):
    """About three significant digits, never an exponent."""
    ax = abs(x)
    if ax >= 100:
        s = "%.0f" % x
    elif ax >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def byte_unit(v):
    i = 0
    while i < len(BYTE_UNITS) - 1 and abs(v) >= 1024 ** (i + 1):
        i += 1
    return 1024 ** i, BYTE_UNITS[i]


def fmt_bytes(v):
    if v is None:
        return "n/a"
    div, unit = byte_unit(v)
    if div == 1:
        return "%d B" % v
    return "%s %s" % (fmt_sig(v / div), unit)


def fmt_size_short(v):
    """Bucket bounds: 16, 512, 1K, 64K, 2M."""
    if v < 1024:
        return "%d" % v
    div, unit = byte_unit(v)
    return fmt_sig(v / div) + unit[0]


TIME_UNITS = [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1.0, "ns")]


def fmt_ns(ns, space=" "):
    if ns is None:
        return "n/a"
    if ns >= 120e9:
        m, s = divmod(ns / 1e9, 60)
        return "%d min%s%d s" % (m, space, s)
    for div, unit in TIME_UNITS:
        if ns >= div:
            return fmt_sig(ns / div) + space + unit
    return "0" + space + "ns"


def fmt_count(n):
    return "{:,}".format(int(n)) if n is not None else "n/a"


def fmt_compact(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return fmt_sig(v / div) + suffix
    return fmt_num(v)


def fmt_pct(fraction, digits=1):
    if fraction is None:
        return "n/a"
    return "%.*f %%" % (digits, 100.0 * fraction)


class Axis:
    """A value range drawn with ticks: lo..hi, tick values and their labels."""

    def __init__(self, lo, hi, ticks, labels, title=""):
        self.lo, self.hi = lo, (hi if hi > lo else lo + 1)
        self.ticks, self.labels, self.title = ticks, labels, title

    def frac(self, v):
        return (v - self.lo) / (self.hi - self.lo)


def nice_step(raw):
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10 * mag


def nice_ticks(vmax, target):
    """0, step, 2 step, ... up to the first tick at or above vmax."""
    if not vmax or vmax <= 0:
        vmax = 1
    step = nice_step(vmax / target)
    n = max(1, math.ceil(vmax / step - 1e-9))
    return [i * step for i in range(n + 1)]


def bytes_axis(vmax, title="", target=5):
    div, unit = byte_unit(vmax if vmax and vmax > 0 else 1)
    ticks = nice_ticks((vmax or 1) / div, target)
    labels = ["0" if t == 0 else "%s %s" % (fmt_num(t), unit) for t in ticks]
    return Axis(0, ticks[-1] * div, [t * div for t in ticks], labels, title)


def count_axis(vmax, title="", target=5):
    ticks = nice_ticks(vmax, target)
    if (vmax or 0) >= 1:
        ticks = [t for t in ticks if t == int(t)] or ticks
    return Axis(0, ticks[-1], ticks, [fmt_compact(t) for t in ticks], title)


def percent_axis(fmax, title="", target=5):
    """fmax is a fraction (0.25 = 25 %)."""
    ticks = nice_ticks(100.0 * max(fmax, 0.01), target)
    return Axis(0, ticks[-1] / 100.0, [t / 100.0 for t in ticks],
                ["%s %%" % fmt_num(t) for t in ticks], title)


def time_axis(tmax, title="time since the program started"):
    """0..tmax ns, ticks in the largest unit that fits."""
    tmax = tmax if tmax and tmax > 0 else 1
    div, unit = next((d, u) for d, u in TIME_UNITS if tmax >= d or d == 1.0)
    ticks = [t for t in nice_ticks(tmax / div, 8) if t * div <= tmax * 1.0001]
    labels = ["0" if t == 0 else "%s %s" % (fmt_num(t), unit) for t in ticks]
    return Axis(0, tmax, [t * div for t in ticks], labels, title)


# ========================================================================= svg

def esc(s):
    return html.escape(str(s), quote=True)


def _coord(v):
    return ("%.1f" % v).rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def tag(name, content=None, **attrs):
    """<name a="v" ...>content</name>; attribute names: trailing _ dropped,
    other _ become -; None values are left out; content is markup."""
    parts = [name]
    for k, v in attrs.items():
        if v is None:
            continue
        k = k.rstrip("_").replace("_", "-")
        parts.append('%s="%s"' % (k, esc(_coord(v))))
    head = "<" + " ".join(parts)
    if content is None:
        return head + "/>"
    return "%s>%s</%s>" % (head, content, name)


class Svg:
    """Collects SVG elements; markup() gives the <svg> element."""

    def __init__(self, width, height, label, hover_id=None):
        self.width, self.height, self.label, self.hover_id = width, height, label, hover_id
        self.parts = []

    def el(self, name, content=None, **attrs):
        self.parts.append(tag(name, content, **attrs))

    def text(self, x, y, s, **attrs):
        self.el("text", esc(s), x=x, y=y, **attrs)

    def markup(self):
        # Inline in HTML: the parser puts <svg> in the SVG namespace, so no
        # xmlns (and no URL at all on the page).
        return tag("svg", "".join(self.parts),
                   viewBox="0 0 %d %d" % (self.width, self.height),
                   width=self.width, height=self.height, role="img", aria_label=self.label,
                   class_="plot", data_hover=self.hover_id)


def path_of(points, step=False):
    """SVG path data through (x, y) points; step: horizontal then vertical."""
    out = []
    for i, (x, y) in enumerate(points):
        if i == 0:
            out.append("M%s %s" % (_coord(x), _coord(y)))
        elif step:
            out.append("H%sV%s" % (_coord(x), _coord(y)))
        else:
            out.append("L%s %s" % (_coord(x), _coord(y)))
    return "".join(out)


def decimate(xs, ys, max_points=900):
    """At most about max_points points keeping each bucket's minimum and
    maximum (so peaks survive), in x order."""
    n = min(len(xs), len(ys))
    if n <= max_points:
        return list(xs[:n]), list(ys[:n])
    buckets = max_points // 2
    ox, oy = [], []
    for b in range(buckets):
        i0 = b * n // buckets
        i1 = max(i0 + 1, (b + 1) * n // buckets)
        seg = range(i0, i1)
        lo = min(seg, key=lambda i: ys[i])
        hi = max(seg, key=lambda i: ys[i])
        for i in sorted({lo, hi}):
            ox.append(xs[i])
            oy.append(ys[i])
    if ox[-1] != xs[n - 1]:
        ox.append(xs[n - 1])
        oy.append(ys[n - 1])
    return ox, oy


def labels_rotate(labels, band_width):
    """Whether category labels must be turned to fit their bands."""
    return bool(labels) and band_width < 7.5 * max(len(s) for s in labels)


def labels_room(labels, plot_width):
    """Height below a bar plot for its category labels and axis title."""
    if labels_rotate(labels, plot_width / max(1, len(labels))):
        return 42 + 5.5 * max(len(s) for s in labels)
    return 50


class Plot:
    """A rectangle of an Svg with a y axis and either an x Axis (lines) or
    ncat categories (bars); optionally a second y axis on the right."""

    def __init__(self, svg, box, yaxis, xaxis=None, ncat=0, y2axis=None):
        self.svg = svg
        self.left, self.top, self.width, self.height = box
        self.x, self.y, self.y2, self.ncat = xaxis, yaxis, y2axis, ncat
        self.hover = []

    @property
    def bottom(self):
        return self.top + self.height

    @property
    def right(self):
        return self.left + self.width

    def sx(self, v):
        return self.left + self.x.frac(v) * self.width

    def sy(self, v, axis=None):
        a = axis or self.y
        f = min(max(a.frac(v), -0.02), 1.02)
        return self.bottom - f * self.height

    def band(self, i):
        w = self.width / max(1, self.ncat)
        return self.left + i * w, w

    # -- frame -------------------------------------------------------------
    def frame(self):
        s = self.svg
        for v, label in zip(self.y.ticks, self.y.labels):
            y = self.sy(v)
            s.el("line", x1=self.left, x2=self.right, y1=y, y2=y, class_="grid")
            s.text(self.left - 8, y + 4, label, class_="tick", text_anchor="end")
        if self.y2:
            for v, label in zip(self.y2.ticks, self.y2.labels):
                s.text(self.right + 8, self.sy(v, self.y2) + 4, label, class_="tick")
            s.text(0, 0, self.y2.title, class_="axis-title",
                   transform="translate(%s %s) rotate(90)" % (_coord(self.right + 52.0),
                                                               _coord(self.top + self.height / 2)),
                   text_anchor="middle")
        if self.x:
            for v, label in zip(self.x.ticks, self.x.labels):
                x = self.sx(v)
                s.el("line", x1=x, x2=x, y1=self.top, y2=self.bottom, class_="grid")
                s.text(x, self.bottom + 17, label, class_="tick", text_anchor="middle")
            if self.x.title:
                s.text(self.left + self.width / 2, self.bottom + 38, self.x.title,
                       class_="axis-title", text_anchor="middle")
        s.el("line", x1=self.left, x2=self.right, y1=self.bottom, y2=self.bottom, class_="axis")
        s.el("line", x1=self.left, x2=self.left, y1=self.top, y2=self.bottom, class_="axis")
        if self.y.title:
            s.text(0, 0, self.y.title, class_="axis-title", text_anchor="middle",
                   transform="translate(%s %s) rotate(-90)" % (_coord(self.left - 62.0),
                                                                _coord(self.top + self.height / 2)))

    def category_labels(self, labels, title=""):
        _x, w = self.band(0)
        rotate = labels_rotate(labels, w)
        for i, label in enumerate(labels):
            x0, w = self.band(i)
            cx = x0 + w / 2
            if rotate:
                self.svg.text(cx + 3, self.bottom + 12, label, class_="tick", text_anchor="end",
                              transform="rotate(-45 %s %s)" % (_coord(cx + 3), _coord(self.bottom + 12.0)))
            else:
                self.svg.text(cx, self.bottom + 17, label, class_="tick", text_anchor="middle")
        if title:
            # rotated labels reach about 0.7 of their length below the axis
            depth = 30 + 5.5 * max(len(s) for s in labels) if rotate else 38
            self.svg.text(self.left + self.width / 2, self.bottom + depth, title,
                          class_="axis-title", text_anchor="middle")

    # -- marks -------------------------------------------------------------
    def line(self, xs, ys, color, name, kind="bytes", width=1.8, dash=None, step=False,
             fill=False, y2=False, opacity=None):
        """A series; also registered for the hover read-out."""
        xs, ys = decimate(xs, ys)
        if not xs:
            return
        axis = self.y2 if y2 else self.y
        pts = [(self.sx(x), self.sy(y, axis)) for x, y in zip(xs, ys)]
        d = path_of(pts, step)
        if fill:
            closing = "V%sH%sZ" % (_coord(self.bottom), _coord(pts[0][0]))
            self.svg.el("path", d=d + closing, fill=color, fill_opacity=0.12, stroke="none")
        self.svg.el("path", d=d, fill="none", stroke=color, stroke_width=width, stroke_opacity=opacity,
                    stroke_dasharray=dash, stroke_linejoin="round", class_="series")
        self.hover.append({"name": name, "color": color, "kind": kind, "x": xs, "y": ys})

    def bar(self, i, value, color, title, lo=0.12, hi=0.88, axis=None, **attrs):
        x0, w = self.band(i)
        top = self.sy(value, axis)
        base = self.sy((axis or self.y).lo, axis)
        h = max(0.0, base - top)
        if value > 0:
            h = max(h, 1.0)  # a non-zero value stays visible
        self.svg.el("rect", "<title>%s</title>" % esc(title), x=x0 + w * lo, y=base - h,
                    width=w * (hi - lo), height=h, fill=color, **attrs)

    def value_label(self, i, value, text):
        """Small text just over bar i (kept inside the plot)."""
        if text:
            x0, w = self.band(i)
            self.svg.text(x0 + w / 2, max(self.top + 9, self.sy(value) - 4), text, class_="value",
                          text_anchor="middle")

    def legend(self, items, x=None, y=None):
        """items: (label, color, style) with style line, dash, bar or dot."""
        x = self.right + 18 if x is None else x
        y = self.top + 6 if y is None else y
        for label, color, style in items:
            if style == "bar":
                self.svg.el("rect", x=x, y=y - 5, width=16, height=10, fill=color)
            elif style == "dot":
                self.svg.el("circle", cx=x + 8, cy=y, r=4, fill=color)
            else:
                self.svg.el("line", x1=x, x2=x + 16, y1=y, y2=y, stroke=color, stroke_width=2.5,
                            stroke_dasharray="5 3" if style == "dash" else None)
            self.svg.text(x + 22, y + 4, label, class_="legend")
            y += 19

    def enable_hover(self, xkind="ns"):
        """A crosshair line and the data for the hover read-out (JavaScript)."""
        self.svg.el("line", x1=self.left, x2=self.left, y1=self.top, y2=self.bottom,
                    class_="cross", visibility="hidden")
        return {"px0": self.left, "px1": self.right, "py0": self.top, "py1": self.bottom,
                "x0": self.x.lo, "x1": self.x.hi, "xkind": xkind, "series": self.hover}


# ====================================================================== charts

# One colour per allocator everywhere on the page.
ALLOCATOR_COLORS = {"flymalloc": "#e8590c", "glibc": "#495057", "jemalloc": "#2b8a3e",
                    "mimalloc": "#1971c2", "tcmalloc": "#9c36b5"}
EXTRA_COLORS = ["#c2255c", "#0c8599", "#b08900", "#5f3dc4", "#74b816"]
SERIES_COLORS = {"live": "#364fc7", "handed": "#748ffc", "rss": "#e8590c", "mapped": "#868e96",
                 "dirty": "#f59f00", "cold": "#15aabf"}
SYSCALL_COLORS = {"mmap": "#1971c2", "munmap": "#e03131", "madvise": "#2f9e44",
                  "mremap": "#9c36b5", "brk": "#868e96"}
SYSCALLS = ["mmap", "munmap", "madvise", "mremap"]

WIDTH = 1000          # every chart's viewBox width
MARGIN_L = 84         # room for y tick labels and title
MARGIN_R = 200        # room for the legend
LEGEND_ONLY_R = 40


def allocator_color(name, names):
    if name in ALLOCATOR_COLORS:
        return ALLOCATOR_COLORS[name]
    others = [n for n in names if n not in ALLOCATOR_COLORS]
    return EXTRA_COLORS[others.index(name) % len(EXTRA_COLORS)] if name in others else "#343a40"


class Figure:
    """Collects the body of one <figure class="chart">; hover data blocks
    are numbered per figure."""

    def __init__(self, fid, title):
        self.fid, self.title = fid, title
        self.body = []
        self.caption = ""
        self.nhover = 0

    def add(self, markup):
        self.body.append(markup)

    def empty(self, text):
        self.body.append('<p class="empty">%s</p>' % esc(text))

    def hover_svg(self, svg, plots, xkind="ns"):
        """The svg's markup followed by the data of its hover read-out."""
        data = {"plots": [p.enable_hover(xkind) for p in plots]}
        svg.hover_id = "%s-hover-%d" % (self.fid, self.nhover)
        self.nhover += 1
        blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
        return '%s\n<script type="application/json" id="%s">%s</script>' % (svg.markup(), svg.hover_id, blob)

    def markup(self):
        return ('<figure class="chart" id="%s">\n<h2>%s</h2>\n%s\n<figcaption>%s</figcaption>\n</figure>'
                % (esc(self.fid), esc(self.title), "\n".join(self.body), self.caption))


def series_of(d, key):
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, list) else []


def nonneg_max(*lists):
    return max([0] + [v for lst in lists for v in lst if isinstance(v, (int, float))])


def step_value_at(ts, vs, t):
    """Value of a step series (ts ascending) at time t."""
    i = bisect.bisect_right(ts, t) - 1
    return vs[i] if 0 <= i < len(vs) else (vs[0] if vs else 0)


def seq_to_time_mapper(live):
    """Maps a trace sequence number to its time in the recorded run, by
    interpolation in the analyze live curve; None without one."""
    seqs, ts = series_of(live, "seq"), series_of(live, "t_ns")
    n = min(len(seqs), len(ts))
    if n < 2:
        return None
    seqs, ts = seqs[:n], ts[:n]

    def at(seq):
        i = bisect.bisect_left(seqs, seq)
        if i <= 0:
            return ts[0]
        if i >= n:
            return ts[-1]
        s0, s1 = seqs[i - 1], seqs[i]
        if s1 == s0:
            return ts[i]
        return ts[i - 1] + (ts[i] - ts[i - 1]) * (seq - s0) / (s1 - s0)
    return at


def spans_time(xs, ys):
    """Whether a series can be drawn over time: two or more points over a
    time span that is not zero."""
    n = min(len(xs), len(ys))
    return n >= 2 and max(xs[:n]) > min(xs[:n])


def trace_end_ns(an):
    tr = an.get("trace", {})
    ends = [tr.get("duration_ns") or 0]
    for key in ("live", "samples"):
        t = series_of(an.get(key, {}), "t_ns")
        if t:
            ends.append(t[-1])
    return max(ends)


# -- 1. live bytes and RSS -------------------------------------------------

def chart_live_rss(an, rp):
    fig = Figure("live-rss", "Live bytes and resident memory over time")
    live, smp = an.get("live", {}), an.get("samples", {})
    lt, lb = series_of(live, "t_ns"), series_of(live, "bytes")
    st = series_of(smp, "t_ns")
    tmax = trace_end_ns(an)
    # (colour, label, xs, ys, dash, width, fill)
    recorded = [(SERIES_COLORS["live"], "live (requested)", lt, lb, None, 2.0, True)]
    for key, label, dash, width in (("rss", "RSS", None, 2.4), ("live", "handed out", "2 3", 1.4),
                                    ("mapped", "mapped", "6 4", 1.6), ("dirty", "dirty", None, 1.4),
                                    ("cold", "cold", None, 1.4)):
        ys = series_of(smp, key)
        if st and len(ys) >= len(st) and any(ys):
            color = SERIES_COLORS["handed" if key == "live" else key]
            recorded.append((color, label, st, ys, dash, width, False))
    recorded = [r for r in recorded if spans_time(r[2], r[3])]
    if recorded and not any(any(r[3]) for r in recorded):
        recorded = []   # live bytes stayed at zero and there are no samples
    if recorded:
        svg = Svg(WIDTH, 340, "Live bytes and memory of the recorded run over time")
        ymax = nonneg_max(*[r[3] for r in recorded])
        p = Plot(svg, (MARGIN_L, 30, WIDTH - MARGIN_L - MARGIN_R, 250),
                 bytes_axis(ymax, "bytes"), time_axis(tmax))
        p.frame()
        svg.text(p.left, 18, "Recorded run (on flymalloc)", class_="panel-title")
        for color, label, xs, ys, dash, width, fill in recorded:
            p.line(xs, ys, color, label, width=width, dash=dash, fill=fill)
        p.legend([(r[1], r[0], "dash" if r[4] else "line") for r in recorded])
        fig.add(fig.hover_svg(svg, [p]))
    else:
        fig.empty("No allocations and no memory samples were recorded over time (%s events), so "
                  "there is no curve to draw." % fmt_count(an.get("trace", {}).get("events", 0)))
    if rp and rp.get("results"):
        fig.add(replay_panel(an, rp, tmax, fig))
    if recorded and not st:
        fig.add('<p class="note">This trace has no memory samples (RSS, mapped, dirty, cold): only the '
                'live bytes can be drawn.</p>')
    fig.caption = (
        "<b>How to read it.</b> The shaded <span style=\"color:%s\">live</span> curve is the bytes the "
        "program has asked for and not yet freed. <span style=\"color:%s\">RSS</span> is the memory of "
        "the whole process resident in RAM (heap, code, stacks), sampled about every 10 ms; "
        "<i>handed out</i> is live as flymalloc counts it (rounded up to size classes), <i>mapped</i> "
        "the address space flymalloc holds, <i>dirty</i> freed pages it keeps resident for reuse until "
        "the decay time passes and <i>cold</i> pages already given back to the kernel but still mapped. "
        "The gap between RSS and live is what the allocator keeps plus the program's non-heap memory."
        % (SERIES_COLORS["live"], SERIES_COLORS["rss"]))
    if rp and rp.get("results"):
        fig.caption += (
            " In the replay panel every allocator ran the same sequence of allocations; its points "
            "are placed at the time the events happened in the recorded run, so curves at the same x "
            "compare the same moment of the program (not the same wall-clock time of the replay).")
    if recorded:
        fig.caption += " Hover over a chart to read the values."
    return fig.markup()


def replay_panel(an, rp, tmax, fig):
    results = rp["results"]
    names = [r.get("allocator", "?") for r in results]
    mapper = seq_to_time_mapper(an.get("live", {}))
    lines = []
    for r in results:
        curve = r.get("curve") or {}
        seqs, rss, live = series_of(curve, "seq"), series_of(curve, "rss"), series_of(curve, "live")
        if mapper and seqs:
            xs = [mapper(s) for s in seqs]
        else:
            xs = series_of(curve, "t_ns")
        lines.append((r.get("allocator", "?"), xs, rss, live))
    lines = [(n, xs, rss if spans_time(xs, rss) else [], live if spans_time(xs, live) else [])
             for n, xs, rss, live in lines]
    if not any(rss for _n, _xs, rss, _l in lines):
        return ('<p class="empty">The replay returned no memory curve that spans any time (the trace has '
                'too few events to draw one).</p>')
    xmax = tmax if mapper else nonneg_max(*[xs for _n, xs, _r, _l in lines])
    ymax = nonneg_max(*[r for _n, _x, r, _l in lines], *[l for _n, _x, _r, l in lines])
    svg = Svg(WIDTH, 340, "RSS of each allocator replaying the trace")
    xtitle = "time in the recorded run" if mapper else "time since the replay started"
    p = Plot(svg, (MARGIN_L, 30, WIDTH - MARGIN_L - MARGIN_R, 250),
             bytes_axis(ymax, "bytes"), time_axis(xmax, xtitle))
    p.frame()
    svg.text(p.left, 18, "Replay of the trace (%s mode): RSS per allocator" % rp.get("mode", "?"),
             class_="panel-title")
    lives = [l for _n, _x, _r, l in lines if l]
    same_live = lives and all(l == lives[0] for l in lives)
    legend = []
    if same_live:
        _n, xs, _r, l = next(x for x in lines if x[3])
        p.line(xs, l, "#868e96", "live", dash="5 3", width=1.6)
        legend.append(("live (all)", "#868e96", "dash"))
    # In parallel mode each allocator's live curve differs a little (the
    # threads interleave differently): drawn faint, under the RSS curves.
    for name, xs, rss, live in lines:
        if live and not same_live:
            p.line(xs, live, allocator_color(name, names), name + " live", dash="4 3", width=1.1,
                   opacity=0.55)
    for name, xs, rss, live in lines:
        color = allocator_color(name, names)
        if rss:
            p.line(xs, rss, color, name + " RSS", width=2.2)
        legend.append((name, color, "line"))
    if lives and not same_live:
        legend += [("solid: RSS", "#adb5bd", "line"), ("dashed: live", "#adb5bd", "dash")]
    p.legend(legend)
    return fig.hover_svg(svg, [p])


# -- 2. sizes ----------------------------------------------------------------

def size_labels(hist):
    """Short labels for analyze's size buckets (bounds inclusive): "≤16",
    "≤32", ... while the buckets are contiguous, "lo–hi" otherwise, ">256K"
    for an open last bucket."""
    labels, prev_hi = [], None
    for h in hist:
        lo, hi = h.get("lo", 0), h.get("hi")
        if hi is None or hi >= 1 << 60:
            labels.append(">" + fmt_size_short(max(0, lo - 1)))
        elif lo == 0 or (prev_hi is not None and lo == prev_hi + 1):
            labels.append("≤" + fmt_size_short(hi))
        else:
            labels.append("%s–%s" % (fmt_size_short(lo), fmt_size_short(hi)))
        prev_hi = hi
    return labels


def chart_sizes(an):
    fig = Figure("sizes", "Requested sizes")
    hist = [h for h in an.get("size_histogram") or [] if isinstance(h, dict)]
    fig.caption = (
        "<b>How to read it.</b> Each bar is a range of requested sizes in bytes: \u201c\u2264 64\u201d "
        "holds the sizes above the previous bar's bound up to 64 bytes; K = KiB, M = MiB. "
        "The top panel counts the allocations "
        "(malloc, calloc, realloc, aligned) that asked for a size in the range, the bottom panel adds "
        "up the bytes they asked for. Most programs make many small allocations while a few large ones "
        "hold most of the bytes.")
    if not any(h.get("count") for h in hist):
        fig.empty("No allocations in this trace, so there is no size distribution to show.")
        return fig.markup()
    labels = size_labels(hist)
    counts = [h.get("count", 0) for h in hist]
    nbytes = [h.get("bytes", 0) for h in hist]
    total_c, total_b = sum(counts) or 1, sum(nbytes) or 1
    box_w = WIDTH - MARGIN_L - LEGEND_ONLY_R
    svg = Svg(WIDTH, 386 + labels_room(labels, box_w), "Histogram of requested sizes: allocations and bytes")
    top = Plot(svg, (MARGIN_L, 24, box_w, 160), count_axis(max(counts), "allocations"), ncat=len(hist))
    bot = Plot(svg, (MARGIN_L, 226, box_w, 160), bytes_axis(max(nbytes), "bytes requested"),
               ncat=len(hist))
    for p in (top, bot):
        p.frame()
    svg.text(top.left, 14, "Allocations per size range", class_="panel-title")
    svg.text(bot.left, 216, "Bytes requested per size range", class_="panel-title")
    for i, (label, c, b) in enumerate(zip(labels, counts, nbytes)):
        h = hist[i]
        if h.get("hi") is not None and h["hi"] < 1 << 60:
            span = "%s to %s bytes" % (fmt_count(h.get("lo", 0)), fmt_count(h["hi"]))
        else:
            span = "%s bytes or more" % fmt_count(h.get("lo", 0))
        tip = "%s: %s allocations (%s), %s requested (%s)" % (
            span, fmt_count(c), fmt_pct(c / total_c), fmt_bytes(b), fmt_pct(b / total_b))
        top.bar(i, c, "#4c6ef5", tip)
        bot.bar(i, b, "#0c8599", tip)
        if top.band(i)[1] >= 34:   # room for the value over the bar
            top.value_label(i, c, fmt_compact(c) if c else "")
            bot.value_label(i, b, fmt_size_short(b) if b else "")
    bot.category_labels(labels, "requested size (bytes)")
    fig.add(svg.markup())
    return fig.markup()


# -- 3. lifetimes ------------------------------------------------------------

def log_time_axis(lo_ns, hi_ns, title):
    """An Axis over log10(ns) with a tick at every power of ten."""
    lo, hi = math.log10(lo_ns), math.log10(hi_ns)
    ticks = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(ticks) > 10:   # a very wide range: every other decade
        ticks = [t for t in ticks if t % 2 == 0]
    return Axis(lo, hi, ticks, [fmt_ns(10 ** t, " ") for t in ticks], title)


def lifetime_quantiles(buckets, qs):
    """For each q, the upper bound of the bucket where the cumulative share
    of freed objects reaches q."""
    total = sum(b.get("count", 0) for b in buckets)
    out, acc, i = [], 0, 0
    for q in qs:
        while i < len(buckets) and acc + buckets[i].get("count", 0) < q * total:
            acc += buckets[i].get("count", 0)
            i += 1
        out.append(buckets[min(i, len(buckets) - 1)].get("hi"))
    return out


def chart_lifetimes(an):
    fig = Figure("lifetimes", "Object lifetimes")
    lh = an.get("lifetime_histogram") or {}
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(lh.get("unit", "ns"), 1)
    buckets = [b for b in lh.get("buckets") or [] if isinstance(b, dict) and "hi" in b]
    buckets = [dict(b, lo=b.get("lo", 0) * scale, hi=b["hi"] * scale) for b in buckets]
    never = lh.get("never_freed") or 0
    fig.caption = (
        "<b>How to read it.</b> How long objects lived, from allocation to free (a realloc does not end "
        "a life). The x axis is logarithmic: every bar is a bucket of lifetimes (twice as long as the "
        "one before when the buckets are powers of two), so each gridline is ten times the one before. "
        "The grey bar on the right counts objects still live when the trace ended: data kept until exit, "
        "or leaks. Short-lived objects are cheap for a thread cache; long-lived ones decide the "
        "footprint.")
    freed = sum(b.get("count", 0) for b in buckets)
    if not freed and not never:
        fig.empty("No object was allocated in this trace, so there are no lifetimes to show.")
        return fig.markup()
    total = freed + never
    ymax = max([b.get("count", 0) for b in buckets] + [never])
    svg = Svg(WIDTH, 290, "Histogram of object lifetimes on a logarithmic time axis")
    yaxis = count_axis(ymax * 1.05, "objects")
    side_w = 70
    main_w = WIDTH - MARGIN_L - LEGEND_ONLY_R - side_w - 30
    if buckets:
        def lx(v):  # lifetime to log10, the 0 ns bucket drawn from 0.5 ns
            return math.log10(max(v, 0.5))
        xaxis = log_time_axis(10 ** lx(buckets[0]["lo"]), 10 ** lx(buckets[-1]["hi"] + 1),
                              "lifetime (allocation to free), logarithmic")
        p = Plot(svg, (MARGIN_L, 20, main_w, 220), yaxis, xaxis)
        p.frame()
        for b in buckets:
            c = b.get("count", 0)
            x0, x1 = p.sx(lx(b["lo"])), p.sx(lx(b["hi"] + 1))
            top, base = p.sy(c), p.sy(0)
            h = max(1.0, base - top) if c else 0.0
            tip = "%s to %s: %s objects (%s of all)" % (fmt_ns(b["lo"]), fmt_ns(b["hi"]), fmt_count(c),
                                                       fmt_pct(c / total))
            svg.el("rect", "<title>%s</title>" % esc(tip), x=x0 + 0.5, y=base - h,
                   width=max(0.5, x1 - x0 - 1), height=h, fill="#7048e8")
        left = p.right + 30
    else:
        p = Plot(svg, (MARGIN_L, 20, main_w, 220), yaxis, ncat=1)
        p.frame()
        p.svg.text(p.left + main_w / 2, p.top + 110, "no object was freed", class_="tick",
                   text_anchor="middle")
        left = p.right + 30
    side = Plot(svg, (left, 20, side_w, 220), yaxis, ncat=1)
    for v in yaxis.ticks:
        svg.el("line", x1=side.left, x2=side.right, y1=side.sy(v), y2=side.sy(v), class_="grid")
    svg.el("line", x1=side.left, x2=side.right, y1=side.bottom, y2=side.bottom, class_="axis")
    side.bar(0, never, "#adb5bd", "never freed: %s objects (%s of all)" % (fmt_count(never),
                                                                            fmt_pct(never / total)),
             lo=0.12, hi=0.88)
    svg.text(side.left + side_w / 2, side.bottom + 17, "never freed", class_="tick", text_anchor="middle")
    svg.text(side.left + side_w / 2, side.sy(never) - 5, fmt_pct(never / total, 0), class_="value",
             text_anchor="middle")
    fig.add(svg.markup())
    if freed:
        q50, q90, q99 = lifetime_quantiles(buckets, (0.5, 0.9, 0.99))
        fig.add('<p class="note">Of the %s freed objects, half lived at most %s, 90 %% at most %s and '
                '99 %% at most %s; %s objects (%s) were never freed.</p>' % (
                    esc(fmt_count(freed)), esc(fmt_ns(q50)), esc(fmt_ns(q90)), esc(fmt_ns(q99)),
                    esc(fmt_count(never)), esc(fmt_pct(never / total))))
    return fig.markup()


# -- 4. size classes ---------------------------------------------------------

def usable_classes(an):
    return [c for c in an.get("classes") or []
            if isinstance(c, dict) and c.get("size") and (c.get("capacity") or c.get("allocations"))]


def no_classes_text(an):
    if an.get("classes"):
        return "No size class holds any zone or served any allocation in this run."
    if an.get("trace", {}).get("complete") is False:
        return ("No per-class data: flymalloc writes the size-class table when the program exits "
                "normally, and this trace is incomplete.")
    return ("No per-class data (trace not recorded by flymalloc): its recorder writes the size-class "
            "table when the program exits.")


def chart_classes(an):
    fig = Figure("classes", "Size-class utilization at the end of the run")
    classes = usable_classes(an)
    fig.caption = (
        "<b>How to read it.</b> One column per flymalloc size class (the object size in bytes). The light "
        "bar is the memory of the class's slab zones (capacity × object size), the dark bar the part "
        "handed out, to the program or sitting in thread caches; the orange dots (right axis) are "
        "used / capacity. A tall light bar with a low dot is memory stranded in partly used zones, "
        "usually left over from an earlier peak.")
    if not classes:
        fig.empty(no_classes_text(an))
        return fig.markup()
    cap_b = [c.get("capacity", 0) * c["size"] for c in classes]
    used_b = [c.get("used", 0) * c["size"] for c in classes]
    labels = [fmt_size_short(c["size"]) for c in classes]
    pw = WIDTH - MARGIN_L - MARGIN_R - 10
    svg = Svg(WIDTH, 258 + labels_room(labels, pw), "Per size class: capacity and used bytes, utilization")
    p = Plot(svg, (MARGIN_L, 28, pw, 230),
             bytes_axis(max(cap_b + used_b), "bytes in zones"), ncat=len(classes),
             y2axis=percent_axis(1.0, "used / capacity"))
    p.frame()
    pts = []
    for i, c in enumerate(classes):
        cap, used = c.get("capacity", 0), c.get("used", 0)
        util = used / cap if cap else None
        tip = ("class %d B: %d zones, capacity %s objects (%s), used %s (%s); %s allocations, "
               "%s requested" % (c["size"], c.get("zones", 0), fmt_count(cap), fmt_bytes(cap_b[i]),
                                 fmt_count(used), fmt_pct(util), fmt_count(c.get("allocations", 0)),
                                 fmt_bytes(c.get("requested_bytes", 0))))
        p.bar(i, cap_b[i], "#d0ebff", tip, lo=0.1, hi=0.9, stroke="#74c0fc", stroke_width=0.8)
        p.bar(i, used_b[i], "#1c7ed6", tip, lo=0.22, hi=0.78)
        if util is not None:
            x0, w = p.band(i)
            pts.append((x0 + w / 2, p.sy(min(util, 1.0), p.y2), tip))
    if pts:
        svg.el("path", d=path_of([(x, y) for x, y, _t in pts]), fill="none", stroke="#e8590c",
               stroke_width=1, stroke_opacity=0.5)
        for x, y, tip in pts:
            svg.el("circle", "<title>%s</title>" % esc(tip), cx=x, cy=y, r=3.6, fill="#e8590c")
    p.category_labels(labels, "size class (bytes)")
    p.legend([("capacity", "#d0ebff", "bar"), ("used", "#1c7ed6", "bar"),
              ("used / capacity", "#e8590c", "dot")], x=p.right + 70)
    fig.add(svg.markup())
    total_cap, total_used = sum(cap_b), sum(used_b)
    fig.add('<p class="note">In all: %s in %s zones across %d classes, %s used (%s).</p>' % (
        esc(fmt_bytes(total_cap)), esc(fmt_count(sum(c.get("zones", 0) for c in classes))),
        len(classes), esc(fmt_bytes(total_used)),
        esc(fmt_pct(total_used / total_cap if total_cap else None))))
    return fig.markup()


# -- 5. system calls ---------------------------------------------------------

def chart_syscalls(an, rp):
    fig = Figure("syscalls", "System calls")
    smp = an.get("samples", {})
    st = series_of(smp, "t_ns")
    fig.caption = (
        "<b>How to read it.</b> The running count of the memory system calls flymalloc made while the "
        "program ran: <i>mmap</i> maps new memory, <i>munmap</i> unmaps it, <i>madvise</i> gives "
        "pages back to the kernel while keeping the address range, <i>mremap</i> grows or moves a huge "
        "block in place. Steep steps are bursts of system calls; each costs a kernel entry and often "
        "page faults afterwards.")
    series = [(k, series_of(smp, k)) for k in SYSCALLS]
    series = [(k, v) for k, v in series if len(v) >= len(st) and v]
    if st and series:
        svg = Svg(WIDTH, 320, "Cumulative memory system calls over time")
        ymax = nonneg_max(*[v for _k, v in series])
        p = Plot(svg, (MARGIN_L, 20, WIDTH - MARGIN_L - MARGIN_R, 240),
                 count_axis(max(ymax, 4) * 1.05, "calls so far"), time_axis(trace_end_ns(an)))
        p.frame()
        for k, v in series:
            p.line(st, v, SYSCALL_COLORS[k], k, kind="count", width=2.0, step=True)
        p.legend([("%s (%s)" % (k, fmt_count(v[-1])), SYSCALL_COLORS[k], "line") for k, v in series])
        fig.add(fig.hover_svg(svg, [p]))
    else:
        fig.empty("This trace has no memory samples, so the system calls over time cannot be drawn "
                  "(samples are recorded by flymalloc while the program allocates).")
    if rp and rp.get("results"):
        fig.add(replay_syscall_table(rp))
        fig.caption += (" The table counts the same calls (and brk) for each allocator during the "
                        "replay; <i>not counted</i> means the replay could not count that allocator's "
                        "calls.")
    return fig.markup()


def replay_syscall_table(rp):
    names = [r.get("allocator", "?") for r in rp["results"]]
    head = "".join('<th class="num">%s</th>' % k for k in SYSCALLS + ["brk", "total"])
    rows = []
    for r in rp["results"]:
        sc = r.get("syscalls")
        name = r.get("allocator", "?")
        if isinstance(sc, dict):
            cells = "".join('<td class="num">%s</td>' % fmt_count(sc.get(k, 0)) for k in SYSCALLS + ["brk"])
            total = sum(sc.get(k, 0) or 0 for k in SYSCALLS + ["brk"])
            cells += '<td class="num"><b>%s</b></td>' % fmt_count(total)
        else:
            cells = '<td colspan="6" class="na">not counted</td>'
        rows.append('<tr><td class="name">%s</td>%s</tr>' % (swatch(name, names), cells))
    note = rp.get("syscalls_note")
    note = '<p class="note">System calls %s.</p>' % esc(note) if note else ""
    return ('<div class="scroll"><table class="data"><caption>System calls during the replay</caption>'
            "<thead><tr><th>allocator</th>%s</tr></thead><tbody>%s</tbody></table></div>%s"
            % (head, "".join(rows), note))


# -- 6. fragmentation --------------------------------------------------------

def internal_by_class(an):
    """(class, allotted bytes, requested bytes, waste fraction) per class with allocations."""
    out = []
    for c in usable_classes(an):
        n, req = c.get("allocations", 0), c.get("requested_bytes", 0)
        if n <= 0:
            continue
        allotted = n * c["size"]
        out.append((c, allotted, req, min(1.0, max(0.0, 1.0 - req / allotted))))
    return out


def external_rows(an):
    """Moments of the run with live bytes beside the allocator's footprint."""
    smp, live, totals = an.get("samples", {}), an.get("live", {}), an.get("totals", {})
    st = series_of(smp, "t_ns")
    rss = series_of(smp, "rss")
    if not st or len(rss) < len(st):
        return []
    lt, lb = series_of(live, "t_ns"), series_of(live, "bytes")

    def sample(j):
        return {k: (series_of(smp, k)[j] if len(series_of(smp, k)) > j else None)
                for k in ("t_ns", "rss", "live", "mapped", "dirty", "cold")}

    def nearest(t):
        j = bisect.bisect_left(st, t)
        if j >= len(st):
            return len(st) - 1
        if j > 0 and t - st[j - 1] < st[j] - t:
            return j - 1
        return j

    rows = []
    if lb:
        i = max(range(len(lb)), key=lambda k: lb[k])
        rows.append(("peak of live bytes", lt[i], lb[i], sample(nearest(lt[i]))))
    j = max(range(len(st)), key=lambda k: rss[k])
    if j < len(st) - 1:   # else it is the last sample, shown as the end
        rows.append(("peak of RSS", st[j], step_value_at(lt, lb, st[j]) if lb else None, sample(j)))
    # The end: live bytes at exit beside the last sample taken before it.
    final = totals.get("final_live_bytes")
    if final is None and lb:
        final = lb[-1]
    rows.append(("end of the run", max(st[-1], an.get("trace", {}).get("duration_ns") or 0), final,
                 sample(len(st) - 1)))
    return rows


def chart_fragmentation(an):
    fig = Figure("fragmentation", "Fragmentation")
    summary = (an.get("summary") or "").strip()
    if summary:
        fig.add('<blockquote class="summary"><p>%s</p><footer>flymalloc\'s own summary, written at '
                'the end of the run</footer></blockquote>' % esc(summary).replace("\n", "<br>"))
    else:
        fig.add('<p class="note">This trace carries no fragmentation summary from flymalloc.</p>')
    fig.add('<h3>Internal: space lost to rounding up to a size class</h3>')
    internal = internal_by_class(an)
    if internal:
        fig.add(internal_chart(internal))
    else:
        fig.empty(no_classes_text(an) + " Internal fragmentation cannot be computed without it.")
    fig.add('<h3>External: memory held beyond the live bytes</h3>')
    rows = external_rows(an)
    if rows:
        fig.add(external_chart(rows))
        fig.add(external_table(rows))
        end_t, last = rows[-1][1], rows[-1][3]
        if last.get("t_ns") is not None and end_t - last["t_ns"] > 1_000_000:
            fig.add('<p class="note">The memory figures of the last row come from the last sample, taken '
                    'at %s; live bytes are those at exit.</p>' % esc(fmt_ns(last["t_ns"])))
        fig.add(dirty_cold_text(last))
    else:
        fig.empty("This trace has no memory samples (RSS, mapped, dirty, cold), so external "
                  "fragmentation cannot be computed.")
    fig.caption = (
        "<b>How to read it.</b> <i>Internal</i> fragmentation per class is 1 − requested bytes ÷ "
        "(allocations × class size): the share of each object's slot the program did not ask for. "
        "<i>External</i> compares the live bytes with what the process holds: RSS (resident memory of "
        "the whole process, so it includes code, stacks and other non-heap memory) and mapped (the "
        "address space flymalloc holds). Of the memory flymalloc holds but does not use, <i>dirty</i> "
        "pages are still resident (kept for reuse until the decay time passes), <i>cold</i> pages have "
        "been given back to the kernel and cost no RAM.")
    return fig.markup()


def internal_chart(internal):
    allotted = sum(a for _c, a, _r, _w in internal)
    requested = sum(r for _c, _a, r, _w in internal)
    overall = 1.0 - requested / allotted if allotted else 0.0
    labels = [fmt_size_short(c["size"]) for c, _a, _r, _w in internal]
    pw = WIDTH - MARGIN_L - MARGIN_R
    svg = Svg(WIDTH, 230 + labels_room(labels, pw), "Internal fragmentation per size class")
    p = Plot(svg, (MARGIN_L, 20, pw, 210),
             percent_axis(max(w for _c, _a, _r, w in internal) * 1.1, "wasted in the slot"),
             ncat=len(internal))
    p.frame()
    for i, (c, a, r, w) in enumerate(internal):
        tip = ("class %d B: %s allocations requested %s of %s allotted; %s lost to rounding"
               % (c["size"], fmt_count(c.get("allocations", 0)), fmt_bytes(r), fmt_bytes(a), fmt_pct(w)))
        p.bar(i, w, "#f08c00" if w >= 0.2 else "#ffc078", tip, lo=0.15, hi=0.85)
    y = p.sy(overall)
    svg.el("line", x1=p.left, x2=p.right, y1=y, y2=y, stroke="#c92a2a", stroke_width=1.5,
           stroke_dasharray="6 4")
    p.category_labels(labels, "size class (bytes)")
    p.legend([("waste < 20 %", "#ffc078", "bar"), ("waste ≥ 20 %", "#f08c00", "bar"),
              ("all classes: %s" % fmt_pct(overall), "#c92a2a", "dash")])
    return (svg.markup() + '<p class="note">Over all small classes, %s of the %s allotted to '
            'objects was rounding: %s requested.</p>' % (
                esc(fmt_pct(overall)), esc(fmt_bytes(allotted)), esc(fmt_bytes(requested))))


def external_chart(rows):
    """Horizontal bars: live, RSS and mapped at each moment."""
    kinds = [("live (requested)", SERIES_COLORS["live"], lambda live, s: live),
             ("RSS", SERIES_COLORS["rss"], lambda live, s: s["rss"]),
             ("mapped", SERIES_COLORS["mapped"], lambda live, s: s["mapped"])]
    vmax = nonneg_max([f(live, s) or 0 for _l, _t, live, s in rows for _k, _c, f in kinds])
    row_h, bar_h = 64, 16
    svg = Svg(WIDTH, 40 + row_h * len(rows) + 30, "Live bytes, RSS and mapped at three moments")
    left = 190
    axis = bytes_axis(vmax, "")
    pw = WIDTH - left - MARGIN_R
    svg.text(left, 16, "Live bytes against the memory held", class_="panel-title")
    top, bottom = 28, 28 + row_h * len(rows)
    for v, label in zip(axis.ticks, axis.labels):
        x = left + axis.frac(v) * pw
        svg.el("line", x1=x, x2=x, y1=top, y2=bottom, class_="grid")
        svg.text(x, bottom + 16, label, class_="tick", text_anchor="middle")
    for r, (label, t, live, s) in enumerate(rows):
        y0 = top + r * row_h + 8
        svg.text(left - 10, y0 + 18, label, class_="tick", text_anchor="end")
        svg.text(left - 10, y0 + 34, "at " + fmt_ns(t), class_="tick dim", text_anchor="end")
        for k, (kname, color, f) in enumerate(kinds):
            v = f(live, s)
            if v is None:
                continue
            w = max(1.0, axis.frac(v) * pw) if v > 0 else 0.0
            svg.el("rect", "<title>%s %s: %s</title>" % (esc(label), esc(kname), esc(fmt_bytes(v))),
                   x=left, y=y0 + k * bar_h, width=w, height=bar_h - 3, fill=color)
            svg.text(left + w + 5, y0 + k * bar_h + 10, fmt_bytes(v), class_="value")
    svg.el("line", x1=left, x2=left, y1=top, y2=bottom, class_="axis")
    y = top + 6
    for kname, color, _f in kinds:
        svg.el("rect", x=WIDTH - MARGIN_R + 40, y=y - 5, width=16, height=10, fill=color)
        svg.text(WIDTH - MARGIN_R + 62, y + 4, kname, class_="legend")
        y += 19
    return svg.markup()


def external_table(rows):
    heads = ("time", "live (requested)", "handed out", "RSS", "mapped", "dirty", "cold", "RSS − live",
             "live ÷ RSS")
    out = ['<div class="scroll"><table class="data"><thead><tr><th>moment</th>%s</tr></thead><tbody>'
           % "".join('<th class="num">%s</th>' % h for h in heads)]
    for label, t, live, s in rows:
        rss = s.get("rss")
        gap = rss - live if rss is not None and live is not None else None
        ratio = live / rss if rss and live is not None else None
        cells = [fmt_ns(t), fmt_bytes(live), fmt_bytes(s.get("live")), fmt_bytes(rss),
                 fmt_bytes(s.get("mapped")), fmt_bytes(s.get("dirty")), fmt_bytes(s.get("cold")),
                 fmt_bytes(gap), fmt_pct(ratio)]
        out.append("<tr><td>%s</td>%s</tr>" % (esc(label), "".join(
            '<td class="num">%s</td>' % esc(c) for c in cells)))
    out.append("</tbody></table></div>")
    return "".join(out)


def dirty_cold_text(s):
    dirty, cold = s.get("dirty") or 0, s.get("cold") or 0
    if not dirty and not cold:
        return '<p class="note">At the end flymalloc held no freed pages: neither dirty nor cold.</p>'
    share = dirty / (dirty + cold)
    return ('<p class="note">At the end, of the freed pages flymalloc still has mapped, %s are dirty '
            '(resident, %s) and %s cold (returned to the kernel).</p>'
            % (esc(fmt_bytes(dirty)), esc(fmt_pct(share, 0)), esc(fmt_bytes(cold))))


# -- comparison table --------------------------------------------------------

def swatch(name, names):
    return '<span class="swatch" style="background:%s"></span>%s' % (allocator_color(name, names), esc(name))


def comparison_section(rp):
    results = rp.get("results") or []
    if not results:
        return ('<section id="comparison"><h2>Replay comparison</h2><p class="empty">The replay '
                'produced no results.</p></section>')
    names = [r.get("allocator", "?") for r in results]
    ratios = rp.get("ratios") or {}
    rt, rr = ratios.get("time") or {}, ratios.get("peak_rss") or {}
    times = [r.get("time_s") for r in results if r.get("time_s") is not None]
    peaks = [r.get("peak_rss_bytes") for r in results if r.get("peak_rss_bytes") is not None]
    rows = []
    for r in results:
        n = r.get("allocator", "?")
        sc = r.get("syscalls")
        t, pk, base = r.get("time_s"), r.get("peak_rss_bytes"), r.get("baseline_rss_bytes")
        best_t = ' class="num best"' if times and t == min(times) else ' class="num"'
        best_p = ' class="num best"' if peaks and pk == min(peaks) else ' class="num"'
        total_sc = fmt_count(sum(v or 0 for v in sc.values())) if isinstance(sc, dict) else "not counted"
        rows.append(
            "<tr><td class=\"name\">%s</td><td class=\"lib\" title=\"%s\">%s</td><td%s>%s</td>"
            "<td class=\"num\">%s</td>"
            "<td%s>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
            "<td class=\"num\">%s</td></tr>" % (
                swatch(n, names), esc(r.get("library") or ""),
                esc(os.path.basename(r.get("library") or "") or "system"),
                best_t, esc("%.3f s" % t if t is not None else "n/a"), ratio_cell(rt.get(n)),
                best_p, esc(fmt_bytes(pk)), ratio_cell(rr.get(n)),
                esc(fmt_bytes(pk - base) if pk is not None and base is not None else "n/a"),
                esc(total_sc), esc(fmt_count(r.get("failed_allocations", 0)))))
    errors = rp.get("errors") or {}
    failed = ""
    if errors:
        failed = ('<div class="warnings"><b>Not compared</b><ul>%s</ul></div>' % "".join(
            "<li><b>%s</b>: %s</li>" % (esc(n), esc(msg)) for n, msg in sorted(errors.items())))
    return (
        '<section id="comparison"><h2>Replay comparison</h2>'
        '<p class="lead">The trace was replayed against %d allocators in %s: the same allocations and '
        'frees with the same sizes, each allocator in a fresh process. Lower is better everywhere; the '
        'best time and the smallest peak are in bold. Ratios are %s. <i>Peak above baseline</i> leaves '
        'out the replaying process\'s own memory before the first allocation.</p>%s'
        '<div class="scroll"><table class="data compare"><thead><tr><th>allocator</th><th>library</th>'
        '<th class="num">time</th><th class="num">time ratio</th><th class="num">peak RSS</th>'
        '<th class="num">RSS ratio</th><th class="num">peak above baseline</th>'
        '<th class="num">system calls</th><th class="num">failed</th></tr></thead><tbody>%s</tbody>'
        '</table></div></section>' % (
            len(results), esc(mode_text(rp.get("mode"))), ratio_basis(results, rt, rr), failed,
            "".join(rows)))


def mode_text(mode):
    return {"exact": "the trace's exact order (one event at a time, in sequence order)",
            "parallel": "parallel order (each recorded thread replays its own events, waiting only "
                        "for the events they depend on)"}.get(mode, "%s order" % mode)


def ratio_basis(results, rt, rr):
    """Says what the replay's ratios are relative to."""
    def at_one(ratios):
        return [n for n, v in ratios.items() if v is not None and abs(v - 1.0) < 1e-6]

    def best(key):
        vals = [(r.get(key), r.get("allocator")) for r in results if r.get(key) is not None]
        return min(vals)[1] if vals else None
    t1, r1 = at_one(rt), at_one(rr)
    if t1 and r1 and best("time_s") in t1 and best("peak_rss_bytes") in r1:
        return "to the best in each column (1.00\u00d7 is the best)"
    common = [n for n in t1 if n in r1]
    if common:
        return "relative to %s" % esc(common[0])
    return "as computed by the replay"


def ratio_cell(v):
    """Green at or below 1 (the best, or better than the reference), red
    more than 10 % above."""
    if v is None:
        return "n/a"
    cls = "better" if v < 1.005 else "worse" if v > 1.10 else "same"
    return '<span class="ratio %s">%.2f×</span>' % (cls, v)


# ======================================================================== page

CSS = """
:root { --ink:#212529; --dim:#6c757d; --line:#dee2e6; --bg:#f6f7f9; --card:#fff; --accent:#e8590c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; }
header.top { background: #1f2933; color: #f1f3f5; }
header.top .inner { max-width: 1180px; margin: 0 auto; padding: 22px 28px 18px; }
header.top h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; letter-spacing: .01em; }
header.top h1 .brand { color: #ff922b; }
header.top code { background: rgba(255,255,255,.09); color: #fff; padding: 2px 6px; border-radius: 4px;
                  word-break: break-all; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px 22px;
           margin: 14px 0 0; }
dl.facts div.wide { grid-column: 1 / -1; }
dl.facts dt { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: #adb5bd; }
dl.facts dd { margin: 0; font-size: 15px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px; font-weight: 600; }
.badge.ok { background: #2b8a3e; color: #fff; } .badge.bad { background: #c92a2a; color: #fff; }
.warnings { background: #fff3bf; border: 1px solid #fcc419; color: #5c3c00; border-radius: 6px;
            padding: 8px 14px; margin: 12px 0; }
header.top .warnings { margin: 16px 0 0; }
.warnings.bad { background: #ffe3e3; border-color: #ff8787; color: #7d1a1a; }
header.top .warnings code { background: rgba(0,0,0,.07); color: inherit; }
.warnings ul { margin: 4px 0 0; padding-left: 20px; }
nav.toc { margin: 18px 0 4px; font-size: 14px; }
nav.toc a { color: #1971c2; text-decoration: none; margin-right: 16px; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(145px, 1fr)); gap: 12px; margin: 18px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .k { font-size: 12px; color: var(--dim); text-transform: uppercase; letter-spacing: .05em; }
.card .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .s { font-size: 12px; color: var(--dim); }
section, figure.chart { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
                        margin: 22px 0; padding: 18px 22px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
figure.chart h2, section h2 { margin: 0 0 10px; font-size: 19px; }
figure.chart h3 { margin: 18px 0 6px; font-size: 15px; color: #343a40; }
figcaption { color: #495057; font-size: 14px; border-top: 1px solid #f1f3f5; margin-top: 10px; padding-top: 10px; }
svg.plot { display: block; width: 100%; height: auto; margin: 6px 0; }
svg.plot text { font-family: inherit; fill: #343a40; }
svg.plot .tick { font-size: 12px; fill: #495057; font-variant-numeric: tabular-nums; }
svg.plot .dim { fill: #868e96; }
svg.plot .axis-title { font-size: 12.5px; fill: #495057; font-weight: 600; }
svg.plot .panel-title { font-size: 14px; font-weight: 650; fill: #212529; }
svg.plot .legend { font-size: 12.5px; }
svg.plot .value { font-size: 11px; fill: #495057; }
svg.plot .grid { stroke: #e9ecef; stroke-width: 1; }
svg.plot .axis { stroke: #adb5bd; stroke-width: 1; }
svg.plot .cross { stroke: #343a40; stroke-width: 1; stroke-dasharray: 3 3; pointer-events: none; }
svg.plot rect:hover, svg.plot circle:hover { opacity: .8; }
p.empty { background: #f8f9fa; border: 1px dashed #ced4da; border-radius: 6px; color: #495057;
          padding: 22px; text-align: center; margin: 8px 0; }
p.note, p.lead { color: #495057; font-size: 14px; margin: 6px 0; }
blockquote.summary { margin: 4px 0 10px; padding: 10px 16px; background: #fff4e6; border-left: 4px solid var(--accent);
                     border-radius: 4px; }
blockquote.summary p { margin: 0; }
blockquote.summary footer { font-size: 12px; color: var(--dim); margin-top: 4px; }
div.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; margin: 10px 0; font-size: 14px; }
table.data caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.data th { text-align: left; font-weight: 600; color: #495057; border-bottom: 2px solid var(--line);
                padding: 6px 10px; white-space: nowrap; }
table.data td { border-bottom: 1px solid #f1f3f5; padding: 5px 10px; }
table.data tbody tr:nth-child(even) { background: #fafbfc; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data td.name { white-space: nowrap; }
table.data th.num { text-align: right; }
table.data td.lib { color: var(--dim); font-size: 12.5px; white-space: nowrap; }
table.data td.na { color: var(--dim); font-style: italic; text-align: center; }
table.data td.best { font-weight: 700; }
.ratio.better { color: #2b8a3e; } .ratio.worse { color: #c92a2a; } .ratio.same { color: #495057; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 7px;
          vertical-align: -1px; }
details { margin: 10px 0; } summary { cursor: pointer; color: #1971c2; }
footer.page { color: var(--dim); font-size: 12.5px; text-align: center; margin: 26px 0 0; }
.tip { position: absolute; z-index: 10; pointer-events: none; background: rgba(33,37,41,.94); color: #f8f9fa;
       font-size: 12.5px; line-height: 1.45; padding: 7px 10px; border-radius: 6px; box-shadow: 0 2px 8px rgba(0,0,0,.25);
       font-variant-numeric: tabular-nums; }
.tip .h { font-weight: 650; margin-bottom: 2px; }
.tip i { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; }
@media print { body { background: #fff; } section, figure.chart { break-inside: avoid; box-shadow: none; } }
"""

# Hover read-out: the value of every series at the pointer's x.  The charts
# are complete without it.
JS = """
(function () {
  "use strict";
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  document.body.appendChild(tip);
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  function sig(x) {
    var a = Math.abs(x);
    var s = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
    return s.indexOf(".") >= 0 ? s.replace(/0+$/, "").replace(/\\.$/, "") : s;
  }
  function bytes(v) {
    var i = 0;
    while (i < UNITS.length - 1 && Math.abs(v) >= Math.pow(1024, i + 1)) i++;
    return i === 0 ? Math.round(v) + " B" : sig(v / Math.pow(1024, i)) + " " + UNITS[i];
  }
  function ns(v) {
    if (v >= 1e9) return sig(v / 1e9) + " s";
    if (v >= 1e6) return sig(v / 1e6) + " ms";
    if (v >= 1e3) return sig(v / 1e3) + " \\u00b5s";
    return Math.round(v) + " ns";
  }
  function fmt(kind, v) {
    if (kind === "bytes") return bytes(v);
    if (kind === "ns") return ns(v);
    return Math.round(v).toLocaleString("en-US");
  }
  function at(xs, x) {  /* index of the last point at or before x */
    var lo = 0, hi = xs.length - 1;
    if (hi < 0 || x < xs[0]) return -1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (xs[mid] <= x) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
  function show(svg, d, cross, ev) {
    var m = svg.getScreenCTM();
    if (!m) return false;
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(m.inverse());
    for (var k = 0; k < d.plots.length; k++) {
      var g = d.plots[k];
      if (p.x < g.px0 || p.x > g.px1 || p.y < g.py0 || p.y > g.py1) continue;
      var x = g.x0 + (p.x - g.px0) / (g.px1 - g.px0) * (g.x1 - g.x0);
      while (tip.firstChild) tip.removeChild(tip.firstChild);
      var h = document.createElement("div");
      h.className = "h";
      h.textContent = fmt(g.xkind, x);
      tip.appendChild(h);
      g.series.forEach(function (s) {
        var i = at(s.x, x);
        if (i < 0 || (i === s.x.length - 1 && x > s.x[i] + (g.x1 - g.x0) * 0.02)) return;
        var row = document.createElement("div");
        var sw = document.createElement("i");
        sw.style.background = s.color;
        row.appendChild(sw);
        row.appendChild(document.createTextNode(s.name + ": " + fmt(s.kind, s.y[i])));
        tip.appendChild(row);
      });
      cross.setAttribute("x1", p.x); cross.setAttribute("x2", p.x);
      cross.setAttribute("y1", g.py0); cross.setAttribute("y2", g.py1);
      cross.setAttribute("visibility", "visible");
      tip.hidden = false;
      var left = ev.pageX + 16;
      if (left + tip.offsetWidth > window.scrollX + document.documentElement.clientWidth - 8)
        left = ev.pageX - tip.offsetWidth - 16;
      tip.style.left = left + "px";
      tip.style.top = (ev.pageY + 14) + "px";
      return true;
    }
    return false;
  }
  Array.prototype.forEach.call(document.querySelectorAll("svg[data-hover]"), function (svg) {
    var src = document.getElementById(svg.getAttribute("data-hover"));
    var cross = svg.querySelector(".cross");
    if (!src || !cross) return;
    var d = JSON.parse(src.textContent);
    function hide() { tip.hidden = true; cross.setAttribute("visibility", "hidden"); }
    svg.addEventListener("mousemove", function (ev) { if (!show(svg, d, cross, ev)) hide(); });
    svg.addEventListener("mouseleave", hide);
  });
})();
"""


def header(an, title):
    tr = an.get("trace", {})
    cmd = tr.get("command") or []
    complete = tr.get("complete")
    badge = ('<span class="badge ok">complete</span>' if complete else
             '<span class="badge bad">incomplete</span>')
    facts = [
        ("Command", "<code>%s</code>" % esc(shlex.join(str(c) for c in cmd) if cmd else "unknown"), True),
        ("Process id", esc(tr.get("pid", "n/a")), False),
        ("Duration", esc(fmt_ns(tr.get("duration_ns"))), False),
        ("Threads", esc(fmt_count(tr.get("threads", 0))), False),
        ("Events", esc(fmt_count(tr.get("events", 0))), False),
        ("Trace", badge, False),
        ("Trace file", esc(os.path.basename(str(tr.get("file", ""))) or "n/a"), False),
    ]
    dl = "".join('<div%s><dt>%s</dt><dd>%s</dd></div>' % (' class="wide"' if wide else "", esc(k), v)
                 for k, v, wide in facts)
    warnings = [w for w in tr.get("warnings") or []]
    warn = ""
    if not complete:
        warn += ('<div class="warnings bad"><b>Incomplete trace.</b> The trace has no end record: the '
                 'program crashed, called <code>_exit</code> or was killed. The figures cover what was '
                 'recorded; the per-class table and the summary, written at exit, are missing.</div>')
    if warnings:
        warn += ('<div class="warnings"><b>%d warning%s from the trace reader</b><ul>%s</ul></div>'
                 % (len(warnings), "" if len(warnings) == 1 else "s",
                    "".join("<li>%s</li>" % esc(w) for w in warnings)))
    return ('<header class="top"><div class="inner"><h1><span class="brand">flymalloc</span> %s</h1>'
            '<dl class="facts">%s</dl>%s</div></header>' % (esc(title), dl, warn))


def key_figures(an):
    t, ops, smp = an.get("totals", {}), an.get("ops", {}), an.get("samples", {})
    rss = series_of(smp, "rss")
    calls = sum((series_of(smp, k) or [0])[-1] or 0 for k in SYSCALLS) if series_of(smp, "t_ns") else None
    n_ops = sum(ops.get(k, 0) or 0 for k in ("malloc", "calloc", "realloc", "aligned"))
    cards = [
        ("Allocations", card_count(t.get("allocated_objects", 0)),
         "%s malloc · %s calloc · %s realloc · %s aligned" % tuple(
             fmt_compact(ops.get(k, 0) or 0) for k in ("malloc", "calloc", "realloc", "aligned"))),
        ("Frees", card_count(ops.get("free", 0)),
         "%s failed allocation%s" % (fmt_count(ops.get("failed", 0)), "" if ops.get("failed") == 1 else "s")),
        ("Requested", fmt_bytes(t.get("requested_bytes", 0)),
         "%s per allocation on average" % fmt_bytes(t.get("requested_bytes", 0) // n_ops if n_ops else 0)),
        ("Peak live", fmt_bytes(t.get("peak_live_bytes", 0)),
         "%s objects" % fmt_count(t.get("peak_live_objects", 0))),
        ("Live at the end", fmt_bytes(t.get("final_live_bytes", 0)),
         "%s objects" % fmt_count(t.get("final_live_objects", 0))),
        ("Peak RSS", fmt_bytes(max(rss)) if rss else "n/a", "sampled" if rss else "no samples"),
        ("System calls", card_count(calls) if calls is not None else "n/a", "mmap, munmap, madvise, mremap"),
    ]
    return '<div class="cards">%s</div>' % "".join(
        '<div class="card"><div class="k">%s</div><div class="v">%s</div><div class="s">%s</div></div>'
        % (esc(k), esc(v), esc(s)) for k, v, s in cards)


def card_count(n):
    """A count that fits a card: exact below ten million, then 17.7M."""
    n = n or 0
    return fmt_count(n) if n < 10_000_000 else fmt_compact(n)


def threads_table(an):
    threads = [t for t in an.get("threads") or [] if isinstance(t, dict)]
    if not threads:
        return ""
    rows = "".join('<tr><td class="num">%s</td><td class="num">%s</td><td class="num">%s</td>'
                   '<td class="num">%s</td><td class="num">%s</td></tr>' % (
                       esc(t.get("thread", "")), esc(t.get("tid", "")), esc(fmt_count(t.get("events", 0))),
                       esc(fmt_count(t.get("allocations", 0))), esc(fmt_bytes(t.get("bytes", 0))))
                   for t in threads)
    return ('<details><summary>Per thread (%d)</summary><table class="data"><thead><tr>'
            '<th class="num">thread</th><th class="num">kernel tid</th><th class="num">events</th>'
            '<th class="num">allocations</th><th class="num">bytes requested</th></tr></thead>'
            '<tbody>%s</tbody></table></details>' % (len(threads), rows))


def toc(rp):
    items = ([("comparison", "Replay comparison")] if rp else []) + [
        ("live-rss", "Live bytes & RSS"), ("sizes", "Sizes"), ("lifetimes", "Lifetimes"),
        ("classes", "Size classes"), ("syscalls", "System calls"), ("fragmentation", "Fragmentation")]
    return '<nav class="toc">%s</nav>' % "".join('<a href="#%s">%s</a>' % (i, esc(t)) for i, t in items)


def render_page(an, rp, title, source):
    body = [header(an, title), "<main>", toc(rp), key_figures(an), threads_table(an)]
    if rp:
        body.append(comparison_section(rp))
    body += [chart_live_rss(an, rp), chart_sizes(an), chart_lifetimes(an), chart_classes(an),
             chart_syscalls(an, rp), chart_fragmentation(an)]
    body.append('<footer class="page">Written by <code>flymalloc report</code> from %s on %s.</footer>'
                % (esc(source), esc(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))))
    body.append("</main>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n<script>%s</script>\n"
            "</body>\n</html>\n" % (esc(title), CSS, "\n".join(body), JS))


def default_title(an):
    cmd = an.get("trace", {}).get("command") or []
    if not cmd:
        return "allocation report"
    words = [os.path.basename(str(cmd[0]))] + [str(c) for c in cmd[1:3]]
    return "allocation report: " + " ".join(words) + (" …" if len(cmd) > 3 else "")


def main(argv):
    args = parse_args(argv)
    try:
        an = load_analysis(args)
        rp = load_replay(args)
        title = args.title or default_title(an)
        source = os.path.basename(args.trace or args.analysis)
        page = render_page(an, rp, title, source)
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(page)
        except OSError as e:
            raise ReportError("cannot write %s: %s" % (args.output, e.strerror))
    except ReportError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    sys.stderr.write("%s: wrote %s (%s)\n" % (PROG, args.output, fmt_bytes(len(page.encode("utf-8")))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
