"""The "Data" card (app/core/data_card.py, app/views/data.py): the summary (classes, counts,
samples, the small-class warning) and switching data from the page, a folder path or a zip,
with every bad input refused by a message that leaves the run as it was (issue 16, point 4).
Plain pytest on an unthreaded Runner; the page in Chromium: test_app_uploads_browser.py."""

from __future__ import annotations

import numpy as np
import pytest
from folders import folder_zip, image_folder, zip_bytes

from app.core import Runner
from app.core.data_card import data_card_html, data_summary
from datasets import Dataset, load_dataset

pytest.importorskip("panel")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("card")
    return {n: image_folder(base / ("c%d" % n), n, per_class=12, test_per_class=3) for n in (3, 4)}


@pytest.fixture
def runner(folders, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_dataset(folders[3][0], progress=False)
    return Runner(ds, backend="numpy", threaded=False, batch_size=8)


def card(runner, read_only=False):
    from app.state import DashboardState
    from app.views.data import DataCard

    state = DashboardState()
    state.sync(runner.snapshot())
    return state, DataCard(state, runner, read_only=read_only)


def test_the_summary_counts_each_class_and_warns_of_a_small_one():
    x = np.zeros((43, 8, 8, 3), np.uint8)
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    s = data_summary(Dataset(x, y, x[:6], np.array([0, 1, 2, 0, 1, 0]), ["a", "b", "tiny"], source="mem"))
    assert s["train"] == [20, 20, 3] and s["test"] == [3, 2, 1]
    assert [len(s["samples"][c]) for c in "a b tiny".split()] == [6, 6, 3]
    assert s["warning"].startswith("tiny (4) has far fewer images")
    page = data_card_html(s)
    assert "tiny: 3 train, 1 test" in page and page.count("<img") == 15 and "cp-data-warning" in page
    balanced = data_summary(Dataset(x[:40], y[:40], x[:6], np.array([0, 1] * 3), ["a", "b"], source="mem"))
    assert balanced["warning"] == ""


def test_the_card_names_the_data_and_its_classes(runner, folders):
    _, view = card(runner)
    for name in folders[3][1]:
        assert "%s: 12 train, 3 test" % name in view.body.object
    assert folders[3][0].name in view.body.object


@pytest.mark.parametrize(
    "path, words",
    [
        ("", "type the path"),
        ("/no/such/folder", "no such folder"),
        ("/etc", "not an image folder"),
        ("ONE_CLASS", "only the class"),
    ],
)
def test_a_bad_folder_path_is_refused_with_a_message_and_the_run_untouched(runner, tmp_path, path, words):
    if path == "ONE_CLASS":
        image_folder(tmp_path / "one", 2)
        import shutil

        for split in ("train", "test"):
            shutil.rmtree(tmp_path / "one" / split / "brick")
        path = str(tmp_path / "one")
    runner.start()
    before = (runner.run_id, runner.dataset, runner.net)
    _, view = card(runner)
    assert view.load_folder(path) is False
    assert words in view.message.object and "unchanged" in view.message.object and view.message.visible
    runner.tick()
    assert (runner.run_id, runner.dataset, runner.net) == before and runner.running


def test_a_good_folder_pauses_keeps_the_old_data_until_loaded_and_resizes_the_head(runner, folders):
    runner.start()
    old = runner.dataset
    _, view = card(runner)
    assert view.load_folder(str(folders[4][0]))
    assert not runner.running and runner.dataset is old  # queued: nothing changed yet
    runner.tick()
    assert runner.dataset.classes == folders[4][1] and runner.net.num_classes == 4
    assert runner.snapshot()["classes"] == folders[4][1]
    assert view.refresh() and folders[4][1][3] in view.body.object


def test_a_zip_loads_and_bad_zips_are_refused(runner, folders, tmp_path):
    _, view = card(runner)
    before = (runner.run_id, runner.dataset)
    assert not view.load_zip(zip_bytes({"../evil.png": b"x", "train/a/1.png": b"x"}), "evil.zip")
    assert "leading out" in view.message.object
    assert not view.load_zip(b"not a zip", "junk.zip") and "not a readable .zip" in view.message.object
    assert not view.load_zip(zip_bytes({"train/solo/1.png": b"x"}), "one.zip")
    assert "the zip: found only the class &#x27;solo&#x27;; a classifier" in view.message.object
    runner.tick()
    assert (runner.run_id, runner.dataset) == before and not (tmp_path / "evil.png").exists()
    data = folder_zip(folders[4][0])
    assert view.load_zip(data, "four.zip")
    runner.tick()
    assert runner.dataset.classes == folders[4][1] and runner.net.num_classes == 4


def test_a_viewer_page_gets_the_summary_but_no_way_to_switch(runner):
    from app.lecture import ReadOnlyRunner

    _, view = card(ReadOnlyRunner(runner), read_only=True)
    assert not hasattr(view, "path") and not hasattr(view, "zip")
    from app.views.data import DataCard

    view = DataCard(card(runner)[0], ReadOnlyRunner(runner), read_only=True, source=runner)
    assert "12 train" in view.body.object
