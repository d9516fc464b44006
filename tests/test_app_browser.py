"""End to end: `python -m app` as a subprocess on the real CIFAR-10 copy, driven by headless Chromium.

The page must render every section, the loss curve must gain points while training and stop
gaining them when paused, the accuracy chart must draw the exact points /status.json reports,
a Reset must leave the first run on the charts and in the runs table, an uploaded image must
get predictions and a bad upload a message, and the snapshot card's Export -> ONNX must
download a model that onnxruntime runs.
No request may leave 127.0.0.1 (external requests are aborted and recorded). Screenshots go to
tests/artifacts/ (git-ignored): look at them. The decoded-data cache goes to a pytest tmp dir.
CONVNET_TEST_BACKEND picks the backend (default numpy: no JIT compile on a shared 2-core box).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import time
import urllib.request
import zlib
from urllib.parse import urlparse

import numpy as np
import pytest
from browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    DATA,
    drag_slider,
    require_chromium,
    require_data,
    start_app,
    stop_app,
)
from PIL import Image

SECTIONS = [
    "Training",
    "Snapshots",
    "Stats",
    "Curves",
    "Test predictions",
    "Upload an image",
    "Network visualisation",
    "Network editor",
    "Layer table",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def png_claiming(width, height):
    """A tiny PNG whose header claims width x height pixels: a decompression bomb's shape."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    i = data.index(b"IHDR")
    data[i + 4 : i + 12] = struct.pack(">II", width, height)
    data[i + 17 : i + 21] = struct.pack(">I", zlib.crc32(bytes(data[i : i + 17])) & 0xFFFFFFFF)
    return bytes(data)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_data()
    require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "app_server.log"
    backend = os.environ.get("CONVNET_TEST_BACKEND", "numpy")
    args = ["--data", str(DATA), "--backend", backend]
    proc, url = start_app(args, log_path, tmp_path_factory.mktemp("convnet-cache"))
    yield {"url": url, "proc": proc, "log": log_path}
    stop_app(proc)


@pytest.fixture(scope="module")
def page(server):
    import playwright.sync_api as sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        external = []

        def route(r):
            host = urlparse(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        pg = context.new_page()
        pg.external = external
        pg.goto(server["url"], wait_until="load", timeout=120_000)
        yield pg
        browser.close()


def shot(page, name):
    """The whole page, every section drawn: sections far off screen are not rendered
    (content-visibility), so the window is made as tall as the page for the picture."""
    size = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    time.sleep(2)  # drawn, and the figures that came into view refreshed
    page.screenshot(path=str(ARTIFACTS / ("app_%s.png" % name)), full_page=True)
    page.set_viewport_size(size)


def scroll_to(page, title):
    page.get_by_text(title, exact=True).first.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, 200)")


def curve_points(page):
    return page.evaluate("() => { const c = (window.cpCharts || {})['cp-loss']; return c ? c.total : -1 }")


def wait_for(predicate, timeout, what, page=None, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    if page is not None:
        shot(page, "failed")
    pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))


def test_every_section_renders(page):
    for title in SECTIONS:
        page.get_by_text(title, exact=True).first.wait_for(timeout=60_000)
    for css in (".cp-stats .cp-card", ".cp-layer-table table", ".cp-spec textarea", ".cp-upload-input input"):
        assert page.locator(css).count() >= 1, css
    table = page.locator(".cp-layer-table table").first
    scroll_to(page, "Layer table")  # sections far off screen are not rendered (content-visibility)
    wait_for(lambda: "32x32x16" in table.inner_text(), 10, "the layer table drawn", page)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "start")


def test_loss_curve_gains_points(page):
    # The first start decodes 60,000 JPEGs into the (empty) cache: allow for it.
    first = wait_for(lambda: curve_points(page) > 0 and curve_points(page), 300, "the first curve points", page)
    wait_for(lambda: curve_points(page) > first + 1, 120, "more curve points", page)
    page.locator(".cp-test-acc").get_by_text("running test accuracy").wait_for(timeout=30_000)
    predicted = "() => { const g = (window.cpCharts || {})['cp-predictions']; return g ? g.shown : -1 }"
    wait_for(lambda: page.evaluate(predicted) > 0, 30, "test predictions in the grid", page)
    bars = page.locator(".cp-bar.right, .cp-bar.wrong")  # green and red bars, as the model predicts
    assert bars.count() >= 3 and "%" in bars.first.inner_text()
    scroll_to(page, "Network visualisation")  # figures out of view are not drawn
    page.locator(".cp-vis-figure canvas").first.wait_for(timeout=60_000)
    page.locator(".cp-vis-example").get_by_text("the fixed example").wait_for(timeout=30_000)
    time.sleep(1)
    shot(page, "training")
    scroll_to(page, "Stats")


# Click a button and time, inside the page, until the status pill shows the new state.
CLICK_TO_STATUS_MS = """async ([label, want]) => {
  const all = (root, sel, out = []) => {
    root.querySelectorAll(sel).forEach((e) => out.push(e));
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) all(e.shadowRoot, sel, out) });
    return out;
  };
  const button = all(document, "button").find((b) => b.textContent.trim() === label);
  const status = all(document, ".cp-status")[0];
  const text = () => all(status.shadowRoot || status, ".cp-pill").map((e) => e.textContent).join(" ");
  const t0 = performance.now();
  button.click();
  while (!text().includes(want)) {
    if (performance.now() - t0 > 10000) return -1;
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - t0;
}"""


def test_pause_stops_the_curve(page):
    pause_ms = page.evaluate(CLICK_TO_STATUS_MS, ["Pause", "paused"])
    assert pause_ms >= 0, "the status never showed 'paused'"
    time.sleep(3)  # the step in flight lands; nothing after it
    n = curve_points(page)
    time.sleep(3)
    assert curve_points(page) == n, "the loss curve kept gaining points while paused"
    shot(page, "paused")
    start_ms = page.evaluate(CLICK_TO_STATUS_MS, ["Start", "running"])
    assert start_ms >= 0, "the status never showed 'running'"
    (ARTIFACTS / "app_timings.json").write_text(
        json.dumps({"pause_to_paused_ms": pause_ms, "start_to_running_ms": start_ms})
    )
    # Timing is a figure to report (app_timings.json), not an assertion: tests do not time.
    wait_for(lambda: curve_points(page) > n, 60, "points after resuming", page)


def chart_state(page, name, key):
    return page.evaluate("([n, k]) => { const c = (window.cpCharts || {})[n]; return c ? c[k] : null }", [name, key])


def test_exact_points_and_two_runs_overlay(page, server):
    """The accuracy chart gets the exact points /status.json reports; after Reset the first run
    stays on both charts as a faint line named by what differed, and in the runs table."""
    status = lambda: json.loads(urllib.request.urlopen(server["url"] + "status.json", timeout=30).read())  # noqa: E731
    wait_for(lambda: status()["exact_at_examples"] is not None, 180, "an exact point in /status.json", page)
    s = status()
    assert 0 <= s["exact_val_acc"] <= 1 and 0 <= s["exact_test_acc"] <= 1
    wait_for(lambda: (chart_state(page, "cp-accuracy", "markers") or 0) >= 2, 30, "the exact points drawn", page)
    run_id = s["run_id"]
    page.get_by_role("button", name="Reset weights").first.click()
    wait_for(lambda: status()["run_id"] == run_id + 1 and status()["examples"] > 0, 60, "a second run", page)
    for chart in ("cp-loss", "cp-accuracy"):
        lines = wait_for(lambda c=chart: chart_state(page, c, "overlays"), 30, "the first run overlaid", page)
        assert len(lines) == 1 and lines[0]["label"] == "run %d: same settings" % run_id and lines[0]["n"] > 1
    scroll_to(page, "Curves")
    table = page.locator("table.cp-runs").first
    wait_for(
        lambda: "(now)" in table.inner_text() and "%d (now)" % (run_id + 1) in table.inner_text(),
        30,
        "the runs table",
        page,
    )
    shot(page, "runs")


def test_a_setup_link_copies_and_loads_and_a_bad_one_says_why(page, server):
    """ "Copy link" gives the page's address with ?setup=; a malformed link shows a message and
    leaves the run alone; the copied link loads its setup (a new run)."""
    status = lambda: json.loads(urllib.request.urlopen(server["url"] + "status.json", timeout=30).read())  # noqa: E731
    page.evaluate("() => window.scrollTo(0, 0)")
    page.get_by_role("button", name="Copy link to this setup").first.click()
    note = page.get_by_text(re.compile(r"\?setup=")).first  # inside the note's shadow root
    note.wait_for(timeout=10_000)
    link = note.inner_text().split(" ")[-1].strip()
    assert link.startswith(server["url"] + "?setup=")
    run_id = status()["run_id"]
    other = page.context.new_page()
    try:
        other.goto(server["url"] + "?setup=not-a-setup", wait_until="load", timeout=120_000)
        other.get_by_text("The run in progress goes on unchanged").first.wait_for(timeout=60_000)
        assert status()["run_id"] == run_id
        other.goto(link, wait_until="load", timeout=120_000)
        other.get_by_text("The link's setup is loaded").first.wait_for(timeout=60_000)
        wait_for(lambda: status()["run_id"] == run_id + 1, 30, "the link's setup as a new run", other)
    finally:
        other.close()


def test_upload_shows_predictions(page):
    image = next((DATA / "test" / "cat").glob("*.jpg"))
    page.locator(".cp-upload-input input[type=file]").set_input_files(
        files=[{"name": "cat.jpg", "mimeType": "image/jpeg", "buffer": image.read_bytes()}]
    )
    result = page.locator(".cp-upload-result .cp-pred").first
    result.get_by_text("live net").wait_for(timeout=30_000)
    text = result.inner_text()
    assert text.count("%") >= 3 and "cat.jpg" in text
    scroll_to(page, "Network visualisation")
    page.locator(".cp-vis-example").get_by_text("uploaded cat.jpg").wait_for(timeout=30_000)
    time.sleep(1.5)
    shot(page, "upload")
    scroll_to(page, "Upload an image")


def test_export_onnx_downloads_a_model_onnxruntime_runs(page, tmp_path):
    """Export -> ONNX in the snapshot card: the browser downloads the running net, which
    onnxruntime runs on a real test image (uint8 NHWC in, the class probabilities out)."""
    ort = pytest.importorskip("onnxruntime")
    card = page.locator(".cp-snapshots")
    card.get_by_text("Export the running net").wait_for(timeout=30_000)
    with page.expect_download(timeout=120_000) as download:
        card.get_by_text("ONNX (.onnx)").first.click()
    assert download.value.suggested_filename.endswith(".onnx")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    card.get_by_text("Exported to ONNX").wait_for(timeout=30_000)
    image = np.asarray(Image.open(next((DATA / "test" / "cat").glob("*.jpg"))).convert("RGB"))[None]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = session.run(["probabilities"], {"image": image})[0]
    assert probs.shape == (1, 10) and abs(float(probs.sum()) - 1) < 1e-5
    names = json.loads(session.get_modelmeta().custom_metadata_map["classes"])
    assert "cat" in names


def drop_file(zone, name, data):
    """Drop a file on a drop zone, as a drag from the desktop does (a drop event carrying it)."""
    zone.evaluate(
        """(el, [name, bytes]) => {
          const dt = new DataTransfer()
          dt.items.add(new File([new Uint8Array(bytes)], name))
          el.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}))
        }""",
        [name, list(data)],
    )


def test_bad_upload_shows_an_error(page):
    upload = page.locator(".cp-upload-input input[type=file]")
    upload.set_input_files(
        files=[{"name": "bomb.png", "mimeType": "image/png", "buffer": png_claiming(100_000, 100_000)}]
    )
    page.get_by_text("bomb.png declares more than").wait_for(timeout=30_000)
    drop_file(page.locator(".cp-upload-input .cp-drop"), "notes.png", b"these are notes, not a picture")  # dragged in
    page.get_by_text("notes.png is not an image").wait_for(timeout=30_000)
    shot(page, "bad_upload")
    assert curve_points(page) > 0  # the session survived


def test_the_timeline_scrubs_back_while_training_goes_on_and_branches(page, server):
    """Drag the slider under the curves back: the filters the page draws are the stored
    checkpoint's (their hash, from the page, equals /status.json's hash of the stored weights,
    and differs from the live net's) while examples seen keeps rising; Branch from here starts
    a new run from that checkpoint, named in the runs table."""
    status = lambda: json.loads(urllib.request.urlopen(server["url"] + "status.json", timeout=30).read())  # noqa: E731
    wait_for(lambda: len(status()["timeline"]["checkpoints"]) >= 8, 300, "checkpoints in the timeline", page)
    assert status()["status"] == "running"
    scroll_to(page, "Curves")
    drag_slider(page, ".cp-timeline", 0.3)
    s = wait_for(lambda: (lambda s: s["timeline"]["ready"] and s)(status()), 60, "the moment computed", page)
    tl = s["timeline"]
    assert 0 <= tl["viewing"] < s["examples"] and tl["filters_sha"]
    assert tl["shown_sha"] == tl["filters_sha"] != tl["live_filters_sha"]
    page.get_by_text("Showing the net at").first.wait_for(timeout=30_000)
    scroll_to(page, "Network visualisation")
    moment = page.locator(".cp-vis-example .cp-vis-moment").first
    drawn = lambda: moment.get_attribute("data-filters-sha") == tl["filters_sha"]  # noqa: E731
    wait_for(drawn, 30, "the checkpoint's filters drawn", page)
    assert "{:,} examples seen (the timeline)".format(tl["viewing"]) in moment.inner_text()
    wait_for(lambda: status()["examples"] > s["examples"] + 1000, 60, "training going on meanwhile", page)
    assert status()["timeline"]["viewing"] == tl["viewing"] and drawn()
    shot(page, "timeline")
    run_id = status()["run_id"]
    scroll_to(page, "Curves")
    page.get_by_role("button", name="Branch from here").first.click()
    wait_for(lambda: status()["run_id"] == run_id + 1, 30, "the branch as a new run", page)
    after = status()
    assert after["timeline"]["viewing"] is None and after["examples"] >= tl["viewing"]
    table = page.locator("table.cp-runs").first
    branch = "branch of run %d at {:,} examples".format(tl["viewing"]) % run_id
    wait_for(lambda: branch in table.inner_text(), 30, "the branch in the runs table", page)


def test_nothing_left_localhost(page):
    assert page.external == []
