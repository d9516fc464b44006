"""The static site in headless Chromium with a real Pyodide: no server-side Python at all.

The site is built with --pyodide-url pointing at the npm package @pyodide/pyodide@0.17.1
(`npm install` at the repository root; Python 3.8, NumPy 1.17) and served from 127.0.0.1 by
http.server in a thread (tests/static_site.py); every request for another host is aborted and
fails the test. Checked: the worker starts and trains, the loss curve gains points, the first
training step's loss equals the CPython NumPy backend's on the same seed and batch to 1e-5 (the
worker's debug hook reports the batch's indices into the site's data), the controls, an upload
(good and bad), and the benchmark page. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import pytest
from browser import ARTIFACTS, DATA, require_chromium, require_data
from static_site import PYODIDE_017, START_TIMEOUT_MS, cp, offsite, open_page, serve
from test_static_build import run_build

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_data()
    if not (PYODIDE_017 / "pyodide.js").is_file() or not (PYODIDE_017 / "numpy.js").is_file():
        pytest.fail("no local Pyodide with NumPy at %s (run `npm install` at the repository root)" % PYODIDE_017)
    require_chromium()
    import engine

    snap = tmp_path_factory.mktemp("snap") / "pretrained.npz"
    engine.save_snapshot(
        str(snap),
        engine.Net(engine.get_preset("convnetjs-cifar10"), backend="numpy", seed=3),
        classes=["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    )
    out = tmp_path_factory.mktemp("static") / "dist"
    r = run_build(
        tmp_path_factory,
        out,
        "--data",
        str(DATA),
        "--train-images",
        "512",
        "--test-images",
        "100",
        "--pyodide-url",
        "pyodide/",
        "--snapshot",
        str(snap),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    with serve(out, {"/pyodide/": PYODIDE_017}) as url:
        yield out, url


@pytest.fixture(scope="module")
def dashboard(site, browser):
    out, url = site
    log = []
    page = open_page(browser, url + "index.html", log)
    try:
        page.wait_for_function("window.cp && window.cp.firstStep", timeout=START_TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "static-dashboard-failed.png"), full_page=True)
        raise AssertionError("the worker never trained a step:\n" + "\n".join(log[-40:])) from None
    yield page, out, log
    assert not offsite(log), log
    page.close()


def test_worker_trains_and_the_loss_curve_grows(dashboard):
    page, out, log = dashboard
    state = cp(page)
    t = state["timings"]
    print(
        "\ntime to first training step: %.1f s (Pyodide and data ready at %.1f s); Python %s, NumPy %s"
        % (t["firstStep"] / 1000, t["ready"] / 1000, state["info"]["python"], state["info"]["numpy"])
    )
    assert state["info"]["python"].startswith("3.8") and state["info"]["numpy"].startswith("1.17")
    page.wait_for_function("window.cp.curvePoints >= 3", timeout=120_000)
    n = page.evaluate("window.cp.curvePoints")
    page.wait_for_function("window.cp.curvePoints > %d" % n, timeout=120_000)
    src = page.evaluate("""(() => { for (const d of Bokeh.documents) { const m = d.get_model_by_name('cp-curves');
                           if (m) return {n: m.data.examples.length, loss: Array.from(m.data.loss)}; } })()""")
    assert src["n"] > n - 1 and all(np.isfinite(src["loss"]))
    assert "examples seen" in page.inner_text("#cp-examples") and page.inner_text("#cp-status").strip() == "running"
    assert not state["errors"], state["errors"]
    page.wait_for_function("document.querySelector('#cp-pred-head b').textContent !== '–'", timeout=120_000)
    # the worker scores the whole validation and test sets between steps: dots on the accuracy chart
    page.wait_for_function("(window.cp.exactPoints || 0) >= 1", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "static-dashboard.png"), full_page=True)


def test_first_step_loss_matches_cpython(dashboard):
    """Real parity across runtimes: same seed, same batch -> the same loss in CPython's NumPy backend."""
    import engine

    page, out, _ = dashboard
    first = cp(page, "window.cp.firstStep")
    site = json.loads((out / "site.json").read_text())
    x = np.fromfile(str(out / "data" / "train-images.u8"), np.uint8).reshape(site["n_train"], 32, 32, 3)
    y = np.fromfile(str(out / "data" / "train-labels.u8"), np.uint8).astype(np.int64)
    idx = np.array(first["indices"])
    assert len(idx) == first["batch_size"] == site["defaults"]["batch_size"] and (idx >= 0).all()
    assert y[idx].tolist() == first["labels"]
    net = engine.Net(engine.get_preset(site["defaults"]["net"]), backend="numpy", seed=first["seed"])
    loss, _ = net.loss(net.prepare(x[idx]), y[idx])
    print(
        "\nfirst step loss: Pyodide (Python %s, NumPy %s) %.7f, CPython %.7f"
        % (first["python"], first["numpy"], first["loss"], loss)
    )
    assert first["loss"] == pytest.approx(loss, abs=1e-5)
    # the first step reached the page at once: the first accuracy check (test predictions) came after it
    assert "curves" in first["update"] and "predictions" not in first["update"], first["update"]


def test_updates_are_applied_in_slices_a_frame_apart(dashboard):
    """page.js cuts the work of a worker update into slices (the HTML parts, then one figure
    each), each after a frame of its own, so that no figure's repaint shares a task with
    another's; updates that arrive meanwhile merge into one."""
    page, _, _ = dashboard
    page.wait_for_function("window.cp.apply.updates >= 4", timeout=120_000)
    a = cp(page, "window.cp.apply")
    # while training every update has curve points: the HTML, the loss figure, the accuracy figure
    assert a["frames"] >= 2 * a["updates"] > 0 and a["slices"] - a["updates"] - a["frames"] in (0, 1), a
    merged = page.evaluate(
        """(() => {
      const nd = (a) => ({ __nd__: true, array: new Float64Array(a), shape: [a.length] });
      const u = (x, extra) => Object.assign({ status: { examples: x }, curves: { examples: nd([x]), loss: nd([1]) },
                                             predictions: { slots: 24, x } }, extra || {});
      const merge = window.cp.mergeUpdates;
      const m = merge(merge(u(16), u(32, { sections: { health: "h" } })), u(48, { sections: { spec: "s" } }));
      const r = merge(m, u(64, { reset: true }));
      return { examples: Array.from(m.curves.examples.array), status: m.status.examples,
               predictions: m.predictions.map((p) => p.x), sections: Object.keys(m.sections).sort(),
               reset: [r.reset, Array.from(r.curves.examples.array), r.predictions.map((p) => p.x)] };
    })()"""
    )
    assert merged == {
        "examples": [16, 32, 48],  # the points of all three, in order
        "status": 48,  # the latest state
        "predictions": [16, 32, 48],
        "sections": ["health", "spec"],  # each section's latest
        "reset": [True, [64], [64]],  # a new run drops what came before it
    }


def test_pause_step_and_settings(dashboard):
    page, _, _ = dashboard
    page.click("#cp-pause")
    page.wait_for_function("document.querySelector('#cp-status').innerText.trim() === 'paused'", timeout=60_000)
    time.sleep(0.5)
    before = page.evaluate("window.cp.curvePoints")
    page.fill("#cp-batch-size", "8")
    page.dispatch_event("#cp-batch-size", "change")
    page.click("#cp-step")
    page.wait_for_function("window.cp.curvePoints > %d" % before, timeout=60_000)
    time.sleep(1.0)
    assert page.evaluate("window.cp.curvePoints") == before + 1  # one batch, then paused again
    page.select_option("#cp-optimizer", "sgd")  # also sets sgd's default learning rate
    page.wait_for_function("document.querySelector('#cp-lr').value === '0.01'", timeout=30_000)
    page.fill("#cp-lr", "-1")
    page.dispatch_event("#cp-lr", "change")
    page.wait_for_function("!document.querySelector('#cp-error').hidden", timeout=30_000)
    assert "lr" in page.inner_text("#cp-error")
    page.click("#cp-start")
    page.wait_for_function("document.querySelector('#cp-status').innerText.trim() === 'running'", timeout=60_000)


def test_upload_predicts_and_bad_files_get_a_message(dashboard, tmp_path):
    from PIL import Image

    page, _, _ = dashboard
    img = Image.new("RGB", (80, 60), (200, 30, 30))
    img.paste((20, 40, 220), (30, 0, 80, 60))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    page.set_input_files(
        "#cp-upload", files=[{"name": "red-blue.png", "mimeType": "image/png", "buffer": buf.getvalue()}]
    )
    page.wait_for_function(
        "document.querySelector('#cp-upload-result').innerText.includes('pretrained snapshot')", timeout=60_000
    )
    text = page.inner_text("#cp-upload-result")
    assert "red-blue.png (80x60)" in text and "live net" in text and "%" in text
    page.wait_for_function(
        "document.querySelector('#cp-vis-example').innerText.includes('uploaded red-blue.png')", timeout=60_000
    )
    page.locator("#cp-upload-result").screenshot(path=str(ARTIFACTS / "static-upload.png"))
    page.set_input_files(
        "#cp-upload", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    page.wait_for_function("!document.querySelector('#cp-upload-error').hidden", timeout=30_000)
    assert "notes.png" in page.inner_text("#cp-upload-error")
    page.fill("#cp-test-index", "5")
    page.click("#cp-test-pick")
    page.wait_for_function(
        "document.querySelector('#cp-upload-result').innerText.includes('test image #5')", timeout=60_000
    )
    page.fill("#cp-test-index", "100000")
    page.click("#cp-test-pick")
    page.wait_for_function("!document.querySelector('#cp-upload-error').hidden", timeout=30_000)
    assert "no test image 100000" in page.inner_text("#cp-upload-error")


def test_pretrained_snapshot_loads(dashboard):
    page, _, _ = dashboard
    page.click("#cp-pretrained")
    page.wait_for_function("window.cp.status.net_source === 'the pretrained snapshot'", timeout=60_000)
    assert page.is_hidden("#cp-error") and not cp(page, "window.cp.errors")


def test_snapshot_downloads_for_the_export_command(dashboard, tmp_path):
    """No onnx or safetensors in the browser: the page offers the running net as a snapshot and
    names the one command that exports it; that command, run on the download, writes the ONNX."""
    import subprocess
    import sys

    from conftest import REPO

    import engine

    page, _, _ = dashboard
    command = page.inner_text("#cp-export-note code >> nth=0")
    with page.expect_download(timeout=60_000) as download:
        page.click("#cp-save-snapshot")
    assert download.value.suggested_filename == command.split()[4] == "convnet-snapshot.npz"
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    snap = engine.read_snapshot(str(path))
    assert snap.classes == cp(page, "window.cp.status.classes") and snap.meta["info"]["examples"] > 0
    argv = command.split()[1:] + ["--out", str(tmp_path / "net.onnx")]
    r = subprocess.run(
        [sys.executable, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert r.returncode == 0 and (tmp_path / "net.onnx").stat().st_size > 0, r.stderr


def test_benchmark_page(site, browser):
    out, url = site
    log = []
    n = int(os.environ.get("CONVNET_BENCH_IMAGES", "64"))
    page = open_page(browser, url + "bench.html?n=%d&batch=16" % n, log)
    try:
        page.wait_for_function("window.cpBench && window.cpBench.done", timeout=START_TIMEOUT_MS + 300_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "static-bench.png"), full_page=True)
    r = cp(page, "window.cpBench")
    assert r["error"] is None, r["error"] + "\n" + "\n".join(log[-20:])
    e, c = r["engine"], r["convnetjs"]
    print(
        "\nbenchmark, %d images, batch 16: engine in Pyodide %.1f images/s, ConvNetJS %.1f images/s (%.2fx)"
        % (n, e["images_per_s"], c["images_per_s"], r["ratio"])
    )
    d, cold = r["dashboard"], r["cold"]  # the dashboard in a frame of the benchmark page (static/bench.js)
    lt = d["long_tasks"]["training"]
    print(
        "dashboard: first training step %.1f s after opening on a cold start (ready %.1f s), %.1f s with Pyodide "
        "from the browser's cache (ready %.1f s); %d long tasks on the main thread in %d s of training, longest "
        "%.0f ms, %.0f ms in all; %d images trained; %d updates applied in %d slices (%d merged)"
        % (
            cold["first_step_s"],
            cold["ready_s"],
            d["first_step_s"],
            d["ready_s"],
            lt["count"],
            d["seconds"],
            lt["max"],
            lt["total"],
            d["examples"],
            d["apply"]["updates"],
            d["apply"]["slices"],
            d["apply"]["merged"],
        )
    )
    assert (
        e["images_per_s"] > 0 and c["images_per_s"] > 0 and np.isfinite(e["loss_last"]) and np.isfinite(c["loss_last"])
    )
    assert d["examples"] > 0 and d["first_step_s"] > d["ready_s"] > 0 and cold["first_step_s"] > cold["ready_s"] > 0
    assert not offsite(log), log
    page.close()


def test_a_site_built_on_three_classes_trains_on_them_in_pyodide(tmp_path_factory, browser):
    """`build.py --data FOLDER` of 3 classes: the worker trains a 3-way net in Pyodide 0.17, and
    the test predictions are named with the folder's classes, never CIFAR-10's."""
    from folders import image_folder

    folder, names = image_folder(tmp_path_factory.mktemp("three") / "imgs", 3, per_class=30, test_per_class=8)
    out = tmp_path_factory.mktemp("static3") / "dist"
    r = run_build(tmp_path_factory, out, "--data", str(folder), "--pyodide-url", "pyodide/")
    assert r.returncode == 0, r.stdout + r.stderr
    site = json.loads((out / "site.json").read_text())
    assert site["classes"] == names
    log = []
    with serve(out, {"/pyodide/": PYODIDE_017}) as url:
        page = open_page(browser, url + "index.html", log)
        try:
            page.wait_for_function("window.cp && window.cp.firstStep", timeout=START_TIMEOUT_MS)
            first = cp(page, "window.cp.firstStep")
            assert set(first["labels"]) <= {0, 1, 2}
            page.wait_for_function(
                """(() => { for (const d of Bokeh.documents) { const m = d.get_model_by_name('cp-pred-bars');
                   if (m && m.data.text && m.data.text.length) return true; } return false; })()""",
                timeout=120_000,
            )
            texts = page.evaluate(
                """(() => { for (const d of Bokeh.documents) { const m = d.get_model_by_name('cp-pred-bars');
                   if (m) return Array.from(m.data.text); } })()"""
            )
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "static-three-classes-failed.png"), full_page=True)
            raise AssertionError("the 3-class site did not train:\n" + "\n".join(log[-40:])) from None
        page.screenshot(path=str(ARTIFACTS / "static-three-classes.png"), full_page=True)
        page.close()
    shown = {t.split()[0] for t in texts if t.strip()}
    assert shown and shown <= set(names), texts  # the folder's names, and no CIFAR class
    assert not offsite(log), log
