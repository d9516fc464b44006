"""The memory of one training step, worked out from the spec: what the engine holds at its peak.

A training step (Net.loss, then the optimizer) holds, at its peak near the end of backward:
- the activations forward kept for backward: every layer's output, but one array for a conv
  and the ReLU after it (engine/fast/fusion.py: the ReLU's output; its mask is all backward
  needs), the input batch included;
- the arrays a backend saves beside them (the "workspace"): the NumPy backend keeps each
  conv's padded input, whose windows make the im2col columns again for dw a block at a time
  (without BLAS, in Pyodide, the columns themselves: Ho*Wo x HH*WW*C per image) and the
  pooling switches (int8 for 2x2 windows at stride 2, else int32); the Numba backend reads
  windows straight from the conv's input, keeps int32 switches and, per conv, a copy of the
  weights;
- the gradients of backward, which Net frees as it goes: at most one layer's output gradient
  twice (as given, and through a ReLU's mask, which the Numba backend applies on the fly but
  where it convolves the masked gradient for dx) and its input gradient (none for the first
  layer) at once; and a layer's
  weight gradient made apart before it is copied into the net's flat gradient buffer (the
  NumPy backend builds it from per-thread parts: twice the largest layer's weights; the
  Numba backend once);
- parameters, their gradients, and the optimizer's state; and, after backward, while the
  optimizer updates, its temporaries (NumPy backend) instead of the gradients of backward:
  the total counts the larger of the two.
Net.forward drops the last step's arrays before it makes new ones, so no step holds two
steps' worth. Kernel scratch (a block of im2col rows per thread, padded copies) comes and goes
inside one call and is left out, as are, on the NumPy backend's threads, the gradients of a
step's other shares (engine/fast/batch_shares.py: a parameter-sized buffer per thread beyond
the first, from a batch of 32 on two threads). tests/test_step_memory.py holds the estimate to
within 15% of what tracemalloc measures (docs/ARCHITECTURE.md, "Memory of a training step").

Plain integer arithmetic over a normalized spec; summary.py calls it. Runs in the browser too.
"""

from __future__ import annotations

import sys

BYTES_PER_VALUE = 4  # float32
# Arrays of optimizer state per parameter (velocities, running averages).
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "adadelta": 2, "adam": 2}
# Parameter-sized temporaries alive at once in optim.py's NumPy update (NumPy reuses some in
# place), as tracemalloc counts them; the Numba backend's one-pass update makes none.
OPTIMIZER_SCRATCH = {"sgd": 1, "momentum": 1, "nesterov": 2, "adagrad": 2, "adadelta": 2, "adam": 4}
BACKENDS = ("numpy", "numba")
# The NumPy backend keeps each conv's im2col columns only without BLAS (Pyodide:
# kernels_numpy.NO_BLAS); with BLAS it keeps the padded input and makes them again in backward.
KEEPS_COLUMNS = sys.platform == "emscripten"
DX_BY_CONV_PIXELS = 256  # engine/fast/config.py's MIN_DX_BY_CONV_PIXELS (a test holds them equal)


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _weights(layer):
    if layer["type"] == "conv":
        return layer["out_channels"] * layer["in_shape"][0] * layer["kernel_size"] ** 2
    if layer["type"] == "fc":
        return layer["out_features"] * _prod(layer["in_shape"])
    return 0


def fused_relus(layers):
    """Indices of the ReLU layers that run fused with the conv or fc before them (Net pairs them the
    same way: engine/fast/fusion.py): their output is the pair's one array."""
    fusing = ("conv", "fc")
    return {i for i in range(1, len(layers)) if layers[i]["type"] == "relu" and layers[i - 1]["type"] in fusing}


def _workspace(layer, backend):
    """Bytes per image (and bytes for the whole batch) a backend saves beside a layer's output."""
    kind = layer["type"]
    c, h, w = layer["in_shape"]
    out = _prod(layer["out_shape"])
    if kind == "conv":
        k = layer["kernel_size"]
        f, ho, wo = layer["out_shape"]
        if backend == "numpy" and KEEPS_COLUMNS:
            return BYTES_PER_VALUE * ho * wo * k * k * c, 0  # im2col columns (transposed)
        if backend == "numpy":  # the padded copy of the input, whose windows make the columns again
            pad = layer["padding"]
            return (BYTES_PER_VALUE * (h + 2 * pad) * (w + 2 * pad) * c if pad else 0), 0
        return 0, BYTES_PER_VALUE * f * c * k * k  # the weights' copy (their layouts: made in a call)
    if kind == "pool":
        small = backend == "numpy" and layer["kernel_size"] == layer["stride"] == 2
        return (1 if small else 4) * out, 0
    if kind == "dropout":
        return BYTES_PER_VALUE * out, 0  # the mask
    return 0, 0


def _gradients(layer, relu_after, need_dx, batch, backend):
    """Values per image alive at once in one layer's backward: the gradient at its output, the
    gradient through a fused ReLU's mask when that is made apart, and its input's gradient,
    which the first layer after the input does not make (engine/net.py, backward_scores)."""
    out, given = _prod(layer["out_shape"]), _prod(layer["in_shape"]) if need_dx else 0
    if not relu_after:
        return out + given
    if backend == "numpy":  # each thread masks its share of the images: one array in all
        return 2 * out + given
    # Numba: one pass over the gradient and the mask, except where dx is a convolution of the
    # masked gradient (stride 1, enough pixels: _numba_conv_calls._conv_backward), made apart.
    f, ho, wo = layer["out_shape"]
    apart = need_dx and layer["type"] == "conv" and layer["stride"] == 1 and batch * ho * wo >= DX_BY_CONV_PIXELS
    return (2 if apart else 1) * out + given


def step_memory(layers, total_params, batch=1, optimizer="adadelta", backend="numpy"):
    """The memory of a training step, in bytes, for normalized `layers` (see the module
    docstring): {"batch", "optimizer", "backend", "activations", "activation_grads",
    "params", "param_grads", "optimizer_state", "grad_scratch", "optimizer_scratch",
    "workspace", "total"}; total is what is held throughout plus the larger of backward's
    transients (activation_grads + grad_scratch) and the optimizer's (optimizer_scratch)."""
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError("unknown optimizer %r — choose one of %s" % (optimizer, ", ".join(OPTIMIZER_STATE)))
    if backend not in BACKENDS:
        raise ValueError("unknown backend %r — choose one of %s" % (backend, ", ".join(BACKENDS)))
    b = BYTES_PER_VALUE
    fused = fused_relus(layers)
    kept = sum(_prod(layer["out_shape"]) for i, layer in enumerate(layers) if i not in fused)
    grads = 0
    for i, layer in enumerate(layers[1:], 1):  # the input needs no gradient of its own
        if i not in fused:  # a fused pair: its conv's row has the ReLU's output and its own input
            grads = max(grads, _gradients(layer, i + 1 in fused, i > 1, batch, backend))
    per_image = fixed = 0
    for layer in layers:
        p, f = _workspace(layer, backend)
        per_image += p
        fixed += f
    memory = {
        "batch": batch,
        "optimizer": optimizer,
        "backend": backend,
        "activations": b * batch * kept,
        "activation_grads": b * batch * grads,
        "params": b * total_params,
        "param_grads": b * total_params,
        "optimizer_state": b * total_params * OPTIMIZER_STATE[optimizer],
        "grad_scratch": b * (2 if backend == "numpy" else 1) * max(_weights(layer) for layer in layers),
        "optimizer_scratch": b * total_params * (OPTIMIZER_SCRATCH[optimizer] if backend == "numpy" else 0),
        "workspace": batch * per_image + fixed,
    }
    held = ("activations", "params", "param_grads", "optimizer_state", "workspace")
    backward = memory["activation_grads"] + memory["grad_scratch"]
    memory["total"] = sum(memory[k] for k in held) + max(backward, memory["optimizer_scratch"])
    return memory
