"""Named net specs: the nets of the lecture and of ConvNetJS's demos.

`convnetjs-cifar10` is ConvNetJS's CIFAR-10 demo net, written as its own `layer_defs` so that
the ConvNetJS spelling stays exercised. `alexnet` is the slide's simplified single-tower
AlexNet (227x227x3; its two NORM layers hold no values worth a row and are left out) and
`vgg16` is configuration D (224x224x3). Only the spec lives here; shapes and counts come from
spec.py and summary.py.
"""

from __future__ import annotations

import copy

from .errors import SpecError

PRESETS = {
    "convnetjs-cifar10": [
        {"type": "input", "out_sx": 32, "out_sy": 32, "out_depth": 3},
        {"type": "conv", "sx": 5, "filters": 16, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 10},
    ],
    # LeNet-5 on a 32x32 input as in LeCun et al. 1998 (max pooling and ReLU, as taught today).
    "lenet5": [
        {"type": "input", "shape": [32, 32, 1]},
        {"type": "conv", "out_channels": 6, "kernel_size": 5, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "conv", "out_channels": 16, "kernel_size": 5, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "fc", "out_features": 120, "activation": "relu"},
        {"type": "fc", "out_features": 84, "activation": "relu"},
        {"type": "fc", "out_features": 10},
        {"type": "softmax", "num_classes": 10},
    ],
    # A small VGG-style net for CIFAR-10: 3x3 convs in pairs, 2x2 pools.
    "tiny-vgg": [
        {"type": "input", "shape": [32, 32, 3]},
        {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "conv", "out_channels": 16, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "conv", "out_channels": 32, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "conv", "out_channels": 32, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "conv", "out_channels": 64, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "fc", "out_features": 10},
        {"type": "softmax", "num_classes": 10},
    ],
    "alexnet": [
        {"type": "input", "shape": [227, 227, 3]},
        {"type": "conv", "name": "conv1", "out_channels": 96, "kernel_size": 11, "stride": 4, "activation": "relu"},
        {"type": "pool", "name": "pool1", "kernel_size": 3, "stride": 2},
        {"type": "conv", "name": "conv2", "out_channels": 256, "kernel_size": 5, "padding": 2, "activation": "relu"},
        {"type": "pool", "name": "pool2", "kernel_size": 3, "stride": 2},
        {"type": "conv", "name": "conv3", "out_channels": 384, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "conv", "name": "conv4", "out_channels": 384, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "conv", "name": "conv5", "out_channels": 256, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "name": "pool3", "kernel_size": 3, "stride": 2},
        {"type": "fc", "name": "fc6", "out_features": 4096, "activation": "relu"},
        {"type": "fc", "name": "fc7", "out_features": 4096, "activation": "relu"},
        {"type": "fc", "name": "fc8", "out_features": 1000},
        {"type": "softmax", "num_classes": 1000},
    ],
}


def _vgg16():
    layers = [{"type": "input", "shape": [224, 224, 3]}]
    for block, (width, convs) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        for j in range(1, convs + 1):
            layers.append(
                {
                    "type": "conv",
                    "name": "conv%d_%d" % (block, j),
                    "out_channels": width,
                    "kernel_size": 3,
                    "padding": 1,
                    "activation": "relu",
                }
            )
        layers.append({"type": "pool", "name": "pool%d" % block, "kernel_size": 2, "stride": 2})
    layers += [
        {"type": "fc", "name": "fc6", "out_features": 4096, "activation": "relu"},
        {"type": "fc", "name": "fc7", "out_features": 4096, "activation": "relu"},
        {"type": "fc", "name": "fc8", "out_features": 1000},
        {"type": "softmax", "num_classes": 1000},
    ]
    return layers


PRESETS["vgg16"] = _vgg16()


def get_preset(name):
    """A fresh copy of a preset's layer list (raw spelling; pass it to spec.normalize)."""
    if name not in PRESETS:
        raise SpecError("unknown preset %r — choose one of %s" % (name, ", ".join(sorted(PRESETS))))
    return copy.deepcopy(PRESETS[name])
