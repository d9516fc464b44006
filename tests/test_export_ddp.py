"""Continue on a distributed engine: the exported train_ddp.py under
`torchrun --nproc_per_node 2` (gloo, loopback only) trains on a small folder of PNGs; both
replicas hold identical weights after every step (a SHA-256 of each rank's parameters per
step), the loss falls, and the weights it saves come back into our engine, which evaluates
them as torch did. The script's defaults are the run the snapshot came from.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from folders import image_folder

from engine import read_snapshot
from engine.cli import main
from engine.export import export_pytorch

torch = pytest.importorskip("torch")

SPEC = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 6, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 4, "stride": 4},
    {"type": "fc", "out_features": 12, "activation": "relu"},
    {"type": "softmax", "num_classes": 3},
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A snapshot trained here for an epoch, exported, then trained on by 2 DDP processes."""
    root = tmp_path_factory.mktemp("ddp")
    image_folder(root / "imgs", 3, per_class=16, test_per_class=4, seed=2)
    (root / "spec.json").write_text(json.dumps(SPEC))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVNET_CACHE_DIR", str(root / "cache"))
        args = ["train", "--data", root / "imgs", "--net", root / "spec.json", "--epochs", "1", "--batch", "8"]
        args += ["--lr", "0.01", "--lr-decay", "none", "--weight-decay", "0.0001", "--backend", "numpy"]
        assert main([str(a) for a in args + ["--save", root / "snap.npz"]]) == 0
    snap = read_snapshot(str(root / "snap.npz"))
    export_pytorch(snap, root / "pt", "tiny")

    env = dict(os.environ, MASTER_ADDR="127.0.0.1", PYTHONPATH="")
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # gloo would otherwise pick the interface of the host name
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2"]
    cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:%d" % free_port()]
    cmd += [str(root / "pt" / "train_ddp.py"), "--data", str(root / "imgs"), "--epochs", "3"]
    cmd += ["--checksum-log", str(root / "steps")]
    proc = subprocess.run(cmd, cwd=str(root), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    logs = [[json.loads(line) for line in (root / ("steps.rank%d.jsonl" % r)).read_text().splitlines()] for r in (0, 1)]
    return root, snap, rows, logs, proc


def test_the_script_continues_the_run_it_came_from(run):
    root, snap, _, _, _ = run
    text = (root / "pt" / "train_ddp.py").read_text()
    assert '"optimizer": "adam",' in text and '"batch": 8,' in text and '"lr": 0.01,' in text
    assert '"weight_decay": 0.0001,' in text and '"lr_decay": "none",' in text and '"augment": True,' in text


def test_both_replicas_hold_the_same_weights_after_every_step(run):
    _, _, _, logs, _ = run
    assert [row["step"] for row in logs[0]] == [row["step"] for row in logs[1]] == list(range(1, 10))
    for a, b in zip(*logs):
        assert a["sha"] == b["sha"], "step %d: the replicas' weights differ" % a["step"]
    assert logs[0][0]["loss"] != logs[1][0]["loss"]  # each rank trains on its own share of the data
    assert len({row["sha"] for row in logs[0]}) == 9  # and the weights move


def test_the_loss_falls(run):
    _, _, rows, logs, _ = run
    losses = np.mean([[row["loss"] for row in log] for log in logs], axis=0)  # mean over the ranks
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert losses[-3:].mean() < losses[:3].mean(), losses


def test_the_weights_come_back_and_evaluate_as_in_torch(run, capsys, monkeypatch):
    root, snap, rows, _, _ = run
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(root / "cache"))
    trained = root / "pt" / "trained.safetensors"
    assert main(["import-torch", str(trained), "--out", str(root / "back.npz")]) == 0
    back = read_snapshot(str(root / "back.npz"))
    assert back.spec == snap.spec and back.classes == snap.classes
    assert any(not np.array_equal(back.arrays[k], v) for k, v in snap.arrays.items() if not k.startswith("optim."))
    capsys.readouterr()
    for source in (root / "back.npz", trained):  # eval reads the .safetensors as well
        assert main(["eval", str(source), "--data", str(root / "imgs"), "--backend", "numpy", "--json"]) == 0
        ours = json.loads(capsys.readouterr().out)
        assert ours["n"] == 12 and ours["test_acc"] == pytest.approx(rows[-1]["test_acc"], abs=1.5 / 12)
