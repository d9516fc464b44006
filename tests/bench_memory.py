"""Memory over a long run with the page open: a measurement, not a test.

    python tests/bench_memory.py [--minutes 30] [--every 60] [--backend numba]

Starts `python -m app` on the shared CIFAR-10 copy, opens the page in headless Chromium (the
default layout, scrolled to the network visualisation half of the time, so every figure keeps
updating), and prints one JSON line per `--every` seconds: minutes, examples seen, the server's
resident memory (RSS, from /proc) and the page's JS heap. Ends with the RSS at 1 minute and at
the end, and their difference.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import ARGS, CHROMIUM, DATA, start_app, stop_app  # noqa: E402


def rss_mb(pid):
    text = Path("/proc/%d/status" % pid).read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--every", type=float, default=60.0, help="seconds between two readings")
    p.add_argument("--backend", default="numba")
    p.add_argument("--data", default=str(DATA))
    args = p.parse_args(argv)
    import playwright.sync_api as sync_api

    tmp = Path(tempfile.mkdtemp(prefix="cp-memory-bench-"))
    proc, url = start_app(["--data", args.data, "--backend", args.backend], tmp / "server.log", tmp)
    rows = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url, wait_until="load", timeout=120_000)
            t0 = time.monotonic()
            k = 0
            while time.monotonic() - t0 < args.minutes * 60:
                time.sleep(args.every)
                k += 1
                # alternate what is on screen: the top (stats, curves) and the visualisation
                target = "Network visualisation" if k % 2 else "Stats"
                page.get_by_text(target, exact=True).first.scroll_into_view_if_needed()
                text = page.locator(".cp-header").first.inner_text()
                m = re.search(r"([\d,]+) examples seen", text)
                heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : -1")
                rows.append(
                    {
                        "minutes": round((time.monotonic() - t0) / 60, 2),
                        "examples": int(m.group(1).replace(",", "")) if m else -1,
                        "rss_mb": round(rss_mb(proc.pid), 1),
                        "js_heap_mb": round(heap / 2**20, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            browser.close()
    finally:
        stop_app(proc)
    first = next(r for r in rows if r["minutes"] >= 0.99)
    summary = {"rss_mb_at_1_min": first["rss_mb"], "rss_mb_at_end": rows[-1]["rss_mb"], "minutes": rows[-1]["minutes"]}
    summary["growth_mb"] = round(summary["rss_mb_at_end"] - summary["rss_mb_at_1_min"], 1)
    summary["rss_mb_max"] = max(r["rss_mb"] for r in rows)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
