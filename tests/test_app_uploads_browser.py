"""Uploads of any size, end to end (issue 4): `python -m app` and headless Chromium, as in
test_app_browser.py, whose server, page and helpers this module reuses (with a server of its own).

A 150 MB file picked in the image upload and in the snapshot upload is refused in the browser,
before a byte is sent, with a message that names the limit; the page stays connected (a 25 MB
image, several chunks, still gets its prediction; Start still starts training) and the running
net's weights are what they were (a snapshot saved before equals one saved after). The big files
are sparse files in a pytest tmp dir. Screenshots: tests/artifacts/app_huge_uploads*.png.

Then, on the same server and page, your own images (issue 16): the Data card refuses bad folder
paths and a bad zip with a message (the run untouched, the server serving), switches to a
generated 3-class folder (the confusion matrix's classes, an upload's predictions and the saved
snapshot's 3-way head carry the folder's names) and to an uploaded 4-class zip.
Screenshot: tests/artifacts/app_own_images_three_classes.png.
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


# -- your own images (issue 16): the same server and page, switched to other data -----------------
def status_json(server):
    import json
    import urllib.request

    return json.loads(urllib.request.urlopen(server["url"] + "status.json", timeout=30).read())


def test_own_images_a_folder_and_a_zip_through_the_data_card(page, server, tmp_path):
    from folders import folder_zip, image_folder, zip_bytes

    three, names = image_folder(tmp_path / "three", 3)
    four, four_names = image_folder(tmp_path / "four", 4, per_class=10, test_per_class=3)
    card = page.locator(".cp-data")
    card.get_by_text("Train on this folder").wait_for(timeout=60_000)
    path = card.locator(".cp-data-path input")
    before = status_json(server)["run_id"]

    # Bad paths: a message, the run as it was, the server serving.
    for bad, words in (("/no/such/folder", "no such folder"), ("/etc", "not an image folder")):
        path.fill(bad)
        card.get_by_text("Train on this folder").click()
        message = card.get_by_text(words).first
        message.wait_for(timeout=30_000)
        assert "unchanged" in message.inner_text()
    assert status_json(server)["run_id"] == before and server["proc"].poll() is None

    # A 3-class folder: loaded (paused), then trained, named everywhere.
    path.fill(str(three))
    card.get_by_text("Train on this folder").click()
    card.get_by_text("%s: 40 train, 10 test" % names[2]).wait_for(timeout=120_000)
    assert page.evaluate(app_browser.CLICK_TO_STATUS_MS, ["Start", "running"]) >= 0, "the status never showed 'running'"
    app_browser.wait_for(lambda: status_json(server)["examples"] > 300, 180, "training on the 3 classes", page)
    app_browser.scroll_to(page, "Evaluation: confusion matrix and per-class accuracy")
    evaluation = page.locator(".cp-section").filter(has_text="Evaluation: confusion matrix").first
    seen = []

    def matrix_classes():  # the pickers of the matrix's cells list its rows' (and columns') names
        seen[:] = [t.strip() for t in evaluation.locator("select").first.locator("option").all_text_contents()]
        return seen == names

    app_browser.wait_for(matrix_classes, 60, "a 3x3 confusion matrix's classes", page)
    evaluation.get_by_text("test accuracy").wait_for(timeout=60_000)
    # An uploaded image is predicted among the folder's names.
    image = sorted((three / "test" / names[1]).iterdir())[0]
    app_browser.scroll_to(page, "Upload an image")  # off-screen sections are not rendered
    page.locator(".cp-upload-input input[type=file]").set_input_files(str(image))
    result = page.locator(".cp-upload-result .cp-pred").first
    result.get_by_text(image.name).wait_for(timeout=60_000)
    # The first prediction is the live net's (the shipped CIFAR-10 snapshot's keeps its own names).
    bars = " ".join(result.locator(".cp-bar").all_text_contents())
    assert sum(n in bars for n in names) == 3 and "airplane" not in bars, bars
    app_browser.shot(page, "own_images_three_classes")
    spec, _ = saved_weights(page, tmp_path, "three.npz")  # the page's own download: a 3-way head
    assert spec[-1]["num_classes"] == 3 and engine.read_snapshot(str(tmp_path / "three.npz")).classes == names

    # Zips through the page: a refused one, then a good one of 4 classes.
    zips = {"bad.zip": zip_bytes({"../evil.png": b"x"}), "four.zip": folder_zip(four)}
    for name, data in zips.items():
        (tmp_path / name).write_bytes(data)
    zone = card.locator(".cp-data-zip input[type=file]")
    zone.set_input_files(str(tmp_path / "bad.zip"))
    card.get_by_text("leading out").wait_for(timeout=60_000)
    assert status_json(server)["status"] == "running" and server["proc"].poll() is None
    zone.set_input_files(str(tmp_path / "four.zip"))
    card.get_by_text("%s: 10 train, 3 test" % four_names[3]).wait_for(timeout=120_000)
    assert status_json(server)["status"] == "paused" and not (tmp_path / "evil.png").exists()
