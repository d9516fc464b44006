"""Lecture load: how much do N viewers slow the training? A measurement, not a test.

    python tests/bench_lecture.py [--viewers 30] [--window 40] [--rounds 2] [--backend numba]
                                  [--viewer-nice 19]

Starts `python -m app --lecture` on the shared CIFAR-10 copy, opens the presenter's page in
headless Chromium, and once training runs steadily alternates windows with 0 and N viewer
pages open (N pages of one headless Chromium in a child process, each a live session of the
server). The training speed in each window is read from the presenter's header (examples seen,
over the window's wall time), and the CPU time of the server's main thread (the sessions'
updates) from /proc. Prints one JSON line per window and a summary: the ratio of images/s with
N viewers to images/s with none.

The viewers' browser runs on the same 2 cores as the server here; in a lecture room their
rendering runs on the students' own laptops. --viewer-nice runs that browser at a low CPU
priority (19, the default) so that what is measured is mostly the server's cost of the
sessions; --viewer-nice 0 measures the worst case, server and 30 renderers sharing 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
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


def main_thread_cpu(pid):
    """CPU seconds of a process's main thread (where the server runs its sessions)."""
    fields = Path("/proc/%d/task/%d/stat" % (pid, pid)).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(page, seconds, pid):
    t0, e0, c0 = time.monotonic(), examples(page), main_thread_cpu(pid)
    time.sleep(seconds)
    t1, e1, c1 = time.monotonic(), examples(page), main_thread_cpu(pid)
    return (e1 - e0) / (t1 - t0), (c1 - c0) / (t1 - t0)


def viewers(url, n):
    """The child process: n viewer pages in one headless Chromium, kept open until stdin closes."""
    import playwright.sync_api as sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        pages = []
        for _ in range(n):
            page = context.new_page()
            page.goto(url, wait_until="load", timeout=300_000)
            pages.append(page)
        for page in pages:
            page.locator(".cp-header").first.wait_for(timeout=300_000)
        print("ready", flush=True)
        sys.stdin.read()  # until the parent closes it
        alive = sum(1 for page in pages if examples(page) > 0)
        print("updating %d" % alive, flush=True)
        browser.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--viewers", type=int, default=30)
    p.add_argument("--window", type=float, default=40.0, help="seconds per measuring window")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--backend", default="numba")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--viewer-nice", type=int, default=19, help="CPU niceness of the viewers' browser")
    p.add_argument("--viewer-worker", metavar="URL", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.viewer_worker:
        return viewers(args.viewer_worker, args.viewers)
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
            for r in range(args.rounds):
                rate0, cpu0 = window(presenter, args.window, proc.pid)
                results.append(
                    {"round": r, "viewers": 0, "images_per_s": round(rate0, 1), "server_cpu": round(cpu0, 3)}
                )
                print(json.dumps(results[-1]), flush=True)
                child = subprocess.Popen(
                    [
                        "nice",
                        "-n",
                        str(args.viewer_nice),
                        sys.executable,
                        __file__,
                        "--viewer-worker",
                        url,
                        "--viewers",
                        str(args.viewers),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                if child.stdout.readline().strip() != "ready":
                    raise SystemExit("the viewers' browser did not open its pages")
                time.sleep(5)  # every viewer's first full draw is done
                rate, cpu = window(presenter, args.window, proc.pid)
                child.stdin.close()
                alive = child.stdout.readline().strip()
                child.wait(120)
                results.append(
                    {
                        "round": r,
                        "viewers": args.viewers,
                        "images_per_s": round(rate, 1),
                        "server_cpu": round(cpu, 3),
                        "viewer_nice": args.viewer_nice,
                        "viewers_" + alive.split()[0]: int(alive.split()[1]),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
                time.sleep(25)  # the server drops the closed sessions (Bokeh checks every 17 s)
            browser.close()
    finally:
        stop_app(proc)
    none = [x["images_per_s"] for x in results if x["viewers"] == 0]
    many = [x["images_per_s"] for x in results if x["viewers"] > 0]
    summary = {
        "viewers": args.viewers,
        "viewer_nice": args.viewer_nice,
        "backend": args.backend,
        "images_per_s_no_viewers": round(sum(none) / len(none), 1),
        "images_per_s_with_viewers": round(sum(many) / len(many), 1),
    }
    summary["ratio"] = round(summary["images_per_s_with_viewers"] / summary["images_per_s_no_viewers"], 3)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
