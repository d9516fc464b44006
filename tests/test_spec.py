"""The spec: ConvNetJS's layer_defs and our spelling accepted, shapes inferred, every invalid
spec refused with a SpecError that says which layer and what is wrong, and round trips.
"""

from __future__ import annotations

import json

import pytest

from engine import PRESETS, Net, SpecError, format_shape, get_preset, normalize, to_json
from engine.spec import param_shapes

SOFTMAX10 = {"type": "softmax", "num_classes": 10}


def shapes(layers):
    """[(name, type, "HxWxC"), ...] of canonical layers."""
    return [(layer["name"], layer["type"], format_shape(layer["out_shape"])) for layer in layers]


# -- accepted spellings ------------------------------------------------------------------
def test_convnetjs_cifar10_layer_defs():
    # Verbatim from ConvNetJS's CIFAR-10 demo (layer_defs.push(...) lines).
    layer_defs = [
        {"type": "input", "out_sx": 32, "out_sy": 32, "out_depth": 3},
        {"type": "conv", "sx": 5, "filters": 16, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 20, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 10},
    ]
    layers = normalize(layer_defs)
    assert shapes(layers) == [
        ("input", "input", "32x32x3"),
        ("conv1", "conv", "32x32x16"),
        ("relu1", "relu", "32x32x16"),
        ("pool1", "pool", "16x16x16"),
        ("conv2", "conv", "16x16x20"),
        ("relu2", "relu", "16x16x20"),
        ("pool2", "pool", "8x8x20"),
        ("conv3", "conv", "8x8x20"),
        ("relu3", "relu", "8x8x20"),
        ("pool3", "pool", "4x4x20"),
        ("fc1", "fc", "1x1x10"),  # ConvNetJS puts an fc in front of a softmax
        ("softmax", "softmax", "1x1x10"),
    ]
    conv1 = layers[1]
    assert (conv1["out_channels"], conv1["kernel_size"], conv1["stride"], conv1["padding"]) == (16, 5, 1, 2)
    assert param_shapes(conv1) == {"weight": (16, 3, 5, 5), "bias": (16,)}
    assert param_shapes(layers[10]) == {"weight": (10, 320), "bias": (10,)}


def test_convnetjs_classify2d_layer_defs_with_fc_and_activations():
    layer_defs = [
        {"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 2},
        {"type": "fc", "num_neurons": 6, "activation": "tanh"},
        {"type": "fc", "num_neurons": 2, "activation": "sigmoid"},
        {"type": "softmax", "num_classes": 2},
    ]
    layers = normalize(layer_defs)
    assert [(l["type"], l["out_shape"]) for l in layers] == [
        ("input", [2, 1, 1]),
        ("fc", [6, 1, 1]),
        ("tanh", [6, 1, 1]),
        ("fc", [2, 1, 1]),
        ("sigmoid", [2, 1, 1]),
        ("fc", [2, 1, 1]),
        ("softmax", [2, 1, 1]),
    ]


def test_convnetjs_extras_are_accepted_and_ignored():
    layer_defs = [
        {"type": "input", "out_sx": 8, "out_sy": 6, "out_depth": 1},  # out_sx is the width
        {
            "type": "conv",
            "sx": 3,
            "sy": 3,
            "filters": 4,
            "pad": 1,
            "bias_pref": 0.1,
            "l1_decay_mul": 0,
            "l2_decay_mul": 1,
            "activation": "relu",
        },
        {"type": "dropout", "drop_prob": 0.25},
        {"layer_type": "fc", "num_neurons": 3},
        {"type": "softmax", "num_classes": 3},
    ]
    layers = normalize(layer_defs)
    assert layers[0]["shape"] == [6, 8, 1]
    assert format_shape(layers[1]["out_shape"]) == "6x8x4"
    assert layers[3]["p"] == 0.25
    assert [l["type"] for l in layers] == ["input", "conv", "relu", "dropout", "fc", "softmax"]


def test_our_spelling_and_defaults():
    layers = normalize(
        [
            {"type": "input", "shape": [9, 7, 2]},
            {"type": "conv", "name": "c", "out_channels": 3, "kernel_size": 3},
            {"type": "pool", "kernel_size": 2},
            {"type": "fc", "out_features": 4},
            {"type": "softmax", "num_classes": 4},
        ]
    )
    c, pool = layers[1], layers[2]
    assert (c["name"], c["stride"], c["padding"]) == ("c", 1, 0)
    assert format_shape(c["out_shape"]) == "7x5x3"
    assert pool["stride"] == 2 and format_shape(pool["out_shape"]) == "3x2x3"  # floor, as in PyTorch
    assert [l["type"] for l in layers] == ["input", "conv", "pool", "fc", "softmax"]  # no second fc


def test_strided_padded_shapes_use_floor_division():
    layers = normalize(
        [
            {"type": "input", "shape": [10, 11, 1]},
            {"type": "conv", "out_channels": 2, "kernel_size": 5, "stride": 3, "padding": 2},
            {"type": "pool", "kernel_size": 3, "stride": 2},
            SOFTMAX10,
        ]
    )
    # (10 + 4 - 5) // 3 + 1 = 4 and (11 + 4 - 5) // 3 + 1 = 4; then (4 - 3) // 2 + 1 = 1
    assert format_shape(layers[1]["out_shape"]) == "4x4x2"
    assert format_shape(layers[2]["out_shape"]) == "1x1x2"


@pytest.mark.parametrize("form", ["json", "file", "layers-dict"])
def test_spec_sources(form, tmp_path):
    spec = get_preset("lenet5")
    if form == "json":
        source = json.dumps(spec)
    elif form == "file":
        path = tmp_path / "net.json"
        path.write_text(json.dumps(spec))
        source = str(path)
    else:
        source = {"layers": spec}
    assert normalize(source) == normalize(spec)


# -- refused specs -----------------------------------------------------------------------
def inp(h=8, w=8, c=3):
    return {"type": "input", "shape": [h, w, c]}


def conv(**kw):
    return dict({"type": "conv", "out_channels": 4, "kernel_size": 3}, **kw)


BAD = [
    (
        "kernel-too-big",
        [inp(4, 4, 3), conv(kernel_size=5), SOFTMAX10],
        ["layer 1", "conv", "5x5", "does not fit", "4x4", "padding 0"],
    ),
    (
        "pool-too-big",
        [inp(4, 4, 3), {"type": "pool", "kernel_size": 5}, SOFTMAX10],
        ["layer 1", "pool", "does not fit"],
    ),
    ("unknown-key", [inp(), conv(kernal_size=3), SOFTMAX10], ["layer 1", "conv", "unknown key", "kernal_size"]),
    ("unknown-type", [inp(), {"type": "convolution"}, SOFTMAX10], ["layer 1", "unknown type", "convolution"]),
    ("no-type", [inp(), {"out_channels": 3}, SOFTMAX10], ["layer 1", "unknown type"]),
    ("missing-softmax", [inp(), conv()], ["softmax", "last"]),
    ("softmax-not-last", [inp(), SOFTMAX10, conv(), SOFTMAX10], ["softmax", "last"]),
    ("no-input", [conv(), SOFTMAX10], ["layer 0", "input"]),
    ("two-inputs", [inp(), inp(), SOFTMAX10], ["layer 1", "input"]),
    ("missing-filters", [inp(), {"type": "conv", "kernel_size": 3}, SOFTMAX10], ["layer 1", "missing", "out_channels"]),
    ("stride-0", [inp(), conv(stride=0), SOFTMAX10], ["layer 1", "stride", "at least 1"]),
    ("kernel-string", [inp(), conv(kernel_size="3"), SOFTMAX10], ["layer 1", "kernel_size", "whole number"]),
    ("kernel-fraction", [inp(), conv(kernel_size=2.5), SOFTMAX10], ["layer 1", "whole number"]),
    ("kernel-bool", [inp(), conv(kernel_size=True), SOFTMAX10], ["layer 1", "whole number"]),
    ("negative-padding", [inp(), conv(padding=-1), SOFTMAX10], ["layer 1", "padding", "at least 0"]),
    ("dropout-p-1", [inp(), {"type": "dropout", "p": 1.0}, SOFTMAX10], ["layer 1", "dropout", "[0, 1)"]),
    ("unknown-activation", [inp(), conv(activation="maxout"), SOFTMAX10], ["layer 1", "activation", "maxout"]),
    ("duplicate-names", [inp(), conv(name="a"), conv(name="a"), SOFTMAX10], ["'a'", "unique"]),
    ("non-square", [inp(), {"type": "conv", "sx": 3, "sy": 5, "filters": 2}, SOFTMAX10], ["layer 1", "square"]),
    ("pool-padding", [inp(), {"type": "pool", "sx": 2, "pad": 1}, SOFTMAX10], ["layer 1", "pool", "padding"]),
    ("one-class", [inp(), {"type": "softmax", "num_classes": 1}], ["layer 1", "num_classes", "at least 2"]),
    ("bad-input-shape", [{"type": "input", "shape": [8, 8]}, SOFTMAX10], ["layer 0", "shape"]),
    ("layer-not-object", [inp(), "conv", SOFTMAX10], ["layer 1", "object"]),
    ("empty", [], ["empty"]),
    ("not-a-list", {"type": "input"}, ["list"]),
    ("invalid-json", '[{"type": "input",]', ["not valid JSON"]),
    ("missing-file", "no/such/spec.json", ["cannot read", "no/such/spec.json"]),
]


@pytest.mark.parametrize("spec,fragments", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_specs_are_refused_with_a_clear_message(spec, fragments):
    with pytest.raises(SpecError) as info:
        normalize(spec)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, "%r not in %r" % (fragment, message)
    assert isinstance(info.value, ValueError)


def test_a_layer_named_by_the_user_is_named_in_the_message():
    with pytest.raises(SpecError, match="big"):
        normalize([inp(4, 4, 3), conv(name="big", kernel_size=7), SOFTMAX10])


def test_the_message_counts_layers_as_the_user_wrote_them():
    # The user's list: 0 input, 1 conv (+relu), 2 pool, 3 conv. Expanding the activation into
    # its own layer must not shift the number the message shows.
    spec = [
        inp(8, 8, 3),
        conv(padding=1, activation="relu"),
        {"type": "pool", "kernel_size": 2},
        conv(kernel_size=5),
        SOFTMAX10,
    ]
    with pytest.raises(SpecError) as info:
        normalize(spec)
    assert str(info.value).startswith("layer 3 ("), str(info.value)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("k", [3, 5, 7, 11])
def test_the_suggested_padding_fits(size, k):
    if k <= size:
        return
    with pytest.raises(SpecError) as info:
        normalize([inp(size, size, 1), conv(kernel_size=k), SOFTMAX10])
    message = str(info.value)
    assert "use padding" in message, message
    pad = int(message.split("use padding ")[1].split()[0])
    layers = normalize([inp(size, size, 1), conv(kernel_size=k, padding=pad), SOFTMAX10])
    assert layers[1]["out_shape"][1] >= 1
    if pad > 0:  # and it is the smallest padding that fits
        with pytest.raises(SpecError):
            normalize([inp(size, size, 1), conv(kernel_size=k, padding=pad - 1), SOFTMAX10])


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_canonical_spec_round_trips(name):
    layers = normalize(get_preset(name))
    again = normalize(json.loads(json.dumps(to_json(layers))))
    assert again == layers


@pytest.mark.parametrize("name", ["convnetjs-cifar10", "lenet5", "tiny-vgg"])
def test_net_spec_round_trips(name):
    net = Net(get_preset(name), seed=0)
    assert normalize(net.spec()) == net.layers_spec
    assert all("in_shape" not in layer and "out_shape" not in layer for layer in net.spec())
    assert json.loads(json.dumps(net.spec())) == net.spec()
