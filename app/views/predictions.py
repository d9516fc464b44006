"""Test predictions: a stream of test images, each with its top-3 classes as bars (green for the
true class, red for the others), and the running test accuracy over the last ones.

The runner predicts a few test images per evaluation; each new one refills slot `id % slots` of
the grid (app/views/prediction_grid.py: plain HTML, only the new slots sent). While a moment of
the timeline is viewed (app/core/runner_timeline.py), the grid shows that net's predictions."""

from __future__ import annotations

import math

import panel as pn
from panel.viewable import Viewer

from .common import InView, html
from .prediction_grid import PredictionGrid, cell

SLOTS = 24


class PredictionsView(Viewer):
    """See the module docstring; refresh(runner, snap) streams what is new."""

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.grid = PredictionGrid(slots=SLOTS, name="cp-predictions")
        self.header = html(css_classes=["cp-test-acc"])
        self.last_id = -1
        self.run_id = None  # (run, the timeline's moment viewed or None): a new one clears the grid
        self.moment = None
        self.marker = InView()
        self._layout = pn.Column(self.marker, self.header, self.grid, sizing_mode="stretch_width")
        self._header()

    def __panel__(self):
        return self._layout

    def _header(self):
        s = self.state.stats
        if self.moment is not None:
            self.header.object = (
                f'<span style="font-size:18px">the net at <b>{self.moment:,}</b> examples seen</span> '
                '<span class="cp-dim">(the timeline: its predictions of the first test images)</span>'
            )
            return
        acc, n = s.get("test_acc"), s.get("test_seen") or 0
        text = "–" if acc is None or not math.isfinite(acc) else "%.1f%%" % (100 * acc)
        self.header.object = (
            '<span style="font-size:18px">running test accuracy <b>%s</b></span> '
            '<span class="cp-dim">over the last %d test images</span>' % (text, n)
        )

    def refresh(self, runner, snap):
        view = snap.get("timeline_view")
        key = (snap["run_id"], None if view is None else view["key"])
        if key != self.run_id:
            self.run_id = key
            self.moment = None if view is None else view["examples"]
            self.last_id = -1
            self.grid.clear()
        self._header()
        items, _ = runner.predictions_since(self.last_id)
        if not items:
            return 0
        classes = snap.get("classes") or []
        items = items[-SLOTS:]
        name = lambda k: classes[k] if k < len(classes) else str(k)  # noqa: E731
        cells = []
        for p in items:
            label = p.get("label")
            top = [(name(k), pr, None if label is None else k == label) for k, pr in zip(p["top"], p["probs"])]
            cells.append(
                cell(p["id"] % SLOTS, p["image"], p.get("index", -1), None if label is None else name(label), top)
            )
        self.grid.show(cells)
        self.last_id = items[-1]["id"]
        return len(items)
