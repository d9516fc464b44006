"""PyTorch export: torch loads the written model.py and weights.safetensors and computes our
forward to 1e-5 (every layer type, the presets, ConvNetJS's trained snapshot and our own on
100 real test images); one SGD step has our gradients and our weights after it to float32
tolerance; the generated code is formatted and passes ruff with the defaults every user
has; import-torch brings the weights back bit for bit.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from export_nets import ALL_LAYERS, CONVNETJS, PRETRAINED, cifar_test_images, random_images, random_snapshot
from safetensors import safe_open

from engine import Optimizer, get_preset, read_snapshot
from engine.export import export_pytorch
from engine.export.layout import fc_weight_to_torch, flattened_fcs, torch_arrays

torch = pytest.importorskip("torch")


def export(snap, folder, name="net"):
    export_pytorch(snap, folder, name)
    return folder


def load_module(folder):
    """model.py of an export folder as a fresh module (every export has its own)."""
    spec = importlib.util.spec_from_file_location("model_%d" % id(folder), folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_probs(folder, images):
    model = load_module(folder)
    return model.probabilities(model.load(folder / "weights.safetensors"), images).numpy()


def test_every_layer_type_matches_our_forward(tmp_path):
    snap = random_snapshot(ALL_LAYERS)
    images = random_images((10, 7, 3), 16)
    probs = torch_probs(export(snap, tmp_path), images)
    expected = snap.build().predict(images)
    assert probs.shape == (16, 4)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-5)
    assert np.abs(probs - expected).max() < 1e-6  # float32 rounding, not a layout slip


def test_the_flatten_mapping_is_not_the_identity():
    # Otherwise the test above could pass with the mapping left out: fc1 takes a 4x3x4 volume.
    assert flattened_fcs(ALL_LAYERS) == {"fc1": (4, 4, 3), "fc2": (5, 1, 1)}  # (C, H, W)
    w = np.arange(6 * 48, dtype=np.float32).reshape(6, 48)
    assert not np.array_equal(fc_weight_to_torch(w, (4, 4, 3)), w)


@pytest.mark.parametrize("name", ["convnetjs-cifar10", "lenet5", "tiny-vgg"])
def test_presets_match_our_forward(tmp_path, name):
    snap = random_snapshot(get_preset(name))
    images = random_images(snap.build().input_shape, 8, seed=1)
    np.testing.assert_allclose(
        torch_probs(export(snap, tmp_path, name), images), snap.build().predict(images), atol=1e-5
    )


REAL = cifar_test_images(100)


@pytest.mark.skipif(
    REAL is None, reason="the shared CIFAR-10 JPEG test images (../shared/datasets/cifar10-jpeg) are not here"
)
@pytest.mark.parametrize("path", [CONVNETJS, PRETRAINED], ids=["convnetjs", "pretrained"])
def test_trained_snapshots_on_real_images(tmp_path, path):
    snap = read_snapshot(str(path))
    probs = torch_probs(export(snap, tmp_path, path.stem), REAL)
    diff = np.abs(probs - snap.build().predict(REAL)).max()
    assert diff < 1e-5, "max abs difference torch vs ours: %g" % diff


def test_one_sgd_step_has_our_gradients_and_weights(tmp_path):
    snap = random_snapshot(ALL_LAYERS)
    images = random_images((10, 7, 3), 12, seed=4)
    labels = np.random.RandomState(4).randint(0, 4, 12)
    net = snap.build()
    loss, _ = net.loss(net.prepare(images), labels, train=False)  # dropout off on both sides
    grads = torch_arrays(net.spec(), net.grads())  # ours, in the module's layout
    Optimizer("sgd", lr=0.1).step(net.params(), net.grads(), net.decay_mults())

    module = load_module(export(snap, tmp_path))
    model = module.load(tmp_path / "weights.safetensors")  # eval(): dropout is the identity
    step = torch.optim.SGD(model.parameters(), lr=0.1)
    t_loss = torch.nn.functional.cross_entropy(model(module.preprocess(images)), torch.as_tensor(labels))
    t_loss.backward()
    assert t_loss.item() == pytest.approx(loss, rel=1e-6)
    for key, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[key], rtol=1e-4, atol=1e-6, err_msg=key)
    step.step()
    after = torch_arrays(net.spec(), net.params())
    for key, p in model.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), after[key], rtol=1e-5, atol=1e-6, err_msg=key)


def ruff(*args):
    return subprocess.run([sys.executable, "-m", "ruff", *args], capture_output=True, text=True, timeout=60)


def test_generated_code_is_formatted_and_passes_ruff(tmp_path):
    odd_names = [
        {"type": "input", "shape": [8, 8, 3]},
        {"type": "conv", "name": "conv-a", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "conv", "name": "a_conv_with_a_name_long_enough_to_split", "out_channels": 4, "kernel_size": 3},
        {"type": "relu", "name": "a_very_long_layer_name_that_a_student_typed_in_one_go_for_reasons"},
        {"type": "pool", "name": "flatten", "kernel_size": 2, "stride": 2},
        {"type": "softmax", "num_classes": 3},
    ]
    classes = ["class %d with a long enough name to wrap" % i for i in range(3)]
    cases = {
        "vgg16": read_snapshot_like(get_preset("vgg16")),
        "all": random_snapshot(ALL_LAYERS),
        "odd": random_snapshot(odd_names, classes=classes),
        "convnetjs": read_snapshot(str(CONVNETJS)),
    }
    for name, snap in cases.items():
        export(snap, tmp_path / name, name)
    # The user's own tools, with their defaults (88 columns) and the common rule sets.
    check = ruff("check", "--isolated", "--select", "E,F,W,I,B,UP", "--target-version", "py39", str(tmp_path))
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = ruff("format", "--isolated", "--check", "--diff", str(tmp_path))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    # Odd names still make the same state-dict keys, and a one-line-per-layer module.
    model = load_module(tmp_path / "odd")
    assert sorted(model.ConvNet().state_dict()) == sorted(cases["odd"].arrays)
    source = (tmp_path / "vgg16" / "model.py").read_text()
    assert "self.conv5_3 = nn.Conv2d(512, 512, 3, padding=1)  # (N, 512, 14, 14)" in source


def read_snapshot_like(spec):
    """A Snapshot of a spec without weights (the code generators read only the spec)."""
    from engine import Snapshot

    return Snapshot({"spec": spec, "preprocess": None, "classes": None, "info": {}}, {})


def test_import_torch_brings_the_weights_back_exactly(tmp_path):
    snap = read_snapshot(str(PRETRAINED))
    export(snap, tmp_path / "pt", "pretrained")
    weights = tmp_path / "pt" / "weights.safetensors"
    out = tmp_path / "back.npz"
    r = subprocess.run(
        [sys.executable, "-m", "engine", "import-torch", str(weights), "--like", str(PRETRAINED), "--out", str(out)],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for back in (read_snapshot(str(out)), read_snapshot(str(weights))):  # eval reads both
        assert back.classes == snap.classes and back.meta["preprocess"] == snap.meta["preprocess"]
        for key, value in snap.arrays.items():
            if not key.startswith("optim."):
                np.testing.assert_array_equal(back.arrays[key], value, err_msg=key)
    with safe_open(str(weights), "numpy") as f:
        assert json.loads(f.metadata()["spec"]) == snap.spec  # so eval and import-torch need no --spec


def test_the_zip_for_a_download_holds_the_same_files(tmp_path):
    import io
    import zipfile

    from engine.export import pytorch_zip

    snap = random_snapshot(ALL_LAYERS)
    export(snap, tmp_path, "all")
    with zipfile.ZipFile(io.BytesIO(pytorch_zip(snap, "all"))) as z:
        assert sorted(z.namelist()) == [
            "all-pytorch/model.py",
            "all-pytorch/train_ddp.py",
            "all-pytorch/weights.safetensors",
        ]
        for name in ("model.py", "train_ddp.py"):
            assert z.read("all-pytorch/" + name) == (tmp_path / name).read_bytes(), name
        # safetensors writes its metadata in a hash map's order: compare what the files hold
        zipped = read_snapshot(z.read("all-pytorch/weights.safetensors"))
    written = read_snapshot(str(tmp_path / "weights.safetensors"))
    assert zipped.meta == written.meta and zipped.arrays.keys() == written.arrays.keys()
    for key, value in written.arrays.items():
        np.testing.assert_array_equal(zipped.arrays[key], value)
