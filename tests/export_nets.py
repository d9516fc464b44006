"""Nets, weights and images the export tests share (test_export_onnx.py, test_export_torch.py,
test_export_ddp.py).

ALL_LAYERS has every layer type on a non-square input, so that a height/width or a
channels-last/first mix-up shows: two convs (one strided), every activation, a pool with
overlapping windows, an fc that takes a volume (the flatten whose order the exports remap),
dropout, a conv after an fc (a (D, 1, 1) volume again), and the softmax's fc.
Biases are random too: the engine starts them at zero, which would hide a bias mix-up.
"""

from __future__ import annotations

import numpy as np
from conftest import REPO, SHARED
from PIL import Image

from engine import Net, Snapshot, normalize, read_snapshot, snapshot_bytes
from engine.spec import param_shapes

ALL_LAYERS = [
    {"type": "input", "shape": [10, 7, 3]},
    {"type": "conv", "out_channels": 5, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "activation": "tanh"},
    {"type": "pool", "kernel_size": 2, "stride": 1},
    {"type": "sigmoid"},
    {"type": "fc", "out_features": 6, "activation": "relu"},
    {"type": "dropout", "p": 0.25},
    {"type": "conv", "out_channels": 5, "kernel_size": 1},
    {"type": "fc", "out_features": 4},
    {"type": "softmax", "num_classes": 4},
]
CONVNETJS = SHARED / "peers" / "convnetjs" / "cifar10_snapshot.json"
PRETRAINED = REPO / "app" / "pretrained" / "cifar10.npz"
CIFAR_TEST = SHARED / "datasets" / "cifar10-jpeg" / "test"


def random_snapshot(spec, seed=0, classes=None):
    """A Snapshot of a net with seeded random weights and biases, through the .npz format."""
    net = Net(spec, seed=seed)
    rng = np.random.RandomState(seed + 1)
    for key, p in net.params().items():
        if key.endswith(".bias"):
            p[...] = rng.uniform(-0.5, 0.5, p.shape)
    return read_snapshot(snapshot_bytes(net, classes=classes, info={"net": "test-net"}))


def cheap_snapshot(spec, seed=0, zeros=False):
    """Random He-scaled float32 weights (or zeros) without building a Net, which is slow for
    the big presets."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for layer in normalize(spec):
        for kind, shape in param_shapes(layer).items():
            key = "%s.%s" % (layer["name"], kind)
            if zeros:
                arrays[key] = np.zeros(shape, np.float32)
                continue
            fan_in = int(np.prod(shape[1:])) if kind == "weight" else 1
            scale = np.float32(np.sqrt(2.0 / fan_in) if kind == "weight" else 0.1)
            arrays[key] = rng.standard_normal(shape, dtype=np.float32) * scale
    meta = {"spec": spec, "preprocess": {"scale": 1 / 255, "shift": -0.5}, "classes": None, "info": {}}
    return Snapshot(meta, arrays)


def random_images(shape, n, seed=0):
    """uint8 (n, H, W, C) noise for a net's (H, W, C) input."""
    return np.random.default_rng(seed).integers(0, 256, (n,) + tuple(shape), dtype=np.uint8)


def cifar_test_images(n=100):
    """n real CIFAR-10 test images, uint8 (n, 32, 32, 3), shuffled with a seed (the folder is
    sorted by class); None when the shared folder is not here (CI always has it)."""
    files = sorted(CIFAR_TEST.glob("*/*.jpg"))
    if len(files) < n:
        return None
    picked = [files[i] for i in np.random.RandomState(0).permutation(len(files))[:n]]
    return np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8) for f in picked])
