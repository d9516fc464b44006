"""`python -m engine bench --roofline`: the table's shape on a tiny run, never its numbers
(speed lives in benchmarks; docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.roofline import format_roofline, run_roofline

REPO = Path(__file__).resolve().parents[1]

# The convnetjs-cifar10 net as the roofline times it: a conv and its ReLU are one unit.
UNITS = ["conv1+relu1", "pool1", "conv2+relu2", "pool2", "conv3+relu3", "pool3", "fc1"]


@pytest.fixture(scope="module")
def tiny():
    return run_roofline(["numpy"], [2], seconds=0.01, peak_seconds=0.01)


def test_rows_per_layer_and_pass_in_the_order_they_run(tiny):
    assert tiny["peak_gflops"] > 0 and "Numba" in tiny["probe"]  # not sgemm: engine/fast/_numba_peak.py
    (case,) = tiny["results"]
    assert case["backend"] == "numpy" and case["batch"] == 2 and case["passes"] >= 3
    order = [(r["layer"], r["pass"]) for r in case["rows"]]
    expected = [(u, "forward") for u in UNITS] + [("softmax+loss", "forward")]
    assert order == expected + [(u, "backward") for u in reversed(UNITS)]
    for r in case["rows"]:
        arithmetic = r["layer"].startswith(("conv", "fc"))
        assert (r["gflops"] is not None) == arithmetic and (r["peak_fraction"] is not None) == arithmetic
        assert r["ms"] > 0 and 0 <= r["time_fraction"] <= 1
    assert sum(r["time_fraction"] for r in case["rows"]) == pytest.approx(1.0)
    # flops from the spec: conv1 forward is 2*32*32*16*5*5*3 per image; its backward has no dx
    conv1 = {r["pass"]: r["mflop"] for r in case["rows"] if r["layer"] == "conv1+relu1"}
    assert conv1["forward"] == conv1["backward"] == pytest.approx(2 * 2 * 32 * 32 * 16 * 5 * 5 * 3 / 1e6)
    conv2 = {r["pass"]: r["mflop"] for r in case["rows"] if r["layer"] == "conv2+relu2"}
    assert conv2["backward"] == pytest.approx(2 * conv2["forward"])


def test_table_names_the_peak_and_every_row(tiny):
    table = format_roofline(tiny)
    assert "fp32 peak" in table and "numpy, batch 2" in table
    assert "GFLOP/s" in table and "of peak" in table
    assert sum(line.startswith(tuple(UNITS + ["softmax+loss"])) for line in table.splitlines()) == 15


def engine(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "engine"] + list(args)
    return subprocess.run(cmd, cwd=str(REPO), env=env, capture_output=True, text=True, timeout=300)


def test_the_cli_prints_json_and_refuses_torch_alone():
    r = engine("bench", "--roofline", "--backends", "numpy", "--batches", "1", "--seconds", "0.01", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"cpu", "peak_gflops", "probe", "results"} <= set(out) and len(out["results"][0]["rows"]) == 15
    r = engine("bench", "--roofline", "--backends", "torch")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_the_passes_winograd_runs_are_marked():
    from engine.net import Net
    from engine.presets import get_preset
    from engine.roofline import NET, _units, _winograd_passes

    net = Net(get_preset(NET), backend="numba", seed=0)
    units = _units(net)
    # conv2 and conv3 forward and backward (dx, dw) at batch 64 (kernels_numba.winograd); conv1 never
    both = {(u, p) for u in ("conv2+relu2", "conv3+relu3") for p in ("forward", "backward")}
    assert _winograd_passes(net, units, 64) == both
    assert _winograd_passes(net, units, 1) == set()
    assert _winograd_passes(Net(get_preset(NET), backend="numpy", seed=0), units, 64) == set()
    row = {"layer": "conv2+relu2", "pass": "forward", "ms": 1.0, "mflop": 1.0, "gflops": 1.0}
    row.update(peak_fraction=0.5, time_fraction=1.0, winograd=True)
    case = {"backend": "numba", "batch": 64, "passes": 3, "rows": [row]}
    table = format_roofline({"cpu": "x", "peak_gflops": 2.0, "probe": "p", "results": [case]})
    assert "forward W" in table and "W: the pass runs Winograd's F(2x2, 5x5)" in table
