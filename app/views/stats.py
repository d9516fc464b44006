"""Stats: examples seen, epoch, images/s, forward and backward ms per example, loss and the
running train / validation / test accuracies, as big-type cards a room can read; below them a
line naming the backend and the data."""

from __future__ import annotations

from html import escape

import panel as pn
from panel.viewable import Viewer

from ..core.fragments import stats_html
from .common import html


class Stats(Viewer):
    """See the module docstring; redraws when DashboardState.stats changes."""

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.cards = html(css_classes=["cp-stats"])
        self.note = html(css_classes=["cp-data-note"])
        state.param.watch(self._update, ["stats", "data_source", "backend"])
        self._update()
        self._layout = pn.Column(self.cards, self.note, sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    def _update(self, *events):
        s = self.state.stats
        self.cards.object = stats_html(s)
        parts = ["backend <b>%s</b>" % escape(str(s.get("backend") or self.state.backend))]
        if self.state.data_source:
            parts.append("data: %s" % escape(self.state.data_source))
            n_train, n_val = int(s.get("n_train") or 0), int(s.get("n_val") or 0)
            parts.append(f"{n_train:,} train · {n_val:,} validation · {self.state.n_test:,} test images")
        self.note.object = '<div class="cp-dim">%s</div>' % " · ".join(parts)
