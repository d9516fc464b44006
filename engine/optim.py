"""Optimizers: SGD, momentum, Nesterov, Adagrad, Adadelta (ConvNetJS's default), Adam.

One interface: `opt.step(params, grads, decay_mults)` updates the parameter arrays in place.
Hyperparameters are plain attributes (`lr`, `momentum`, `weight_decay`, ...) that may change
between steps while training runs. State (velocities, running averages) lives in `opt.state`,
one array per parameter and slot ("conv1.weight.velocity"), and goes into snapshots through
state_dict()/load_state_dict(). Pure NumPy: it runs in Pyodide too.

Two paths, one formula (`_update`): given any {key: array} dicts, a loop over the parameters;
given a net's own dicts (params.py's ParamDicts: every parameter a view of one flat buffer, every
gradient of another), one update over the whole buffers, with each state slot a flat buffer
too whose per-parameter views are what `opt.state` holds. Elementwise, both give the same bits;
the flat one costs a handful of NumPy calls instead of ~12 per array, a cost paid at every
step whatever the batch size, so it is what the live demo's batches of 1-4 feel (see
docs/BENCHMARKS.md, "Flat parameter buffers"). A backend whose kernel module has
`optim_update` (the Numba one, engine/fast/_numba_optim.py) takes the flat step in one
compiled pass instead ("Optimizer step in one compiled pass"), with the same float operations
in the same order: the same bits (tests/test_optim_flat.py).
"""

from __future__ import annotations

import numpy as np

DEFAULTS = {
    "sgd": {"lr": 0.01},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.01, "eps": 1e-8},
    "adadelta": {"lr": 1.0, "rho": 0.95, "eps": 1e-6},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}
SLOTS = {
    "sgd": (),
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "adagrad": ("sum_sq",),
    "adadelta": ("sq_avg", "delta_avg"),
    "adam": ("m", "v"),
}
HYPER = ("lr", "momentum", "weight_decay", "rho", "eps", "beta1", "beta2")


class Optimizer:
    """Updates parameters in place from their gradients; see the module docstring."""

    def __init__(self, name="adadelta", weight_decay=0.0, **hyper):
        if name not in DEFAULTS:
            raise ValueError("unknown optimizer %r — choose one of %s" % (name, ", ".join(DEFAULTS)))
        self.name = name
        self.weight_decay = float(weight_decay)
        self.momentum = 0.0
        self.rho = self.eps = self.beta1 = self.beta2 = 0.0
        for k, v in DEFAULTS[name].items():
            setattr(self, k, v)
        self.set(**hyper)
        self.steps = 0
        self.state = {}
        self._flat = None  # (layout, state dict, slot buffers) of the flat path: _flat_slots
        self._decay = None  # (layout, weight_decay, mults, dtype, vector): _decay_vector
        self._hyper = None  # (key, scalars) of _scalars

    def set(self, **hyper):
        """Change hyperparameters between steps (lr, momentum, weight_decay, ...)."""
        for k, v in hyper.items():
            if v is None:
                continue
            if k not in HYPER:
                raise ValueError("unknown hyperparameter %r for %s — use %s" % (k, self.name, ", ".join(HYPER)))
            v = float(v)
            if not np.isfinite(v) or v < 0:
                raise ValueError("%s must be a finite number >= 0, got %r" % (k, v))
            setattr(self, k, v)

    def hyper(self):
        return {k: getattr(self, k) for k in HYPER}

    def _slot(self, key, slot, like):
        full = "%s.%s" % (key, slot)
        if full not in self.state:
            self.state[full] = np.zeros_like(like)
        return self.state[full]

    def _flat_slots(self, layout, p):
        """One flat buffer per state slot, laid out like the parameters' buffer p; opt.state
        holds the per-parameter views of them. Made again (existing state copied in) when the
        layout is new (another net, or re-bound) or opt.state was replaced (load_state_dict)."""
        f = self._flat
        if f is not None and f[0] is layout and f[1] is self.state:
            return f[2]
        slots = [np.zeros(p.size, dtype=p.dtype) for _ in SLOTS[self.name]]
        for key, start, stop, shape in layout:  # keys in the dict path's order, as snapshots list them
            for slot, buf in zip(SLOTS[self.name], slots):
                full = "%s.%s" % (key, slot)
                view = buf[start:stop].reshape(shape)
                old = self.state.get(full)
                if old is not None:
                    if np.shape(old) != shape:
                        raise ValueError(
                            "optimizer state %s has shape %s but the parameter has %s — start with a fresh "
                            "optimizer for this net" % (full, np.shape(old), shape)
                        )
                    view[...] = old
                self.state[full] = view
        self._flat = (layout, self.state, slots)
        return slots

    def _decay_vector(self, layout, decay_mults, dtype):
        """weight_decay * multiplier for every value of the flat buffer (None: no decay at all),
        as the dict path computes it per parameter; kept until an input changes."""
        mults = None if decay_mults is None else dict(decay_mults)
        d = self._decay
        if d is not None and d[0] is layout and d[1] == self.weight_decay and d[2] == mults and d[3] == dtype:
            return d[4]
        vec = np.zeros(layout[-1][2] if layout else 0, dtype=np.float64)
        for key, start, stop, _ in layout:
            vec[start:stop] = self.weight_decay * (1.0 if mults is None else mults.get(key, 1.0))
        vec = vec.astype(dtype) if vec.any() else None
        self._decay = (layout, self.weight_decay, mults, dtype, vec)
        return vec

    def step(self, params, grads, decay_mults=None):
        """Update params in place from grads ({key: array} each); decay_mults: {key: factor of
        weight_decay}, 1 for a key it lacks (or for all when None)."""
        self.steps += 1
        layout = getattr(params, "layout", None)
        if layout is not None and getattr(grads, "layout", None) is layout:
            p, g = params.flat, grads.flat
            decay = self._decay_vector(layout, decay_mults, p.dtype) if self.weight_decay else None
            fused = getattr(getattr(params, "kernels", None), "optim_update", None)
            if fused is not None:  # the backend's one-pass kernel (kernels_numba): same bits
                fused(self.name, p, g, decay, self._flat_slots(layout, p), self._scalars(p.dtype.type))
                return
            if decay is not None:
                g = g + decay * p
            self._update(p, g, self._flat_slots(layout, p))
            return
        for key, p in params.items():
            g = grads[key]
            mult = 1.0 if decay_mults is None else decay_mults.get(key, 1.0)
            if self.weight_decay and mult:
                g = g + (self.weight_decay * mult) * p
            self._update(p, g, [self._slot(key, slot, p) for slot in SLOTS[self.name]])

    def _scalars(self, dt):
        """The hyperparameters as _update computes them, in the order a backend's fused
        update takes them after its state slots (kernels_numba.optim_update); kept until one
        of them changes (Adam's change every step; docs/BENCHMARKS.md, "The Python around a
        batch-1 step")."""
        if self.name == "adam":
            return self._make_scalars(dt)
        key = (dt, self.name, self.lr, self.momentum, self.rho, self.eps)
        h = self._hyper
        if h is None or h[0] != key:
            h = self._hyper = (key, self._make_scalars(dt))
        return h[1]

    def _make_scalars(self, dt):
        if self.name == "sgd":
            return (dt(self.lr),)
        if self.name in ("momentum", "nesterov"):
            return dt(self.lr), dt(self.momentum)
        if self.name == "adagrad":
            return dt(self.lr), dt(self.eps)
        if self.name == "adadelta":
            rho = dt(self.rho)
            return dt(self.lr), rho, 1 - rho, dt(self.eps)
        b1, b2, t = dt(self.beta1), dt(self.beta2), self.steps
        return (dt(self.lr), b1, 1 - b1, b2, 1 - b2, dt(1 - self.beta1**t), dt(1 - self.beta2**t), dt(self.eps))

    def _update(self, p, g, slots):
        """One step of this optimizer on p (in place) with gradient g and its state slots (in
        SLOTS order), all of p's shape: one parameter, or the flat buffer of all of them."""
        dt = p.dtype.type
        if self.name == "sgd":
            p -= dt(self.lr) * g
        elif self.name == "momentum":
            (v,) = slots
            v *= dt(self.momentum)
            v -= dt(self.lr) * g
            p += v
        elif self.name == "nesterov":
            # PyTorch's form: v = mu*v + g; p -= lr * (g + mu*v)
            (v,) = slots
            v *= dt(self.momentum)
            v += g
            p -= dt(self.lr) * (g + dt(self.momentum) * v)
        elif self.name == "adagrad":
            (s,) = slots
            s += g * g
            p -= dt(self.lr) * g / (np.sqrt(s) + dt(self.eps))
        elif self.name == "adadelta":
            sq, dl = slots
            rho = dt(self.rho)
            sq *= rho
            sq += (1 - rho) * g * g
            delta = np.sqrt((dl + dt(self.eps)) / (sq + dt(self.eps))) * g
            dl *= rho
            dl += (1 - rho) * delta * delta
            p -= dt(self.lr) * delta
        elif self.name == "adam":
            m, v = slots
            t = self.steps
            b1, b2 = dt(self.beta1), dt(self.beta2)
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mhat = m / dt(1 - self.beta1**t)
            vhat = v / dt(1 - self.beta2**t)
            p -= dt(self.lr) * mhat / (np.sqrt(vhat) + dt(self.eps))

    def state_dict(self):
        """(config dict for JSON, arrays dict for .npz)."""
        config = {"name": self.name, "steps": self.steps}
        config.update(self.hyper())
        return config, {"optim." + k: v for k, v in self.state.items()}

    def load_state_dict(self, config, arrays):
        if config.get("name") != self.name:
            raise ValueError("optimizer state is for %r, not %r" % (config.get("name"), self.name))
        self.set(**{k: config[k] for k in HYPER if k in config})
        self.steps = int(config.get("steps", 0))
        self.state = {k[len("optim.") :]: np.array(v) for k, v in arrays.items() if k.startswith("optim.")}
        self._flat = None


def make_optimizer(name="adadelta", **hyper):
    return Optimizer(name, **hyper)
