"""Training speed with the page open vs headless: a measurement, not a test.

    python tests/bench_page.py [--backend numba|numpy] [--window 30] [--rounds 3]

Starts `python -m app` on the shared CIFAR-10 copy and, once training runs steadily, alternates
windows with no page connected (headless) and with the dashboard open in headless Chromium
(1500x1000, the whole page; the browser at normal priority, as a user's would be). The speed of
each window is read from the server's /status.json (examples seen over wall time), so reading
it costs no session. Prints one JSON line per window and a summary: the mean images/s with the
page open over the mean headless, and the page's click-to-status latency (Pause then Start).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import ARGS, CHROMIUM, start_app, stop_app  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar10-jpeg"


def status(url):
    return json.loads(urllib.request.urlopen(url + "status.json", timeout=30).read())


def window(url, seconds):
    t0, e0 = time.monotonic(), status(url)["examples"]
    time.sleep(seconds)
    t1, e1 = time.monotonic(), status(url)["examples"]
    return (e1 - e0) / (t1 - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numba")
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data", default=str(DATA))
    args = p.parse_args(argv)
    import playwright.sync_api as sync_api

    tmp = Path(tempfile.mkdtemp(prefix="cp-page-bench-"))
    proc, url = start_app(["--data", args.data, "--backend", args.backend], tmp / "server.log", tmp)
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
                results.append({"round": r, "page": False, "images_per_s": round(window(url, args.window), 1)})
                print(json.dumps(results[-1]), flush=True)
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                page.goto(url, wait_until="load", timeout=120_000)
                page.locator(".cp-header").first.wait_for(timeout=120_000)
                time.sleep(5)  # the first full draw
                results.append({"round": r, "page": True, "images_per_s": round(window(url, args.window), 1)})
                print(json.dumps(results[-1]), flush=True)
                for label, shows in (("Pause", "paused"), ("Start", "running")):
                    t0 = time.monotonic()
                    page.locator("button", has_text=label).first.click()
                    page.locator(".cp-header .cp-pill", has_text=shows).first.wait_for(timeout=10_000)
                    clicks.append(round((time.monotonic() - t0) * 1000))
                page.close()
                time.sleep(20)  # the server drops the closed session (Bokeh checks every 17 s)
            browser.close()
    finally:
        stop_app(proc)
    headless = [x["images_per_s"] for x in results if not x["page"]]
    page = [x["images_per_s"] for x in results if x["page"]]
    summary = {
        "backend": args.backend,
        "images_per_s_headless": round(sum(headless) / len(headless), 1),
        "images_per_s_page_open": round(sum(page) / len(page), 1),
        "click_to_status_ms": clicks,
    }
    summary["ratio"] = round(summary["images_per_s_page_open"] / summary["images_per_s_headless"], 3)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
