"""The static site on today's Pyodide core (npm `pyodide` 314: Python 3.14, ES modules, no NumPy).

build.py's default sends visitors to Pyodide 314 on its CDN, with NumPy. Offline, the tests
have its core only (`npm install`), so they run it as far as the core goes: the page starts the
ES-module worker, the runtime loads from 127.0.0.1 (every other host is aborted), Python 3.14
compiles every file of the site's py/bundle.json with SyntaxWarnings as errors and imports the
standard-library modules they name (the page's ?check=compile hook, static/worker.js
checkSources), and then, NumPy missing, the page says so in one line that names the URL tried.
Training itself is tested on Pyodide 0.17 (test_static_browser.py, test_static_bundle.py).
"""

from __future__ import annotations

import json

import pytest
from browser import ARTIFACTS, chromium, require_chromium
from static_site import PYODIDE_314, START_TIMEOUT_MS, cp, offsite, open_page, serve
from test_static_build import DATA, run_build

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the site's Python imports from outside the standard library: NumPy, and (only on server
# paths or behind an ImportError) Bokeh, Pillow and the download helpers. A new name here must
# exist in Pyodide, or be kept off the worker's paths.
OTHER_IMPORTS = {"numpy", "bokeh", "PIL", "pooch", "requests", "tqdm"}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not DATA.is_dir():
        pytest.fail("the shared CIFAR-10 copy is not at %s" % DATA)
    if not (PYODIDE_314 / "pyodide.mjs").is_file():
        pytest.fail("no Pyodide 314 core at %s (run `npm install` at the repository root)" % PYODIDE_314)
    require_chromium()
    out = tmp_path_factory.mktemp("static314") / "dist"
    args = ["--data", str(DATA), "--train-images", "20", "--test-images", "10", "--no-snapshot"]
    r = run_build(tmp_path_factory, out, *args, "--pyodide-url", "pyodide314/")
    assert r.returncode == 0, r.stdout + r.stderr
    log = []
    with serve(out, {"/pyodide314/": PYODIDE_314}) as url, chromium() as browser:
        page = open_page(browser, url + "index.html?check=compile", log)
        try:
            page.wait_for_function("window.cp && window.cp.errors.length", timeout=START_TIMEOUT_MS)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "static-314-failed.png"), full_page=True)
            raise AssertionError("the page never reported NumPy missing:\n" + "\n".join(log[-40:])) from None
        yield page, out, url, log
        assert not offsite(log), offsite(log)


def test_the_314_core_compiles_every_file_the_site_ships(page):
    page, out, _, log = page
    state = cp(page)
    assert state["workerType"] == "module"  # Pyodide 314 ships pyodide.mjs only for workers
    check = state["check"]
    assert check, "the worker sent no compile check:\n" + "\n".join(log[-20:])
    shipped = json.loads((out / "py" / "bundle.json").read_text())["files"]
    print("\nPyodide 314 core: Python %s compiled %d files" % (check["python"], check["files"]))
    assert check["python"].startswith("3.14.")
    assert check["files"] == len(shipped) > 30
    assert check["errors"] == []
    assert check["import_errors"] == []
    assert set(check["other_imports"]) <= OTHER_IMPORTS, set(check["other_imports"]) - OTHER_IMPORTS


def test_numpy_missing_is_one_line_naming_the_url_tried(page):
    page, _, url, _ = page
    errors = cp(page, "window.cp.errors")
    shown = page.inner_text("#cp-fatal")
    print("\nthe page says: " + shown)
    assert errors == [shown] and page.is_visible("#cp-fatal")
    assert "\n" not in shown.strip()
    assert shown.startswith("Python in the browser stopped: NumPy did not load (%spyodide314/numpy-" % url)
    assert "numpy-2.4.6-cp314" in shown and ": HTTP 404)" in shown
    assert "--pyodide-url" in shown and "--bundle-pyodide" in shown
    page.screenshot(path=str(ARTIFACTS / "static-314-no-numpy.png"), full_page=True)
