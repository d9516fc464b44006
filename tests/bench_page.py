"""Training speed with the page open vs headless: a measurement, not a test.

    python tests/bench_page.py [--backend numba|numpy] [--window 30] [--rounds 3] [--no-timeline]

Starts `python -m app` on the shared CIFAR-10 copy and, once training runs steadily, alternates
windows with no page connected (headless) and with the dashboard open in headless Chromium
(1500x1000, the whole page; the browser at normal priority, as a user's would be). The speed of
each window is read from the server's /status.json (examples seen over wall time), so reading
it costs no session; the CPU used in each window by the server's main thread, the server and the
browser from /proc. Prints one JSON line per window and a summary: the mean images/s with the
page open over the mean headless, and the page's click-to-status latency in ms (Pause then
Start, timed in the page: click to the header's new status drawn).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import ARGS, CHROMIUM, DATA, start_app, stop_app  # noqa: E402

# Click a button in the page and time, in the page, until the header's status says `shows`:
# the server's round trip and the redraw, without the test driver's own waits.
CLICK = """async ([button, shows]) => {
  const find = (root) => {
    const h = root.querySelector(".cp-header")
    if (h) return h
    for (const el of root.querySelectorAll("*")) {
      const found = el.shadowRoot && find(el.shadowRoot)
      if (found) return found
    }
    return null
  }
  const box = find(document).parentNode  // the header pane's container: its content is replaced on update
  const t0 = performance.now();
  button.click();
  while (!box.innerText.includes(shows)) {
    if (performance.now() - t0 > 10000) return -1;
    await new Promise((done) => requestAnimationFrame(done));
  }
  return performance.now() - t0;
}"""


def status(url):
    return json.loads(urllib.request.urlopen(url + "status.json", timeout=30).read())


def cpu_seconds(pid=None, thread=None, name=None):
    """CPU seconds of a process, of one of its threads, or of every process called `name`."""
    if name is not None:
        total = 0.0
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "comm").read_text().strip() == name:
                    total += cpu_seconds(int(proc.name))
            except OSError:
                pass  # gone meanwhile
        return total
    path = "/proc/%d/task/%d/stat" % (pid, thread) if thread else "/proc/%d/stat" % pid
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(url, seconds, pid):
    """(images/s, cores used by the server's main thread, by the browser, by the server process)."""
    probes = (lambda: cpu_seconds(pid, pid), lambda: cpu_seconds(name="chromium"), lambda: cpu_seconds(pid))
    t0, e0, c0 = time.monotonic(), status(url)["examples"], [f() for f in probes]
    time.sleep(seconds)
    t1, e1, c1 = time.monotonic(), status(url)["examples"], [f() for f in probes]
    dt = t1 - t0
    return (e1 - e0) / dt, {
        k: round((b - a) / dt, 3) for k, a, b in zip(("server_thread", "browser", "server_process"), c0, c1)
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numba")
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--query", default="", help="added to the page's URL, e.g. ?layout=present")
    p.add_argument("--width", type=int, default=1500)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("--no-timeline", action="store_true", help="the server keeps no checkpoints (timeline off)")
    args = p.parse_args(argv)
    import playwright.sync_api as sync_api

    tmp = Path(tempfile.mkdtemp(prefix="cp-page-bench-"))
    extra = ["--no-timeline"] if args.no_timeline else []
    proc, url = start_app(["--data", args.data, "--backend", args.backend, *extra], tmp / "server.log", tmp)
    results, clicks = [], []
    try:
        deadline = time.monotonic() + 600
        while status(url)["examples"] < 20_000:  # data loaded, kernels compiled, speed settled
            if time.monotonic() > deadline:
                raise SystemExit("training did not start within 10 minutes")
            time.sleep(2)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for r in range(args.rounds):
                rate, used = window(url, args.window, proc.pid)
                results.append({"round": r, "page": False, "images_per_s": round(rate, 1), "cpu": used})
                print(json.dumps(results[-1]), flush=True)
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(url + args.query, wait_until="load", timeout=120_000)
                page.locator(".cp-header").first.wait_for(timeout=120_000)
                time.sleep(5)  # the first full draw
                rate, used = window(url, args.window, proc.pid)
                results.append({"round": r, "page": True, "images_per_s": round(rate, 1), "cpu": used})
                print(json.dumps(results[-1]), flush=True)
                for label, shows in () if "present" in args.query else (("Pause", "paused"), ("Start", "running")):
                    button = page.locator("button", has_text=label).first.element_handle()
                    clicks.append(round(page.evaluate(CLICK, [button, shows])))
                    time.sleep(1)
                page.close()
                time.sleep(20)  # the server drops the closed session (Bokeh checks every 17 s)
            browser.close()
    finally:
        stop_app(proc)
    headless = [x["images_per_s"] for x in results if not x["page"]]
    page = [x["images_per_s"] for x in results if x["page"]]
    summary = {
        "backend": args.backend,
        "timeline": not args.no_timeline,
        "images_per_s_headless": round(sum(headless) / len(headless), 1),
        "images_per_s_page_open": round(sum(page) / len(page), 1),
        "click_to_status_ms": clicks,
    }
    summary["ratio"] = round(summary["images_per_s_page_open"] / summary["images_per_s_headless"], 3)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
