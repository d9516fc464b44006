"""Runs to compare: every run of a session keeps its curves and settings (app/core/runs.py),
the curves overlay the earlier ones with a legend naming only what differed, the runs table
lists them, show/hide per run, and the runs download as CSV and JSON that read back the same.

Plain pytest on an unthreaded Runner over synthetic data; the Curves view without a browser."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import TINY

from app.core import Runner
from app.core.history import CURVE_COLUMNS
from app.core.runs import RunLog, differences, runs_csv, runs_from_csv, runs_from_json, runs_json
from app.views.curves import Curves
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(200, 40, 10, seed=1)


def two_runs(data):
    """Run A at lr 1, then Reset at lr 0.01: run B in progress, run A kept."""
    r = Runner(
        data, spec=TINY, backend="numpy", optimizer="sgd", lr=1.0, batch_size=16, threaded=False, eval_interval=0.0
    )
    for _ in range(6):
        r.tick()
    r.set_hyper(lr=0.01)
    r.reset()
    for _ in range(4):
        r.tick()
    return r


def test_two_runs_overlay_with_a_legend_naming_only_the_difference(data):
    r = two_runs(data)
    _, runs = r.runs_view()
    assert [x["examples"] for x in runs] == [96, 64]
    assert runs[0]["settings"]["lr"] == 1.0 and runs[1]["settings"]["lr"] == 0.01
    assert runs[1]["run"] == r.snapshot()["run_id"]
    curves = Curves()
    curves.refresh(r, r.snapshot())
    for chart, column in ((curves.loss, "loss_smooth"), (curves.accuracy, "val_acc")):
        assert [o["label"] for o in chart.overlays] == ["run %d: lr 1 → 0.01" % runs[0]["run"]]
        (o,) = chart.overlays
        assert o["x"] == runs[0]["curves"]["examples"]
        np.testing.assert_array_equal(np.array(o["y"], float), np.array(runs[0]["curves"][column], float))
    table = curves.runs.table.object
    assert table.count("<tr class=") == 2 and "(now)" in table and "0.01" in table
    # hide run A: its lines go; show it: they come back
    curves.runs.show.value = []
    assert curves.loss.overlays == [] and curves.accuracy.overlays == []
    curves.runs.show.value = [runs[0]["run"]]
    assert len(curves.loss.overlays) == 1


def test_the_runs_round_trip_through_json_and_csv(data):
    r = two_runs(data)
    _, runs = r.runs_view()
    back = runs_from_json(runs_json(runs))
    assert [x["run"] for x in back] == [x["run"] for x in runs]
    for a, b in zip(runs, back):
        assert a["settings"] == b["settings"] and a["spec"] == b["spec"] and a["examples"] == b["examples"]
        for c in CURVE_COLUMNS:
            want = [None if not math.isfinite(v) else v for v in a["curves"][c]]
            assert b["curves"][c] == want
    json.loads(runs_json(runs))  # strict JSON: no NaN
    table = runs_from_csv(runs_csv(runs))
    assert sorted(table) == [x["run"] for x in runs]
    for a in runs:
        t = table[a["run"]]
        assert t["settings"]["lr"] == repr(a["settings"]["lr"]) and t["settings"]["optimizer"] == "sgd"
        for c in CURVE_COLUMNS:
            np.testing.assert_array_equal(np.array(t["curves"][c]), np.array(a["curves"][c], float))
    with pytest.raises(ValueError, match="not a runs file"):
        runs_from_json('{"runs": []}')


def test_the_run_log_is_bounded_and_a_mid_run_change_is_noted_not_a_new_run(data):
    log = RunLog(max_runs=3)
    history = type("H", (), {"since": lambda self, i: ({c: np.arange(3.0) for c in CURVE_COLUMNS}, 2)})()
    for run in range(1, 6):
        log.begin(run, {"lr": run}, [])
        log.end(history, {"examples": 10 * run})
    assert [x["run"] for x in log.runs] == [3, 4, 5]
    log.begin(6, {"lr": 1.0}, [])
    log.end(history, {"examples": 0})  # saw nothing: not kept
    assert [x["run"] for x in log.runs] == [3, 4, 5]
    r = Runner(data, spec=TINY, backend="numpy", optimizer="sgd", lr=1.0, batch_size=16, threaded=False)
    r.tick()
    run_id = r.snapshot()["run_id"]
    r.set_hyper(lr=0.1)
    r.tick()
    assert r.snapshot()["run_id"] == run_id and r.runs.current["changes"] == [[16, "lr 1 → 0.1"]]
    assert differences({"lr": 1.0, "seed": 0}, {"lr": 1.0, "seed": 0}) == ""
