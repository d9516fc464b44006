"""Layer table of the running net: per layer output HxWxC, weights, biases, params, activations
and memory, with totals, and the memory of one training step at the current batch size
(activations, their gradients, params, gradients, optimizer state) — the slides' case studies."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

import engine

from ..core.fragments import layer_table_html, memory_html
from .common import html


class LayerTable(Viewer):
    """See the module docstring; recomputed from the spec alone when the net, batch or optimizer changes."""

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.table = html(css_classes=["cp-layer-table"])
        self.memory = html(css_classes=["cp-memory"])
        state.param.watch(self._update, ["spec", "batch_size", "optimizer", "backend"])
        self._update()
        self._layout = pn.Column(self.table, self.memory, sizing_mode="stretch_width")

    def __panel__(self):
        return self._layout

    def _update(self, *events):
        if not self.state.spec:
            return
        s = engine.summarize(
            self.state.spec, batch=self.state.batch_size, optimizer=self.state.optimizer, backend=self.state.backend
        )
        self.table.object = layer_table_html(s)
        self.memory.object = memory_html(s["memory"])
