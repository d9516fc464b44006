"""Undo (app/core/runner_undo.py) and Runner.call's cancellation on a timeout.

Reset, loading a snapshot and applying a spec keep the net and optimizer they replace; one
Undo brings back those very objects (weights and optimizer state, bit for bit), a second one
redoes. The controls show the button to a presenter only; a viewer's runner refuses undo.
"""

from __future__ import annotations

import pytest
from test_app_runner import TINY, params_copy, same_params

import engine
from app.core import Runner
from app.dashboard import EVERY_TICK, Dashboard
from app.lecture import ReadOnlyRunner
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(160, 40, 10, seed=0)


@pytest.fixture
def runner(data):
    r = Runner(data, spec=TINY, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0)
    for _ in range(3):
        r.tick()  # trained a little: weights and optimizer state differ from a fresh net's
    r.pause()  # no step in the ticks below but those that apply the commands
    return r


def trained_state(r):
    return params_copy(r), r.optimizer, r.optimizer.steps


def back(r, state):
    params, optimizer, steps = state
    return same_params(params_copy(r), params) and r.optimizer is optimizer and r.optimizer.steps == steps


def test_nothing_to_undo_at_first(data):
    r = Runner(data, spec=TINY, backend="numpy", threaded=False)
    assert not r.snapshot()["can_undo"]
    with pytest.raises(ValueError, match="nothing to undo"):
        r.undo()


def test_undo_a_reset_and_redo_it(runner):
    before = trained_state(runner)
    runner.reset()
    runner.tick()
    assert not same_params(params_copy(runner), before[0])
    reset = params_copy(runner)
    assert runner.snapshot()["can_undo"] and runner.snapshot()["undo_what"] == "reset"
    runner.undo()
    runner.tick()
    assert back(runner, before)
    runner.undo()  # a second Undo brings the reset net back
    runner.tick()
    assert same_params(params_copy(runner), reset)


def test_undo_a_snapshot(runner):
    before = trained_state(runner)
    other = engine.Net(TINY, seed=7)
    runner.load_snapshot(engine.snapshot_bytes(other), name="other.npz")
    runner.tick()
    assert same_params(params_copy(runner), other.params())
    runner.undo()
    runner.tick()
    assert back(runner, before)


def test_undo_a_spec_brings_the_net_and_its_settings_back(runner):
    runner.set_hyper(optimizer="sgd", lr=0.01)
    runner.tick()
    before = trained_state(runner)
    spec = runner.net.spec()
    runner.apply_spec(TINY[:1] + TINY[3:])
    runner.tick()  # a new spec starts training: one step of the new net
    assert runner.net.spec() != spec
    runner.pause()
    runner.undo()
    runner.tick()
    assert runner.net.spec() == spec
    assert back(runner, before)
    assert runner.snapshot()["hyper"]["optimizer"] == "sgd"


def test_a_viewer_cannot_undo(runner):
    runner.reset()
    runner.tick()
    with pytest.raises(PermissionError):
        ReadOnlyRunner(runner).undo()


def test_the_undo_button_is_the_presenters(runner):
    dash = Dashboard(runner, cadence=EVERY_TICK)
    button = dash.controls.undo_button
    dash.refresh()
    assert button.visible and button.disabled
    dash.controls.reset_button.clicks += 1
    runner.tick()
    dash.refresh()
    assert not button.disabled and "reset" in button.label.lower()
    before = params_copy(runner)
    button.clicks += 1
    runner.tick()
    assert not same_params(params_copy(runner), before)
    viewer = Dashboard(runner, cadence=EVERY_TICK, role="viewer")
    assert not viewer.controls.undo_button.visible


def test_a_call_that_times_out_never_runs_later(data):
    # A threaded runner whose thread has not started: nothing answers, the call times out.
    r = Runner(data, spec=TINY, backend="numpy", threaded=True, running=False)
    ran = []
    with pytest.raises(TimeoutError, match="cancelled"):
        r.call(lambda r: ran.append(1), timeout=0.01)
    r.tick()  # what the thread would do next: run the queued commands
    assert ran == []
