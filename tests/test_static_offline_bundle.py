"""`build.py --bundle-pyodide DIR`: the offline classroom site, with Pyodide and NumPy inside it.

The refusals are quick and need no browser: a folder that cannot serve (missing, no runtime, no
NumPy, as npm's Pyodide 314 core) gets one `build.py: error:` line and exit status 2 before any
work. The real bundle is built from the npm package @pyodide/pyodide 0.17.1, served ALONE by
`python -m http.server` in a subprocess, and trains in headless Chromium with every request
for another host aborted (and none made).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from browser import ARTIFACTS, chromium, free_port, require_chromium
from static_site import PYODIDE_017, PYODIDE_314, START_TIMEOUT_MS, cp, offsite, open_page
from test_static_build import DATA, run_build


def refused(tmp_path_factory, *args):
    """The one error line of a build that must be refused before it writes anything."""
    out = tmp_path_factory.mktemp("refused") / "dist"
    r = run_build(tmp_path_factory, out, "--data", str(DATA), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert not out.exists() and r.stdout == ""  # refused before the data, not after
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("build.py: error: --bundle-pyodide "), r.stderr
    return lines[0]


def test_a_missing_folder_is_refused(tmp_path_factory):
    line = refused(tmp_path_factory, "--bundle-pyodide", "/nowhere/pyodide")
    assert "/nowhere/pyodide: no such folder" in line and "node_modules/@pyodide/pyodide/dist" in line


def test_a_folder_without_a_runtime_is_refused(tmp_path_factory):
    folder = tmp_path_factory.mktemp("not-pyodide")
    (folder / "numpy.js").write_text("")
    assert "holds no Pyodide runtime" in refused(tmp_path_factory, "--bundle-pyodide", str(folder))
    # The npm package's own folder: the runtime is in its dist/, and the message says so.
    line = refused(tmp_path_factory, "--bundle-pyodide", str(PYODIDE_017.parent))
    assert "holds no Pyodide runtime" in line and "its dist/ folder, %s, is one" % PYODIDE_017.resolve() in line


def test_the_314_core_without_numpy_is_refused(tmp_path_factory):
    if not (PYODIDE_314 / "pyodide-lock.json").is_file():
        pytest.fail("no Pyodide 314 core at %s (run `npm install` at the repository root)" % PYODIDE_314)
    line = refused(tmp_path_factory, "--bundle-pyodide", str(PYODIDE_314))
    assert "has no NumPy: pyodide-lock.json lists it, but numpy-" in line and ".whl is not in the folder" in line


def test_an_index_without_numpy_is_refused(tmp_path_factory):
    folder = tmp_path_factory.mktemp("no-numpy")
    for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"):
        (folder / name).write_text("")
    (folder / "pyodide-lock.json").write_text(json.dumps({"info": {"python": "3.14.2"}, "packages": {}}))
    line = refused(tmp_path_factory, "--bundle-pyodide", str(folder))
    assert "has no NumPy (its pyodide-lock.json lists no numpy package)" in line


def test_bundle_and_url_exclude_each_other(tmp_path_factory):
    r = run_build(
        tmp_path_factory,
        tmp_path_factory.mktemp("both") / "dist",
        "--bundle-pyodide",
        str(PYODIDE_017),
        "--pyodide-url",
        "x/",
    )
    assert r.returncode == 2 and "not allowed with argument" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def bundled_site(tmp_path_factory):
    """The built folder, served alone by `python -m http.server` on a free loopback port."""
    if not DATA.is_dir():
        pytest.fail("the shared CIFAR-10 copy is not at %s" % DATA)
    if not (PYODIDE_017 / "numpy.js").is_file():
        pytest.fail("no local Pyodide with NumPy at %s (run `npm install` at the repository root)" % PYODIDE_017)
    require_chromium()
    out = tmp_path_factory.mktemp("bundled") / "dist"
    args = ["--data", str(DATA), "--train-images", "256", "--test-images", "50", "--no-snapshot"]
    r = run_build(tmp_path_factory, out, *args, "--bundle-pyodide", str(PYODIDE_017))
    assert r.returncode == 0, r.stdout + r.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(out), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = "http://127.0.0.1:%d/" % port
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "site.json", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        yield out, url, r.stdout
    finally:
        server.terminate()
        server.wait(20)


@pytest.mark.slow
def test_the_bundle_holds_pyodide_with_numpy_and_says_which(bundled_site):
    out, _, log = bundled_site
    print("\n" + log)
    assert "Pyodide 0.17.1 with NumPy 1.17.5 from %s" % PYODIDE_017.resolve() in log and "the site works offline" in log
    assert json.loads((out / "site.json").read_text())["pyodide_url"] == "pyodide/"
    for name in ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "pyodide.asm.data", "packages.json"):
        assert (out / "pyodide" / name).is_file(), name
    assert (out / "pyodide" / "numpy.data").stat().st_size == (PYODIDE_017 / "numpy.data").stat().st_size
    assert not (out / "pyodide" / "scipy.data").exists()  # the runtime and NumPy, not every package


@pytest.mark.browser
@pytest.mark.slow
def test_the_bundle_trains_with_every_other_host_refused(bundled_site):
    out, url, _ = bundled_site
    log = []
    with chromium() as browser:
        page = open_page(browser, url + "index.html", log)
        try:
            page.wait_for_function(
                "window.cp && (window.cp.firstStep || window.cp.errors.length)", timeout=START_TIMEOUT_MS
            )
            assert not cp(page, "window.cp.errors")
            page.wait_for_function("window.cp.curvePoints >= 2", timeout=120_000)
            n = page.evaluate("window.cp.curvePoints")
            page.wait_for_function("window.cp.curvePoints > %d" % n, timeout=120_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "static-bundle-failed.png"), full_page=True)
            raise AssertionError("the bundled site did not train:\n" + "\n".join(log[-40:])) from None
        state = cp(page)
        print(
            "\nbundled site: Python %s, NumPy %s; first step at %.1f s, %d curve points"
            % (
                state["info"]["python"],
                state["info"]["numpy"],
                state["timings"]["firstStep"] / 1000,
                state["curvePoints"],
            )
        )
        assert state["info"]["python"].startswith("3.8") and state["info"]["numpy"].startswith("1.17")
        assert not state["errors"], state["errors"]
        assert not offsite(log), offsite(log)
        page.screenshot(path=str(ARTIFACTS / "static-bundle.png"), full_page=True)
