"""Layer objects: weights, gradients and the forward/backward calls into a backend's kernels.

Backend-agnostic: a layer is handed a kernel module (kernels_numpy or fast/kernels_numba,
same names and signatures) and never looks inside it. Each layer answers `params()`/`grads()`
(ConvNetJS's getParamsAndGrads) keyed like a state dict ("conv1.weight"). Once a Net holds
the layer, its `param` and `grad` arrays are views of the net's flat buffers (params.py):
write into them (`[...] =`); an array replaced instead makes the net bind them all again.
Activations are (N, H, W, C); see kernels_numpy.py for the layout.
"""

from __future__ import annotations

import numpy as np

from .spec import param_shapes


class Layer:
    """A layer without parameters; subclasses override what they need."""

    has_params = False
    fused = None  # set by Net, which runs this layer and its neighbour as one (engine/fast/fusion.py)

    def __init__(self, spec, kernels, dtype):
        self.spec = spec
        self.name = spec["name"]
        self.type = spec["type"]
        self.k = kernels
        self.dtype = dtype
        self.cache = None
        self.param = {}
        self.grad = {}

    def params(self):
        return {"%s.%s" % (self.name, k): v for k, v in self.param.items()}

    def grads(self):
        return {"%s.%s" % (self.name, k): v for k, v in self.grad.items()}

    def forward(self, x, train):
        return x

    def backward(self, dout, need_dx=True):
        return dout


class Input(Layer):
    pass


class Conv(Layer):
    has_params = True

    def __init__(self, spec, kernels, dtype, rng):
        super().__init__(spec, kernels, dtype)
        shapes = param_shapes(spec)
        F, C, HH, WW = shapes["weight"]
        # He initialisation: keeps activation variance steady through ReLUs.
        std = np.sqrt(2.0 / (C * HH * WW))
        self.param = {
            "weight": (rng.standard_normal(shapes["weight"]) * std).astype(dtype),
            "bias": np.zeros(shapes["bias"], dtype=dtype),
        }
        self.grad = {k: np.zeros_like(v) for k, v in self.param.items()}

    def forward(self, x, train):
        w, b = self.param["weight"], self.param["bias"]
        out, self.cache = self.k.conv_forward(x, w, b, self.spec["stride"], self.spec["padding"])
        return out

    def backward(self, dout, need_dx=True):
        dx, dw, db = self.k.conv_backward(dout, self.cache, need_dx)
        self.grad["weight"][...] = dw
        self.grad["bias"][...] = db
        return dx


class Pool(Layer):
    def forward(self, x, train):
        out, self.cache = self.k.pool_forward(x, self.spec["kernel_size"], self.spec["stride"])
        return out

    def backward(self, dout, need_dx=True):
        return self.k.pool_backward(dout, self.cache)


class Activation(Layer):
    def forward(self, x, train):
        out, self.cache = getattr(self.k, self.type + "_forward")(x)
        return out

    def backward(self, dout, need_dx=True):
        return getattr(self.k, self.type + "_backward")(dout, self.cache)


class FC(Layer):
    has_params = True

    def __init__(self, spec, kernels, dtype, rng):
        super().__init__(spec, kernels, dtype)
        shapes = param_shapes(spec)
        M, D = shapes["weight"]
        std = np.sqrt(2.0 / D)
        self.param = {
            "weight": (rng.standard_normal(shapes["weight"]) * std).astype(dtype),
            "bias": np.zeros(shapes["bias"], dtype=dtype),
        }
        self.grad = {k: np.zeros_like(v) for k, v in self.param.items()}

    def forward(self, x, train):
        self.in_shape = x.shape
        out, self.cache = self.k.fc_forward(x.reshape(x.shape[0], -1), self.param["weight"], self.param["bias"])
        return out.reshape(out.shape[0], 1, 1, out.shape[1])  # (N, 1, 1, M): a volume again

    def backward(self, dout, need_dx=True):
        dx, dw, db = self.k.fc_backward(dout.reshape(dout.shape[0], -1), self.cache, need_dx)
        self.grad["weight"][...] = dw
        self.grad["bias"][...] = db
        return dx.reshape(self.in_shape) if dx is not None else None


class Dropout(Layer):
    def __init__(self, spec, kernels, dtype, rng):
        super().__init__(spec, kernels, dtype)
        self.rng = rng

    def forward(self, x, train):
        p = self.spec["p"]
        if not train or p == 0:
            self.cache = None
            return x
        # Inverted dropout: scale at train time so that inference needs no change.
        self.cache = (self.rng.random_sample(x.shape) >= p).astype(x.dtype) / (1 - p)
        return x * self.cache

    def backward(self, dout, need_dx=True):
        return dout if self.cache is None else dout * self.cache


class Softmax(Layer):
    """Turns scores into probabilities; its backward is fused with the loss in Net."""

    def forward(self, x, train):
        self.scores = x.reshape(x.shape[0], -1)
        self.probs = self.k.softmax(self.scores)
        return self.probs


def build_layer(spec, kernels, dtype, rng):
    kind = spec["type"]
    if kind == "conv":
        return Conv(spec, kernels, dtype, rng)
    if kind == "fc":
        return FC(spec, kernels, dtype, rng)
    if kind == "dropout":
        return Dropout(spec, kernels, dtype, rng)
    if kind == "pool":
        return Pool(spec, kernels, dtype)
    if kind == "softmax":
        return Softmax(spec, kernels, dtype)
    if kind == "input":
        return Input(spec, kernels, dtype)
    return Activation(spec, kernels, dtype)
