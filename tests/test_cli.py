"""`python -m engine summary | train | eval | bench`, run as a user runs them: in a subprocess.

The contracts are docs/ARCHITECTURE.md's ("Contracts": flags, JSON fields). A user mistake ends
in one line on stderr ("error: ...") and exit status 2, never a traceback. Train and eval run
on a tiny folder of generated PNGs; the bench on one batch size for a fraction of a second (its
figures are not checked here: they are the bench's to report, never a test's to assert).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def engine(*args, cache, timeout=300):
    env = dict(os.environ, CONVNET_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    env.pop("CONVNET_DATA", None)
    return subprocess.run(
        [sys.executable, "-m", "engine", *map(str, args)],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def user_error(result, *words):
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path):
    """train/<class>/*.png and test/<class>/*.png: 3 classes of random 32x32 pictures."""
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for split, n in (("train", 8), ("test", 4)):
        for c in ("ant", "bee", "cat"):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(d / ("%d.png" % i))
    return root


def test_summary_json_of_vgg16_has_the_contract_fields_and_the_slide_total(cache):
    r = engine("summary", "vgg16", "--json", "--batch", "2", cache=cache)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("net", "input", "layers", "total_params", "total_activations", "bytes"):
        assert key in out, key
    assert out["input"] == [224, 224, 3] and out["total_params"] == 138_357_544
    first = out["layers"][1]
    assert {"name", "type", "output", "weights", "biases", "params", "activations"} <= set(first)
    assert first["output"] == [224, 224, 64]
    # a conv or fc and its ReLU are one row, one array; the softmax keeps its probabilities
    assert first["relu"] == "relu1" and out["total_activations"] == 15_237_608 + 1000
    r = engine("summary", "vgg16", "--relu-rows", "--backend", "numba", cache=cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("not stored") == 15 and "15,238,608" in r.stdout and "numba backend" in r.stdout


def test_summary_table_and_input_override(cache):
    r = engine("summary", "convnetjs-cifar10", "--input", "64x64x3", cache=cache)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[2:] if line.strip()}
    assert rows["input"][2] == "64x64x3" and rows["conv1"][2] == "64x64x16" and rows["conv1"][3] == "1,216"


@pytest.mark.parametrize(
    "args,words",
    [
        (["summary", "no-such-net"], ["unknown net", "no-such-net"]),
        (["summary", "lenet5", "--input", "32by32"], ["--input", "32by32"]),
        (["train", "--data", "/nonexistent/cifar"], ["/nonexistent/cifar"]),
        (["eval", "/nonexistent/snap.npz", "--data", "/nonexistent/cifar"], ["/nonexistent/snap.npz"]),
        (["bench", "--backends", "numba,cuda", "--batches", "1"], ["cuda"]),
        (["bench", "--batches", "1,x"], ["--batches"]),
        (["bench", "--rounds", "0", "--batches", "1"], ["--rounds"]),
    ],
    ids=["unknown-net", "bad-input", "no-data", "no-snapshot", "bad-backend", "bad-batches", "bad-rounds"],
)
def test_a_user_mistake_is_one_line_and_exit_2(cache, args, words):
    user_error(engine(*args, cache=cache), *words)


def test_a_malformed_spec_file_is_named(cache, tmp_path):
    spec = tmp_path / "net.json"
    layers = [
        {"type": "input", "shape": [4, 4, 3]},
        {"type": "conv", "out_channels": 2, "kernel_size": 9},
        {"type": "softmax", "num_classes": 3},
    ]
    spec.write_text(json.dumps(layers))
    user_error(engine("summary", spec, cache=cache), "conv")
    spec.write_text("{not json")
    user_error(engine("summary", spec, cache=cache))


def test_train_then_eval_a_snapshot_on_an_image_folder(cache, folder, tmp_path):
    snap = tmp_path / "snap.npz"
    r = engine("train", "--data", folder, "--epochs", "2", "--batch", "4", "--json", "--save", snap, cache=cache)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        assert set(row) == {"epoch", "train_loss", "train_acc", "test_acc", "images_per_s", "seconds"}
        assert np.isfinite(row["train_loss"]) and 0 <= row["test_acc"] <= 1 and row["images_per_s"] > 0
    assert snap.exists()
    r = engine("eval", snap, "--data", folder, "--json", cache=cache)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"test_acc", "n", "seconds", "per_class"} and out["n"] == 12
    assert out["test_acc"] == pytest.approx(rows[-1]["test_acc"])  # the snapshot is the trained net


def test_eval_of_a_corrupt_snapshot_is_a_user_error(cache, folder, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    user_error(engine("eval", bad, "--data", folder, cache=cache))


def test_bench_json_has_rates_and_paired_ratios(cache):
    r = engine(
        "bench",
        "--backends",
        "numba,torch",
        "--batches",
        "2",
        "--seconds",
        "0.6",
        "--rounds",
        "3",
        "--json",
        cache=cache,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"cpu", "threads", "results"} <= set(out) and out["rounds"] == 3
    from engine.fast import numpy_threads

    assert out["blas"] == numpy_threads.openblas_config()  # the same NumPy here: the same OpenBLAS
    rows = {x["backend"]: x for x in out["results"]}
    assert set(rows) == {"numba", "torch"}
    for row in rows.values():
        assert row["batch"] == 2 and row["train_images_per_s"] > 0 and row["infer_images_per_s"] > 0
    assert rows["numba"]["train_ratio_to_torch"] > 0 and "train_ratio_to_torch" not in rows["torch"]


def test_cpu_time_runs_pytorch_on_one_thread_without_numba_too():
    """--cpu-time divides by CPU time: a second PyTorch thread would count against PyTorch
    (numpy against torch once printed 5.45x for rates of 0.51x)."""
    import torch

    from engine import bench

    before = torch.get_num_threads()
    try:
        out = bench.run_bench(("numpy", "torch"), (1,), seconds_per_case=0.05, rounds=1, clock="cpu")
        assert out["threads"] == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
        bench._clock = bench._CLOCK["wall"]


def test_paired_ratio_is_the_median_of_side_by_side_windows():
    from engine.bench import paired_ratio

    # Each peer's best window (4 and 8) came in a different phase of the machine: their
    # ratio would say 0.5; side by side, round by round, the first was twice as fast twice.
    assert paired_ratio([4.0, 2.0, 2.0], [8.0, 1.0, 1.0]) == 2.0
    assert paired_ratio([3.0, 1.0, 2.0], [1.0, 1.0, 4.0]) == 1.0  # ratios 3, 1, 0.5
    assert paired_ratio([2.0, 6.0], [1.0, 2.0]) == 2.5  # an even count: the mean of the middle two


def test_train_gives_the_numba_pool_short_spins(cache, folder):
    """`engine train` shares its cores with whatever else runs: its OpenMP pool gets the app's
    short spin count (engine.fast.share_cores_with_a_server), set before the pool loads."""
    code = (
        "import sys, engine.cli, engine.fast.config as k, engine.fast.parallel as p;"
        "print(k.OMP_SPINCOUNT, k.APP_OMP_SPINCOUNT, p.LAYER)"
    )
    env = dict(os.environ, CONVNET_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    run = ["import engine.cli", "engine.cli.main(sys.argv[1:])"]
    args = ["train", "--data", str(folder), "--epochs", "1", "--batch", "4"]
    r = subprocess.run(
        [sys.executable, "-c", "import sys;" + ";".join(run) + ";" + code, *args],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    spins, app_spins, layer = r.stdout.strip().splitlines()[-1].split()
    assert spins == app_spins and layer in ("omp", "tbb")
