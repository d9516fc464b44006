"""The Runner's timeline (app/core/runner_timeline.py): checkpoints recorded while training, a
moment viewed from the stored weights (the visualisation, test predictions, confusion matrix)
while training goes on, back to live, a branch as a new run, and the lecture viewers' mirror
seeing the moment and the runs. Plain pytest on unthreaded Runners over synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY

from app.core import Runner
from app.core.runner_timeline import first_filters, vis_filters_sha, weights_sha
from app.relay import MirrorRunner
from app.status import status
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(600, 120, 10, seed=5)


def training(data, **kw):
    r = Runner(
        data, spec=TINY, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0, vis_interval=0.0, **kw
    )
    r.start()
    return r


def ticks(r, n):
    for _ in range(n):
        r.tick()


def test_checkpoints_are_recorded_while_training_and_a_moment_is_the_stored_net(data):
    r = training(data)
    ticks(r, 30)
    checkpoints = status(r)["timeline"]["checkpoints"]
    assert checkpoints[0] == 0 and len(checkpoints) > 5 and checkpoints == r.timeline.examples()
    at = checkpoints[3]
    r.view_at(at + 1)  # the checkpoint at or before
    examples_before = r.snapshot()["examples"]
    ticks(r, 8)  # the moment's pieces, one per tick, while training goes on
    s = status(r)
    assert s["examples"] > examples_before  # training went on
    tl = s["timeline"]
    assert tl["viewing"] == at and tl["ready"]
    stored = dict(zip(r._timeline_names, r.timeline.at(at)[1]))
    # the filters shown are the stored checkpoint's, not the live net's
    version, vis = r.vis()
    assert vis["examples"] == at
    np.testing.assert_array_equal(vis["layers"][1]["weight"], first_filters(r.net.layers_spec, stored))
    assert tl["shown_sha"] == tl["filters_sha"] == weights_sha(first_filters(r.net.layers_spec, stored))
    assert tl["filters_sha"] != tl["live_filters_sha"]
    # the training's probes do not replace the moment
    ticks(r, 3)
    assert r.vis()[0] == version
    # the test predictions and the confusion matrix are the stored net's
    items, _ = r.predictions_since(-1)
    net = r.inference_net()
    net.load_params(stored)
    idx = [p["index"] for p in items]
    assert len(items) == 24
    np.testing.assert_array_equal([p["top"][0] for p in items], net.predict(data.test_x[idx]).argmax(1))
    ticks(r, 40)
    ev = r.evaluation().snapshot()
    assert ev["evaluated"] == ev["total"] == 120
    assert ev["accuracy"] == pytest.approx(np.mean(net.predict(data.test_x).argmax(1) == data.test_y))
    r.back_to_live()
    ticks(r, 2)
    assert status(r)["timeline"]["viewing"] is None
    assert vis_filters_sha(r.vis()[1]) == status(r)["timeline"]["live_filters_sha"]
    assert r.evaluation() is r._evaluation


def test_branch_from_a_checkpoint_is_a_new_run_from_its_weights(data):
    r = training(data)
    ticks(r, 30)
    run = r.run_id
    at = r.timeline.examples()[4]
    stored = dict(zip(r._timeline_names, r.timeline.at(at)[1]))
    r.view_at(at)
    r.tick()
    r.timeline._drop(4)  # thinned out while viewed: the branch still starts from the moment viewed
    # what a /status.json read sees as the new run's id is published: no moment of the old run
    seen = []
    publish = r._publish_weights
    r._publish_weights = lambda: (seen.append((r.run_id, r._pub.get("timeline_view"))), publish())
    r.branch_from()
    r.pause()
    r.tick()
    assert seen[0] == (run + 1, None)
    s = r.snapshot()
    assert (
        s["run_id"] == run + 1
        and s["examples"] == at
        and s["net_source"]
        == "branch of run %d at %d examples"
        % (
            run,
            at,
        )
    )
    for k, v in r.net.params().items():
        np.testing.assert_array_equal(v, stored[k])
    assert r.timeline.examples() == [at] and s["timeline_view"] is None
    r.step()
    r.tick()
    assert r.snapshot()["examples"] == at + 16  # its curves go on from the branch point
    _, runs = r.runs_view()
    assert [x["run"] for x in runs] == [run, run + 1]
    assert runs[1]["settings"]["source"].startswith("branch of run %d" % run)


def test_the_timeline_can_be_off(data):
    r = training(data, timeline=False)
    ticks(r, 10)
    assert len(r.timeline) == 0 and status(r)["timeline"]["checkpoints"] == []


def test_a_lecture_mirror_gets_the_moment_and_the_runs(data):
    r = training(data)
    ticks(r, 20)
    r.reset()
    ticks(r, 20)
    mirror, marks = MirrorRunner(), {}
    mirror.apply(r.export(marks))
    _, runs = mirror.runs_view()
    assert [x["run"] for x in runs] == [r.run_id - 1, r.run_id]
    at = r.timeline.examples()[2]
    r.view_at(at)
    ticks(r, 40)
    mirror.apply(r.export(marks))
    assert status(mirror)["timeline"]["viewing"] == at
    assert vis_filters_sha(mirror.vis()[1]) == status(mirror)["timeline"]["filters_sha"]
    assert [p["index"] for p in mirror.predictions_since(-1)[0]] == [p["index"] for p in r.predictions_since(-1)[0]]
    assert mirror.evaluation().snapshot()["matrix"].tolist() == r.evaluation().snapshot()["matrix"].tolist()
    r.back_to_live()
    ticks(r, 2)
    mirror.apply(r.export(marks))
    assert mirror._moment is None and mirror.evaluation() is mirror._evaluation


def drag(slider, value):
    """What the browser sends when a drag of the slider ends."""
    import param

    with param.edit_constant(slider):
        slider.value_throttled = value


def test_the_slider_scrubs_and_the_views_show_the_moment(data):
    from app.dashboard import EVERY_TICK, Dashboard

    r = training(data)
    dash = Dashboard(r, cadence=EVERY_TICK)
    viewer = Dashboard(r, cadence=EVERY_TICK, role="viewer")
    ticks(r, 30)
    dash.refresh()
    bar = dash.timeline
    assert bar.slider.end == r.timeline.examples()[-1] and bar.live_button.disabled
    at = r.timeline.examples()[3]
    drag(bar.slider, at + 1)  # let go between two checkpoints
    ticks(r, 50)
    dash.refresh()
    viewer.refresh()
    for d in (dash, viewer):
        assert d.timeline.slider.value == at and f"Showing the net at <b>{at:,}</b>" in d.timeline.note.object
        assert f"the net at {at:,} examples seen" in d.visualisation.example.object
        assert f"the net at <b>{at:,}</b>" in d.predictions.header.object
        assert d.evaluation.snapshot["evaluated"] == len(data.test_y)
    assert not bar.branch_button.disabled and viewer.timeline.slider.disabled and viewer.timeline.branch_button.disabled
    drag(viewer.timeline.slider, 0)  # a viewer cannot scrub the run for everyone
    assert "only the presenter" in viewer.timeline.error.object
    bar.live_button.clicks += 1
    ticks(r, 2)
    dash.refresh()
    assert bar.viewing is None and "live net" in dash.visualisation.example.object
