"""Lecture load: how much do N viewers slow the training? A measurement, not a test.

    python tests/bench_lecture.py [--viewers 30] [--clients protocol|browser] [--window 40]
                                  [--rounds 2] [--backend numba] [--viewer-nice 0]

Starts `python -m app --lecture` on the shared CIFAR-10 copy, opens the presenter's page in
headless Chromium, and once training runs steadily alternates windows with 0 and N viewers
connected to the viewers' server (app/relay.py). The training speed in each window is read from
the presenter's header (examples seen, over the window's wall time); the CPU used in the window
by the server's main thread (the presenter's session), by the viewers' process, and by the
viewers themselves from /proc. Prints one JSON line per window and a summary: the ratio of
images/s with N viewers to images/s with none.

--clients protocol (the default): N Bokeh sessions driven by a small websocket client each
(tests/lecture_clients.py: it loads the page, pulls the document and then reads every update the
server sends, as a browser does, without drawing) — in a lecture the drawing happens on the
students' own devices, so this is the room's cost to the presenter's laptop.
--clients browser: N pages of one headless Chromium, drawing too, on the same 2 cores: the worst
case. Either runs in a child process at --viewer-nice (default 0, as app/relay.py's RELAY_NICE).
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
from browser import ARGS, CHROMIUM, DATA, examples, free_port, start_app, stop_app  # noqa: E402


def cpu(pid, thread=None):
    """CPU seconds of a process (or of one of its threads) from /proc."""
    path = "/proc/%d/task/%d/stat" % (pid, thread) if thread else "/proc/%d/stat" % pid
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    out = []
    for task in Path("/proc/%d/task" % pid).iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def window(page, seconds, pids):
    """(images/s, {name: CPU cores used}) over `seconds` of training."""
    t0, e0 = time.monotonic(), examples(page)
    c0 = {name: cpu(*pid) for name, pid in pids.items()}
    time.sleep(seconds)
    t1, e1 = time.monotonic(), examples(page)
    c1 = {name: cpu(*pid) for name, pid in pids.items()}
    return (e1 - e0) / (t1 - t0), {name: round((c1[name] - c0[name]) / (t1 - t0), 3) for name in pids}


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
        print(json.dumps({"updating": alive}), flush=True)
        browser.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--viewers", type=int, default=30)
    p.add_argument("--clients", choices=["protocol", "browser"], default="protocol")
    p.add_argument("--window", type=float, default=40.0, help="seconds per measuring window")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--section", type=int, default=2, help="the presenter's section (1: curves, 2: visualisation)")
    p.add_argument("--backend", default="numba")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--viewer-nice", type=int, default=0, help="CPU niceness of the viewers (app/relay.py: RELAY_NICE)")
    p.add_argument("--viewer-worker", metavar="URL", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.viewer_worker:
        return viewers(args.viewer_worker, args.viewers)
    import playwright.sync_api as sync_api

    tmp = Path(tempfile.mkdtemp(prefix="cp-lecture-bench-"))
    proc, url = start_app(
        ["--data", args.data, "--backend", args.backend, "--lecture", "--host", "127.0.0.1"]
        + ["--viewer-port", str(free_port())],
        tmp / "server.log",
        tmp,
    )
    log = (tmp / "server.log").read_text()
    presenter_url = re.search(r"Presenter \(keep this one to yourself\): (\S+)", log).group(1)
    viewer_url = re.search(r"Viewers: (\S+)", log).group(1)
    relay = [c for c in children(proc.pid) if b"spawn_main" in Path("/proc/%d/cmdline" % c).read_bytes()]
    pids = {"server_thread": (proc.pid, proc.pid), "viewers_process": (relay[0],)}
    worker = (
        [sys.executable, str(Path(__file__).with_name("lecture_clients.py")), viewer_url, str(args.viewers)]
        if args.clients == "protocol"
        else [sys.executable, __file__, "--viewer-worker", viewer_url, "--viewers", str(args.viewers)]
    )
    results = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            presenter = browser.new_page(viewport={"width": 1280, "height": 800})
            presenter.goto(presenter_url, wait_until="load", timeout=120_000)
            presenter.locator(".cp-header").first.wait_for(timeout=120_000)
            for _ in range(args.section - 1):
                presenter.keyboard.press("ArrowRight")
            deadline = time.monotonic() + 600
            while examples(presenter) < 20_000:  # data loaded, kernels compiled, speed settled
                if time.monotonic() > deadline:
                    raise SystemExit("training did not start within 10 minutes")
                time.sleep(2)
            for r in range(args.rounds):
                rate0, cpu0 = window(presenter, args.window, pids)
                results.append({"round": r, "viewers": 0, "images_per_s": round(rate0, 1), "cpu": cpu0})
                print(json.dumps(results[-1]), flush=True)
                child = subprocess.Popen(
                    ["nice", "-n", str(args.viewer_nice)] + worker,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                if child.stdout.readline().strip() != "ready":
                    raise SystemExit("the viewers did not connect")
                time.sleep(5)  # every viewer's first full draw is done
                rate, used = window(presenter, args.window, dict(pids, viewers=(child.pid,)))
                child.stdin.close()
                end = json.loads(child.stdout.readline())
                child.wait(120)
                results.append(
                    {
                        "round": r,
                        "viewers": args.viewers,
                        "clients": args.clients,
                        "images_per_s": round(rate, 1),
                        "cpu": used,
                        "viewer_nice": args.viewer_nice,
                        **end,
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
        "clients": args.clients,
        "section": args.section,
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
