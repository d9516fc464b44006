"""What the ONNX and PyTorch exports share: the net as NCHW steps, and the fc weights' order.

Our activations are channels-last, (N, H, W, C), and an fc layer flattens the volume it is
given in (H, W, C) order (docs/ARCHITECTURE.md, "Snapshot format"). ONNX and PyTorch convolve
(N, C, H, W) tensors and flatten them in (C, H, W) order. So an export runs NCHW and reorders
the columns of every fc layer that takes a volume, from (H, W, C) to (C, H, W): each output
is then the same sum of the same products as ours, so the exported net computes our forward.
Conv weights need nothing: they are (F, C, HH, WW) on both sides. The torch import
(torch_import.py) reorders fc weights back with the same functions.

`steps(spec)` walks the canonical spec and says what the exported graph does at each point:
    Step(kind, name, layer, in_shape, out_shape)   shapes (C, H, W); a flat tensor is (D, 1, 1)
kinds: conv, pool, relu, tanh, sigmoid, dropout, fc, softmax, and two that are not layers of
ours: "flatten" (before an fc that takes a volume) and "unflatten" (before a conv or pool
that takes an fc's output, a (D, 1, 1) volume for us and an (N, D) matrix for PyTorch).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..spec import normalize

Step = namedtuple("Step", "kind name layer in_shape out_shape")


def steps(spec):
    """The NCHW steps of a spec (any accepted spelling); see the module docstring."""
    layers = normalize(spec)
    taken = {layer["name"] for layer in layers}
    out = []
    flat = False  # is the tensor at this point an (N, D) matrix rather than a volume?
    for layer in layers[1:]:
        kind = layer["type"]
        in_shape = tuple(layer["in_shape"])
        if kind == "fc" and not flat:
            out.append(Step("flatten", _free_name("flatten", taken), None, in_shape, (int(np.prod(in_shape)), 1, 1)))
            flat = True
        elif kind in ("conv", "pool") and flat:
            out.append(Step("unflatten", _free_name("unflatten", taken), None, in_shape, in_shape))
            flat = False
        out.append(Step(kind, layer["name"], layer, in_shape, tuple(layer["out_shape"])))
    return out


def _free_name(base, taken):
    name, i = base, 1
    while name in taken:
        i += 1
        name = "%s%d" % (base, i)
    taken.add(name)
    return name


def flattened_fcs(spec):
    """{fc name: its input volume (C, H, W)} for every fc that takes a volume (after a flatten)."""
    found, pending = {}, None
    for step in steps(spec):
        if step.kind == "flatten":
            pending = step.in_shape
        elif step.kind == "fc" and pending is not None:
            found[step.name] = pending
            pending = None
    return found


def fc_weight_to_torch(w, in_shape):
    """An fc weight (M, H*W*C) in our (H, W, C) column order -> (M, C*H*W) in (C, H, W) order."""
    c, h, wd = in_shape
    m = w.shape[0]
    return np.ascontiguousarray(w.reshape(m, h, wd, c).transpose(0, 3, 1, 2).reshape(m, c * h * wd))


def fc_weight_from_torch(w, in_shape):
    """The inverse of fc_weight_to_torch: (M, C*H*W) -> (M, H*W*C)."""
    c, h, wd = in_shape
    m = w.shape[0]
    return np.ascontiguousarray(w.reshape(m, c, h, wd).transpose(0, 2, 3, 1).reshape(m, h * wd * c))


def torch_arrays(spec, arrays, dtype=np.float32):
    """A snapshot's parameters in the exports' layout: {"conv1.weight": array, ...}, float32.

    Keys are our state-dict keys (also PyTorch's for the exported module); only the weights of
    fc layers that take a volume change (their column order).
    """
    fcs = flattened_fcs(spec)
    out = {}
    for key, value in arrays.items():
        if key.startswith("optim."):
            continue
        value = np.asarray(value, dtype=dtype)
        name, _, kind = key.rpartition(".")
        if kind == "weight" and name in fcs:
            value = fc_weight_to_torch(value, fcs[name])
        out[key] = np.ascontiguousarray(value)
    return out


def arrays_from_torch(spec, arrays, dtype=np.float32):
    """The inverse of torch_arrays: parameters in the exports' layout -> ours."""
    fcs = flattened_fcs(spec)
    out = {}
    for key, value in arrays.items():
        value = np.asarray(value, dtype=dtype)
        name, _, kind = key.rpartition(".")
        if kind == "weight" and name in fcs and value.ndim == 2:
            c, h, w = fcs[name]
            if value.shape[1] != c * h * w:
                raise ValueError("%s: shape %s does not fit %d inputs" % (key, value.shape, c * h * w))
            value = fc_weight_from_torch(value, fcs[name])
        out[key] = value
    return out
