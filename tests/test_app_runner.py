"""The app's Runner, driven synchronously (threaded=False, tick() by hand), and its buffers.

Synthetic data and the NumPy backend keep every test to a fraction of a second.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest

import engine
from app.core import IndexedBatches, Runner
from app.core.history import History, PredictionLog
from datasets import Batches, synthetic_dataset

CONVNETJS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "convnetjs" / "cifar10_snapshot.json"


# A small net keeps each step to milliseconds; the default net is exercised by the view tests.
TINY = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 6, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 4},
    {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2},
    {"type": "softmax", "num_classes": 10},
]


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(160, 40, 10, seed=0)


@pytest.fixture
def runner(data):
    return Runner(data, spec=TINY, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0)


def params_copy(r):
    return {k: v.copy() for k, v in r.net.params().items()}


def same_params(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_steps_publish_stats_history_predictions_and_vis(runner):
    for _ in range(3):
        ev = runner.tick()
        assert ev["event"] == "step"
    s = runner.snapshot()
    assert s["status"] == "running" and s["examples"] == 48 and s["steps"] == 3
    assert np.isfinite(s["loss"]) and 0 <= s["train_acc"] <= 1 and s["images_per_s"] > 0
    assert s["fwd_ms"] > 0 and s["bwd_ms"] > 0 and 0 <= s["val_acc"] <= 1 and 0 <= s["test_acc"] <= 1
    cols, last = runner.history_since(-1)
    assert list(cols["examples"]) == [16, 32, 48] and last == s["history_id"] == 2
    assert len(runner.history_since(last)[0]["loss"]) == 0  # nothing new: nothing resent
    items, _ = runner.predictions_since(-1)
    assert items and all(len(p["top"]) == 3 for p in items)
    version, vis = runner.vis()
    assert version > 0
    names = [row["name"] for row in vis["layers"]]
    assert names == [layer["name"] for layer in runner.net.layers_spec]
    conv1 = vis["layers"][1]
    assert conv1["act"].shape == (32, 32, 6) and conv1["weight"].shape == (6, 3, 5, 5)
    assert conv1["dweight"] is not None and np.abs(conv1["dweight"]).sum() > 0  # the last batch's gradient


def test_pause_step_start(runner):
    runner.tick()
    runner.pause()
    assert runner.snapshot()["status"] == "paused"  # at once, before the thread runs
    assert runner.tick() is None
    runner.step()
    ev = runner.tick()
    assert ev is not None and ev["step"] == 2
    assert runner.tick() is None  # exactly one batch
    runner.start()
    assert runner.tick()["step"] == 3


def test_set_hyper_applies_between_steps(runner):
    runner.tick()
    runner.set_hyper(lr=0.5, batch_size=8, weight_decay=0.0)
    assert runner.snapshot()["hyper"]["lr"] == 0.5  # published at once
    ev = runner.tick()
    assert ev["batch"] == 8 and runner.optimizer.lr == 0.5 and runner.optimizer.weight_decay == 0.0
    runner.set_hyper(optimizer="adam", lr=0.001)
    runner.tick()
    assert runner.optimizer.name == "adam" and runner.optimizer.lr == 0.001
    with pytest.raises(ValueError, match="lr"):
        runner.set_hyper(lr=float("nan"))
    with pytest.raises(ValueError, match="optimizer"):
        runner.set_hyper(optimizer="rmsprop")
    assert runner.optimizer.lr == 0.001


@pytest.mark.parametrize(
    "spec, match",
    [
        ('[{"type": "input", "shape": [32, 32, 3]}, {"type": "conv"', "not valid JSON"),
        (
            '[{"type": "input", "shape": [32, 32, 3]}, {"type": "conv", "kernel_size": 99, "out_channels": 4},'
            ' {"type": "softmax", "num_classes": 10}]',
            "does not fit",
        ),
        ('[{"type": "input", "shape": [28, 28, 1]}, {"type": "softmax", "num_classes": 10}]', "28x28x1"),
        (
            '[{"type": "input", "shape": [32, 32, 3]}, {"type": "softmax", "num_classes": 7}]',
            "7 classes but the data have 10",
        ),
        (
            '[{"type": "input", "shape": [32, 32, 3]}, {"type": "fc", "out_features": 100000}, '
            '{"type": "softmax", "num_classes": 10}]',
            "limit",
        ),
    ],
)
def test_invalid_spec_never_touches_the_net(runner, spec, match):
    runner.tick()
    before, version = params_copy(runner), runner.snapshot()["spec_version"]
    with pytest.raises(engine.SpecError, match=match):
        runner.apply_spec(spec)
    runner.pause()
    runner.tick()
    assert same_params(before, params_copy(runner)) and runner.snapshot()["spec_version"] == version


def test_apply_spec_rebuilds_and_restarts(runner):
    runner.tick()
    runner.pause()
    runner.apply_spec(
        '[{"type": "input", "shape": [32, 32, 3]}, {"type": "conv", "out_channels": 4, '
        '"kernel_size": 3, "padding": 1, "activation": "relu"}, {"type": "pool", "kernel_size": 2},'
        ' {"type": "softmax", "num_classes": 10}]'
    )
    old_run = runner.snapshot()["run_id"]
    ev = runner.tick()
    s = runner.snapshot()
    assert s["run_id"] == old_run + 1 and s["status"] == "running" and ev["step"] == 1
    assert [layer["type"] for layer in s["spec"]][:2] == ["input", "conv"] and s["spec"][1]["out_channels"] == 4
    assert list(runner.history_since(-1)[0]["examples"]) == [16]  # history started afresh


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes it diverge
def test_divergence_pauses_with_a_message_and_keeps_the_weights(runner):
    runner.set_hyper(optimizer="sgd", lr=1e30)
    for _ in range(20):
        before = params_copy(runner)
        runner.tick()
        if runner.snapshot()["status"] == "paused":
            break
    s = runner.snapshot()
    assert s["status"] == "paused" and "diverged" in s["error"] and "lower the learning rate" in s["error"]
    assert same_params(before, params_copy(runner))  # the diverging step changed nothing
    runner.set_hyper(lr=0.01)
    runner.start()
    assert runner.snapshot()["error"] == ""


def test_reset_gives_fresh_weights_from_the_seed(runner, data):
    fresh = params_copy(Runner(data, spec=TINY, backend="numpy", threaded=False))
    runner.tick()
    runner.tick()
    runner.reset()
    runner.pause()
    runner.tick()
    assert same_params(fresh, params_copy(runner)) and runner.snapshot()["examples"] == 0


def test_snapshot_round_trip_and_bad_snapshots(runner, data):
    runner.tick()
    blob = runner.snapshot_bytes()
    other = Runner(data, spec=TINY, backend="numpy", threaded=False, seed=5, running=False)
    other.load_snapshot(blob, name="saved.npz")
    other.tick()
    assert same_params(params_copy(runner), params_copy(other))
    before = params_copy(other)
    foreign = io.BytesIO()
    np.savez(foreign, w=np.zeros(3))
    for bad, match in [
        (b"garbage", "not a snapshot"),
        (blob[: len(blob) // 2], "corrupt"),
        (foreign.getvalue(), "not a ConvNet Playground snapshot"),
        (b'{"layers": 3}', "ConvNetJS"),
    ]:
        with pytest.raises(engine.SnapshotError, match=match):
            other.load_snapshot(bad)
    lenet = engine.Net(engine.get_preset("lenet5"))
    with pytest.raises(engine.SnapshotError, match="32x32x1 images but the data are 32x32x3"):
        other.load_snapshot(engine.snapshot_bytes(lenet))
    other.tick()
    assert same_params(before, params_copy(other))


def test_convnetjs_snapshot_loads(runner):
    runner.load_snapshot(CONVNETJS.read_bytes(), name="cifar10_snapshot.json")
    runner.pause()
    runner.tick()
    s = runner.snapshot()
    assert s["net_source"] == "cifar10_snapshot.json" and [row["name"] for row in s["spec"]][1] == "conv1"
    probs = runner.infer(np.zeros((2, 32, 32, 3), np.uint8))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_without_data_the_net_can_still_be_inspected():
    r = Runner(None, backend="numpy", threaded=False)
    assert r.snapshot()["status"] == "no data"
    assert r.tick() is None
    assert r.vis()[1]["caption"].startswith("a grey image")
    r.set_vis_example(np.full((32, 32, 3), 200, np.uint8), caption="mine")
    r.tick()
    assert r.vis()[1]["caption"] == "mine"
    assert r.infer(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 10)

    def fail():
        raise ValueError("No CIFAR-10 data found: pass --data PATH")

    r.load_data(fail)
    r.tick()
    s = r.snapshot()
    assert s["status"] == "no data" and "--data PATH" in s["data_error"]


def test_threaded_commands_return_at_once(data):
    r = Runner(data, spec=TINY, backend="numpy", batch_size=32).start_thread()
    try:
        deadline = time.monotonic() + 30
        while r.snapshot()["examples"] < 64 and time.monotonic() < deadline:
            time.sleep(0.05)
        r.pause()  # returns at once: the thread applies it between steps
        assert r.snapshot()["status"] == "paused"
        # The step in flight (if any) ends before the thread runs a call: after it, no more steps.
        r.call(lambda runner: None)
        n = r.snapshot()["examples"]
        time.sleep(1.0)
        assert r.snapshot()["examples"] == n
        assert r.snapshot_bytes()[:2] == b"PK"  # taken by the thread between steps
    finally:
        r.stop()


def test_history_stays_bounded_and_spans_the_run():
    h = History(capacity=8)
    seen = []
    last = -1
    for i in range(1000):
        h.offer(examples=i, loss=1.0 / (i + 1))
        cols, newest = h.since(last)
        seen.extend(cols["examples"])
        last = newest
        assert h.n <= 8
    assert h.cols["examples"][0] == 0 and h.cols["examples"][h.n - 1] >= 1000 - h.stride  # spans the run
    assert seen == sorted(seen) and len(seen) < 100  # streamed once each, and decimated


def test_predictions_ring():
    p = PredictionLog(capacity=5)
    for i in range(12):
        probs = np.eye(10)[i % 10] * 0.9 + 0.01
        p.add(i, np.zeros((32, 32, 3), np.uint8), i % 10 if i % 2 else 0, probs)
    items, oldest = p.since(-1)
    assert [x["id"] for x in items] == [7, 8, 9, 10, 11] and oldest == 7
    assert p.since(9)[0][0]["id"] == 10 and 0 < p.accuracy < 1


def test_the_batch_source_names_the_rows_of_each_batch(data):
    """IndexedBatches gives the batches datasets.Batches gives, epoch after epoch, and their rows."""
    rows = np.arange(3, len(data.train_y), 2)
    mine = IndexedBatches(data.train_x, data.train_y, 16, seed=5, indices=rows)
    theirs = Batches(data.train_x, data.train_y, 16, seed=5, indices=rows)
    for step in range(2 * len(theirs) + 1):  # past two epochs' reshuffles and a short last batch
        if step == 4:
            mine.batch_size = theirs.batch_size = 7
        (xb, yb), (xt, yt) = mine.next_batch(), theirs.next_batch()
        assert np.array_equal(xb, xt) and np.array_equal(yb, yt)
        assert np.array_equal(xb, data.train_x[mine.last_rows]) and np.isin(mine.last_rows, rows).all()
        assert (mine.epoch, mine.position) == (theirs.epoch, theirs.position)


def test_the_runner_trains_on_the_rows_it_names(runner, data):
    runner.step()
    ev = runner.tick()
    net = engine.Net(TINY, backend="numpy", seed=0)
    rows = runner.batches.last_rows
    loss, _ = net.loss(net.prepare(data.train_x[rows]), data.train_y[rows])
    assert len(rows) == 16 and ev["loss"] == pytest.approx(loss, abs=1e-6)


def test_validation_and_test_images_stream_in_a_shuffled_order():
    # an image folder comes sorted by class: the running accuracies' windows must each see
    # every class from the start, not the first class or two (runner_net._make_batches)
    ds = synthetic_dataset(1000, 200, 10, seed=0)
    order = np.argsort(ds.train_y, kind="stable")
    ds.train_x, ds.train_y = ds.train_x[order], ds.train_y[order]
    ds.test_x, ds.test_y = ds.test_x[np.argsort(ds.test_y, kind="stable")], np.sort(ds.test_y)
    r = Runner(ds, spec=TINY, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0)
    assert sorted(r._val_idx.tolist()) == list(range(0, 1000, 10))  # still every 10th image
    assert len(set(ds.train_y[r._val_idx[:32]].tolist())) >= 6
    assert len(set(ds.test_y[r._test_order[:32]].tolist())) >= 6
