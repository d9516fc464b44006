"""What the end-to-end tests and the benchmarks share: the CIFAR-10 copy they train on, Debian's
Chromium and the flags it needs on this closed network, the app as a subprocess, and reading its
header. (Their pytest fixtures, `browser` among them, are in conftest.py.)

Chromium comes from Debian (`apt-get install chromium`, done by ./setup.sh --test); Playwright
drives it with executable_path and never downloads a browser of its own. A missing Chromium (or
data copy) fails the tests rather than skipping them, so a broken setup cannot pass unnoticed.
"""

import contextlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "cifar10-jpeg"  # the shared CIFAR-10 copy, as image folders
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and server logs (git-ignored): look at them
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, refused here.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_data():
    if not DATA.is_dir():
        pytest.fail("the shared CIFAR-10 copy is not at %s" % DATA)


def require_chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail("no Chromium at %s — run ./setup.sh --test (it installs Debian's chromium)" % CHROMIUM)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(args, log_path, cache_dir, timeout=90):
    """`python -m app ARGS --port <free>` as a subprocess, output to log_path; returns (proc, url)
    once the page answers, or fails the test with the end of the log."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    env = dict(os.environ, CONVNET_CACHE_DIR=str(cache_dir), PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(port), *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = "http://127.0.0.1:%d/" % port
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=30).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("the server did not come up:\n" + Path(log_path).read_text()[-3000:])
            time.sleep(0.5)


def stop_app(proc):
    import subprocess

    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def examples(page):
    """The number of examples seen in the page header of `python -m app` (-1 before it shows one)."""
    m = re.search(r"([\d,]+) examples seen", page.locator(".cp-header").first.inner_text())
    return int(m.group(1).replace(",", "")) if m else -1


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium, driven by Playwright (never a browser of Playwright's own)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def drag_slider(page, css, fraction):
    """Drag the handle of the (Bokeh) slider inside `css` to `fraction` of its track and let go,
    as a user's mouse does: the page sends the value when the drag ends."""
    track = page.locator(css + " .noUi-target").first
    track.scroll_into_view_if_needed()
    handle = page.locator(css + " .noUi-handle").first
    t, h = track.bounding_box(), handle.bounding_box()
    page.mouse.move(h["x"] + h["width"] / 2, h["y"] + h["height"] / 2)
    page.mouse.down()
    page.mouse.move(t["x"] + fraction * t["width"], t["y"] + t["height"] / 2, steps=10)
    page.mouse.up()
