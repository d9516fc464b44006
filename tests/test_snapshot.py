"""Snapshots: exact round trips of weights and optimizer state, and every broken file refused
with a SnapshotError (never a traceback of another type): truncated, bit-flipped, random
bytes, an .npz that is not ours, NaN, wrong shapes, malformed metadata, broken ConvNetJS JSON.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import SHARED

from engine import Net, Optimizer, SnapshotError, Trainer, load_snapshot, read_snapshot, save_snapshot, snapshot_bytes
from engine.convnetjs import convnetjs_to_snapshot

SPEC = [
    {"type": "input", "shape": [8, 8, 3]},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "fc", "out_features": 6, "activation": "tanh"},
    {"type": "dropout", "p": 0.1},
    {"type": "softmax", "num_classes": 3},
]
CLASSES = ["cat", "dog", "bird"]


def batch(seed):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (5, 8, 8, 3)).astype(np.uint8), rng.randint(0, 3, 5)


def trained(name="adam", dtype=np.float32, steps=3):
    net = Net(SPEC, seed=1, dtype=dtype, preprocess={"scale": 1 / 128, "shift": -1.0})
    opt = Optimizer(name, weight_decay=1e-3)
    trainer = Trainer(net, opt, batches=None)
    for i in range(steps):
        trainer.step(batch(i))
    assert net.layers[6].type == "dropout"
    return net, opt


def npz_arrays(data):
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite(data, meta=None, drop=(), **arrays):
    """The snapshot bytes with metadata fields or arrays replaced."""
    a = npz_arrays(data)
    m = json.loads(a["__meta__"].tobytes().decode("utf-8"))
    m.update(meta or {})
    a["__meta__"] = np.frombuffer(json.dumps(m).encode("utf-8"), dtype=np.uint8)
    a.update(arrays)
    for k in drop:
        del a[k]
    buf = io.BytesIO()
    np.savez(buf, **a)
    return buf.getvalue()


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "adam"])
def test_round_trip_is_exact_for_weights_and_optimizer_state(tmp_path, name):
    net, opt = trained(name)
    path = tmp_path / "snap.npz"
    save_snapshot(str(path), net, opt, classes=CLASSES, info={"epoch": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["snap.npz"]  # no temp file left behind

    opt2 = Optimizer(name)
    net2, snap = load_snapshot(str(path), optimizer=opt2)
    assert snap.classes == CLASSES and snap.meta["info"] == {"epoch": 2}
    assert net2.spec() == net.spec() and net2.preprocess == net.preprocess
    for k, v in net.params().items():
        assert net2.params()[k].dtype == v.dtype
        np.testing.assert_array_equal(net2.params()[k], v, err_msg=k)
    assert opt2.steps == opt.steps and opt2.hyper() == opt.hyper()
    assert sorted(opt2.state) == sorted(opt.state)
    for k, v in opt.state.items():
        np.testing.assert_array_equal(opt2.state[k], v, err_msg=k)

    # Training on from the snapshot is the same as training on from the original.
    x, y = batch(9)
    for n, o in ((net, opt), (net2, opt2)):
        n.layers[6].rng = np.random.RandomState(0)  # the same dropout mask for both
        n.loss(n.prepare(x), y, train=True)
        o.step(n.params(), n.grads(), n.decay_mults())
    for k, v in net.params().items():
        np.testing.assert_array_equal(net2.params()[k], v, err_msg=k)


def test_load_from_bytes_and_file_objects_in_float64():
    net, opt = trained("adam", dtype=np.float64)
    data = snapshot_bytes(net, opt)
    x, _ = batch(3)
    for source in (data, bytearray(data), io.BytesIO(data)):
        net2, _ = load_snapshot(source, dtype=np.float64)
        for k, v in net.params().items():
            assert net2.params()[k].dtype == np.float64
            np.testing.assert_array_equal(net2.params()[k], v, err_msg=k)
        np.testing.assert_array_equal(net2.predict(x), net.predict(x))


def test_a_snapshot_without_optimizer_and_one_for_another_optimizer():
    net, opt = trained("adam")
    net2, snap = load_snapshot(snapshot_bytes(net))
    assert snap.meta["optimizer"] is None and snap.classes is None
    other = Optimizer("sgd")
    load_snapshot(snapshot_bytes(net, opt), optimizer=other)
    assert other.state == {} and other.steps == 0  # adam's state is not forced onto sgd


# -- broken files ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good():
    net, opt = trained("adam")
    return snapshot_bytes(net, opt)


def refuses(source, *fragments):
    with pytest.raises(SnapshotError) as info:
        load_snapshot(source, optimizer=Optimizer("adam"))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_every_truncation_is_refused(good):
    for cut in list(range(0, 200, 7)) + list(range(200, len(good), 331)) + [len(good) - 1]:
        refuses(good[:cut])


def test_flipped_bytes_are_refused_or_harmless(good):
    net, _ = load_snapshot(good)
    rng = np.random.RandomState(0)
    for pos in rng.randint(0, len(good), 200):
        data = bytearray(good)
        data[pos] ^= 0xFF
        try:
            loaded, _ = load_snapshot(bytes(data))
        except SnapshotError:
            continue
        for k, v in net.params().items():  # a flip in an unchecked zip field changes nothing
            np.testing.assert_array_equal(loaded.params()[k], v, err_msg="flip at %d" % pos)


def test_an_unknown_compression_method_is_refused(good):
    i = good.index(b"PK\x01\x02")  # the first entry of the zip's central directory
    data = bytearray(good)
    data[i + 10] ^= 0xFF  # its compression method: 0 (stored) becomes 255, which zipfile does not know
    refuses(bytes(data), "corrupt")


@pytest.mark.parametrize("prefix", [b"", b"PK", b"PK\x03\x04", b"{", b"[", b"\x93NUMPY"])
def test_random_bytes_are_refused(prefix):
    rng = np.random.RandomState(len(prefix))
    for n in (0, 1, 50, 5000):
        refuses(prefix + rng.randint(0, 256, n).astype(np.uint8).tobytes())


def test_an_npz_that_is_not_a_snapshot(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, weights=np.zeros(3))
    refuses(buf.getvalue(), "__meta__")
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(b'{"format": "something-else"}', np.uint8))
    refuses(buf.getvalue(), "not a ConvNet Playground snapshot")
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(b"\xff\xfe not json", np.uint8))
    refuses(buf.getvalue(), "metadata")
    refuses(str(tmp_path / "missing.npz"), "cannot read")


def test_pickled_object_arrays_are_refused(good):
    a = npz_arrays(good)
    a["conv1.bias"] = np.array([{"evil": 1}, None, 2, 3], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **a)
    refuses(buf.getvalue())


def test_nan_and_inf_arrays_are_refused(good):
    w = npz_arrays(good)["conv1.weight"]
    refuses(rewrite(good, **{"conv1.weight": np.full_like(w, np.nan)}), "conv1.weight", "NaN")
    refuses(rewrite(good, **{"optim.fc1.weight.m": np.full((6, 64), np.inf, np.float32)}), "NaN or infinite")


def test_wrong_shapes_missing_and_extra_arrays_are_refused(good):
    refuses(rewrite(good, **{"conv1.weight": np.zeros((4, 3, 5, 5), np.float32)}), "conv1.weight", "shape")
    refuses(rewrite(good, drop=["fc1.bias"]), "fc1.bias")
    refuses(rewrite(good, **{"conv9.weight": np.zeros(3, np.float32)}), "conv9.weight")
    refuses(rewrite(good, **{"fc1.bias": np.zeros(6, np.int32)}), "floating point")


@pytest.mark.parametrize(
    "meta",
    [
        {"version": 99},
        {"spec": [{"type": "input", "shape": [8, 8, 3]}]},
        {"spec": 5},
        {"spec": "relative/path/that/is/not/a/spec.json"},
        {"version": "1"},
        {"version": None},
        {"preprocess": "x"},
        {"preprocess": {"scale": 1.0}},
        {"optimizer": "adam"},
    ],
    ids=[
        "newer-version",
        "spec-without-softmax",
        "spec-number",
        "spec-string",
        "version-string",
        "version-null",
        "preprocess-string",
        "preprocess-without-shift",
        "optimizer-string",
    ],
)
def test_malformed_metadata_is_refused(good, meta):
    data = rewrite(good, meta=meta)
    refuses(data)
    with pytest.raises(SnapshotError):  # at load time, not later at the first prediction
        read_snapshot(data).build()


# -- ConvNetJS files ---------------------------------------------------------------------
CONVNETJS = SHARED / "peers" / "convnetjs" / "cifar10_snapshot.json"


@pytest.fixture(scope="module")
def convnetjs_json():
    return json.loads(CONVNETJS.read_text())


def test_truncated_convnetjs_files_are_refused():
    data = CONVNETJS.read_bytes()
    for cut in range(1, len(data), len(data) // 50):
        refuses(data[:cut])


@pytest.mark.parametrize("value", ["abc", None, [1, 2], {"x": 1}])
def test_convnetjs_weights_that_are_not_numbers_are_refused(convnetjs_json, value):
    # ConvNetJS writes a diverged net's NaN weights as null (JSON has no NaN).
    d = json.loads(json.dumps(convnetjs_json))
    d["layers"][1]["filters"][0]["w"]["7"] = value
    refuses(json.dumps(d).encode("utf-8"))


@pytest.mark.parametrize("change", ["drop-filter", "drop-biases", "unknown-layer", "bad-fc-inputs", "layers-not-list"])
def test_malformed_convnetjs_files_are_refused(convnetjs_json, change):
    d = json.loads(json.dumps(convnetjs_json))
    if change == "drop-filter":
        d["layers"][1]["filters"].pop()
    elif change == "drop-biases":
        del d["layers"][4]["biases"]
    elif change == "unknown-layer":
        d["layers"][2]["layer_type"] = "maxout"
    elif change == "bad-fc-inputs":
        d["layers"][10]["num_inputs"] = 321
    else:
        d["layers"] = {"0": d["layers"][0]}
    refuses(json.dumps(d).encode("utf-8"))
    with pytest.raises(SnapshotError):
        convnetjs_to_snapshot(d).build()
