"""What the static site's browser tests share: a local web server, Chromium, a guarded page.

The built site is served from 127.0.0.1 by http.server, in a thread, with local Pyodide
distributions mounted under URL prefixes (`serve(out, {"/pyodide/": PYODIDE_017})`); a page
opened with open_page() aborts, and logs as "OFFSITE <url>", every request for another host, so
no test ever reaches a CDN. The Pyodide distributions are npm packages (`npm install`):
@pyodide/pyodide 0.17.1 (Python 3.8 with NumPy 1.17: the training tests) and pyodide 314
(Python 3.14, the core without NumPy: test_static_pyodide314.py).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import posixpath
import tempfile
import threading
import urllib.parse
from pathlib import Path

from browser import CHROMIUM, REPO

PYODIDE_017 = REPO / "node_modules" / "@pyodide" / "pyodide" / "dist"
PYODIDE_314 = REPO / "node_modules" / "pyodide"
START_TIMEOUT_MS = 240_000  # Pyodide's start on a busy 2-core box


@functools.lru_cache(maxsize=None)
def load_build():
    """build.py as a module (it is a script at the repository's top, not a package's module)."""
    spec = importlib.util.spec_from_file_location("build", REPO / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Handler(http.server.SimpleHTTPRequestHandler):
    """A folder, with other folders mounted under URL prefixes, and the MIME types Pyodide needs."""

    mounts: dict = {}
    extensions_map = dict(
        http.server.SimpleHTTPRequestHandler.extensions_map,
        **{
            ".wasm": "application/wasm",
            ".js": "text/javascript",
            ".mjs": "text/javascript",
            ".data": "application/octet-stream",
            ".json": "application/json",
        },
    )

    def translate_path(self, path):
        p = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for prefix, folder in self.mounts.items():
            if p.startswith(prefix):
                return str(Path(folder) / posixpath.normpath(p[len(prefix) :]).lstrip("/"))
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder, mounts=None):
    """Serve folder (and mounts: {"/prefix/": folder}) on a free loopback port; yields its URL."""
    handler = type("MountedHandler", (Handler,), {"mounts": dict(mounts or {})})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def open_page(browser, url, log):
    """A page that records its console and aborts (and records) any request off 127.0.0.1."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: log.append("console: " + m.text))
    page.on("pageerror", lambda e: log.append("pageerror: %s" % e))
    page.on("worker", lambda w: w.on("console", lambda m: log.append("worker: " + m.text)))

    def guard(route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host != "127.0.0.1":
            log.append("OFFSITE " + route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    page.goto(url)
    return page


def offsite(log):
    """The requests for other hosts that open_page aborted."""
    return [line for line in log if line.startswith("OFFSITE")]


def cp(page, expr="window.cp"):
    """A plain copy of a page value (window.cp by default: see static/page.js)."""
    return page.evaluate("JSON.parse(JSON.stringify(%s))" % expr)


def run_in_pyodide_page(page_html, expression, arg, timeout_ms):
    """A measurement's page (tests/bench_pyodide_*.py): page_html served on loopback as
    index.html, with Pyodide 0.17.1 at /pyodide/, opened in headless Chromium; returns the JSON
    that `expression` (a JavaScript function, called with arg) resolves to."""
    from playwright.sync_api import sync_playwright

    folder = tempfile.mkdtemp()
    Path(folder, "index.html").write_text(page_html)
    with serve(folder, {"/pyodide/": PYODIDE_017}) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(timeout_ms)
        page.goto(url + "index.html")
        result = json.loads(page.evaluate(expression, arg))
        browser.close()
    return result
