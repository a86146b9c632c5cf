#!/usr/bin/env python3
"""report_check.py: loads a `flymalloc report` page in headless Chromium and
checks that it renders.  Used by tests/programs/report_html.sh.

    python3 report_check.py PAGE.html [--empty] [--replay] [--no-js]
                            [--screenshot OUT.png [--full-page | --until ID]] [--width PX]

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, NUL-separated
JSON), so nothing listens on a port and the checks see the browser's own
events instead of grepping its log.  Checked:
  - the file names no http(s) URL, and the page makes no request that is not
    file:, data: or about:;
  - no JavaScript exception, no console error or warning, no error in the
    browser's log for the page, while loading and while the mouse moves over
    every chart with a hover read-out (which must then show a tooltip);
  - the six figures (live-rss, sizes, lifetimes, classes, syscalls,
    fragmentation) are there, each with a caption; without --empty each has
    at least one <svg> that is laid out at a sensible size and holds drawn
    marks (paths, rects, circles) whose boxes are not degenerate; with
    --empty every figure shows either such an svg or explanatory text;
  - with --replay, the comparison table has a row per allocator (two at
    least), and unless --empty the live-rss figure has the replay panel;
  - a screenshot of the top of the page is a valid PNG that is not one colour.
With --no-js the page is loaded with JavaScript disabled (the charts must not
need it) and the hover check is left out.
Prints "ok: ..." lines; on failure prints "FAIL: ..." and exits 1.  Exit 77:
no chromium.
"""

import argparse
import base64
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

FIGURES = ["live-rss", "sizes", "lifetimes", "classes", "syscalls", "fragmentation"]


class CheckFailed(Exception):
    pass


def find_chromium():
    for c in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


class Browser:
    """One headless Chromium and one page, over the DevTools pipe."""

    def __init__(self, exe, width, height, timeout=60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="flyreport-chromium-")
        cmd_r, self._cmd_w = os.pipe()      # we write commands, chromium reads fd 3
        self._ev_r, ev_w = os.pipe()        # chromium writes fd 4, we read

        def child_fds():
            a, b = os.dup(cmd_r), os.dup(ev_w)   # dup first: cmd_r may already be 3
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(self.profile, "chromium.log"), "w+")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-sync", "--mute-audio",
             "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height),
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds, close_fds=False, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(ev_w)
        self._buf = b""
        self._id = 0
        self.events = []
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def _send(self, method, params, session):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._cmd_w, data)
            data = data[n:]
        return self._id

    def _recv(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed("chromium did not answer within %ds" % self.timeout)
            ready, _w, _x = select.select([self._ev_r], [], [], left)
            if ready:
                chunk = os.read(self._ev_r, 1 << 20)
                if not chunk:
                    raise CheckFailed("chromium exited (log: %s)" % self.log_tail())
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, browser_level=False):
        mid = self._send(method, params, None if browser_level else self.session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._recv(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CheckFailed("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name, seconds):
        deadline = time.monotonic() + seconds
        for ev in self.events:
            if ev["method"] == name:
                return ev
        while True:
            msg = self._recv(deadline)
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == name:
                    return msg

    def drain(self, seconds):
        """Collects events for a while (late errors, timers)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                msg = self._recv(deadline)
                if "method" in msg:
                    self.events.append(msg)
        except CheckFailed as e:
            if "did not answer" not in str(e):
                raise

    def evaluate(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CheckFailed("the checker's script failed: %s" % json.dumps(r["exceptionDetails"])[:400])
        return r["result"].get("value")

    def log_tail(self):
        try:
            self.log.seek(0)
            return " | ".join(self.log.read().splitlines()[-5:])
        except (OSError, ValueError):
            return "?"

    def close(self):
        try:
            self.call("Browser.close", browser_level=True)
        except (CheckFailed, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)   # the group of the chromium we started
            self.proc.wait()
        for fd in (self._cmd_w, self._ev_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# ---- PNG ----------------------------------------------------------------

def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed("screenshot is not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    w, h, depth, ctype, _c, _f, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise CheckFailed("unexpected PNG layout (depth %d, colour type %d)" % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def check_png(data, min_w, min_h):
    w, h, bpp, rows = png_pixels(data)
    if w < min_w or h < min_h:
        raise CheckFailed("screenshot is %dx%d, expected at least %dx%d" % (w, h, min_w, min_h))
    colours = set()
    nonwhite = 0
    for y in range(0, h, 3):
        row = rows[y]
        for x in range(0, w, 3):
            px = bytes(row[x * bpp:x * bpp + 3])
            colours.add(px)
            if px != b"\xff\xff\xff":
                nonwhite += 1
    if len(colours) < 16:
        raise CheckFailed("screenshot has only %d colours: nothing rendered" % len(colours))
    return w, h, len(colours), nonwhite


# ---- the checks ---------------------------------------------------------

# Runs in the page: what each figure holds, as laid out.
INSPECT = r"""
(() => {
  const out = {figures: {}, compareRows: -1, title: document.title, hoverSvgs: 0};
  for (const fig of document.querySelectorAll("figure.chart")) {
    const f = {caption: (fig.querySelector("figcaption") || {textContent: ""}).textContent.trim().length,
               empty: Array.from(fig.querySelectorAll("p.empty")).map(p => p.textContent.trim()),
               svgs: []};
    for (const svg of fig.querySelectorAll("svg")) {
      const r = svg.getBoundingClientRect();
      const vb = svg.viewBox.baseVal;
      let marks = 0, degenerate = 0;
      for (const el of svg.querySelectorAll("path, rect, circle, polyline, line:not(.cross)")) {
        const b = el.getBBox();
        if (el.tagName === "line") continue;
        if (el.tagName === "rect" && b.height > 0 && b.width > 0) { marks++; continue; }
        if (el.tagName === "circle" && b.width > 0) { marks++; continue; }
        if (b.width > 1 || b.height > 1) marks++; else degenerate++;
      }
      const series = Array.from(svg.querySelectorAll("path.series")).map(p => {
        const b = p.getBBox(); return [b.width, b.height];
      });
      f.svgs.push({w: r.width, h: r.height, vbw: vb ? vb.width : 0, marks, degenerate, series,
                   texts: svg.querySelectorAll("text").length, replay: /Replay/.test(svg.textContent)});
    }
    out.figures[fig.id] = f;
  }
  const cmp = document.querySelector("#comparison table tbody");
  if (cmp) out.compareRows = cmp.querySelectorAll("tr").length;
  out.hoverSvgs = document.querySelectorAll("svg[data-hover]").length;
  return out;
})()
"""

HOVER_TARGETS = r"""
(() => Array.from(document.querySelectorAll("svg[data-hover]")).map((svg, i) => {
  svg.scrollIntoView({block: "center"});
  const r = svg.getBoundingClientRect();
  return {i, x: r.left + r.width * 0.45, y: r.top + r.height * 0.45};
}))()
"""


def problems_in_events(events):
    bad = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = (d.get("exception") or {}).get("description") or d.get("text")
            bad.append("JavaScript exception: %s (line %s)" % (desc, d.get("lineNumber")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            bad.append("console.%s: %s" % (p.get("type"), args))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            e = p["entry"]
            bad.append("browser %s (%s): %s %s" % (e.get("level"), e.get("source"), e.get("text"),
                                                  e.get("url", "")))
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not re.match(r"(file|data|about):", url):
                bad.append("network request: %s" % url)
    return bad


def check_static(path):
    text = open(path, encoding="utf-8").read()
    urls = re.findall(r"https?://[^\s\"'<>)]*", text)
    if urls:
        raise CheckFailed("the page references URLs: %s" % ", ".join(sorted(set(urls))[:5]))
    for attr in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", text):
        if not attr.startswith("#") and not attr.startswith("data:"):
            raise CheckFailed("the page loads %r" % attr)
    if "<figure" not in text:
        raise CheckFailed("no <figure> in the page")
    print("ok: no URL or external resource in %s (%d KiB)" % (os.path.basename(path), len(text) // 1024))
    return text


def check_figures(info, empty, replay):
    figs = info["figures"]
    missing = [f for f in FIGURES if f not in figs]
    if missing:
        raise CheckFailed("figures missing: %s (found %s)" % (", ".join(missing), ", ".join(figs)))
    for fid in FIGURES:
        f = figs[fid]
        if f["caption"] < 40:
            raise CheckFailed("figure %s has no real caption" % fid)
        drawn = []
        for k, s in enumerate(f["svgs"]):
            if s["w"] < 300 or s["h"] < 80:
                raise CheckFailed("figure %s: svg %d laid out at %.0fx%.0f px" % (fid, k, s["w"], s["h"]))
            if s["marks"] < 1 or s["texts"] < 3:
                raise CheckFailed("figure %s: svg %d has %d drawn marks and %d texts" % (
                    fid, k, s["marks"], s["texts"]))
            flat = [wh for wh in s["series"] if wh[0] < 2]
            if flat:
                raise CheckFailed("figure %s: svg %d has a series squeezed to %s" % (fid, k, flat[0]))
            drawn.append(s["marks"])
        if empty:
            if not drawn and not any(len(t) > 30 for t in f["empty"]):
                raise CheckFailed("figure %s has neither a chart nor an explanation" % fid)
        elif not drawn:
            raise CheckFailed("figure %s has no chart (says: %s)" % (fid, " / ".join(f["empty"])[:200]))
        print("ok: figure %-13s %d chart(s), marks %s%s" % (
            fid, len(drawn), drawn, "; text: " + f["empty"][0][:70] if f["empty"] else ""))
    if replay:
        if info["compareRows"] < 2:
            raise CheckFailed("comparison table has %d rows" % info["compareRows"])
        if not empty and not any(s["replay"] for s in figs["live-rss"]["svgs"]):
            raise CheckFailed("live-rss has no replay panel")
        print("ok: comparison table with %d allocators%s" % (
            info["compareRows"], "" if empty else ", replay panel drawn"))


def check_hover(b):
    targets = b.evaluate(HOVER_TARGETS)
    shown = 0
    for t in targets:
        b.evaluate("document.querySelectorAll('svg[data-hover]')[%d].scrollIntoView({block: 'center'})" % t["i"])
        box = b.evaluate("(() => { const r = document.querySelectorAll('svg[data-hover]')[%d]"
                         ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()" % t["i"])
        x, y = box[0] + box[2] * 0.45, box[1] + box[3] * 0.45
        for dx in (0, 7):
            b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + dx, "y": y})
        tip = b.evaluate("(() => { const t = document.querySelector('.tip');"
                         " return t && !t.hidden ? t.textContent : null; })()")
        if not tip:
            raise CheckFailed("no tooltip over hover chart %d" % t["i"])
        shown += 1
    b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 2})
    b.evaluate("window.scrollTo(0, 0)")
    print("ok: hover read-out shown over %d chart(s)" % shown)


def js_ran(b):
    return b.evaluate("document.querySelector('.tip') !== null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--empty", action="store_true", help="the trace has no events")
    ap.add_argument("--replay", action="store_true", help="the page has a replay comparison")
    ap.add_argument("--screenshot", help="also save the screenshot here")
    ap.add_argument("--full-page", action="store_true", help="screenshot the whole page")
    ap.add_argument("--until", metavar="ID", help="screenshot from the top to the end of element ID")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--no-js", action="store_true", help="load the page with JavaScript disabled")
    args = ap.parse_args()
    exe = find_chromium()
    if not exe:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        return 77
    b = None
    try:
        check_static(args.page)
        b = Browser(exe, args.width, 900)
        if args.no_js:
            b.call("Emulation.setScriptExecutionDisabled", {"value": True})
        b.call("Page.navigate", {"url": "file://" + os.path.abspath(args.page)})
        b.wait_event("Page.loadEventFired", 60)
        b.drain(0.5)
        info = b.evaluate(INSPECT)
        check_figures(info, args.empty, args.replay)
        if args.no_js:
            if js_ran(b):
                raise CheckFailed("the page's script ran although JavaScript was disabled")
            print("ok: rendered with JavaScript disabled")
        elif info["hoverSvgs"]:
            check_hover(b)
        b.drain(0.3)
        bad = problems_in_events(b.events)
        if bad:
            raise CheckFailed("; ".join(bad[:5]))
        print("ok: no JavaScript exception, console error or request (%d browser events seen)" % len(b.events))
        params = {"format": "png"}
        if args.full_page or args.until:
            h = b.evaluate("document.documentElement.scrollHeight" if not args.until else
                           "Math.ceil(document.getElementById(%s).getBoundingClientRect().bottom"
                           " + scrollY + 16)" % json.dumps(args.until))
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": args.width, "height": h, "scale": 1})
        png = base64.b64decode(b.call("Page.captureScreenshot", params)["data"])
        if args.screenshot:
            with open(args.screenshot, "wb") as f:
                f.write(png)
        if not (args.full_page or args.until):
            w, h, colours, nonwhite = check_png(png, 800, 600)
            print("ok: screenshot %dx%d, %d KiB, %d colours in a sample" % (w, h, len(png) // 1024, colours))
    except CheckFailed as e:
        print("FAIL: %s" % e)
        return 1
    finally:
        if b:
            b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
