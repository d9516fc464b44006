"""ONNX export: onnxruntime (a test-only dependency, like torch) runs the exported graph and
gives our probabilities to 1e-5, for every layer type, every preset, ConvNetJS's trained
CIFAR-10 snapshot and our own pretrained one on 100 real test images. The graph passes
onnx.checker, takes uint8 NHWC images and says so, with the class names in its metadata;
the CLI writes it and refuses a user's mistakes in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from export_nets import (
    ALL_LAYERS,
    CONVNETJS,
    PRETRAINED,
    cheap_snapshot,
    cifar_test_images,
    random_images,
    random_snapshot,
)

from engine import PRESETS, get_preset, read_snapshot
from engine.export.onnx_model import onnx_bytes

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def run_onnx(data, images):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # two cores, shared: one thread each for ORT and us
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as exported
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"image": images})[0]


def ours(snap, images):
    return snap.build("numpy").predict(images)


def test_every_layer_type_matches_our_forward():
    snap = random_snapshot(ALL_LAYERS, classes=["a", "b", "c", "d"])
    images = random_images((10, 7, 3), 16)
    probs = run_onnx(onnx_bytes(snap, "all-layers"), images)
    expected = ours(snap, images)
    assert probs.shape == (16, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-5)
    assert np.abs(probs - expected).max() < 1e-6  # float32 rounding, not a layout slip


@pytest.mark.parametrize("name", sorted(set(PRESETS) - {"alexnet", "vgg16"}))
def test_small_presets_match_our_forward(name):
    snap = random_snapshot(get_preset(name))
    images = random_images(snap.build().input_shape, 8, seed=1)
    np.testing.assert_allclose(run_onnx(onnx_bytes(snap, name), images), ours(snap, images), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_alexnet_matches_our_forward():
    snap = cheap_snapshot(get_preset("alexnet"))
    image = random_images((227, 227, 3), 1, seed=2)
    np.testing.assert_allclose(run_onnx(onnx_bytes(snap, "alexnet"), image), ours(snap, image), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_vgg16_builds_checks_and_runs():
    # 553 MB of weights, all zero here: random ones would only add seconds to a test of the
    # graph's structure (the smaller nets above check the arithmetic with the same layer types).
    # Zero scores give every one of the 1000 classes the same probability.
    snap = cheap_snapshot(get_preset("vgg16"), zeros=True)
    probs = run_onnx(onnx_bytes(snap, "vgg16"), random_images((224, 224, 3), 1, seed=3))
    assert probs.shape == (1, 1000)
    np.testing.assert_allclose(probs, 1e-3, rtol=1e-5)


def test_graph_is_documented_and_named_like_our_layers():
    snap = random_snapshot(ALL_LAYERS, classes=["cat", "dog", "émeu", 'say "hi"'])
    model = onnx.load_from_string(onnx_bytes(snap, "all-layers"))
    (inp,) = model.graph.input
    assert inp.name == "image" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 10, 7, 3]  # NHWC
    (out,) = model.graph.output
    assert out.name == "probabilities" and out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["classes"]) == ["cat", "dog", "émeu", 'say "hi"']
    assert json.loads(props["spec"]) == snap.spec
    assert json.loads(props["preprocess"]) == snap.meta["preprocess"]
    assert "NHWC" in props["input_layout"] and "uint8" in props["input_layout"]
    ops = [n.op_type for n in model.graph.node]
    assert ops[:4] == ["Cast", "Mul", "Add", "Transpose"]  # the preprocessing is inside the graph
    assert ops[-1] == "Softmax" and {"Conv", "MaxPool", "Relu", "Tanh", "Sigmoid", "Dropout", "Gemm"} <= set(ops)
    names = {i.name for i in model.graph.initializer}
    assert {"conv1.weight", "conv1.bias", "fc1.weight", "fc2.bias"} <= names
    onnx.checker.check_model(model, full_check=True)


REAL = cifar_test_images(100)
needs_real_images = pytest.mark.skipif(
    REAL is None, reason="the shared CIFAR-10 JPEG test images (../shared/datasets/cifar10-jpeg) are not here"
)


@needs_real_images
@pytest.mark.parametrize("path", [CONVNETJS, PRETRAINED], ids=["convnetjs", "pretrained"])
def test_trained_snapshots_on_real_images(path):
    snap = read_snapshot(str(path))
    probs = run_onnx(onnx_bytes(snap, path.stem), REAL)
    expected = ours(snap, REAL)
    diff = np.abs(probs - expected).max()
    assert diff < 1e-5, "max abs difference onnxruntime vs ours: %g" % diff
    assert (probs.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.99


def test_cli_writes_the_model_and_refuses_mistakes_in_one_line(tmp_path):
    def engine(*args):
        return subprocess.run(
            [sys.executable, "-m", "engine", *map(str, args)],
            cwd=str(REPO),
            capture_output=True,
            text=True,
            timeout=120,
        )

    r = engine("export", CONVNETJS, "--to", "onnx", "--out", tmp_path / "net.onnx")
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(tmp_path / "net.onnx"))
    assert model.graph.output[0].name == "probabilities"
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]  # no temp file left
    for args, words in [
        (("export", tmp_path / "none.npz", "--to", "onnx"), "none.npz"),
        (("export", CONVNETJS, "--to", "tflite"), "--to"),
        (("export", CONVNETJS), "--to"),
        (("export", CONVNETJS, "--to", "onnx", "--out", tmp_path / "no" / "such" / "x.onnx"), "cannot write"),
    ]:
        r = engine(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert words in lines[0], lines[0]
