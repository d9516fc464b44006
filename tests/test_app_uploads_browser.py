"""Uploads of any size, end to end (issue 4): `python -m app` and headless Chromium, as in
test_app_browser.py, whose server, page and helpers this module reuses (with a server of its own).

A 150 MB file picked in the image upload and in the snapshot upload is refused in the browser,
before a byte is sent, with a message that names the limit; the page stays connected (a 25 MB
image, several chunks, still gets its prediction; Start still starts training) and the running
net's weights are what they were (a snapshot saved before equals one saved after). The big files
are sparse files in a pytest tmp dir. Screenshots: tests/artifacts/app_huge_uploads*.png.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import test_app_browser as app_browser
from PIL import Image

import engine

pytestmark = [pytest.mark.browser, pytest.mark.slow]

server = app_browser.server  # a server (and browser page) for this module: its net is ours to check
page = app_browser.page
HUGE_BYTES = 150 * 1000 * 1000


def sparse_file(path, head, size):
    """`head` followed by zeros up to `size` bytes, without writing the zeros to disk."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("uploads")
    png = d / "tiny.png"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png)
    noise = np.random.default_rng(0).integers(0, 256, size=(2900, 2900, 3), dtype=np.uint8)
    Image.fromarray(noise).save(d / "noise.bmp")  # 25 MB uncompressed: three 10 MB chunks
    return {
        "huge_png": sparse_file(d / "huge.png", png.read_bytes(), HUGE_BYTES),
        "huge_npz": sparse_file(d / "huge.npz", b"PK\x03\x04", HUGE_BYTES),
        "noise_bmp": d / "noise.bmp",
    }


def refusal(upload):
    """What the drop zone says of the file just picked, once it is refused in the browser (never sent)."""
    status = upload.locator(".cp-drop[data-state=refused] .cp-drop-status")
    status.wait_for(timeout=30_000)
    return status.inner_text()


def examples_seen(page):
    """The header's "N examples seen" (0 before the first step): training, whatever the curves show."""
    text = page.locator(".cp-top .cp-header .ex").inner_text()
    return int(re.sub(r"\D", "", text) or 0)


def saved_weights(page, tmp_path, name):
    """The running net's spec and arrays (weights, optimizer state), through the "Save snapshot" download."""
    with page.expect_download(timeout=60_000) as download:
        page.get_by_text("Save snapshot (spec + weights)").first.click()
    path = tmp_path / name
    download.value.save_as(path)
    snap = engine.read_snapshot(str(path))
    return snap.spec, snap.arrays


def test_huge_uploads_are_refused_and_the_page_lives_on(page, server, files, tmp_path):
    for title in ("Snapshots", "Upload an image"):
        page.get_by_text(title, exact=True).first.wait_for(timeout=60_000)  # the page has rendered
    app_browser.wait_for(lambda: examples_seen(page) > 0, 300, "the first training step", page)
    assert page.evaluate(app_browser.CLICK_TO_STATUS_MS, ["Pause", "paused"]) >= 0, "the status never showed 'paused'"
    before = saved_weights(page, tmp_path, "before.npz")  # taken between steps: the step in flight has landed

    image_input = page.locator(".cp-upload-input")
    page.locator(".cp-upload-an-image").get_by_text("up to 100 MB").wait_for(timeout=30_000)  # told beforehand
    image_input.locator("input[type=file]").set_input_files(files["huge_png"])
    assert refusal(image_input) == "huge.png: File is too large — the largest accepted is 100 MB"

    snapshot_input = page.locator(".cp-snapshot-input")
    page.locator(".cp-snapshots").get_by_text("up to 100 MB").wait_for(timeout=30_000)
    snapshot_input.locator("input[type=file]").set_input_files(files["huge_npz"])
    assert refusal(snapshot_input) == "huge.npz: File is too large — the largest accepted is 100 MB"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    clip = {"x": 0, "y": 0, "width": width, "height": 1100}  # the top of the page: both uploads, readable
    page.screenshot(path=str(app_browser.ARTIFACTS / "app_huge_uploads.png"), full_page=True, clip=clip)

    # Still connected: a 25 MB image goes up in chunks and is predicted ...
    image_input.locator("input[type=file]").set_input_files(files["noise_bmp"])
    result = page.locator(".cp-upload-result .cp-pred").first
    result.get_by_text("noise.bmp (2900x2900 BMP)").wait_for(timeout=120_000)
    assert "live net" in result.inner_text()
    image_input.get_by_text("noise.bmp: received").wait_for(timeout=30_000)  # the server's word, in the zone
    assert image_input.locator("img, canvas").count() == 0  # the browser did not decode it
    app_browser.shot(page, "huge_uploads_then_an_image")
    # ... the net is the one from before (nothing was loaded, nothing trained) ...
    after = saved_weights(page, tmp_path, "after.npz")
    assert after[0] == before[0]
    assert sorted(after[1]) == sorted(before[1])
    for key, value in before[1].items():
        assert np.array_equal(after[1][key], value), key
    # ... and Start still starts it training.
    n = examples_seen(page)
    assert page.evaluate(app_browser.CLICK_TO_STATUS_MS, ["Start", "running"]) >= 0, "the status never showed 'running'"
    app_browser.wait_for(lambda: examples_seen(page) > n, 120, "training steps after Start", page)
    assert server["proc"].poll() is None
    log = server["log"].read_text()
    assert "WebSocket connection closed" not in log, log[-2000:]
    assert page.external == []
