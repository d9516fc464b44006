"""Training health, per layer: gradient norm, update/weight ratio and dead ReLUs over time.

    grad_norms(net)                      L2 norm of each parameter's gradient after backward
    update_ratios(before, after)         ||w_after - w_before|| / ||w_before|| per parameter:
                                         the size of the step the optimizer took (lr included),
                                         relative to the weights (healthy: around 1e-3)
    dead_relu_fractions(net)             per ReLU layer, the fraction of its units that are zero
                                         for every example of the last forward's batch
    HealthMonitor                        the runner calls before_step(net) / after_step(net, step)
                                         around a training step; it records every `every` steps
                                         into a HealthHistory (bounded: halves itself when full)

Keys of the series are "<metric>:<name>", e.g. "grad:conv1.weight", "ratio:conv1.weight",
"dead:relu1". What does not live here: drawing (app/teaching/teaching_plots.health_figures),
widgets (app/teaching/live_views.py).
"""

from __future__ import annotations

import threading

import numpy as np

METRICS = ("grad", "ratio", "dead")


def _norm(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(np.sqrt(a.dot(a)))


def grad_norms(net, weights_only=False):
    """{"conv1.weight": ||grad||_2, ...} from the net's last backward."""
    return {k: _norm(g) for k, g in net.grads().items() if not (weights_only and not k.endswith(".weight"))}


def snapshot_params(net):
    """Copies of the parameters, to compare against after the optimizer step."""
    return {k: np.array(v, copy=True) for k, v in net.params().items()}


def update_ratios(params_before, params_after):
    """{"conv1.weight": ||after - before|| / ||before||, ...}; inf where before is all zero
    and the step was not (a bias starting at zero), 0 where nothing moved."""
    out = {}
    for k, before in params_before.items():
        if k not in params_after:
            continue
        step = _norm(np.asarray(params_after[k], dtype=np.float64) - before)
        w = _norm(before)
        out[k] = step / w if w > 0 else (float("inf") if step > 0 else 0.0)
    return out


def dead_relu_fractions(net):
    """{"relu1": fraction of units (positions x channels) that are 0 for every example}."""
    out = {}
    for spec, act in zip(net.layers_spec, net.acts):
        if spec["type"] == "relu":
            alive = (np.asarray(act) > 0).any(axis=0)  # (H, W, C): nonzero for some example
            out[spec["name"]] = float(1.0 - alive.mean())
    return out


def health(net, params_before=None):
    """All three metrics of the step just taken as one flat {"grad:conv1.weight": ...} dict.

    Update ratios need the parameters from before the optimizer step; without them they are
    left out. Only weights are reported (biases start at zero, their ratios say little).
    """
    out = {"grad:" + k: v for k, v in grad_norms(net, weights_only=True).items()}
    if params_before is not None:
        weights = {k: v for k, v in params_before.items() if k.endswith(".weight")}
        out.update({"ratio:" + k: v for k, v in update_ratios(weights, net.params()).items()})
    out.update({"dead:" + k: v for k, v in dead_relu_fractions(net).items()})
    return out


class HealthHistory:
    """Series of health metrics over training steps, bounded to `capacity` points.

    When full, every other point is dropped and from then on only every second step offered
    is kept (the stride doubles), so a long run keeps an even sketch of its whole history.
    """

    def __init__(self, capacity=400):
        if capacity < 4:
            raise ValueError("capacity must be at least 4, got %d" % capacity)
        self.capacity = int(capacity)
        self.stride = 1
        self.steps = []
        self.series = {}  # key -> list aligned with steps (NaN where a key was missing)
        self.version = 0
        self._offered = 0
        self._lock = threading.Lock()

    def __len__(self):
        return len(self.steps)

    def __getstate__(self):  # a copy for the lecture viewers' process (app/relay.py)
        with self._lock:
            state = {k: v for k, v in vars(self).items() if k != "_lock"}
            state["steps"] = list(self.steps)
            state["series"] = {k: list(v) for k, v in self.series.items()}
            return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._lock = threading.Lock()

    def record(self, step, metrics):
        """Offer one step's metrics; kept when the step falls on the current stride."""
        with self._lock:
            self._offered += 1
            if (self._offered - 1) % self.stride:
                return False
            if len(self.steps) >= self.capacity:
                self.steps = self.steps[::2]
                self.series = {k: v[::2] for k, v in self.series.items()}
                self.stride *= 2
            n = len(self.steps)
            for key in metrics:
                if key not in self.series:
                    self.series[key] = [float("nan")] * n
            for key, values in self.series.items():
                values.append(float(metrics.get(key, float("nan"))))
            self.steps.append(step)
            self.version += 1
            return True

    def data(self, metric=None):
        """A copy as {"step": [...], key: [...]}; with metric ("grad", ...), only its keys."""
        with self._lock:
            out = {"step": list(self.steps)}
            for key, values in self.series.items():
                if metric is None or key.split(":", 1)[0] == metric:
                    out[key] = list(values)
            return out

    def keys(self, metric):
        """The series names of one metric, without the prefix: ["conv1.weight", ...]."""
        with self._lock:
            return [k.split(":", 1)[1] for k in self.series if k.split(":", 1)[0] == metric]


class HealthMonitor:
    """Wraps a training step: before_step(net) keeps the weights, after_step(net, step)
    records the metrics. Only every `every`-th step is measured, to keep the copy cheap."""

    def __init__(self, every=10, capacity=400):
        self.every = max(1, int(every))
        self.history = HealthHistory(capacity)
        self._before = None
        self._count = 0

    def before_step(self, net):
        self._before = None
        if self._count % self.every == 0:
            self._before = {k: np.array(v, copy=True) for k, v in net.params().items() if k.endswith(".weight")}

    def after_step(self, net, step):
        """Call after the optimizer step, before anything else runs a forward on the net."""
        measured = self._before is not None
        if measured:
            self.history.record(step, health(net, self._before))
            self._before = None
        self._count += 1
        return measured
