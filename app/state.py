"""DashboardState: one browser session's view of the run, as a param.Parameterized object.

It holds the settings the controls edit (optimizer, learning rate, momentum, weight decay,
batch size, seed, backend) and the latest stats the runner published, copied in by the
session's periodic callback through sync(). Views read it (widgets are made from its
parameters); only the controls and sync() change it. The Dashboard forwards edits of the
settings to the runner, and sync() brings in edits made in other sessions. No Panel here.
"""

from __future__ import annotations

import param

import engine

from .core.paths import available_backends

SETTINGS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "seed", "backend")


class DashboardState(param.Parameterized):
    """See the module docstring."""

    optimizer = param.Selector(default="adadelta", objects=list(engine.OPTIMIZER_DEFAULTS), label="optimizer")
    lr = param.Number(default=1.0, bounds=(0, None), label="learning rate")
    momentum = param.Number(default=0.9, bounds=(0, 1), label="momentum")
    weight_decay = param.Number(default=1e-4, bounds=(0, None), label="weight decay (L2)")
    batch_size = param.Integer(default=64, bounds=(1, 1024), label="batch size")
    seed = param.Integer(default=0, bounds=(0, 2**31 - 1), label="seed (applies at reset)")
    backend = param.Selector(default="numpy", objects=["numba", "numpy"], label="backend")

    status = param.String(default="loading", doc="running | paused | no data | loading")
    running = param.Boolean(default=False)
    message = param.String(default="")
    error = param.String(default="", doc="the run's last error (divergence), shown until cleared")
    data_error = param.String(default="")
    data_source = param.String(default="")
    stats = param.Dict(default={}, doc="examples, epoch, loss, accuracies, timings (runner.snapshot())")
    spec = param.List(default=[], doc="the running net's spec (canonical JSON list)")
    spec_version = param.Integer(default=0)
    run_id = param.Integer(default=0)
    classes = param.List(default=[])
    has_data = param.Boolean(default=False)
    pretrained = param.String(default="", doc="path of the shipped pretrained snapshot, '' if none")
    n_test = param.Integer(default=0)
    can_undo = param.Boolean(default=False, doc="a reset, snapshot or spec replaced a net Undo can bring back")
    undo_what = param.String(default="", doc="what replaced it: reset, snapshot, new spec, undo")

    def __init__(self, **params):
        super().__init__(**params)
        self.param.backend.objects = available_backends()
        self.syncing = False  # True while sync() copies the runner's values in

    def sync(self, snap, stats=True):
        """Copy a runner.snapshot() dict in; only parameters whose value changed fire events.

        stats=False leaves the numbers (stats) as they are: the status and settings are synced
        on every tick, the numbers less often (each redraw costs the browser)."""
        new = dict(snap.get("hyper", {}))
        new.update(
            status=snap.get("status", "loading"),
            running=bool(snap.get("running")),
            message=snap.get("message") or "",
            error=snap.get("error") or "",
            data_error=snap.get("data_error") or "",
            data_source=snap.get("data_source") or "",
            spec_version=snap.get("spec_version", 0),
            run_id=snap.get("run_id", 0),
            has_data=bool(snap.get("has_data")),
            pretrained=snap.get("pretrained") or "",
            n_test=snap.get("n_test", 0),
            can_undo=bool(snap.get("can_undo")),
            undo_what=snap.get("undo_what") or "",
        )
        if snap.get("spec_version", 0) != self.spec_version:
            new["spec"] = snap.get("spec", [])
        if snap.get("classes") != self.classes:
            new["classes"] = list(snap.get("classes") or [])
        keys = (
            "examples",
            "epoch",
            "steps",
            "loss",
            "loss_smooth",
            "train_acc",
            "val_acc",
            "test_acc",
            "test_seen",
            "fwd_ms",
            "bwd_ms",
            "images_per_s",
            "step_images_per_s",
            "backend",
            "n_train",
            "n_val",
        )
        numbers = {k: snap.get(k) for k in keys}
        if (stats or not self.stats) and repr(numbers) != repr(self.stats):  # repr: NaN == NaN
            new["stats"] = numbers
        changed = {k: v for k, v in new.items() if k in self.param and (k == "stats" or getattr(self, k) != v)}
        if changed:
            self.syncing = True
            try:
                self.param.update(**changed)
            finally:
                self.syncing = False
        return changed

    def settings(self):
        return {k: getattr(self, k) for k in SETTINGS}
