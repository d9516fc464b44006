"""Test predictions: a stream of test images, each with its top-3 classes as bars (green for the
true class, red for the others), and the running test accuracy over the last ones.

The runner predicts a few test images per evaluation; new ones are streamed into the grid's
sources with rollover, each refilling slot `id % slots` in place."""

from __future__ import annotations

import math

import panel as pn
from panel.viewable import Viewer

from ..figures import prediction_data, prediction_figure
from .common import InView, html

SLOTS, COLS = 24, 3


class Predictions(Viewer):
    """See the module docstring; refresh(runner, snap) streams what is new."""

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.figure, self.images, self.bars = prediction_figure(SLOTS, COLS)
        self.header = html(css_classes=["cp-test-acc"])
        self.last_id = -1
        self.run_id = None
        self.marker = InView()
        self._layout = pn.Column(self.marker, self.header, pn.pane.Bokeh(self.figure), sizing_mode="stretch_width")
        self._header()

    def __panel__(self):
        return self._layout

    def _header(self):
        s = self.state.stats
        acc, n = s.get("test_acc"), s.get("test_seen") or 0
        text = "–" if acc is None or not math.isfinite(acc) else "%.1f%%" % (100 * acc)
        self.header.object = (
            '<span style="font-size:18px">running test accuracy <b>%s</b></span> '
            '<span class="cp-dim">over the last %d test images</span>' % (text, n)
        )

    def _clear(self):
        self.images.data = {k: [] for k in self.images.data}
        self.bars.data = {k: [] for k in self.bars.data}

    def refresh(self, runner, snap):
        if snap["run_id"] != self.run_id:
            self.run_id = snap["run_id"]
            self.last_id = -1
            self._clear()
        self._header()
        items, _ = runner.predictions_since(self.last_id)
        if not items:
            return 0
        classes = snap.get("classes") or []
        k = min(3, len(classes))
        if self.last_id >= 0 and items[0]["id"] > self.last_id + 1:  # fell behind the ring: redraw
            self._clear()
        items = items[-SLOTS:]
        im, br = prediction_data(items, classes, SLOTS, COLS)
        self.images.stream(im, rollover=SLOTS)
        self.bars.stream(br, rollover=k * SLOTS)
        self.last_id = items[-1]["id"]
        return len(items)
