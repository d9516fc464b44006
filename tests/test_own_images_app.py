"""Your own images in the app's core (issue 16): the Runner trains a head of the data's classes,
names them everywhere (predictions, top-k with k = min(3, N), the N x N confusion matrix, the
evaluation and saliency views), and refuses a snapshot of another class count with a message
that names both counts, leaving the running net untouched.

Plain pytest on the Runner unthreaded (tick() by hand) over generated PNG folders
(tests/folders.py); the pages in Chromium: test_app_uploads_browser.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from folders import image_folder

import engine
from app.core import Runner
from datasets import load_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("own-app")
    out = {}
    for n in (2, 3, 12):
        root, names = image_folder(base / ("c%d" % n), n, per_class=30)
        out[n] = load_dataset(root, cache_dir=base / "cache", progress=False)
        assert out[n].classes == names
    return out


def trained(ds, ticks=60, **kw):
    r = Runner(ds, backend="numpy", threaded=False, eval_interval=0.0, batch_size=16, **kw)
    for _ in range(ticks):
        r.tick()
    r._evaluate()
    return r


@pytest.mark.parametrize("n", [2, 3, 12])
def test_the_runner_trains_a_head_of_the_data_classes_and_names_them(data, n):
    ds = data[n]
    r = trained(ds)
    snap = r.snapshot()
    assert r.net.num_classes == n and snap["classes"] == ds.classes
    assert snap["message"] == ""  # the default net is resized without a word
    ev = r.evaluation().snapshot()
    assert ev["matrix"].shape == (n, n) and len(ev["per_class"]) == n
    assert r.evaluation().class_names == ds.classes
    items, _ = r.predictions_since(-1)
    assert items and all(len(p["top"]) == min(3, n) for p in items)
    cell = r.evaluation().cell(int(ds.test_y[0]), int(ds.test_y[0]), limit=50)
    assert all(len(it["top"]) == min(3, n) for it in cell)
    assert snap["test_acc"] > 1.0 / n  # above chance after a few seconds


def test_a_snapshot_of_another_class_count_is_refused_and_the_net_untouched(data):
    r = trained(data[3], ticks=3)
    before = (r.run_id, r.net.num_classes, engine.read_snapshot(r.snapshot_bytes()).classes)
    other = Runner(data[12], backend="numpy", threaded=False)
    with pytest.raises(engine.SnapshotError, match="classifies 12 classes but the data have 3"):
        r.load_snapshot(other.snapshot_bytes(), name="twelve.npz")
    r.tick()
    assert (r.run_id, r.net.num_classes, engine.read_snapshot(r.snapshot_bytes()).classes) == before


def test_data_arriving_under_a_snapshot_of_another_class_count_says_so(data):
    twelve = engine.read_snapshot(Runner(data[12], backend="numpy", threaded=False).snapshot_bytes())
    r = Runner(None, snapshot=twelve, backend="numpy", threaded=False)
    assert r.net.num_classes == 12
    r.load_data(lambda: data[3])
    r.tick()
    msg = r.snapshot()["message"]
    assert "12 classes" in msg and "have 3" in msg and "3 classes" in msg, msg
    assert r.net.num_classes == 3 and r.snapshot()["classes"] == data[3].classes


def test_the_evaluation_and_saliency_views_follow_the_data_names(data):
    pytest.importorskip("panel")
    from app.teaching.live_views import EvaluationView, SaliencyView

    r = trained(data[3], ticks=5)
    view = EvaluationView(r.evaluation, [str(i) for i in range(10)])  # a page opened before the data
    view.refresh()
    assert list(view.cm_fig.x_range.factors) == data[3].classes
    assert sorted(set(view.cm_source.data["true"])) == sorted(data[3].classes)
    assert len(view.cm_source.data["count"]) == 9 and list(view.true_select.options) == data[3].classes
    sal = SaliencyView(r.inference_net, lambda: np.asarray(data[3].test_x[0]), [str(i) for i in range(10)])
    sal.set_class_names(data[3].classes)
    assert list(sal.class_select.options)[1:] == data[3].classes
    sal.class_select.value = 2
    assert sal.map is not None and data[3].classes[2] in sal.text.object
