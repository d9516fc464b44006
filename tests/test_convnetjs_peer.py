"""ConvNetJS itself, run in Node, as the judge of our ConvNetJS import and layer_defs reading.

The trained CIFAR-10 snapshot of ConvNetJS's demo must give the same class probabilities
in ConvNetJS and in our engine on 120 real CIFAR-10 test images (seeded shuffle first: the
folder is sorted by class). Nets that ConvNetJS builds from layer_defs must have our shapes
and parameter counts, and import with the same probabilities. Node and the npm package
`convnetjs` (installed by `npm install` at the repository root) are required: without them
these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import REPO, SHARED, TESTS
from PIL import Image

from engine import load_snapshot, normalize, summarize

PEER = TESTS / "peer"
SNAPSHOT = SHARED / "peers" / "convnetjs" / "cifar10_snapshot.json"
CIFAR_TEST = SHARED / "datasets" / "cifar10-jpeg" / "test"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def run_node(script, *args):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the ConvNetJS peer tests need Node.js (apt-get install nodejs)")
    if not (REPO / "node_modules" / "convnetjs" / "package.json").exists():
        pytest.fail("the npm package convnetjs is missing: run `npm install` in %s" % REPO)
    proc = subprocess.run(
        [node, str(PEER / script)] + [str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=str(REPO)
    )
    assert proc.returncode == 0, "node %s failed:\n%s" % (script, proc.stderr)
    return json.loads(proc.stdout)


def convnetjs_probs(snapshot, images, tmp_path):
    path = tmp_path / "images.bin"
    path.write_bytes(np.ascontiguousarray(images, dtype=np.uint8).tobytes())  # N*H*W*C bytes, HWC
    return np.array(run_node("convnetjs_probs.js", snapshot, path))


@pytest.fixture(scope="module")
def cifar_images():
    """120 CIFAR-10 test images (uint8, N x 32 x 32 x 3) and labels, shuffled with a seed."""
    files = sorted(CIFAR_TEST.glob("*/*.jpg"))
    assert len(files) >= 120, "CIFAR-10 test images not found under %s" % CIFAR_TEST
    picked = [files[i] for i in np.random.RandomState(0).permutation(len(files))[:120]]
    images = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8) for f in picked])
    labels = np.array([CLASSES.index(f.parent.name) for f in picked])
    assert images.shape == (120, 32, 32, 3)
    assert len(set(labels)) >= 8  # the shuffle mixed the classes
    return images, labels


@pytest.fixture(scope="module")
def reference_probs(cifar_images, tmp_path_factory):
    return convnetjs_probs(SNAPSHOT, cifar_images[0], tmp_path_factory.mktemp("peer"))


def test_cifar10_snapshot_matches_convnetjs(cifar_images, reference_probs):
    images, labels = cifar_images
    net, _ = load_snapshot(str(SNAPSHOT), dtype=np.float64)
    probs = net.predict(images)
    assert reference_probs.shape == probs.shape == (120, 10)
    diff = np.abs(probs - reference_probs).max()
    assert diff < 1e-5, "max abs difference from ConvNetJS: %g" % diff
    np.testing.assert_array_equal(probs.argmax(axis=1), reference_probs.argmax(axis=1))
    # The images reach the net right way round: the trained net recognises them.
    assert (probs.argmax(axis=1) == labels).mean() > 0.5


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_cifar10_snapshot_in_float32_is_close_to_convnetjs(cifar_images, reference_probs, backend):
    net, _ = load_snapshot(str(SNAPSHOT), backend=backend, dtype=np.float32)
    probs = net.predict(cifar_images[0])
    assert np.abs(probs - reference_probs).max() < 1e-4


# -- nets that ConvNetJS builds from layer_defs ----------------------------------------------
LAYER_DEFS = {
    "cifar10-demo": [
        {"type": "input", "out_sx": 32, "out_sy": 32, "out_depth": 3},
        {"type": "conv", "sx": 5, "filters": 16, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 10},
    ],
    "strided-non-square": [
        {"type": "input", "out_sx": 13, "out_sy": 9, "out_depth": 2},
        {"type": "conv", "sx": 3, "filters": 5, "stride": 2, "pad": 1, "activation": "tanh"},
        {"type": "conv", "sx": 1, "filters": 3, "activation": "sigmoid"},
        {"type": "pool", "sx": 3, "stride": 2},
        {"type": "fc", "num_neurons": 7, "activation": "relu"},
        {"type": "fc", "num_neurons": 5, "activation": "tanh"},
        {"type": "softmax", "num_classes": 4},
    ],
    "mnist-demo": [
        {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
        {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 16, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 3, "stride": 3},
        {"type": "softmax", "num_classes": 10},
    ],
    "pool-default-stride": [  # ConvNetJS's pool stride defaults to 2, whatever sx is
        {"type": "input", "out_sx": 9, "out_sy": 9, "out_depth": 2},
        {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 3},
        {"type": "softmax", "num_classes": 3},
    ],
    "dropout": [
        {"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 3},
        {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "fc", "num_neurons": 12, "activation": "tanh"},
        {"type": "dropout", "drop_prob": 0.3},
        {"type": "softmax", "num_classes": 3},
    ],
}


def make(name, tmp_path):
    defs = tmp_path / "defs.json"
    defs.write_text(json.dumps(LAYER_DEFS[name]))
    out = tmp_path / "net.json"
    layers = run_node("convnetjs_make.js", defs, out)
    return layers, out


@pytest.mark.parametrize("name", sorted(LAYER_DEFS))
def test_layer_defs_give_convnetjs_shapes_and_params(name, tmp_path):
    theirs, _ = make(name, tmp_path)
    ours = normalize(LAYER_DEFS[name])
    rows = summarize(LAYER_DEFS[name], relu_rows=True)["layers"]  # one row per layer, ReLUs too
    got = [
        (l["type"], l["out_shape"][2], l["out_shape"][1], l["out_shape"][0], r["params"]) for l, r in zip(ours, rows)
    ]
    want = [(L["type"], L["out_sx"], L["out_sy"], L["out_depth"], L["params"]) for L in theirs]
    assert got == want


@pytest.mark.parametrize("name", sorted(LAYER_DEFS))
def test_convnetjs_nets_import_with_the_same_probabilities(name, tmp_path):
    _, snapshot = make(name, tmp_path)
    net, _ = load_snapshot(str(snapshot), dtype=np.float64)
    images = np.random.RandomState(1).randint(0, 256, (6,) + net.input_shape).astype(np.uint8)
    theirs = convnetjs_probs(snapshot, images, tmp_path)
    ours = net.predict(images)
    assert np.abs(ours - theirs).max() < 1e-9
