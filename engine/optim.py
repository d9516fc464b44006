"""Optimizers: SGD, momentum, Nesterov, Adagrad, Adadelta (ConvNetJS's default), Adam.

One interface: `opt.step(params, grads, decay_mults)` updates the parameter arrays in place.
Hyperparameters are plain attributes (`lr`, `momentum`, `weight_decay`, ...) that may change
between steps while training runs. State (velocities, running averages) lives in `opt.state`
and goes into snapshots through state_dict()/load_state_dict(). Pure NumPy: it runs in
Pyodide too, and parameters are small enough that the kernels are not needed here.
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

    def step(self, params, grads, decay_mults=None):
        self.steps += 1
        t = self.steps
        for key, p in params.items():
            g = grads[key]
            mult = 1.0 if decay_mults is None else decay_mults.get(key, 1.0)
            if self.weight_decay and mult:
                g = g + (self.weight_decay * mult) * p
            dt = p.dtype.type
            if self.name == "sgd":
                p -= dt(self.lr) * g
            elif self.name == "momentum":
                v = self._slot(key, "velocity", p)
                v *= dt(self.momentum)
                v -= dt(self.lr) * g
                p += v
            elif self.name == "nesterov":
                # PyTorch's form: v = mu*v + g; p -= lr * (g + mu*v)
                v = self._slot(key, "velocity", p)
                v *= dt(self.momentum)
                v += g
                p -= dt(self.lr) * (g + dt(self.momentum) * v)
            elif self.name == "adagrad":
                s = self._slot(key, "sum_sq", p)
                s += g * g
                p -= dt(self.lr) * g / (np.sqrt(s) + dt(self.eps))
            elif self.name == "adadelta":
                sq = self._slot(key, "sq_avg", p)
                dl = self._slot(key, "delta_avg", p)
                rho = dt(self.rho)
                sq *= rho
                sq += (1 - rho) * g * g
                delta = np.sqrt((dl + dt(self.eps)) / (sq + dt(self.eps))) * g
                dl *= rho
                dl += (1 - rho) * delta * delta
                p -= dt(self.lr) * delta
            elif self.name == "adam":
                m = self._slot(key, "m", p)
                v = self._slot(key, "v", p)
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


def make_optimizer(name="adadelta", **hyper):
    return Optimizer(name, **hyper)
