"""Resume and checkpoints: `train --resume` continues a run bit for bit (numpy backend), from
the end of an epoch and from the middle of one; Ctrl-C saves a checkpoint (SIGINT sent to a
real subprocess); --checkpoint keeps the last and the best epoch; a save that fails halfway
leaves the previous snapshot as it was, with no temp file behind.

Training runs in-process through engine.cli.main (a subprocess costs a second of imports)
on a small folder of generated PNGs, with a net that has dropout, so that every generator of
the run (batch order, augmentation, dropout masks) must be restored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from folders import image_folder

import engine.atomic
from engine import Net, Trainer, read_snapshot, save_snapshot
from engine.cli import main

SPEC = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 4, "stride": 4},
    {"type": "fc", "out_features": 8, "activation": "tanh"},
    {"type": "dropout", "p": 0.3},
    {"type": "softmax", "num_classes": 3},
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train/<class>/*.png (45 images) and test/<class>/*.png (9) of learnable pictures, and the spec."""
    root = tmp_path_factory.mktemp("resume")
    image_folder(root / "imgs", 3, per_class=15, test_per_class=3, seed=1)
    (root / "spec.json").write_text(json.dumps(SPEC))
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)


def common(folder):
    return ["--data", folder / "imgs", "--batch", "6", "--backend", "numpy", "--json"]


def train(capsys, *args):
    """(exit status, the JSON rows printed, stderr) of `python -m engine train ARGS`."""
    code = main(["train"] + [str(a) for a in args])
    out = capsys.readouterr()
    return code, [json.loads(line) for line in out.out.splitlines() if line.startswith("{")], out.err


def assert_same_run(a, b):
    """Two snapshots hold the same bits: weights, optimizer state and where the run stands."""
    a, b = read_snapshot(str(a)), read_snapshot(str(b))
    assert sorted(a.arrays) == sorted(b.arrays)
    for key, value in a.arrays.items():
        other = b.arrays[key]
        same = value.dtype == other.dtype and value.tobytes() == other.tobytes()
        assert same, "%s differs: max abs %g" % (key, np.abs(value - other).max())
    assert a.meta["optimizer"] == b.meta["optimizer"]
    for key in ("args", "steps", "examples", "batches", "dropout_rng"):
        assert a.meta["run"][key] == b.meta["run"][key], key


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in rows]


@pytest.mark.parametrize(
    "flags",
    [[], ["--optimizer", "momentum", "--lr", "0.05", "--lr-decay", "none", "--weight-decay", "0.001"]],
    ids=["adam-linear-decay", "momentum-weight-decay"],
)
def test_two_epochs_equal_one_then_resume_then_one(capsys, folder, tmp_path, flags):
    run = common(folder) + ["--net", folder / "spec.json"] + flags
    code, rows, err = train(capsys, *run, "--epochs", "2", "--save", tmp_path / "two.npz")
    assert code == 0, err
    code, first, err = train(capsys, *run, "--epochs", "1", "--save", tmp_path / "one.npz")
    assert code == 0, err
    code, second, err = train(
        capsys, "--resume", tmp_path / "one.npz", "--epochs", "2", *common(folder), "--save", tmp_path / "resumed.npz"
    )
    assert code == 0, err
    assert_same_run(tmp_path / "two.npz", tmp_path / "resumed.npz")
    assert without_timing(first + second) == without_timing(rows)
    assert rows[1]["train_loss"] < rows[0]["train_loss"]  # it trains: the run is not vacuous


def test_ctrl_c_mid_epoch_then_resume_equals_the_run_never_interrupted(capsys, folder, tmp_path, monkeypatch):
    run = common(folder) + ["--net", folder / "spec.json", "--epochs", "2"]
    assert train(capsys, *run, "--checkpoint", tmp_path / "whole", "--save", tmp_path / "whole.npz")[0] == 0

    step = Trainer.step
    calls = []

    def step_then_ctrl_c(self, batch=None):
        ev = step(self, batch)
        calls.append(1)
        if len(calls) == 9:  # epoch 2 of 7 steps, its 2nd step: the middle of an epoch
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, delivered right here
        return ev

    monkeypatch.setattr(Trainer, "step", step_then_ctrl_c)
    code, rows, err = train(capsys, *run, "--checkpoint", tmp_path / "cut")
    monkeypatch.setattr(Trainer, "step", step)
    assert code == 130 and len(rows) == 1, err
    assert "saved a checkpoint to %s" % (tmp_path / "cut" / "last.npz") in err
    cut = read_snapshot(str(tmp_path / "cut" / "last.npz"))
    assert cut.meta["run"]["batches"]["epoch"] == 1 and cut.meta["run"]["batches"]["position"] == 12
    assert cut.meta["run"]["steps"] == 9

    code, rows, err = train(
        capsys, "--resume", tmp_path / "cut" / "last.npz", *common(folder), "--save", tmp_path / "resumed.npz"
    )
    assert code == 0 and [r["epoch"] for r in rows] == [2], err
    assert_same_run(tmp_path / "whole.npz", tmp_path / "resumed.npz")


def test_sigint_to_a_training_process_saves_a_checkpoint(folder, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), CONVNET_CACHE_DIR=str(tmp_path / "cache"))
    args = [sys.executable, "-m", "engine", "train", "--net", str(folder / "spec.json"), "--epochs", "1000"]
    args += [str(a) for a in common(folder)] + ["--checkpoint", str(tmp_path / "ck")]
    proc = subprocess.Popen(args, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # an epoch is done: the loop runs, the handler is in place
        assert first.startswith("{"), proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "saved a checkpoint to" in err and "Traceback" not in err
    last = read_snapshot(str(tmp_path / "ck" / "last.npz"))
    run = last.meta["run"]
    assert run["batches"]["epoch"] >= 1 and run["steps"] >= 7
    history = run["history"]
    assert len(history) == run["batches"]["epoch"] and all("val_acc" in row for row in history)
    best = read_snapshot(str(tmp_path / "ck" / "best.npz")).meta["run"]
    top = max(row["val_acc"] for row in history)
    assert best["best"]["val_acc"] == top and history[best["best"]["epoch"] - 1]["val_acc"] == top
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["best.npz", "last.npz"]  # no temp files
    last.build()  # and it loads into a net


class Cut(Exception):
    pass


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt(), Cut()])
def test_a_save_that_fails_halfway_leaves_the_previous_snapshot(tmp_path, monkeypatch, error):
    path = tmp_path / "snap.npz"
    save_snapshot(str(path), Net(SPEC, seed=1))
    before = path.read_bytes()

    def write_half_then_fail(f, data):
        f.write(data[: len(data) // 2])
        f.flush()
        raise error

    monkeypatch.setattr(engine.atomic, "_write_all", write_half_then_fail)
    with pytest.raises(type(error)):
        save_snapshot(str(path), Net(SPEC, seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap.npz"]  # the temp file is gone
    monkeypatch.undo()
    save_snapshot(str(path), Net(SPEC, seed=2))  # and a save that works replaces it
    assert path.read_bytes() != before and read_snapshot(str(path)).spec


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--resume", "CONVNETJS"], ["holds no training run"]),
        (["--resume", "ONE", "--batch", "5"], ["--batch", "leave out"]),
        (["--resume", "ONE", "--no-augment"], ["--no-augment"]),
        (["--resume", "ONE"], ["has trained its 1 epochs", "--epochs"]),
        (["--resume", "missing.npz"], ["missing.npz"]),
    ],
    ids=["not-a-run", "other-batch", "other-augment", "finished", "missing"],
)
def test_resume_mistakes_are_one_line(capsys, folder, tmp_path, extra, words):
    from export_nets import CONVNETJS

    one = tmp_path / "one.npz"
    assert train(capsys, *common(folder), "--net", folder / "spec.json", "--epochs", "1", "--save", one)[0] == 0
    extra = [{"CONVNETJS": CONVNETJS, "ONE": one}.get(a, a) for a in extra]
    code, _, err = train(capsys, *common(folder)[:-1], *extra)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], lines[0]
