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


def _update(feed, runner):
    out = {}
    feed.update(runner.snapshot(), out, _Blob())
    return out.get("timeline")


def test_the_timeline_slider_shows_a_stored_checkpoint_while_training_goes_on(runner):
    runner.apply_spec(TINY)
    feed = TimelineFeed(runner)
    runner.start()
    for _ in range(30):
        runner.tick()
    t = _update(feed, runner)
    checkpoints = t["checkpoints"]
    assert checkpoints[0] == 0 and checkpoints[-1] == 30 * 16 and t["view"] is None and "weights" not in t
    assert _update(feed, runner) is None  # nothing new, nothing sent
    at = checkpoints[2]
    assert feed.command("timeline_view", {"examples": at + 1}) == {"queued": at + 1}
    runner.tick()  # the command applied, the moment's pictures made, a step trained
    t = _update(feed, runner)
    assert t["view"] == at and t["ready"] and t["filters_sha"] == t["shown_sha"]
    _, params = runner.timeline.at(at)
    stored = dict(zip(runner.net.params().keys(), params))["conv1.weight"]
    np.testing.assert_array_equal(t["weights"], stored)  # the checkpoint's own, as stored
    assert not np.array_equal(t["weights"], runner.net.params()["conv1.weight"])  # not the live net's
    _, vis = runner.vis()
    np.testing.assert_array_equal(vis["layers"][1]["weight"], stored)  # what the page draws
    assert vis["examples"] == at
    for _ in range(3):
        runner.tick()
    t = _update(feed, runner)
    assert t["view"] == at and "weights" not in t and t["checkpoints"][-1] == runner.snapshot()["examples"] == 34 * 16
    feed.command("timeline_branch", {})
    runner.tick()
    t = _update(feed, runner)
    assert t["view"] is None and t["checkpoints"][0] == at  # a new run from the checkpoint
    _, runs = runner.runs_view()
    assert runs[-1]["settings"]["source"].startswith("branch of run")
