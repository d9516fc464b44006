"""Network visualisation (ConvNetJS's): for one example, every layer's activation maps and their
gradients, the conv filters (the first layer's in colour) and their gradients from the last
training batch, with min/max statistics — refreshed as the runner publishes new probes.

The example is a fixed test image unless one is chosen here (any test image by number, a random
one) or uploaded (see upload.py). Pictures are computed once per probe for all sessions (a small
cache) and sent by replacing the data of the one figure's image source.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from html import escape

import numpy as np
import panel as pn
from panel.viewable import Viewer

from ..core.fragments import bars_html, png_data_uri
from ..core.plot_data import network_data
from ..core.runner_timeline import vis_filters_sha
from ..plots import network_figure
from .common import InView, alert, html, show

_cache = OrderedDict()
_cache_lock = threading.Lock()


def pictures(key, data):
    """network_data() of a probe, computed once per probe version for all sessions."""
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    out = network_data(data["layers"], data.get("image"))
    with _cache_lock:
        _cache[key] = out
        while len(_cache) > 4:
            _cache.popitem(last=False)
    return out


class Visualisation(Viewer):
    """See the module docstring; refresh(runner) redraws when a new probe is published."""

    def __init__(self, state, runner, **params):
        super().__init__(**params)
        self.state, self.runner = state, runner
        self.index = pn.widgets.IntInput(label="test image #", value=0, start=0, width=130)
        self.show_button = pn.widgets.Button(label="Show", width=70, align="end")
        self.random_button = pn.widgets.Button(label="Random test image", width=160, align="end")
        self.fixed_button = pn.widgets.Button(label="Fixed example", width=130, align="end")
        self.show_button.on_click(lambda e: self._pick(self.index.value))
        self.random_button.on_click(lambda e: self._pick(np.random.randint(max(1, self.state.n_test))))
        self.fixed_button.on_click(lambda e: self._pick(None))
        self.error = alert("danger")
        self.example = html(css_classes=["cp-vis-example"])
        self.version = -1
        self.size = None
        self.figure = self.images = self.captions = None
        self.pane = pn.pane.Bokeh(None, css_classes=["cp-vis-figure"])
        self.marker = InView()
        self._layout = pn.Column(
            self.marker,
            pn.Row(self.index, self.show_button, self.random_button, self.fixed_button),
            self.error,
            self.example,
            self.pane,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _pick(self, index):
        try:
            if index is None:
                self.runner.set_vis_example(None)
            else:
                self.runner.show_test_image(int(index))
            show(self.error, "")
        except (ValueError, PermissionError) as e:
            show(self.error, str(e))

    def refresh(self, runner, snap=None):
        version, data = runner.vis()
        if data is None or version == self.version:
            return False
        self.version = version
        images, captions, width, height = pictures((id(runner), version), data)
        if (width, height) != self.size:
            self.figure, self.images, self.captions = network_figure(width, height)
            self.size = (width, height)
            self.images.data, self.captions.data = images, captions
            self.pane.object = self.figure
        else:
            self.images.data, self.captions.data = images, captions
        classes = data.get("classes") or []
        label = data.get("label")
        title = data.get("caption", "")
        if label is not None and label < len(classes):
            title += " — true class: %s" % classes[label]
        at = data.get("examples")  # a moment of the timeline, not the live net
        moment = "live net" if at is None else f"the net at {at:,} examples seen (the timeline)"
        # the hash of the first conv layer's filters drawn: /status.json's timeline says which
        # checkpoint's weights it must be (tests/test_timeline_browser.py)
        self.example.object = (
            '<div class="cp-pred"><img src="%s" width="96" height="96" alt="example">'
            '<div class="cp-bars"><div class="cp-dim">%s</div>%s'
            '<div class="cp-dim cp-vis-moment" data-filters-sha="%s">%s</div></div></div>'
            % (
                png_data_uri(data["image"]),
                escape(title),
                bars_html(classes, data["probs"], label),
                vis_filters_sha(data) or "",
                escape(moment),
            )
        )
        return True
