"""Controls: start / pause / single step / reset / undo, and the training settings.

Undo brings back the net a reset, a snapshot or a new spec replaced (app/core/runner_undo.py);
a viewer's page has no Undo button at all (and the server refuses the command anyway).

The setting widgets are made from DashboardState's parameters; edits go to the runner at once
(runner.set_hyper), which applies them between two steps while training runs. Choosing an
optimizer also sets its default learning rate (and momentum), as ConvNetJS's demos do.
"""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

import engine

from ..core.fragments import status_html
from ..state import SETTINGS
from .common import alert, dim, html, show


class Controls(Viewer):
    """See the module docstring."""

    def __init__(self, state, runner, read_only=False, **params):
        super().__init__(**params)
        self.state, self.runner = state, runner
        self.read_only = read_only  # a lecture viewer's page: everything shown, nothing editable
        button = pn.widgets.Button
        self.start_button = button(label="Start", color="success", sizing_mode="stretch_width")
        self.pause_button = button(label="Pause", color="warning", sizing_mode="stretch_width")
        self.step_button = button(label="Step: one batch", color="primary", sizing_mode="stretch_width")
        self.reset_button = button(
            label="Reset weights", color="danger", variant="outline", sizing_mode="stretch_width"
        )
        self.start_button.on_click(lambda e: self._command(runner.start))
        self.pause_button.on_click(lambda e: self._command(runner.pause))
        self.step_button.on_click(lambda e: self._command(runner.step))
        self.reset_button.on_click(lambda e: self._command(runner.reset))
        self.undo_button = button(
            label="Undo", variant="outline", sizing_mode="stretch_width", visible=not read_only, disabled=True
        )
        self.undo_button.on_click(lambda e: self._command(runner.undo))
        self.status = html("", css_classes=["cp-status"])
        self.error = alert("danger")
        self.data_note = alert("warning")
        p = state.param
        w = pn.widgets
        fmt = "0.[000000]"
        self.widgets = {
            "optimizer": w.Select.from_param(p.optimizer, sizing_mode="stretch_width"),
            "lr": w.FloatInput.from_param(p.lr, step=0.001, format=fmt, sizing_mode="stretch_width"),
            "momentum": w.FloatInput.from_param(p.momentum, step=0.05, format=fmt, sizing_mode="stretch_width"),
            "weight_decay": w.FloatInput.from_param(
                p.weight_decay, step=0.0001, format=fmt, sizing_mode="stretch_width"
            ),
            "batch_size": w.IntInput.from_param(p.batch_size, step=8, sizing_mode="stretch_width"),
            "seed": w.IntInput.from_param(p.seed, sizing_mode="stretch_width"),
            "backend": w.Select.from_param(p.backend, sizing_mode="stretch_width"),
        }
        state.param.watch(self._push, list(SETTINGS))
        state.param.watch(
            self._on_status,
            ["status", "running", "error", "message", "data_error", "has_data", "can_undo", "undo_what"],
        )
        self._on_status()
        self._layout = pn.Column(
            self.status,
            pn.Row(self.start_button, self.pause_button, sizing_mode="stretch_width"),
            pn.Row(self.step_button, self.reset_button, sizing_mode="stretch_width"),
            self.undo_button,
            self.error,
            self.data_note,
            *self.widgets.values(),
            sizing_mode="stretch_width",
            css_classes=["cp-controls"],
        )

    def __panel__(self):
        return self._layout

    def _command(self, fn):
        # One message for the page: sent change by change, while training threads take turns
        # at the GIL, the status pill, the header and both buttons arrived one by one
        # (docs/BENCHMARKS.md, "The first click").
        with pn.io.hold():
            try:
                fn()
            # PermissionError: a viewer's page (the server refuses, whatever the page sent);
            # ValueError: nothing to undo (a second click before the page caught up)
            except (PermissionError, ValueError) as e:
                show(self.error, str(e))
                return
            self.state.sync(self.runner.snapshot(), stats=False)  # the new status now, not at the next poll

    def _push(self, *events):
        """Settings edited here -> the runner (not when sync() is copying the runner's own values)."""
        if self.state.syncing:
            return
        changes = {e.name: e.new for e in events}
        if "optimizer" in changes:
            d = engine.OPTIMIZER_DEFAULTS[changes["optimizer"]]
            extra = {"lr": d["lr"]}
            if "momentum" in d:
                extra["momentum"] = d["momentum"]
            changes.update(extra)
            self.state.syncing = True
            try:
                self.state.param.update(**extra)
            finally:
                self.state.syncing = False
        try:
            self.runner.set_hyper(**changes)
        except (ValueError, PermissionError) as e:
            show(self.error, str(e))
            self.state.sync(self.runner.snapshot())  # put the widgets back to what runs

    def _on_status(self, *events):
        s = self.state
        msg = s.message
        if s.status == "running" and s.stats.get("examples", 0) == 0:
            msg = msg or (
                "starting (the first step compiles the numba kernels)" if s.backend == "numba" else "starting"
            )
        self.status.object = status_html(s.status, msg)
        dim(self.start_button, s.running)
        dim(self.pause_button, not s.running)
        no_data = not s.has_data
        self.step_button.disabled = no_data
        self.undo_button.disabled = not s.can_undo
        self.undo_button.label = "Undo %s" % s.undo_what if s.can_undo else "Undo"
        if self.read_only:
            for w in [
                self.start_button,
                self.pause_button,
                self.step_button,
                self.reset_button,
                self.undo_button,
                *self.widgets.values(),
            ]:
                w.disabled = True
        show(self.error, s.error)
        if s.status == "loading":
            show(self.data_note, "Loading the training data… the page updates when it is ready.", "info")
        elif no_data:
            show(
                self.data_note,
                "No training data: %s The net can still be inspected: upload an image, or "
                "load a snapshot." % (s.data_error or "start with --data PATH."),
                "warning",
            )
        else:
            show(self.data_note, "")
