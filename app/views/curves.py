"""Curves: loss (per batch and smoothed) and train / validation / test accuracy against examples
seen, as two LineCharts (app/views/chart.py: a canvas each, far lighter in the browser than
Bokeh figures). New points are sent as they come, with rollover, so the page never gets the
whole history again; a new run (reset, new net) starts the curves afresh. The accuracy chart
says what its running lines average and shows the run's exact points (the whole validation
and test sets, app/core/exact_eval.py) as dots. Earlier runs of the session show as faint
dashed lines, with the runs table under the charts (app/views/runs_table.py), and under the
charts the timeline's slider (app/views/time_slider.py)."""

from __future__ import annotations

import time

import panel as pn
from panel.viewable import Viewer

from ..core.history import ACCURACY_NOTE
from ..plots import ACC_COLORS, LOSS_RAW, LOSS_SMOOTH
from .chart import LineChart
from .common import InView
from .runs_table import RunsTable, overlays

ROLLOVER = 4000  # points kept in the browser: twice the runner's History, which decimates itself
LOSS_LINES = [
    {"column": "loss", "label": "loss per batch", "color": LOSS_RAW, "width": 1, "alpha": 0.8},
    {"column": "loss_smooth", "label": "smoothed", "color": LOSS_SMOOTH, "width": 3},
]
ACCURACY_LINES = [
    {"column": c, "label": label, "color": ACC_COLORS[c], "width": 2.5}
    for c, label in (("train_acc", "train"), ("val_acc", "validation"), ("test_acc", "test"))
]


def exact_markers(points):
    """The LineChart markers of a run's exact points [(examples, val_acc, test_acc), ...]."""
    return [
        {"label": "validation, whole set", "color": ACC_COLORS["val_acc"], "points": [[p[0], p[1]] for p in points]},
        {"label": "test, whole set", "color": ACC_COLORS["test_acc"], "points": [[p[0], p[2]] for p in points]},
    ]


class Curves(Viewer):
    """See the module docstring; refresh(runner) pulls what is new."""

    def __init__(self, timeline=None, **params):
        super().__init__(**params)
        self.timeline = timeline  # the TimelineBar under the charts (app/views/time_slider.py)
        common = dict(x="examples", x_label="examples seen", rollover=ROLLOVER)
        self.loss = LineChart(title="Loss", y_label="loss", lines=LOSS_LINES, y_min=0, name="cp-loss", **common)
        self.accuracy = LineChart(
            title="Accuracy",
            y_label="accuracy",
            lines=ACCURACY_LINES,
            y_min=0,
            y_max=1,
            percent=True,
            note=ACCURACY_NOTE,
            markers=exact_markers(()),
            name="cp-accuracy",
            **common,
        )
        self.last_id = -1
        self.run_id = None
        self.exact = ()
        self.marker = InView()
        self.runs = RunsTable()
        self.runs.show.param.watch(lambda event: self._overlay(), "value")
        self._layout = pn.Column(
            self.marker,
            pn.Row(self.loss, self.accuracy, sizing_mode="stretch_width"),
            *([timeline] if timeline is not None else []),
            self.runs,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _overlay(self):
        """Earlier runs' smoothed loss and validation accuracy as faint lines (the shown ones)."""
        t = self.runs
        self.loss.overlays = overlays(t.runs, t.now, "loss_smooth", t.hidden)
        self.accuracy.overlays = overlays(t.runs, t.now, "val_acc", t.hidden)

    def refresh(self, runner, snap):
        if self.runs.refresh(runner, snap, time.monotonic()):
            self._overlay()
        if self.timeline is not None:
            self.timeline.refresh(snap)
        if snap["run_id"] != self.run_id:
            self.run_id = snap["run_id"]
            self.last_id = -1
            self.loss.clear()
            self.accuracy.clear()
        exact = tuple(snap.get("exact_points", ()))
        if exact != self.exact:
            self.exact = exact
            self.accuracy.markers = exact_markers(exact)
        if snap.get("history_id", -1) <= self.last_id:
            return 0
        data, newest = runner.history_since(self.last_id)
        n = len(data["examples"])
        if n:
            self.loss.append(data)
            self.accuracy.append(data)
        self.last_id = newest
        return n
