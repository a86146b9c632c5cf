"""report.py: turn benchmark runs into the table, JSON, CSV and HTML.

Summaries use the median over repetitions and show the min-max spread.
Ratios are "this allocator's median / the reference allocator's median",
the reference being flymalloc when it was measured (glibc otherwise), so
a ratio above 1 means the reference is faster (or smaller).  Geometric
means are taken over the workloads every allocator completed.
"""

import csv
import html
import json
import math
import statistics

COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
          "#9c755f", "#ff9da7", "#bab0ac"]


def _median(xs):
    return statistics.median(xs) if xs else None


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def summarize(runs, workloads, allocators):
    """{workload: {allocator: stats}} over the successful runs."""
    out = {}
    for w in workloads:
        out[w.name] = {}
        for a in allocators:
            rs = [r for r in runs if r["workload"] == w.name and r["allocator"] == a]
            ok = [r for r in rs if r["ok"]]
            st = {"runs": len(rs), "ok": len(ok),
                  "errors": sorted({r["error"] for r in rs if not r["ok"]})}
            if ok:
                walls = [r["wall_s"] for r in ok]
                st.update({
                    "wall_median": _median(walls), "wall_min": min(walls), "wall_max": max(walls),
                    "cpu_median": _median([r["user_s"] + r["sys_s"] for r in ok]),
                    "rss_median_kib": _median([r["maxrss_kib"] for r in ok]),
                    "rss_min_kib": min(r["maxrss_kib"] for r in ok),
                    "rss_max_kib": max(r["maxrss_kib"] for r in ok),
                })
                metrics = {}
                for key, _label, _hib in w.metrics:
                    vals = [float(r["metrics"][key]) for r in ok if key in r["metrics"]]
                    if vals:
                        metrics[key] = _median(vals)
                if "ops" in ok[0]["metrics"]:
                    metrics["ops"] = float(ok[0]["metrics"]["ops"])
                st["metrics"] = metrics
            out[w.name][a] = st
    return out


def reference(summary, allocators):
    """The allocator ratios are taken against: flymalloc if measured, else the first."""
    for name in ("flymalloc",) + tuple(allocators):
        if name in allocators and any(s.get(name, {}).get("ok") for s in summary.values()):
            return name
    return allocators[0] if allocators else None


def geomeans(summary, allocators, ref):
    """Per allocator: geometric means of time and RSS ratios against ref."""
    complete = [w for w, s in summary.items()
                if all(s.get(a, {}).get("ok") for a in allocators)]
    res = {}
    for a in allocators:
        res[a] = {
            "workloads": len(complete),
            "time_ratio": _geomean([summary[w][a]["wall_median"] / summary[w][ref]["wall_median"]
                                    for w in complete]),
            "rss_ratio": _geomean([summary[w][a]["rss_median_kib"] / summary[w][ref]["rss_median_kib"]
                                   for w in complete]),
            "time_s": _geomean([summary[w][a]["wall_median"] for w in complete]),
            "rss_mib": _geomean([summary[w][a]["rss_median_kib"] / 1024 for w in complete]),
        }
    return res


def _fmt_time(s):
    return "%.3f" % s if s < 10 else "%.2f" % s if s < 100 else "%.1f" % s


def _fmt_mib(kib):
    mib = kib / 1024.0
    return "%.1f" % mib if mib < 100 else "%.0f" % mib


def _fmt_metric(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v if abs(v) >= 0.01 or v == 0 else "%.2e" % v


def _grid(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _cell_failed(st):
    if st is None or st["runs"] == 0:
        return "-"
    return "FAIL(%d/%d)" % (st["runs"] - st["ok"], st["runs"])


def text_table(doc):
    """The human-readable report printed at the end of a run."""
    meta, summary, syscalls = doc["meta"], doc["summary"], doc["syscalls"]
    allocs = [a["name"] for a in meta["allocators"]]
    ref = meta["reference"]
    wl = meta["workloads"]
    out = []
    out.append("flymalloc benchmarks, %s, size %s, %d repetition(s), %s, %d CPUs" % (
        meta["date"], meta["size"], meta["repeat"], meta["machine"]["cpu"],
        meta["machine"]["ncpu"]))
    # The load after a run includes the run's own threads; only "before" tells of others.
    busy = meta["load_before"][0] > 0.5 * (meta["machine"]["ncpu"] or 1)
    out.append("load average before %s, after %s%s" % (
        " ".join("%.2f" % x for x in meta["load_before"]),
        " ".join("%.2f" % x for x in meta["load_after"]),
        "  (BUSY MACHINE before the start: timings are noisy)" if busy else ""))
    for m in meta["missing"]:
        out.append("MISSING allocator %s: %s (skipped)" % (m["name"], m["reason"]))
    for m in meta.get("skipped_workloads", []):
        out.append("SKIPPED workload %s: %s" % (m["name"], m["reason"]))
    out.append("")
    out.append("Wall time, seconds: median (min-max); xN = median / %s's median" % ref)
    rows = []
    for w in wl:
        row = [w["name"]]
        for a in allocs:
            st = summary[w["name"]].get(a)
            if not st or not st["ok"]:
                row.append(_cell_failed(st))
                continue
            cell = "%s (%s-%s)" % (_fmt_time(st["wall_median"]), _fmt_time(st["wall_min"]),
                                   _fmt_time(st["wall_max"]))
            rst = summary[w["name"]].get(ref)
            if rst and rst.get("ok") and a != ref:
                cell += " x%.2f" % (st["wall_median"] / rst["wall_median"])
            row.append(cell)
        rows.append(row)
    gm = doc["geomeans"]
    rows.append(["geomean"] + ["%s x%.2f" % (_fmt_time(gm[a]["time_s"]), gm[a]["time_ratio"])
                               if gm[a]["time_s"] else "-" for a in allocs])
    out.append(_grid(["workload"] + allocs, rows))
    out.append("")
    out.append("Peak RSS, MiB (from wait4): median (min-max); xN = median / %s's median" % ref)
    rows = []
    for w in wl:
        row = [w["name"]]
        for a in allocs:
            st = summary[w["name"]].get(a)
            if not st or not st["ok"]:
                row.append(_cell_failed(st))
                continue
            cell = "%s" % _fmt_mib(st["rss_median_kib"])
            if st["rss_max_kib"] - st["rss_min_kib"] > 0.02 * st["rss_median_kib"]:
                cell += " (%s-%s)" % (_fmt_mib(st["rss_min_kib"]), _fmt_mib(st["rss_max_kib"]))
            rst = summary[w["name"]].get(ref)
            if rst and rst.get("ok") and a != ref:
                cell += " x%.2f" % (st["rss_median_kib"] / rst["rss_median_kib"])
            row.append(cell)
        rows.append(row)
    rows.append(["geomean"] + ["%s x%.2f" % (_fmt_mib(gm[a]["rss_mib"] * 1024), gm[a]["rss_ratio"])
                               if gm[a]["rss_mib"] else "-" for a in allocs])
    out.append(_grid(["workload"] + allocs, rows))
    out.append("(geometric means over the %d workloads every allocator completed)" %
               (gm[allocs[0]]["workloads"] if allocs else 0))

    threaded = [w for w in wl if w["threaded"]]
    if threaded:
        out.append("")
        out.append("CPU time (user+sys), seconds, median, threaded workloads")
        rows = []
        for w in threaded:
            rows.append([w["name"]] + [
                _fmt_time(summary[w["name"]][a]["cpu_median"])
                if summary[w["name"]].get(a, {}).get("ok") else "-" for a in allocs])
        out.append(_grid(["workload"] + allocs, rows))

    rows = []
    for w in wl:
        for key, label, hib in w["metrics"]:
            vals = [summary[w["name"]].get(a, {}).get("metrics", {}).get(key) for a in allocs]
            if any(v is not None for v in vals):
                rows.append(["%s %s" % (w["name"], label + (" (higher is better)" if hib else ""))]
                            + [_fmt_metric(v) for v in vals])
    if rows:
        out.append("")
        out.append("Workload figures (median)")
        out.append(_grid(["figure"] + allocs, rows))

    if syscalls:
        out.append("")
        out.append("Memory system calls (strace -f -c): calls in a run of N steps; "
                   "steady state = (calls(2N) - calls(N)) / N per step")
        rows = []
        for s in syscalls:
            if not s.get("ok"):
                rows.append([s["workload"], s["allocator"], "FAIL: " + s.get("error", ""), "", "", "",
                             ""])
                continue
            c = s["counts_n"]
            rows.append([s["workload"], s["allocator"], str(s["steps_n"]),
                         "%d/%d" % (c.get("mmap", 0), c.get("munmap", 0)),
                         "%d/%d/%d" % (c.get("madvise", 0), c.get("mremap", 0), c.get("brk", 0)),
                         "%.3f" % s["per_step"]["mmap+munmap"],
                         "%.3f" % s["per_step"]["all"]])
        out.append(_grid(["workload", "allocator", "N", "mmap/munmap", "madvise/mremap/brk",
                          "mmap+munmap per step", "all per step"], rows))
        for s in syscalls:
            fs = s.get("flymalloc_stats")
            if fs:
                out.append("%s, %s's own count (FLYMALLOC_STATS=1, N steps): mmap %s, munmap %s, "
                           "madvise %s, mremap %s" % (
                               s["workload"], s["allocator"], fs.get("mmap_calls", "?"),
                               fs.get("munmap_calls", "?"), fs.get("madvise_calls", "?"),
                               fs.get("mremap_calls", "?")))
    failed = [r for r in doc["runs"] if not r["ok"]]
    if failed:
        out.append("")
        out.append("FAILED RUNS (not counted above):")
        for r in failed:
            out.append("  %s %s rep %d: %s" % (r["workload"], r["allocator"], r["rep"], r["error"]))
            out.append("    command: %s" % r["command"])
    out.append("")
    out.append("Every run's command line is in runs.json / runs.csv / index.html.")
    return "\n".join(out)


def write_json(doc, path):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


CSV_FIELDS = ["workload", "allocator", "rep", "ok", "exit", "error", "wall_s", "user_s", "sys_s",
              "maxrss_kib", "checksum", "metrics", "command"]


def write_csv(runs, path):
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(CSV_FIELDS)
        for r in runs:
            wr.writerow([r["workload"], r["allocator"], r["rep"], int(r["ok"]), r["exit"],
                         r["error"], "%.6f" % r["wall_s"], "%.6f" % r["user_s"],
                         "%.6f" % r["sys_s"], r["maxrss_kib"], r["metrics"].get("checksum", ""),
                         " ".join("%s=%s" % kv for kv in sorted(r["metrics"].items())
                                  if kv[0] != "checksum"),
                         r["command"]])


# ---- HTML with inline SVG -------------------------------------------------

def _bar_chart(title, unit, values, allocs, ref_name):
    """values: {alloc: (median, lo, hi) or None}.  Horizontal bars with whiskers."""
    bar_h, gap, left, width = 18, 6, 90, 330
    height = 28 + len(allocs) * (bar_h + gap)
    vmax = max([v[2] for v in values.values() if v] + [1e-12])
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">'
             % (left + width + 90, height),
             '<text x="0" y="14" font-size="13" font-weight="bold">%s</text>' % html.escape(title)]
    for i, a in enumerate(allocs):
        y = 24 + i * (bar_h + gap)
        parts.append('<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>'
                     % (left - 6, y + bar_h - 5, html.escape(a)))
        v = values.get(a)
        if not v:
            parts.append('<text x="%d" y="%d" font-size="12" fill="#c00">failed or missing</text>'
                         % (left + 4, y + bar_h - 5))
            continue
        med, lo, hi = v
        w = max(1.0, width * med / vmax)
        color = COLORS[i % len(COLORS)]
        parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"%s/>'
                     % (left, y, w, bar_h, color,
                        ' stroke="#000" stroke-width="1.5"' if a == ref_name else ""))
        x1, x2 = left + width * lo / vmax, left + width * hi / vmax
        ym = y + bar_h / 2
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>'
                     % (x1, ym, x2, ym))
        for xx in (x1, x2):
            parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>'
                         % (xx, ym - 4, xx, ym + 4))
        parts.append('<text x="%.1f" y="%d" font-size="11">%s %s</text>'
                     % (left + max(w, width * hi / vmax) + 4, y + bar_h - 5,
                        html.escape(_fmt_metric(med)), unit))
    parts.append("</svg>")
    return "\n".join(parts)


def _series_chart(title, series, allocs):
    """series: {alloc: [(t, live, rss)]}.  Heap RSS over time per allocator, live dashed."""
    w, h, left, bottom = 560, 240, 60, 30
    pts = [p for s in series.values() for p in s]
    if not pts:
        return ""
    tmax = max(p[0] for p in pts) or 1.0
    ymax = max(max(p[1], p[2]) for p in pts) or 1.0
    sx = lambda t: left + (w - left - 10) * t / tmax
    sy = lambda b: h - bottom - (h - bottom - 20) * b / ymax
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">' % (w + 120, h),
             '<text x="0" y="14" font-size="13" font-weight="bold">%s</text>' % html.escape(title),
             '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>' % (left, h - bottom, w, h - bottom),
             '<line x1="%d" y1="20" x2="%d" y2="%d" stroke="#000"/>' % (left, left, h - bottom),
             '<text x="%d" y="%d" font-size="11">%.1f s</text>' % (w - 30, h - 10, tmax),
             '<text x="2" y="28" font-size="11">%.0f MiB</text>' % (ymax / 1048576)]
    for i, a in enumerate(allocs):
        s = series.get(a)
        if not s:
            continue
        color = COLORS[i % len(COLORS)]
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                     % (color, " ".join("%.1f,%.1f" % (sx(t), sy(r)) for t, _l, r in s)))
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1" stroke-dasharray="3,3" '
                     'points="%s"/>' % (color, " ".join("%.1f,%.1f" % (sx(t), sy(l)) for t, l, _r in s)))
        parts.append('<text x="%d" y="%d" font-size="12" fill="%s">%s</text>'
                     % (w + 8, 30 + 16 * i, color, html.escape(a)))
    parts.append('<text x="%d" y="%d" font-size="11">solid: heap RSS; dashed: live bytes</text>'
                 % (left + 10, h - 4))
    parts.append("</svg>")
    return "\n".join(parts)


def write_html(doc, path):
    meta, summary = doc["meta"], doc["summary"]
    allocs = [a["name"] for a in meta["allocators"]]
    ref = meta["reference"]
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>flymalloc benchmarks %s</title>" % e(meta["date"]),
           "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
           "pre{background:#f4f4f4;padding:1em;overflow-x:auto;font-size:12px}"
           "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
           ".chart{display:inline-block;vertical-align:top;margin:0 2em 1em 0}"
           "code{font-size:11px;word-break:break-all}</style></head><body>",
           "<h1>flymalloc benchmarks</h1>",
           "<p>%s &middot; size <b>%s</b> &middot; %d repetition(s), interleaved across allocators "
           "&middot; %s, %d CPUs, %s &middot; load average before %s, after %s</p>" % (
               e(meta["date"]), e(meta["size"]), meta["repeat"], e(meta["machine"]["cpu"]),
               meta["machine"]["ncpu"], e(meta["machine"]["kernel"]),
               e(" ".join("%.2f" % x for x in meta["load_before"])),
               e(" ".join("%.2f" % x for x in meta["load_after"])))]
    out.append("<p>Allocators: %s</p>" % "; ".join(
        "<b>%s</b> %s" % (e(a["name"]), e(a["version"] or "")) for a in meta["allocators"]))
    for m in meta["missing"]:
        out.append('<p style="color:#c00">Missing allocator <b>%s</b>: %s (skipped)</p>'
                   % (e(m["name"]), e(m["reason"])))
    out.append("<p>Bars show the median, whiskers the min&ndash;max over repetitions; "
               "ratios in the table are against <b>%s</b>. Command: <code>%s</code></p>"
               % (e(ref), e(meta["command"])))
    out.append("<h2>Summary</h2><pre>%s</pre>" % e(doc["table"]))
    out.append("<h2>Per workload</h2>")
    for w in meta["workloads"]:
        s = summary[w["name"]]
        tv = {a: (s[a]["wall_median"], s[a]["wall_min"], s[a]["wall_max"])
              if s.get(a, {}).get("ok") else None for a in allocs}
        mv = {a: (s[a]["rss_median_kib"] / 1024, s[a]["rss_min_kib"] / 1024,
                  s[a]["rss_max_kib"] / 1024) if s.get(a, {}).get("ok") else None for a in allocs}
        out.append('<h3 id="%s">%s</h3><p>%s</p>' % (e(w["name"]), e(w["name"]), e(w["title"])))
        out.append('<div class="chart">%s</div>' % _bar_chart("wall time", "s", tv, allocs, ref))
        out.append('<div class="chart">%s</div>' % _bar_chart("peak RSS", "MiB", mv, allocs, ref))
        if w.get("series"):
            series = {}
            for a in allocs:
                rs = [r for r in doc["runs"] if r["workload"] == w["name"] and r["allocator"] == a
                      and r["ok"] and r.get("samples")]
                if rs:
                    series[a] = rs[0]["samples"]
            out.append('<div class="chart">%s</div>'
                       % _series_chart("heap RSS over time (first repetition)", series, allocs))
    out.append("<h2>Runs</h2><table><tr><th>workload</th><th>allocator</th><th>rep</th>"
               "<th>ok</th><th>wall s</th><th>user s</th><th>sys s</th><th>peak RSS MiB</th>"
               "<th>command</th></tr>")
    for r in doc["runs"]:
        out.append("<tr><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%.3f</td><td>%.3f</td>"
                   "<td>%.3f</td><td>%.1f</td><td><code>%s</code></td></tr>" % (
                       e(r["workload"]), e(r["allocator"]), r["rep"],
                       "ok" if r["ok"] else "FAIL: " + e(r["error"]), r["wall_s"], r["user_s"],
                       r["sys_s"], r["maxrss_kib"] / 1024, e(r["command"])))
    out.append("</table>")
    if doc["syscalls"]:
        out.append("<h2>System-call runs</h2><table><tr><th>workload</th><th>allocator</th>"
                   "<th>counts (N)</th><th>counts (2N)</th><th>command (N)</th></tr>")
        for s in doc["syscalls"]:
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td><code>%s</code></td></tr>"
                       % (e(s["workload"]), e(s["allocator"]),
                          e(json.dumps(s.get("counts_n", {}))), e(json.dumps(s.get("counts_2n", {}))),
                          e(s.get("command", ""))))
        out.append("</table>")
    out.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
