"""The page: one Dashboard per browser session, all reading the one Runner of the process.

Each session gets its own DashboardState and views, and a periodic callback (every
REFRESH_MS) that pulls from the runner and sends only what changed: stats into the state,
new curve points and predictions streamed, visualisation pictures when a new probe is out.
create_app(runner) is what pn.serve() calls for every new session.
"""

from __future__ import annotations

import panel as pn

from .markup import status_html
from .state import DashboardState
from .teaching.explain_views import CaseStudyView, ConvArithmeticView
from .views.common import html, section
from .views.controls import Controls
from .views.curves import Curves
from .views.editor import NetworkEditor
from .views.layers import LayerTable
from .views.predictions import Predictions
from .views.snapshots import Snapshots
from .views.stats import Stats
from .views.upload import Upload
from .views.visualisation import Visualisation

REFRESH_MS = 500
# Which ticks of a 4-tick (2 s) cycle redraw what. Every redraw costs the browser CPU, and on a
# 2-core laptop that is taken from training: the numbers and curves redraw every second, the
# network visualisation every second on the other ticks, test predictions every 2 s. Status
# and settings sync on every tick (and at once after a click).
CADENCE = {"stats": (0, 2), "curves": (0, 2), "vis": (1, 3), "predictions": (3,)}
EVERY_TICK = {k: (0, 1, 2, 3) for k in CADENCE}
TITLE = "ConvNet Playground"

PAGE_CSS = """
body { background: #f2f4f7; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.cp-header { background: linear-gradient(90deg, #163a6b, #1f4e8c); color: #fff; padding: 12px 22px;
  border-radius: 0 0 10px 10px; display: flex; align-items: center; gap: 18px; }
.cp-header h1 { font-size: 26px; margin: 0; font-weight: 650; letter-spacing: .2px; }
.cp-header .sub { font-size: 15px; opacity: .85; }
.cp-header .grow { flex: 1; }
.cp-header .ex { font-size: 16px; opacity: .9; font-variant-numeric: tabular-nums; }
"""
CARD_CSS = """
:host { background: #fff; border-radius: 10px; border: 1px solid #e4e7ec; box-shadow: 0 1px 3px rgba(16,24,40,.06); }
.card-header { background: #fff !important; border-bottom: 1px solid #eaecf0; border-radius: 10px 10px 0 0; }
.card-title { font-size: 18px !important; font-weight: 650; color: #101828; }
"""

pn.extension(raw_css=[PAGE_CSS], notifications=False)


class Dashboard:
    """One session's page; refresh() is its periodic callback (state in, widgets out)."""

    def __init__(self, runner, cadence=CADENCE):
        self.runner = runner
        self.cadence = cadence  # EVERY_TICK in tests: everything on every refresh()
        self.ticks = -1
        self.state = DashboardState()
        self.state.sync(runner.snapshot())
        self.controls = Controls(self.state, runner)
        self.stats = Stats(self.state)
        self.curves = Curves()
        self.editor = NetworkEditor(self.state, runner)
        self.layers = LayerTable(self.state)
        self.visualisation = Visualisation(self.state, runner)
        self.predictions = Predictions(self.state)
        self.upload = Upload(self.state, runner)
        self.snapshots = Snapshots(self.state, runner)
        # The views that explain (app/teaching): the slides' case studies and, on the live
        # net, the arithmetic of one activation.
        self.case_studies = CaseStudyView()
        self.conv_arithmetic = ConvArithmeticView(runner.inference_net, copy_net=False)
        self.header = html(stylesheets=[PAGE_CSS], css_classes=["cp-top"], margin=0)
        self.state.param.watch(self._header, ["status", "stats"])
        self._header()
        self.refresh()

    def refresh(self):
        """Pull from the runner and send what changed as one message; returns the number of
        curve points streamed (for tests)."""
        self.ticks += 1
        due = {k for k, ticks in self.cadence.items() if self.ticks % 4 in ticks}
        n = 0
        with pn.io.hold():
            # Figures scrolled out of view are not redrawn (they catch up when seen again), and
            # the runner probes the network only while someone looks at its visualisation.
            snap = self.runner.snapshot(watch_vis=self.visualisation.marker.in_view)
            self.state.sync(snap, stats="stats" in due)
            if "curves" in due and self.curves.marker.in_view:
                n = self.curves.refresh(self.runner, snap)
            if "predictions" in due and self.predictions.marker.in_view:
                self.predictions.refresh(self.runner, snap)
            if "vis" in due and self.visualisation.marker.in_view:
                self.visualisation.refresh(self.runner, snap)
        return n

    def _header(self, *events):
        s = self.state.stats
        self.header.object = (
            '<div class="cp-header"><h1>ConvNet Playground</h1><span class="sub">a ConvNet learning CIFAR-10, '
            'live</span><span class="grow"></span><span class="ex">{:,} examples seen</span>{}</div>'.format(
                int(s.get("examples") or 0), status_html(self.state.status)
            )
        )

    def layout(self):
        card = {"stylesheets": [CARD_CSS]}
        header = self.header
        sidebar = pn.Column(
            section("Training", self.controls, **card),
            section("Snapshots", self.snapshots, **card),
            width=340,
            css_classes=["cp-sidebar"],
        )
        main = pn.Column(
            section("Stats", self.stats, **card),
            section("Curves", self.curves, **card),
            pn.Row(
                section("Test predictions", self.predictions, **card),
                section("Upload an image", self.upload, **card),
                sizing_mode="stretch_width",
            ),
            section("Network visualisation", self.visualisation, **card),
            section("Network editor", self.editor, **card),
            section("Layer table", self.layers, **card),
            section("Convolution arithmetic", self.conv_arithmetic, **card),
            section("Case studies: LeNet-5, AlexNet, VGG-16", self.case_studies, **card),
            sizing_mode="stretch_width",
            css_classes=["cp-main"],
        )
        return pn.Column(
            header,
            pn.Row(sidebar, main, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            css_classes=["cp-page"],
        )


def create_app(runner, refresh_ms=REFRESH_MS):
    """A function for pn.serve: builds a session's Dashboard and starts its periodic refresh."""

    def app():
        dash = Dashboard(runner)
        page = dash.layout()
        pn.state.add_periodic_callback(dash.refresh, period=refresh_ms)
        page.dashboard = dash  # reachable for debugging
        return page

    return app
