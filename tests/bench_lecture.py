"""Lecture load: how much do N viewers slow the training? A measurement, not a test.

    python tests/bench_lecture.py [--viewers 30] [--window 40] [--rounds 2] [--backend numba]

Starts `python -m app --lecture` on the shared CIFAR-10 copy, opens the presenter's page in
headless Chromium, and once training runs steadily alternates windows with 0 and N viewer
pages open (N pages of one browser, each a live session of the server). The training speed in
each window is read from the presenter's header (examples seen, over the window's wall time).
Prints one JSON line per window and a summary: the ratio of images/s with N viewers to images/s
with none. The viewers' browser runs on the same 2 cores as the server here, so the ratio
includes their rendering too — in a lecture room that runs on the students' own laptops.
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
from browser import ARGS, CHROMIUM, start_app, stop_app  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar10-jpeg"


def examples(page):
    m = re.search(r"([\d,]+) examples seen", page.locator(".cp-header").first.inner_text())
    return int(m.group(1).replace(",", "")) if m else -1


def window(page, seconds):
    t0, e0 = time.monotonic(), examples(page)
    time.sleep(seconds)
    t1, e1 = time.monotonic(), examples(page)
    return (e1 - e0) / (t1 - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--viewers", type=int, default=30)
    p.add_argument("--window", type=float, default=40.0, help="seconds per measuring window")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--backend", default="numba")
    p.add_argument("--data", default=str(DATA))
    args = p.parse_args(argv)
    import playwright.sync_api as sync_api

    tmp = Path(tempfile.mkdtemp(prefix="cp-lecture-bench-"))
    proc, url = start_app(
        ["--data", args.data, "--backend", args.backend, "--lecture", "--host", "127.0.0.1"], tmp / "server.log", tmp
    )
    presenter_url = re.search(r"Presenter \(keep this one to yourself\): (\S+)", (tmp / "server.log").read_text())
    results = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            presenter = browser.new_page(viewport={"width": 1280, "height": 800})
            presenter.goto(presenter_url.group(1), wait_until="load", timeout=120_000)
            deadline = time.monotonic() + 600
            while examples(presenter) < 20_000:  # data loaded, kernels compiled, speed settled
                if time.monotonic() > deadline:
                    raise SystemExit("training did not start within 10 minutes")
                time.sleep(2)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            for r in range(args.rounds):
                rate0 = window(presenter, args.window)
                results.append({"round": r, "viewers": 0, "images_per_s": round(rate0, 1)})
                print(json.dumps(results[-1]), flush=True)
                pages = []
                for _ in range(args.viewers):
                    page = context.new_page()
                    page.goto(url, wait_until="load", timeout=120_000)
                    pages.append(page)
                for page in pages:
                    page.locator(".cp-header").first.wait_for(timeout=120_000)
                time.sleep(5)  # every viewer's first full draw is done
                rate = window(presenter, args.window)
                alive = sum(1 for page in pages if examples(page) > 0)
                results.append(
                    {"round": r, "viewers": args.viewers, "images_per_s": round(rate, 1), "viewers_updating": alive}
                )
                print(json.dumps(results[-1]), flush=True)
                for page in pages:
                    page.close()
            browser.close()
    finally:
        stop_app(proc)
    none = [x["images_per_s"] for x in results if x["viewers"] == 0]
    many = [x["images_per_s"] for x in results if x["viewers"] > 0]
    summary = {
        "viewers": args.viewers,
        "backend": args.backend,
        "images_per_s_no_viewers": round(sum(none) / len(none), 1),
        "images_per_s_with_viewers": round(sum(many) / len(many), 1),
    }
    summary["ratio"] = round(summary["images_per_s_with_viewers"] / summary["images_per_s_no_viewers"], 3)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
