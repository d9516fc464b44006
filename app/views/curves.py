"""Curves: loss (per batch and smoothed) and train / validation / test accuracy against examples
seen. New points are streamed into one ColumnDataSource with rollover, so the page never gets
the whole history again; a new run (reset, new net) starts the curves afresh."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from ..figures import accuracy_figure, curve_data, curve_source, loss_figure
from .common import InView

ROLLOVER = 4000  # points kept in the browser: twice the runner's History, which decimates itself


class Curves(Viewer):
    """See the module docstring; refresh(runner) pulls what is new."""

    def __init__(self, **params):
        super().__init__(**params)
        self.source = curve_source()
        self.source.name = "cp-curves"  # found by name in the browser (tests)
        self.loss = loss_figure(self.source)
        self.accuracy = accuracy_figure(self.source)
        self.last_id = -1
        self.run_id = None
        self.marker = InView()
        self._layout = pn.Column(
            self.marker,
            pn.Row(
                pn.pane.Bokeh(self.loss, sizing_mode="stretch_width"),
                pn.pane.Bokeh(self.accuracy, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def refresh(self, runner, snap):
        if snap["run_id"] != self.run_id:
            self.run_id = snap["run_id"]
            self.last_id = -1
            self.source.data = {k: [] for k in self.source.data}
        if snap.get("history_id", -1) <= self.last_id:
            return 0
        data, newest = runner.history_since(self.last_id)
        n = len(data["examples"])
        if n:
            self.source.stream(curve_data(data), rollover=ROLLOVER)
        self.last_id = newest
        return n
