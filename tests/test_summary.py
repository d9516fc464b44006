"""The summary table against the lecture's published numbers, worked out here by hand.

Every expected figure is written out layer by layer from the published architectures
(AlexNet as on the slide: one tower, no groups, 227x227x3; VGG-16 configuration D), never
taken from engine code.
"""

from __future__ import annotations

import pytest

from engine import format_table, get_preset, human_bytes, human_count, summarize


def conv_params(k, c_in, f):
    return k * k * c_in * f + f


def fc_params(d_in, d_out):
    return d_in * d_out + d_out


ALEXNET_PARAMS = {
    "conv1": conv_params(11, 3, 96),  # 34,944
    "conv2": conv_params(5, 96, 256),  # 614,656
    "conv3": conv_params(3, 256, 384),  # 885,120
    "conv4": conv_params(3, 384, 384),  # 1,327,488
    "conv5": conv_params(3, 384, 256),  # 884,992
    "fc6": fc_params(6 * 6 * 256, 4096),  # 37,752,832
    "fc7": fc_params(4096, 4096),  # 16,781,312
    "fc8": fc_params(4096, 1000),  # 4,097,000
}
ALEXNET_OUTPUTS = {  # HxWxC as on the slide
    "conv1": [55, 55, 96],
    "pool1": [27, 27, 96],
    "conv2": [27, 27, 256],
    "pool2": [13, 13, 256],
    "conv3": [13, 13, 384],
    "conv4": [13, 13, 384],
    "conv5": [13, 13, 256],
    "pool3": [6, 6, 256],
    "fc6": [1, 1, 4096],
    "fc7": [1, 1, 4096],
    "fc8": [1, 1, 1000],
}
VGG_PARAMS = {
    "conv1_1": conv_params(3, 3, 64),
    "conv1_2": conv_params(3, 64, 64),
    "conv2_1": conv_params(3, 64, 128),
    "conv2_2": conv_params(3, 128, 128),
    "conv3_1": conv_params(3, 128, 256),
    "conv3_2": conv_params(3, 256, 256),
    "conv3_3": conv_params(3, 256, 256),
    "conv4_1": conv_params(3, 256, 512),
    "conv4_2": conv_params(3, 512, 512),
    "conv4_3": conv_params(3, 512, 512),
    "conv5_1": conv_params(3, 512, 512),
    "conv5_2": conv_params(3, 512, 512),
    "conv5_3": conv_params(3, 512, 512),
    "fc6": fc_params(7 * 7 * 512, 4096),
    "fc7": fc_params(4096, 4096),
    "fc8": fc_params(4096, 1000),
}
VGG_OUTPUTS = {
    "conv1_1": [224, 224, 64],
    "conv1_2": [224, 224, 64],
    "pool1": [112, 112, 64],
    "conv2_1": [112, 112, 128],
    "conv2_2": [112, 112, 128],
    "pool2": [56, 56, 128],
    "conv3_1": [56, 56, 256],
    "conv3_2": [56, 56, 256],
    "conv3_3": [56, 56, 256],
    "pool3": [28, 28, 256],
    "conv4_1": [28, 28, 512],
    "conv4_2": [28, 28, 512],
    "conv4_3": [28, 28, 512],
    "pool4": [14, 14, 512],
    "conv5_1": [14, 14, 512],
    "conv5_2": [14, 14, 512],
    "conv5_3": [14, 14, 512],
    "pool5": [7, 7, 512],
    "fc6": [1, 1, 4096],
    "fc7": [1, 1, 4096],
    "fc8": [1, 1, 1000],
}


def rows(summary):
    return {r["name"]: r for r in summary["layers"]}


def test_published_totals_add_up():
    assert sum(ALEXNET_PARAMS.values()) == 62_378_344
    assert sum(VGG_PARAMS.values()) == 138_357_544


@pytest.mark.parametrize(
    "net,params,outputs,total",
    [
        ("alexnet", ALEXNET_PARAMS, ALEXNET_OUTPUTS, 62_378_344),
        ("vgg16", VGG_PARAMS, VGG_OUTPUTS, 138_357_544),
    ],
)
def test_slide_nets(net, params, outputs, total):
    s = summarize(get_preset(net), net_name=net)
    assert s["net"] == net
    assert s["total_params"] == total
    by_name = rows(s)
    for name, n in params.items():
        assert by_name[name]["params"] == n, name
        assert by_name[name]["weights"] + by_name[name]["biases"] == n, name
    for name, out in outputs.items():
        h, w, c = out
        assert by_name[name]["output"] == out, name
        assert by_name[name]["output_text"] == "%dx%dx%d" % (h, w, c), name
        assert by_name[name]["activations"] == h * w * c, name
    assert sum(r["params"] for r in s["layers"]) == total
    assert {r["name"] for r in s["layers"] if r["params"]} == set(params)


def test_vgg16_weights_and_biases_and_activations():
    s = summarize(get_preset("vgg16"))
    by_name = rows(s)
    assert by_name["conv1_1"]["weights"] == 3 * 3 * 3 * 64 and by_name["conv1_1"]["biases"] == 64
    assert by_name["fc6"]["weights"] == 25088 * 4096 and by_name["fc6"]["biases"] == 4096
    assert s["input"] == [224, 224, 3]
    # Per image, what the engine keeps: the input, each conv's output through its ReLU (the
    # pair is one array, one row), each pool, fc6/fc7 through theirs, fc8 and the softmax's
    # probabilities.
    convs = 2 * 224 * 224 * 64 + 2 * 112 * 112 * 128 + 3 * 56 * 56 * 256 + 3 * 28 * 28 * 512 + 3 * 14 * 14 * 512
    pools = 112 * 112 * 64 + 56 * 56 * 128 + 28 * 28 * 256 + 14 * 14 * 512 + 7 * 7 * 512
    expected = 224 * 224 * 3 + convs + pools + 4096 + 4096 + 1000 + 1000
    assert s["total_activations"] == expected == 15_238_608
    assert "relu1" not in by_name and by_name["conv1_1"]["relu"] == "relu1"
    # The slide's forward-only count (no separate ReLU outputs, no softmax): ~15.2M values per image.
    slide = sum(r["activations"] for r in s["layers"] if r["type"] in ("input", "conv", "pool", "fc"))
    assert slide == 224 * 224 * 3 + convs + pools + 4096 + 4096 + 1000 == 15_237_608
    assert s["bytes"] == 4 * (expected + 138_357_544)


def test_relu_rows_are_listed_apart_and_not_stored():
    s = summarize(get_preset("vgg16"), relu_rows=True)
    by_name = rows(s)
    relu = by_name["relu1"]
    assert relu["stored"] is False and relu["activations"] == 224 * 224 * 64 and relu["bytes"] == 0
    assert by_name["relu14"]["stored"] is False and by_name["fc6"]["relu"] == "relu14"  # fc6's ReLU
    assert s["total_activations"] == summarize(get_preset("vgg16"))["total_activations"]
    table = format_table(s)
    assert table.count("not stored") == 15 and "conv+relu" in table and "fc+relu" in table


def test_per_layer_bytes():
    by_name = rows(summarize(get_preset("alexnet")))
    assert by_name["conv1"]["bytes"] == 4 * (55 * 55 * 96 + 34_944)
    assert by_name["pool1"]["bytes"] == 4 * 27 * 27 * 96


@pytest.mark.parametrize("optimizer,slots", [("sgd", 0), ("momentum", 1), ("adam", 2), ("adadelta", 2)])
def test_training_memory_for_a_batch(optimizer, slots):
    s = summarize(get_preset("convnetjs-cifar10"), batch=64, optimizer=optimizer)
    params = conv_params(5, 3, 16) + conv_params(5, 16, 20) + conv_params(5, 20, 20) + fc_params(4 * 4 * 20, 10)
    assert params == 22_466
    assert s["total_params"] == params
    block1 = 32 * 32 * 16 + 16 * 16 * 16  # conv1 through relu1 (one array), pool1
    block2 = 16 * 16 * 20 + 8 * 8 * 20  # conv2 through relu2, pool2
    block3 = 8 * 8 * 20 + 4 * 4 * 20  # conv3 through relu3, pool3
    acts = 32 * 32 * 3 + block1 + block2 + block3 + 10 + 10  # input, ..., fc, softmax
    assert s["total_activations"] == acts
    m = s["memory"]
    assert m["batch"] == 64 and m["optimizer"] == optimizer and m["backend"] == "numpy"
    assert m["activations"] == 4 * 64 * acts
    # backward frees as it goes: at most conv1's output gradient twice (as given and through
    # the ReLU's mask); conv1 makes no gradient for the input
    assert m["activation_grads"] == 4 * 64 * (2 * 32 * 32 * 16)
    assert m["params"] == m["param_grads"] == 4 * params
    assert m["optimizer_state"] == 4 * params * slots
    # the NumPy backend keeps each conv's padded input (padding 2: its windows make the im2col
    # columns again in backward) and 2x2 pooling's switches as int8
    padded = 36 * 36 * 3 + 20 * 20 * 16 + 12 * 12 * 20
    assert m["workspace"] == 64 * (4 * padded + 16 * 16 * 16 + 8 * 8 * 20 + 4 * 4 * 20)
    assert m["optimizer_scratch"] == 4 * params * {"sgd": 1, "momentum": 1, "adam": 4, "adadelta": 2}[optimizer]
    # backward's gradients come and go before the optimizer's temporaries: the larger counts
    assert m["grad_scratch"] == 4 * 2 * 5 * 5 * 20 * 20  # conv3's dw, from per-thread parts
    transient = max(m["activation_grads"] + m["grad_scratch"], m["optimizer_scratch"])
    assert m["total"] == m["activations"] + transient + (2 + slots) * 4 * params + m["workspace"]
    numba = summarize(get_preset("convnetjs-cifar10"), batch=64, optimizer=optimizer, backend="numba")["memory"]
    conv_weights = 5 * 5 * 3 * 16 + 5 * 5 * 16 * 20 + 5 * 5 * 20 * 20
    # int32 switches and a copy of each conv's weights (their layouts live only in a call)
    assert numba["workspace"] == 64 * 4 * (16 * 16 * 16 + 8 * 8 * 20 + 4 * 4 * 20) + 4 * conv_weights
    # the Numba backend masks conv1's gradient on the fly: pool1's backward, its output's
    # gradient and conv1's, is the largest
    assert numba["activation_grads"] == 4 * 64 * (16 * 16 * 16 + 32 * 32 * 16)


def test_lenet5_rows():
    by_name = rows(summarize(get_preset("lenet5")))
    assert by_name["conv1"]["output"] == [28, 28, 6] and by_name["conv1"]["params"] == conv_params(5, 1, 6)
    assert by_name["pool2"]["output"] == [5, 5, 16]
    assert by_name["fc1"]["params"] == fc_params(400, 120)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        summarize(get_preset("lenet5"), optimizer="rmsprop")


def test_human_formats_and_table():
    assert human_count(138_357_544) == "138.4M"
    assert human_count(62_378_344) == "62.4M"
    assert human_count(999) == "999"
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KB"
    assert human_bytes(96 * 1024 * 1024) == "96.0 MB"
    table = format_table(summarize(get_preset("vgg16"), batch=1))
    assert "138,357,544" in table and "224x224x64" in table and "conv1_1" in table
