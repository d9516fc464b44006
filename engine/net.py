"""Net: a spec turned into layers on a backend, with forward, backward and prediction.

Backend-agnostic. `Net(spec, backend="numba" | "numpy")` builds the same layers with the same
seeded weights on either backend; only the kernel module differs. The net also owns its
input preprocessing (uint8 pixels -> floats), so that a snapshot evaluates without flags.
"""

from __future__ import annotations

import time

import numpy as np

from .fast import batch_shares, keep_freed_memory, pair_conv_relu
from .layers import build_layer
from .params import ParamDict, bind, make_layout
from .spec import normalize, to_json

# ConvNetJS feeds pixels as x/255 - 0.5; our nets do the same unless a snapshot says otherwise.
DEFAULT_PREPROCESS = {"scale": 1.0 / 255.0, "shift": -0.5}


def available_backends():
    """Backends that run here, fastest first: ["numba", "numpy"], or ["numpy"] without Numba.

    Looks Numba up without importing it: importing the Numba kernels loads OpenMP and
    compiles, which a caller that only fills a menu must not pay for, and this module also
    runs in the browser, where nothing imports Numba.
    """
    from importlib.util import find_spec

    have = all(find_spec(name) is not None for name in ("numba", "llvmlite"))
    return ["numba", "numpy"] if have else ["numpy"]


def get_kernels(backend):
    """The kernel module of a backend name; numba is imported only when asked for."""
    if backend == "numpy":
        from . import kernels_numpy as k
    elif backend == "numba":
        from .fast import kernels_numba as k
    else:
        raise ValueError("unknown backend %r — use 'numba' or 'numpy'" % (backend,))
    return k


class Net:
    """A ConvNet: layers built from a spec, trained by an optimizer from optim.py.

    x is (N, H, W, C) float; prepare() makes it from uint8 images.
    """

    def __init__(self, spec, backend="numpy", seed=0, dtype=np.float32, preprocess=None):
        self.layers_spec = normalize(spec)
        keep_freed_memory()  # each step reuses the memory the last one freed (engine/fast/memory.py)
        self.backend = backend
        self.kernels = get_kernels(backend)
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.preprocess = dict(preprocess or DEFAULT_PREPROCESS)
        rng = np.random.RandomState(seed)
        self.layers = [build_layer(s, self.kernels, self.dtype, rng) for s in self.layers_spec]
        self._bound = None  # see _bind_params
        self._pass = None  # what a compiled forward left for its backward (fast/compiled_pass.py)
        self._bind_params()
        self._acts, self._shares = [], None  # acts: see there
        self.act_grads = []  # gradients w.r.t. every layer's output after the last backward
        self.fwd_ms = 0.0
        self.bwd_ms = 0.0

    # -- shape and parameters ------------------------------------------------------------
    @property
    def input_shape(self):
        """(H, W, C) of one input image."""
        return tuple(self.layers_spec[0]["shape"])

    @property
    def num_classes(self):
        return self.layers_spec[-1]["num_classes"]

    def spec(self):
        return to_json(self.layers_spec)

    def _bind_params(self):
        """Put every parameter in one flat buffer and every gradient in another (params.py),
        so that an optimizer step is a few whole-array operations; the layers' dicts get
        views of the buffers. The dicts params(), grads() and decay_mults() return are made
        here once, not at every call (at batch 1, building them cost as much as a conv layer:
        docs/BENCHMARKS.md, "Flat parameter buffers").
        """
        pair_conv_relu(self.layers)  # the layers are new (or replaced): pair them again
        owners = [(layer, name) for layer in self.layers for name in layer.param]
        layout = make_layout([("%s.%s" % (layer.name, name), layer.param[name].shape) for layer, name in owners])
        self._params = bind([(layer.param, name) for layer, name in owners], layout, self.dtype, self.kernels)
        self._grads = bind([(layer.grad, name) for layer, name in owners], layout, self.dtype)
        self._decay = ParamDict((key, 1.0 if key.endswith(".weight") else 0.0) for key, _, _, _ in layout)
        bound = [(layer, name, layer.param[name], layer.grad[name]) for layer, name in owners]
        self._bound = (list(self.layers), bound)
        # the compiled passes of these layers and buffers: the Numba backend's (compiled_pass.py)
        programs = getattr(self.kernels, "compiled_programs", None)
        self._programs = programs(self) if programs is not None else None

    def _check_bound(self):
        """Bind again if a layer or a parameter array was replaced since (not written into):
        the cached dicts and the flat buffers would no longer be what the layers compute with."""
        layers, bound = self._bound
        if self.layers != layers:
            self._bind_params()
            return
        for layer, name, p, g in bound:
            if layer.param.get(name) is not p or layer.grad.get(name) is not g:
                self._bind_params()
                return

    def params(self):
        """{"conv1.weight": array, ...}: the live arrays, updated in place by optimizers.

        The same read-only dict at every call (a ParamDict: its arrays are views of one flat
        buffer, `.flat`); to change weights, write into the arrays or use load_params().
        """
        self._check_bound()
        return self._params

    def grads(self):
        """The gradients of the last backward, keyed and laid out like params()."""
        self._check_bound()
        return self._grads

    def decay_mults(self):
        """L2 decay multiplier per parameter: weights decay, biases do not (as in ConvNetJS)."""
        self._check_bound()
        return self._decay

    def copy(self, backend=None):
        """An independent net with the same spec, preprocessing and weights (e.g. to inspect
        images in one thread while another trains the original)."""
        twin = Net(
            self.spec(), backend=backend or self.backend, seed=self.seed, dtype=self.dtype, preprocess=self.preprocess
        )
        twin.load_params(self.params())
        return twin

    def load_params(self, arrays):
        """Copy arrays into the net's parameters; shapes must match exactly."""
        params = self.params()
        missing = sorted(set(params) - set(arrays))
        extra = sorted(set(arrays) - set(params))
        if missing or extra:
            raise ValueError("parameters do not match the net: missing %s, unexpected %s" % (missing, extra))
        for k, v in arrays.items():
            if tuple(v.shape) != params[k].shape:
                raise ValueError("%s: shape %s does not match the net's %s" % (k, tuple(v.shape), params[k].shape))
        for k, v in arrays.items():
            params[k][...] = v

    # -- computation ---------------------------------------------------------------------
    @property
    def acts(self):
        """Outputs of every layer after the last forward (see forward). After a step run by
        shares of the batch (fast/batch_shares.py), the shares' rows are joined here on first
        use: a step itself never pays for the copy."""
        if self._shares is not None:
            joined = []
            for i, mine in enumerate(self._acts):
                rows = [mine] + [theirs[i] for theirs in self._shares]
                joined.append(None if mine is None else np.concatenate(rows))
            self._acts, self._shares = joined, None
        return self._acts

    @acts.setter
    def acts(self, value):
        self._acts, self._shares = value, None

    def join_shares(self, acts):
        """acts of the other shares of the last step, after this net's own (batch_shares.py)."""
        self._shares = list(acts)

    def prepare(self, images):
        """uint8 (N, H, W, C) images -> float inputs, with this net's preprocessing."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        h, w, c = self.input_shape
        if images.shape[1:] != (h, w, c):
            raise ValueError("images of shape %s do not fit the net's %dx%dx%d input" % (images.shape[1:], h, w, c))
        x = images.astype(self.dtype)
        x *= self.dtype.type(self.preprocess["scale"])
        x += self.dtype.type(self.preprocess["shift"])
        return x

    def forward(self, x, train=False, pre_activations=False):
        """Class probabilities (N, K) for inputs x (N, H, W, C); keeps every layer's output in
        acts, but for a conv or fc fused with its ReLU (engine/fast/fusion.py) only the ReLU's:
        that layer's row is None unless pre_activations, which only a picture of one example asks
        for (app/core/probe.py). See docs/ARCHITECTURE.md, "Memory of a training step".
        """
        t0 = time.perf_counter()
        # the last pass's outputs and saved arrays go before this pass makes new ones: a
        # step never holds two passes' worth of them
        for layer in self.layers:
            layer.cache = None
        self.acts, self._pass = [], None
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if self._programs is not None and not pre_activations:
            self._check_bound()
            program = self._programs.get(x)
            if program is not None:  # the kernels' calls in a few compiled ones (fast/compiled_pass.py)
                self.acts, self._pass = self._programs.forward(program, x, train)
                self.fwd_ms = (time.perf_counter() - t0) * 1000
                return self._acts[-1]
        self.acts = acts = [x]  # filled in place below: one property call, not two a layer
        layers, i = self.layers, 1
        while i < len(layers):
            layer, pair = layers[i], layers[i].fused
            if pair is not None and pair.conv is layer and i + 1 < len(layers) and pair.relu is layers[i + 1]:
                pre, x = pair.forward(x, train, pre_activations)
                acts += [pre, x]
                i += 2
                continue
            x = layer.forward(x, train)
            acts.append(x)
            i += 1
        self.fwd_ms = (time.perf_counter() - t0) * 1000
        return x

    def pre_activation(self, i, image_index=0):
        """The output of conv or fc layer i for one image of the last forward, (1, Ho, Wo, F):
        the row acts holds, or, for a layer whose ReLU kept the only array, computed again
        from its input (acts[i - 1])."""
        if self.acts[i] is not None:
            return self.acts[i][image_index : image_index + 1]
        layer = self.layers[i]
        x = self.acts[i - 1][image_index : image_index + 1]
        w, b = layer.param["weight"], layer.param["bias"]
        if layer.type == "fc":
            return self.kernels.fc_forward(x.reshape(1, -1), w, b)[0].reshape(1, 1, 1, -1)
        return self.kernels.conv_forward(x, w, b, layer.spec["stride"], layer.spec["padding"])[0]

    def backward(self, y, keep_act_grads=False):
        """Loss of the last forward against labels y (N,), filling every layer's grads.

        With keep_act_grads, the gradient w.r.t. every layer's output is kept in act_grads
        (aligned with acts; the softmax's row shows d(loss)/d(scores)), the input's included.
        """
        t0 = time.perf_counter()
        softmax = self.layers[-1]
        loss, _, dscores = self.kernels.softmax_loss(softmax.scores, np.asarray(y, dtype=np.int64))
        self.backward_scores(dscores, keep_act_grads)
        self.bwd_ms = (time.perf_counter() - t0) * 1000
        return loss

    def backward_scores(self, dscores, keep_act_grads=False):
        """Backpropagate a gradient on the class scores (N, K) (the softmax's input).

        Returns the gradient w.r.t. the input x when keep_act_grads, else None. With a
        one-hot dscores this is the saliency map of that class's score.
        """
        dout = np.asarray(dscores, dtype=self.dtype).reshape(self.acts[-2].shape)
        if self._pass is not None:  # the forward ran compiled: so does its backward, or the
            if not keep_act_grads:  # layers get their caches back and run one by one
                self._programs.backward(self._pass, dout)
                return None
            self._programs.restore(self._pass)
        grads = [dout] if keep_act_grads else []
        i = len(self.layers) - 2
        while i > 0:
            layer, pair = self.layers[i], self.layers[i].fused
            if not keep_act_grads and pair is not None and pair.relu is layer and pair.conv is self.layers[i - 1]:
                dout = pair.backward(dout, i - 1 > 1)  # the ReLU and its conv in one call (fusion.py)
                i -= 2
                continue
            need_dx = keep_act_grads or i > 1
            dout = layer.backward(dout, need_dx)
            if keep_act_grads:
                grads.append(dout)
            i -= 1
        if not keep_act_grads:
            return None
        self.act_grads = grads[::-1] + [grads[0].reshape(self.acts[-1].shape)]
        return self.act_grads[0]

    def saliency(self, image, class_index):
        """|d score_c / d input| of one uint8 image (H, W, C), max over channels -> (H, W)."""
        probs = self.forward(self.prepare(image))
        dscores = np.zeros_like(probs)
        dscores[0, class_index] = 1.0
        dx = self.backward_scores(dscores, keep_act_grads=True)
        return np.abs(dx[0]).max(axis=-1)

    def loss(self, x, y, train=True, keep_act_grads=False):
        """Forward and backward on one batch: (loss, probs). On the NumPy backend's threads a
        training step runs by shares of the batch, a share per thread (fast/batch_shares.py)."""
        cuts = batch_shares.shares(self, len(x), train, keep_act_grads)
        if cuts is not None:
            return batch_shares.loss(self, np.ascontiguousarray(x, dtype=self.dtype), y, cuts)
        probs = self.forward(x, train=train)
        return self.backward(y, keep_act_grads), probs

    def predict(self, images, batch_size=256):
        """Probabilities (N, K) for uint8 images (N, H, W, C), in batches to bound memory."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        out = []
        for i in range(0, len(images), batch_size):
            out.append(self.forward(self.prepare(images[i : i + batch_size])))
        return np.concatenate(out) if out else np.zeros((0, self.num_classes), self.dtype)

    def accuracy(self, images, labels, batch_size=256):
        probs = self.predict(images, batch_size)
        return float((probs.argmax(axis=1) == np.asarray(labels)).mean()) if len(labels) else 0.0
