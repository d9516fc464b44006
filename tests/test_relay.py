"""The lecture viewers' process (app/relay.py) without a browser: a MirrorRunner fed by the
Runner's export answers every read of a viewer's page as the Runner does; exports carry only
what changed; the Publisher works over a real pipe; viewers' pages follow the presenter's
section; the presenter's server sends viewers on to theirs; the viewers' server starts in its
own process and ends with the pipe."""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import numpy as np
import pytest

from app.dashboard import EVERY_TICK, Dashboard, create_app
from app.lecture import READS, Lecture, ReadOnlyError, ReadOnlyRunner
from app.presenter import SLIDES, Presenter
from app.relay import MirrorRunner, Publisher, RelayError, start_relay


def train(runner, steps):
    for _ in range(steps):
        runner.step()
        runner.tick()


def click(button):
    button.clicks += 1


def deliver(publisher, conn, mirror):
    """One message through the pipe (sent from a thread: a message may be larger than the pipe's buffer)."""
    sender = threading.Thread(target=publisher.publish)
    sender.start()
    mirror.apply(conn.recv())
    sender.join()


def mirrored(runner, marks=None, mirror=None):
    """A mirror fed one export, as the pipe would deliver it (pickled and unpickled)."""
    mirror = mirror or MirrorRunner()
    mirror.apply(pickle.loads(pickle.dumps(runner.export({} if marks is None else marks))))
    return mirror


def test_a_mirror_answers_every_read_as_the_runner_does(runner, data):
    train(runner, 12)
    runner.set_vis_example(data.test_x[5], int(data.test_y[5]), "one")
    runner.tick()
    m = mirrored(runner)
    assert m.snapshot() == runner.snapshot()
    for since in (-1, 3):
        (mine, mine_id), (theirs, theirs_id) = m.history_since(since), runner.history_since(since)
        assert mine_id == theirs_id and all(np.array_equal(mine[k], theirs[k], equal_nan=True) for k in theirs)
    (mine, oldest), (theirs, oldest2) = m.predictions_since(-1), runner.predictions_since(-1)
    assert oldest == oldest2 and [p["id"] for p in mine] == [p["id"] for p in theirs] and len(mine) > 0
    assert np.array_equal(mine[0]["image"], theirs[0]["image"])
    assert m.vis()[0] == runner.vis()[0] and m.vis()[1]["caption"] == "one"
    image, label = m.test_image(7)
    assert np.array_equal(image, data.test_x[7]) and label == data.test_y[7]
    with pytest.raises(ValueError, match="no test image"):
        m.test_image(len(data.test_y))
    x = data.test_x[:4]
    assert np.allclose(m.infer(x), runner.infer(x))
    assert np.allclose(m.inference_net().predict(x), runner.inference_net().predict(x))
    assert m.health_history().data() == runner.health_history().data() and len(m.health_history()) > 0
    mine, theirs = m.evaluation().snapshot(), runner.evaluation().snapshot()
    assert np.array_equal(mine["matrix"], theirs["matrix"]) and mine["evaluated"] == theirs["evaluated"] > 0
    assert m.evaluation().cell(0, 0) == runner.evaluation().cell(0, 0)
    spec = runner.snapshot()["spec"]
    assert m.check_spec(spec) == runner.check_spec(spec)
    bad = [dict(layer) for layer in spec]
    bad[-1]["num_classes"] = 7
    with pytest.raises(Exception, match="classifies 7 classes but the data have 10"):
        m.check_spec(bad)
    import engine

    snap = engine.read_snapshot(m.snapshot_bytes())  # the viewer's download: the weights, no optimizer
    assert np.allclose(snap.build("numpy").predict(x), runner.infer(x))
    assert all(callable(getattr(m, name)) for name in READS)


def test_exports_carry_only_what_changed(runner):
    marks = {}
    first = runner.export(marks)
    assert {"pub", "dataset", "history", "predictions", "vis", "weights", "health", "evaluation_setup"} <= set(first)
    assert set(runner.export(marks)) == {"pub"}  # nothing happened in between
    m = MirrorRunner()
    m.apply(first)
    train(runner, 3)
    delta = runner.export(marks)
    assert "history" in delta and "dataset" not in delta and "evaluation_setup" not in delta
    m.apply(delta)
    assert m.snapshot()["examples"] == runner.snapshot()["examples"] == 48
    assert m.history_since(-1)[1] == runner.history_since(-1)[1]
    runner.reset()  # a new run: a new evaluation, the history cleared
    runner.tick()
    delta = runner.export(marks)
    assert "evaluation_setup" in delta and "history" in delta
    m.apply(delta)
    assert m.snapshot()["run_id"] == runner.snapshot()["run_id"] and m.history_since(-1)[1] == -1


def test_a_viewers_page_over_a_mirror_is_read_only(runner):
    train(runner, 2)
    m = mirrored(runner)
    dash = Dashboard(m, cadence=EVERY_TICK, role="viewer")
    c = dash.controls
    assert dash.read_only and all(w.disabled for w in c.widgets.values())
    with pytest.raises(ReadOnlyError, match="only the presenter can start"):
        dash.runner.start()  # a mirror has no commands; the page says why
    assert isinstance(dash.runner, ReadOnlyRunner)
    for button in (c.pause_button, c.step_button, c.reset_button):  # forged clicks and settings
        click(button)
        assert "only the presenter" in c.error.object and c.error.visible
    c.widgets["optimizer"].value = "sgd"
    assert m.hyper["optimizer"] == runner.hyper["optimizer"] == "adadelta"
    dash.refresh(everything=True)
    assert dash.state.stats["examples"] == 32 and c.widgets["optimizer"].value == "adadelta"


def test_a_viewers_presenter_layout_follows_the_presenters_section(runner):
    lecture = Lecture(viewer_port=1)
    presenter = Presenter(Dashboard(runner, cadence=EVERY_TICK))
    presenter.on_slide = lecture.set_slide
    presenter.layout()
    conn, other = multiprocessing.Pipe()
    publisher = Publisher(runner, conn, lecture)
    m = MirrorRunner()
    deliver(publisher, other, m)  # the viewers' process serves pages only after its first message
    viewer = Presenter(Dashboard(m, cadence=EVERY_TICK, role="viewer"), follow=m.presenter_slide)
    page = viewer.layout()
    assert viewer.keys not in page.objects and viewer.next_button not in page.select(type(viewer.next_button))
    presenter.handle("right")
    presenter.handle("right")
    assert lecture.slide == 2
    deliver(publisher, other, m)
    viewer.dash.refresh()
    assert viewer.index == 2 and viewer.dash.shown == set(SLIDES[2][1])
    assert SLIDES[2][0] in viewer.title.object
    presenter.handle("left")
    deliver(publisher, other, m)
    viewer.dash.refresh()
    assert viewer.index == 1
    other.send(("watch", True))  # the viewers' process says its pages show the visualisation
    publisher.receive()
    assert publisher.watch_vis


def test_the_presenters_server_sends_viewers_to_theirs(runner, monkeypatch):
    import panel as pn

    from app.views.goto import GoTo

    lecture = Lecture(token="tok", viewer_port=5999)
    app = create_app(runner, lecture=lecture)
    monkeypatch.setattr(type(pn.state), "session_args", property(lambda self: {"presenter": [b"wrong"]}))
    page = app()
    goto = page.select(GoTo)
    assert len(goto) == 1 and goto[0].port == 5999 and not hasattr(page, "dashboard")
    assert lecture.urls("127.0.0.1", 5006) == ("http://127.0.0.1:5006/?presenter=tok", "http://127.0.0.1:5999/")


def test_the_viewers_server_runs_in_its_own_process(runner):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lecture = Lecture(viewer_port=port)
    relay = start_relay(runner, lecture, "127.0.0.1", port, ["127.0.0.1:%d" % port])
    try:
        assert relay.process.is_alive() and relay.process.pid != multiprocessing.current_process().pid
        page = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=60).read().decode()
        assert "ConvNet Playground" in page
        with pytest.raises(RelayError, match="cannot serve the viewers"):  # the port is taken now
            start_relay(runner, lecture, "127.0.0.1", port, ["127.0.0.1:%d" % port])
        relay.process.kill()  # the viewers' process dies: this server takes the viewers back
        relay.process.join(10)
        relay.publisher.join(10)
        assert lecture.viewer_port is None and not relay.publisher.is_alive()
    finally:
        relay.stop()
    assert not relay.process.is_alive()
