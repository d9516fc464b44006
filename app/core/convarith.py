"""Convolution arithmetic for one output value of the live net, written out in full.

    out[row, col, f] = sum over (i, j, c) of patch[i, j, c] * filter[i, j, c] + bias[f]

where the patch is the HHxWWxC window of the zero-padded input whose top-left corner is
(row*stride, col*stride) in padded coordinates. conv_arithmetic() returns the patch (and
which of its cells are padding), the filter, the elementwise products, their sum, the bias
and the total — and the value the net itself computed, so the two can be shown side by side.

Layout as in the engine: activations (N, H, W, C), conv weights (F, C, HH, WW).
What does not live here: drawing (app/teaching/teaching_plots.py) and widgets
(app/teaching/explain_views.py).
"""

from __future__ import annotations

import numpy as np


def conv_layers(net):
    """Names of the net's conv layers, in order."""
    return [layer["name"] for layer in net.layers_spec if layer["type"] == "conv"]


def layer_index(net, name):
    """The index of layer `name` in net.layers (and in net.acts)."""
    for i, layer in enumerate(net.layers_spec):
        if layer["name"] == name:
            return i
    raise ValueError(
        "the net has no layer %r — its layers are %s" % (name, ", ".join(s["name"] for s in net.layers_spec))
    )


def conv_arithmetic(net, name, row, col, channel, x=None, image_index=0):
    """Every term of one conv output value. See the module docstring.

    x is one image's input to the layer (H, W, C); by default net.acts[i-1][image_index]
    from the net's last forward, whose result (net.pre_activation: acts[i], or computed again
    for a conv fused with its ReLU) is then the reference. With an
    explicit x, the reference is the net's own conv kernel run on x.

    Returns a dict: layer, row, col, channel, stride, padding, in_shape (H, W, C),
    window (top, left, bottom, right in the unpadded input, may reach outside it),
    patch (HH, WW, C), pad_mask (HH, WW) True where the patch lies in the padding,
    filter (HH, WW, C), products (HH, WW, C), channel_sums (C,), sum, bias, total
    (float64: sum + bias), net_value (the net's own output) and matches (bool).
    """
    i = layer_index(net, name)
    spec = net.layers_spec[i]
    if spec["type"] != "conv":
        raise ValueError(
            "layer %s is a %s, not a conv — choose one of %s" % (name, spec["type"], ", ".join(conv_layers(net)))
        )
    F, Ho, Wo = spec["out_shape"]
    for label, value, size in (("row", row, Ho), ("col", col, Wo), ("channel", channel, F)):
        if not 0 <= value < size:
            raise ValueError("%s %d is outside layer %s's output (0..%d)" % (label, value, name, size - 1))
    layer = net.layers[i]
    w = layer.param["weight"]  # (F, C, HH, WW)
    b = layer.param["bias"]
    if x is None:
        if len(net.acts) <= i:
            raise ValueError("run a forward pass first: the net holds no activations for layer %s" % name)
        x = net.acts[i - 1][image_index]
        net_value = float(net.pre_activation(i, image_index)[0, row, col, channel])
    else:
        x = np.asarray(x, dtype=net.dtype)
        out, _ = net.kernels.conv_forward(x[None], w, b, spec["stride"], spec["padding"])
        net_value = float(out[0, row, col, channel])
    H, W, C = x.shape
    _, _, HH, WW = w.shape
    S, P = spec["stride"], spec["padding"]
    top, left = row * S - P, col * S - P  # in unpadded input coordinates
    rr = np.arange(top, top + HH)
    cc = np.arange(left, left + WW)
    inside_r = (rr >= 0) & (rr < H)
    inside_c = (cc >= 0) & (cc < W)
    pad_mask = ~(inside_r[:, None] & inside_c[None, :])  # (HH, WW)
    patch = np.zeros((HH, WW, C), dtype=np.float64)
    patch[np.ix_(inside_r, inside_c)] = x[rr[inside_r]][:, cc[inside_c]]
    filt = w[channel].transpose(1, 2, 0).astype(np.float64)  # (C, HH, WW) -> (HH, WW, C)
    products = patch * filt
    channel_sums = products.sum(axis=(0, 1))
    total_sum = float(products.sum())
    bias = float(b[channel])
    total = total_sum + bias
    scale = max(1.0, float(np.abs(products).sum()) + abs(bias))
    return {
        "layer": name,
        "row": row,
        "col": col,
        "channel": channel,
        "stride": S,
        "padding": P,
        "in_shape": (H, W, C),
        "window": (top, left, top + HH - 1, left + WW - 1),
        "patch": patch,
        "pad_mask": pad_mask,
        "filter": filt,
        "products": products,
        "channel_sums": channel_sums,
        "sum": total_sum,
        "bias": bias,
        "total": total,
        "net_value": net_value,
        # float32 GEMM against a float64 sum: agree to float32 precision of the terms' size
        "matches": bool(abs(total - net_value) <= 1e-5 * scale),
    }


def padded_input(x, padding):
    """One image's layer input (H, W, C) zero-padded: (H+2P, W+2P, C), to show where a
    window sits."""
    x = np.asarray(x)
    if padding == 0:
        return x
    return np.pad(x, ((padding, padding), (padding, padding), (0, 0)))


def explain(result):
    """The arithmetic in one sentence, as a lecturer would say it."""
    r = result
    top, left, bottom, right = r["window"]
    npad = int(r["pad_mask"].sum())
    HH, WW, C = r["patch"].shape
    return (
        "%s[%d, %d, %d]: the %dx%dx%d window at rows %d..%d, cols %d..%d of the input "
        "(stride %d, padding %d%s) times filter %d, elementwise: %d products summing to %.4f; "
        "plus bias %.4f gives %.4f (the net computed %.4f)."
        % (
            r["layer"],
            r["row"],
            r["col"],
            r["channel"],
            HH,
            WW,
            C,
            top,
            bottom,
            left,
            right,
            r["stride"],
            r["padding"],
            (", %d of its %d cells are padding" % (npad, HH * WW)) if npad else "",
            r["channel"],
            HH * WW * C,
            r["sum"],
            r["bias"],
            r["total"],
            r["net_value"],
        )
    )
