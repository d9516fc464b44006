"""The static site's worker feed (app/core/worker_feed.py) in CPython, on the conftest's tiny net:
runs to compare, the setup link and (with a Timeline) the checkpoints. The same code runs in
Pyodide in tests/test_static_runs_browser.py; here each behaviour is checked fast and alone."""

from __future__ import annotations

import json

import numpy as np
from conftest import TINY

from app.core.setup_link import decode_setup, encode_setup
from app.core.worker_feed import RunsFeed, TimelineFeed


def _train(runner, steps):
    runner.start()
    for _ in range(steps):
        runner.tick()
    runner.pause()


def test_a_second_run_is_named_by_what_differs_and_listed(runner):
    runner.apply_spec(TINY)
    feed = RunsFeed(runner)
    _train(runner, 3)
    out = {}
    feed.update(runner.snapshot(), out)
    assert out["runs"]["earlier"] == [] and out["runs"]["count"] == 1
    runner.set_hyper(lr=0.5)
    runner.reset()
    _train(runner, 2)
    out = {}
    feed.update(runner.snapshot(), out)
    runs = out["runs"]
    assert runs["count"] == 2 and len(runs["earlier"]) == 1
    first = runs["earlier"][0]
    assert [o["label"] for o in runs["loss"]] == ["run %d: lr 1 → 0.5" % first]
    assert runs["acc"][0]["label"] == runs["loss"][0]["label"] and len(runs["acc"][0]["x"]) == 3
    assert runs["table_html"].count("<tr") == 3  # the header and two runs
    again = {}
    feed.update(runner.snapshot(), again)
    assert "runs" not in again  # nothing changed, the table was just drawn
    csv = feed.command("runs_download", {"kind": "csv"})
    assert csv["runs"] == 2 and len(csv["text"].splitlines()) == 1 + 3 + 2
    assert len(json.loads(feed.command("runs_download", {"kind": "json"})["text"])["runs"]) == 2


def test_the_setup_link_round_trips_and_a_bad_one_changes_nothing(runner):
    feed = RunsFeed(runner)
    link = encode_setup(TINY, {"optimizer": "sgd", "lr": 0.02, "seed": 7})
    assert "error" not in feed.open_link(link)
    runner.tick()
    out = {}
    feed.update(runner.snapshot(), out)
    spec, settings = decode_setup(out["setup"])
    assert spec == runner.snapshot()["spec"] and spec[1]["out_channels"] == 6  # TINY, not the default net
    assert settings["optimizer"] == "sgd" and settings["lr"] == 0.02 and settings["seed"] == 7
    before = runner.snapshot()["run_id"]
    bad = feed.command("setup", {"setup": "not-a-setup!"})
    assert "not readable" in bad["error"]
    wrong = feed.command("setup", {"setup": encode_setup([{"type": "input", "shape": [8, 8, 3]}], {})})
    assert "cannot be used" in wrong["error"]
    runner.tick()
    assert runner.snapshot()["run_id"] == before and runner.snapshot()["hyper"]["lr"] == 0.02


class _Blob:
    """cp_worker.py's Blob as far as the feed uses it: arrays kept as they are."""

    def add(self, a, dtype):
        return np.array(a, dtype=dtype)


def test_the_timeline_keeps_checkpoints_and_shows_one_while_training_goes_on(runner):
    runner.apply_spec(TINY)
    shown = []
    feed = TimelineFeed(runner, lambda data, blob: shown.append(data) or {"caption": data["caption"]})
    runner.start()
    for _ in range(30):
        ev = runner.tick()
        feed.stepped(ev)
    out = {}
    feed.update(out)
    checkpoints = out["timeline"]["checkpoints"]
    assert checkpoints[0] == 16 and checkpoints[-1] == 30 * 16 and out["timeline"]["view"] is None
    assert out["timeline"]["nbytes"] == len(checkpoints) * runner.net.params().flat.nbytes
    at, (stored,) = feed.timeline.at(checkpoints[2])
    answer = feed.command("timeline_view", {"examples": checkpoints[2] + 1}, _Blob())
    assert answer["view"] == at == checkpoints[2] and "the net at %d examples" % at in answer["vis"]["caption"]
    (weights,) = answer["weights"].values()
    live = runner.net.params()["conv1.weight"]
    n = weights.size
    np.testing.assert_array_equal(weights.ravel(), stored[:n])  # conv1's weights lead the flat buffer
    assert not np.array_equal(weights, live)  # the past, not the live net
    np.testing.assert_array_equal(shown[-1]["layers"][1]["weight"], weights)  # what the filters draw
    for _ in range(3):
        feed.stepped(runner.tick())
    out = {}
    feed.update(out)
    assert out["timeline"]["view"] == at and out["timeline"]["checkpoints"][-1] == 33 * 16
    assert feed.command("timeline_view", {"examples": None}, _Blob()) == {"live": True}
    runner.reset()
    feed.stepped(runner.tick())
    assert feed.timeline.examples() == [16] and feed.view is None  # a new run, a new timeline
