"""Lecture mode without a browser: roles from the URL, the read-only runner a viewer's page is
built on, every control of a viewer's page refused by the server, the presenter's keys, and the
teaching views (evaluation, saliency, health) fed by the runner."""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest

from app.dashboard import EVERY_TICK, Dashboard
from app.lecture import READS, Lecture, ReadOnlyError, ReadOnlyRunner, role_of
from app.presenter import SLIDES, Presenter
from app.views.keys import key_of


def click(button):
    button.clicks += 1


def args(**kw):
    return {k: [v.encode()] for k, v in kw.items()}


def test_roles_come_from_the_token_in_the_url():
    lecture = Lecture()
    assert len(lecture.token) >= 20 and Lecture().token != lecture.token
    assert lecture.role(args(presenter=lecture.token)) == "presenter"
    assert lecture.role(args(presenter=lecture.token[:-1])) == "viewer"
    assert lecture.role(args(presenter="")) == "viewer"
    assert lecture.role({}) == "viewer"
    assert lecture.role(None) == "viewer"
    assert role_of(None, {}) == "presenter"  # no lecture: the local app, every page presents


def test_urls_name_the_room_address_for_every_interface():
    lecture = Lecture("tok")
    presenter, viewer = lecture.urls("127.0.0.1", 5006)
    assert (presenter, viewer) == ("http://127.0.0.1:5006/?presenter=tok", "http://127.0.0.1:5006/")
    presenter, viewer = lecture.urls("0.0.0.0", 8000)
    assert "0.0.0.0" not in viewer and viewer.endswith(":8000/") and presenter == viewer + "?presenter=tok"


def test_read_only_runner_passes_reads_and_refuses_everything_else(runner):
    ro = ReadOnlyRunner(runner)
    assert ro.snapshot()["status"] == "paused"
    assert ro.infer(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 10)
    for name in ("start", "pause", "step", "reset", "set_hyper", "apply_spec", "load_snapshot", "set_vis_example"):
        with pytest.raises(ReadOnlyError, match="only the presenter"):
            getattr(ro, name)()
    with pytest.raises(ReadOnlyError):
        ro.running = True
    with pytest.raises(AttributeError):
        _ = ro.net  # the live net is not a viewer's to read (deny by default)
    assert all(callable(getattr(runner, name)) for name in READS)  # the allow-list names real methods


def test_every_control_of_a_viewers_page_is_refused(runner):
    runner.start()
    before = dict(runner.hyper), runner.snapshot()["spec_version"]
    dash = Dashboard(runner, cadence=EVERY_TICK, role="viewer")
    c = dash.controls
    assert all(w.disabled for w in c.widgets.values()) and c.pause_button.disabled
    # a page can send anything: the buttons are clicked and the settings edited regardless
    for button in (c.pause_button, c.step_button, c.reset_button):
        click(button)
        assert "only the presenter" in c.error.object and c.error.visible
    c.widgets["optimizer"].value = "sgd"
    c.widgets["lr"].value = 0.5
    c.widgets["batch_size"].value = 99
    click(dash.editor.apply_button)
    assert "only the presenter" in dash.editor.error.object
    dash.visualisation._pick(3)
    assert "only the presenter" in dash.visualisation.error.object
    runner.tick()
    assert runner.running and runner.snapshot()["status"] == "running"
    assert (dict(runner.hyper), runner.snapshot()["spec_version"]) == before
    assert runner._commands == type(runner._commands)()  # nothing queued for the training thread
    dash.refresh()  # the viewer's widgets show the run's values again
    assert c.widgets["optimizer"].value == before[0]["optimizer"] and c.widgets["lr"].value == before[0]["lr"]
    assert "read-only" in dash.header.object


def test_a_presenters_page_commands_the_run(runner):
    dash = Dashboard(runner, cadence=EVERY_TICK, role="presenter")
    assert not dash.controls.widgets["lr"].disabled
    click(dash.controls.start_button)
    assert runner.running


def test_presenter_keys_pause_resume_step_and_turn_sections(runner):
    dash = Dashboard(runner, cadence=EVERY_TICK)
    p = Presenter(dash)
    page = p.layout()
    assert page is not None and dash.shown == set(SLIDES[0][1])
    p.keys.press = "space 1"  # what the page sends for the space bar
    assert runner.running and p.pause_button.label == "Pause"
    p.keys.press = "space 2"
    assert not runner.running and p.pause_button.label == "Resume"
    p.keys.press = "s 3"
    runner.tick()
    assert runner.snapshot()["examples"] == 16 and not runner.running
    p.keys.press = "right 4"
    assert p.index == 1 and dash.shown == {"vis"} and "Network visualisation" in p.title.object
    p.keys.press = "left 5"
    p.keys.press = "left 6"
    assert p.index == len(SLIDES) - 1  # wraps around
    p.keys.press = "x 7"  # not a key of ours
    assert p.index == len(SLIDES) - 1 and key_of("x 7") == ""


def test_presenter_slides_show_the_curves_and_predictions_in_large_type(runner):
    from app.presenter import ZOOM

    dash = Dashboard(runner, cadence=EVERY_TICK)
    p = Presenter(dash)
    p.layout()
    assert dash.curves.loss.zoom == ZOOM and dash.curves.accuracy.height == round(300 * ZOOM)
    assert dash.predictions.grid.zoom == 1.0  # not on screen yet
    p.go([title for title, _ in SLIDES].index("Test predictions"))
    assert dash.predictions.grid.zoom == ZOOM
    p.go(0)
    assert dash.curves.loss.height == round(300 * ZOOM)  # enlarged once, not again


def test_presenter_enlarges_a_figure_that_is_a_bokeh_root_once(runner):
    """The network visualisation, the confusion matrix, saliency and health are figures shown
    as Bokeh roots of their own: they are scaled too, and only once."""
    from bokeh.plotting import figure

    from app.presenter import ZOOM

    p = Presenter(Dashboard(runner, cadence=EVERY_TICK))
    fig = figure(width=400, height=200)
    pane = pn.pane.Bokeh(fig)
    p.enlarge(pane)
    p.enlarge(pane)
    assert (fig.width, fig.height) == (round(400 * ZOOM), round(200 * ZOOM))


def test_presenter_keys_on_a_viewers_page_are_refused(runner):
    dash = Dashboard(runner, cadence=EVERY_TICK, role="viewer")
    p = Presenter(dash)
    p.handle("space")
    p.handle("s")
    runner.tick()
    assert not runner.running and runner.snapshot()["examples"] == 0
    assert "only the presenter" in p.message.object
    p.handle("right")  # turning the viewer's own page is theirs
    assert p.index == 1


def test_evaluation_saliency_and_health_follow_the_run(runner, data):
    dash = Dashboard(runner, cadence=EVERY_TICK)
    runner.start()
    for _ in range(12):
        runner.tick()
    dash.refresh()
    snap = dash.evaluation.snapshot
    assert snap is not None and snap["evaluated"] == len(data.test_y)  # 40 test images, all judged
    assert snap["matrix"].sum() == len(data.test_y)
    assert np.isclose(snap["accuracy"], np.mean(runner.evaluation().preds == data.test_y))
    h = runner.health_history()
    assert len(h) >= 2 and h.keys("grad") == ["conv1.weight", "conv2.weight", "conv3.weight", "fc1.weight"]
    assert dash.health.source is not None and len(dash.health.source.data["step"]) == len(h)
    assert dash.saliency.map is not None and dash.saliency.map.shape == (32, 32)
    runner.reset()
    runner.tick()
    assert len(runner.health_history()) <= 1  # a new run starts new curves


def test_a_viewer_predicts_their_own_image_without_changing_the_room(runner):
    from test_app_views import png_bytes

    dash = Dashboard(runner, cadence=EVERY_TICK, role="viewer")
    dash.upload.file.filename = "mine.png"
    dash.upload.file.value = png_bytes()
    assert "live net" in dash.upload.result.object  # their prediction
    assert dash.upload.note.visible and "shows the presenter" in dash.upload.note.object
    assert not dash.upload.error.visible
    dash.upload._on_test(3)
    assert "test image #3" in dash.upload.result.object
    runner.tick()
    assert runner._vis_example is None and "the fixed example" in runner.vis()[1]["caption"]  # the room's stays
    click(dash.snapshots.pretrained_button)
    assert "only the presenter" in dash.snapshots.message.object
    assert runner.snapshot()["net_source"] == "new"


def test_the_saved_token_is_this_users_alone(tmp_path):
    import os

    from app.lecture import save_token

    path = tmp_path / "cache" / "presenter-token"
    save_token(path, "secret-token")
    assert path.read_text() == "secret-token"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["presenter-token"]  # no temp file left
