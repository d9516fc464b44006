"""The visualisation data of one example: every layer's activations and their gradients, and
the conv filters with the gradient of the last training batch (ConvNetJS's "network
visualization"), as plain float arrays.

The runner calls probe() between training steps, a few times a second at most; it costs one
forward and one backward pass of a single image. Turning these arrays into pictures is
plot_data.py's job. No threads, no Panel here.
"""

from __future__ import annotations

import numpy as np

MAX_CHANNELS = 64  # tiles drawn per layer; wider layers show their first 64 channels
MAX_FILTERS = 32  # conv filters drawn per layer
MAX_FILTER_DEPTH = 16  # input channels drawn per filter (beyond the first layer's colour ones)


def _stats(a):
    return (float(a.min()), float(a.max())) if a is not None and a.size else (0.0, 0.0)


def _as_hwc(a):
    """A layer output for one image as (H, W, C); softmax/fc rows (1, K) become (1, 1, K)."""
    a = np.asarray(a)[0]
    return a.reshape(1, 1, -1) if a.ndim == 1 else a


def probe(net, image, label=None, batch_grads=None):
    """Visualisation data for one uint8 (H, W, C) image.

    label: the class whose loss is back-propagated for the activation gradients; None uses the
    net's own top guess (an uploaded image has no label). batch_grads: {"conv1.weight": dW}
    of the last training batch, copied before this call (which overwrites the net's grads).
    Returns {"probs", "label", "target", "layers": [per-layer dict]}, each layer with name,
    type, shape_text, channels, act (H, W, C'), grad, act/grad min and max, and for conv
    layers weight (F', C', K, K), dweight and their min and max.
    """
    x = net.prepare(image)  # (1, H, W, C)
    # the one example asks for what a training step never keeps: each fused conv's output
    # before its ReLU (engine/fast/fusion.py)
    probs = net.forward(x, train=False, pre_activations=True)[0]
    target = int(np.argmax(probs)) if label is None else int(label)
    net.backward(np.array([target]), keep_act_grads=True)
    params = net.params()
    layers = []
    for spec, act, grad in zip(net.layers_spec, net.acts, net.act_grads):
        c, h, w = spec["out_shape"]
        a = _as_hwc(act)[..., :MAX_CHANNELS]
        g = _as_hwc(grad)[..., :MAX_CHANNELS]
        row = {
            "name": spec["name"],
            "type": spec["type"],
            "shape_text": "%dx%dx%d" % (h, w, c),
            "channels": c,
            "act": a.astype(np.float32, copy=True),
            "grad": g.astype(np.float32, copy=True),
        }
        row["act_min"], row["act_max"] = _stats(a)
        row["grad_min"], row["grad_max"] = _stats(g)
        key = spec["name"] + ".weight"
        if spec["type"] == "conv":
            depth = 3 if spec["in_shape"][0] == 3 else MAX_FILTER_DEPTH
            wt = params[key][:MAX_FILTERS, :depth]
            row["weight"] = wt.astype(np.float32, copy=True)  # (F', C', K, K)
            dw = (batch_grads or {}).get(key)
            row["dweight"] = None if dw is None else dw[:MAX_FILTERS, :depth].astype(np.float32, copy=True)
            row["filters"] = params[key].shape[0]
            row["w_min"], row["w_max"] = _stats(params[key])
            row["dw_min"], row["dw_max"] = _stats(dw)
        elif spec["type"] == "fc":
            dw = (batch_grads or {}).get(key)
            row["w_min"], row["w_max"] = _stats(params[key])
            row["dw_min"], row["dw_max"] = _stats(dw)
        layers.append(row)
    return {"probs": probs.astype(np.float64), "label": label, "target": target, "layers": layers}


def weight_grads(net):
    """Copies of the weight gradients the last training step left in the net (for probe())."""
    return {k: v.copy() for k, v in net.grads().items() if k.endswith(".weight")}
