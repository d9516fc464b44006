"""The page: one Dashboard per browser session, all reading the one Runner of the process.

Each session gets its own DashboardState and views, and a periodic callback (every
REFRESH_MS) that pulls from the runner and sends only what changed: stats into the state,
new curve points and predictions streamed, visualisation pictures when a new probe is out.
create_app(runner, lecture) is what pn.serve() calls for every new session.

Roles (app/lecture.py): a presenter's page commands the runner; a lecture viewer's page is
built over a ReadOnlyRunner, so the server refuses whatever it sends (in lecture mode viewers
are served by their own process, over a MirrorRunner: app/relay.py). Layouts: "full" (the
whole dashboard, sidebar and sections) or "present" (app/presenter.py: large type, one
section at a time, keyboard). A lecture's presenter gets "present"; ?layout= chooses.
"""

from __future__ import annotations

import time
from html import escape

import panel as pn

from .core.data_card import learning_title
from .core.fragments import status_html
from .lecture import ReadOnlyRunner, role_of
from .state import DashboardState
from .teaching.explain_views import CaseStudyView, ConvArithmeticView
from .teaching.live_views import EvaluationView, HealthView, SaliencyView
from .views.common import InView, html, section
from .views.controls import Controls
from .views.curves import Curves
from .views.data import DataCard
from .views.editor import NetworkEditor
from .views.layer_table import LayerTable
from .views.predictions import PredictionsView
from .views.share_link import SetupLink, setup_notice
from .views.snapshots import Snapshots
from .views.stats import Stats
from .views.time_slider import TimelineBar
from .views.upload import Upload
from .views.viewport import PHONE_CSS
from .views.visualisation import Visualisation

REFRESH_MS = 500
VIEWER_REFRESH_MS = 1000  # a lecture viewer's page: half as often (30 of them share the server's core)
# Which ticks of a 4-tick (2 s) cycle redraw what. Every redraw costs the browser CPU, and on a
# 2-core laptop that is taken from training: the numbers redraw every second, the curves and
# test predictions every 2 s, the network visualisation every second on the other ticks. Status
# and settings sync on every tick (and at once after a click). (docs/BENCHMARKS.md, "The page's
# redraw cadence".)
CADENCE = {
    "stats": (0, 2),
    "curves": (0,),
    "vis": (1, 3),
    "predictions": (3,),
    "evaluation": (1,),
    "health": (3,),
    "saliency": (1,),
}
EVERY_TICK = {k: (0, 1, 2, 3) for k in CADENCE}
SALIENCY_EVERY_S = 5.0
TITLE = "ConvNet Playground"
# The teaching views a lazy Dashboard builds only when their section is first shown: together
# most of the time a viewer's page took to build (docs/BENCHMARKS.md, "App and pages").
LAZY = ("evaluation", "saliency", "health", "conv_arithmetic", "case_studies")

PAGE_CSS = """
body { background: #f2f4f7; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.cp-header { background: linear-gradient(90deg, #163a6b, #1f4e8c); color: #fff; padding: 12px 22px;
  border-radius: 0 0 10px 10px; display: flex; align-items: center; gap: 18px; }
.cp-header h1 { font-size: 26px; margin: 0; font-weight: 650; letter-spacing: .2px; }
.cp-header .sub { font-size: 15px; opacity: .85; }
.cp-header .grow { flex: 1; }
.cp-header .ex { font-size: 16px; opacity: .9; font-variant-numeric: tabular-nums; }
.cp-header h1, .cp-header .ex, .cp-header .cp-role { white-space: nowrap; }
.cp-header .cp-role { font-size: 14px; border: 1px solid rgba(255,255,255,.6); border-radius: 999px; padding: 2px 10px; }
/* A phone (app/views/viewport.py): the header wraps instead of widening the page past the screen. */
@media (max-width: 600px) {
  .cp-header { flex-wrap: wrap; gap: 4px 12px; padding: 10px 12px; }
  .cp-header h1 { font-size: 20px; }
  .cp-header .sub, .cp-header .grow { display: none; }
  .cp-header .ex { font-size: 14px; }
  /* (raw_css reaches every component's shadow root: :host is each component) rows of
     fixed-width widgets and figures wrap into one column; what is still wider than the
     screen (the network visualisation's mosaics) scrolls inside its section, not the page */
  :host(.bk-panel-models-layout-Row) { flex-wrap: wrap; }
  :host(.cp-slide), :host(.cp-page) { max-width: 100vw; overflow-x: auto; }
}
"""
# content-visibility: a section far off screen is not styled, laid out or painted (the browser
# skips it until it comes near the window), which saves the browser's CPU (docs/BENCHMARKS.md,
# "Sections off screen not rendered"). Its figures are not sent either (InView).
CARD_CSS = """
:host { background: #fff; border-radius: 10px; border: 1px solid #e4e7ec; box-shadow: 0 1px 3px rgba(16,24,40,.06);
  content-visibility: auto; contain-intrinsic-size: auto 600px; }
.card-header { background: #fff !important; border-bottom: 1px solid #eaecf0; border-radius: 10px 10px 0 0; }
.card-title { font-size: 18px !important; font-weight: 650; color: #101828; }
"""

pn.extension(raw_css=[PAGE_CSS, PHONE_CSS], notifications=False)


class Dashboard:
    """One session's page; refresh() is its periodic callback (state in, widgets out)."""

    def __init__(self, runner, cadence=CADENCE, role="presenter", autosaver=None, lazy=False):
        self.role = role
        self.read_only = role != "presenter"
        self.source = runner  # what refresh() reads; the views' commands go to self.runner
        self.runner = runner = ReadOnlyRunner(runner) if self.read_only else runner
        self.cadence = cadence  # EVERY_TICK in tests: everything on every refresh()
        self.ticks = -1
        self._shown = None
        self._lazy = {}  # name: box, of the views not built yet (see LAZY)
        self.after_refresh = None  # called after each refresh (the presenter layout's large type)
        self.state = DashboardState()
        self.state.sync(runner.snapshot())
        self.controls = Controls(self.state, runner, read_only=self.read_only)
        self.stats = Stats(self.state)
        self.timeline = TimelineBar(runner, read_only=self.read_only)
        self.curves = Curves(timeline=self.timeline)
        self.editor = NetworkEditor(self.state, runner)
        self.layers = LayerTable(self.state)
        self.visualisation = Visualisation(self.state, runner)
        self.predictions = PredictionsView(self.state)
        self.upload = Upload(self.state, runner)
        self.snapshots = Snapshots(self.state, runner, read_only=self.read_only, autosaver=autosaver)
        self.data = DataCard(self.state, runner, read_only=self.read_only, source=self.source)
        self.share = SetupLink(self.state, read_only=self.read_only)
        # The views that explain (app/teaching): the slides' case studies and, on the live
        # net, the arithmetic of one activation. lazy: each is built when its section is first
        # shown (a lecture viewer's page, which shows one section at a time).
        self.markers = {name: InView() for name in ("evaluation", "saliency", "health")}
        self.boxes = {name: pn.Column(sizing_mode="stretch_width") for name in LAZY}
        for name in LAZY:
            if lazy:
                self._lazy[name] = self.boxes[name]
            else:
                self._build(name)
        self.state.param.watch(self._classes, "classes")
        self._saliency_vis = None
        if self.read_only:
            for w in (
                self.editor.apply_button,
                self.snapshots.file,
                self.snapshots.pretrained_button,
                self.snapshots.restore_button,
                self.visualisation.show_button,
                self.visualisation.random_button,
                self.visualisation.fixed_button,
            ):
                w.disabled = True
        self.header = html(stylesheets=[PAGE_CSS], css_classes=["cp-top"], margin=0)
        self.state.param.watch(self._header, ["status", "stats"])
        self._header()
        self.refresh()

    def refresh(self, everything=False):
        """Pull from the runner and send what changed as one message; returns the number of
        curve points streamed (for tests). everything: all that is on screen, whatever the tick."""
        self.ticks += 1
        due = {k for k, ticks in self.cadence.items() if everything or self.ticks % 4 in ticks}
        n = 0
        with pn.io.hold():
            # Figures scrolled out of view are not redrawn (they catch up when seen again), and
            # the runner probes the network only while someone looks at its visualisation.
            # the probe also gives the saliency view its example
            snap = self.source.snapshot(watch_vis=self._watching("vis") or self._watching("saliency"))
            self.state.sync(snap, stats="stats" in due)
            if "stats" in due:
                self.data.refresh()  # an identity check until the data change
            if "curves" in due and self._watching("curves"):
                n = self.curves.refresh(self.source, snap)
            if "predictions" in due and self._watching("predictions"):
                self.predictions.refresh(self.source, snap)
            if "vis" in due and self._watching("vis"):
                self.visualisation.refresh(self.source, snap)
            if "evaluation" in due and self._watching("evaluation"):
                self.evaluation.refresh()
            if "health" in due and self._watching("health"):
                self.health.refresh()
            if "saliency" in due and self._watching("saliency"):
                # a new example, or the weights of a few seconds later: the map follows the training
                key = (self.source.vis()[0], int(time.monotonic() // SALIENCY_EVERY_S))
                if key != self._saliency_vis:
                    self._saliency_vis = key
                    self.saliency.refresh()
            if self.after_refresh is not None:
                self.after_refresh()
        return n

    def _build(self, name):
        """Build the teaching view `name` (one of LAZY) into its box."""
        runner, classes = self.runner, self.state.classes
        if name == "case_studies":
            view = CaseStudyView()
        elif name == "conv_arithmetic":
            view = ConvArithmeticView(runner.inference_net, copy_net=False)
        elif name == "evaluation":
            view = EvaluationView(runner.evaluation, classes)
        elif name == "saliency":
            view = SaliencyView(runner.inference_net, self._vis_image, classes)
        else:
            view = HealthView(runner.health_history)
        setattr(self, name, view)
        self._lazy.pop(name, None)
        box = self.boxes[name]
        box.objects = [self.markers[name], view] if name in self.markers else [view]

    def _classes(self, event):
        if "saliency" not in self._lazy:
            self.saliency.set_class_names(event.new)

    @property
    def shown(self):
        """Names of the sections on screen (the presenter layout), None: all."""
        return self._shown

    @shown.setter
    def shown(self, names):
        for name in list(self._lazy):  # a section shown for the first time: built now
            if names is None or name in names:
                self._build(name)
        self._shown = names

    def _watching(self, name):
        """Is this section on screen (so worth redrawing)?"""
        views = {"vis": self.visualisation, "curves": self.curves, "predictions": self.predictions}
        if name in self._lazy:
            return False  # not built: not on screen yet
        marker = views[name].marker if name in views else self.markers[name]
        return marker.in_view and (self.shown is None or name in self.shown)

    def _vis_image(self):
        """The example the network visualisation shows (uint8 H x W x C), or None."""
        data = self.source.vis()[1]
        return None if data is None else data.get("image")

    def sections(self):
        """(title, name, content) of every section, in the order of the page."""
        box = self.boxes
        return [
            ("Stats", "stats", self.stats),
            ("Curves", "curves", self.curves),
            ("Test predictions", "predictions", self.predictions),
            ("Upload an image", "upload", self.upload),
            ("Network visualisation", "vis", self.visualisation),
            ("Evaluation: confusion matrix and per-class accuracy", "evaluation", box["evaluation"]),
            ("Saliency", "saliency", box["saliency"]),
            ("Training health", "health", box["health"]),
            ("Network editor", "editor", self.editor),
            ("Layer table", "layers", self.layers),
            ("Convolution arithmetic", "conv_arithmetic", box["conv_arithmetic"]),
            ("Case studies: LeNet-5, AlexNet, VGG-16", "case_studies", box["case_studies"]),
        ]

    def _header(self, *events):
        s = self.state.stats
        self.header.object = (
            '<div class="cp-header"><h1>ConvNet Playground</h1><span class="sub">a ConvNet learning {}, '
            'live</span><span class="grow"></span>{}<span class="ex">{:,} examples seen</span>{}</div>'.format(
                escape(learning_title(self.state.classes)),
                '<span class="cp-role">watching: read-only</span>' if self.read_only else "",
                int(s.get("examples") or 0),
                status_html(self.state.status),
            )
        )

    def layout(self):
        self.shown = None  # every section: every view built
        card = {"stylesheets": [CARD_CSS]}
        header = self.header
        sidebar = pn.Column(
            section("Training", self.controls, self.share, **card),
            section("Snapshots", self.snapshots, **card),
            section("Data", self.data, **card),
            width=340,
            css_classes=["cp-sidebar"],
        )
        cards = {name: section(title, content, **card) for title, name, content in self.sections()}
        side_by_side = pn.Row(cards.pop("predictions"), cards.pop("upload"), sizing_mode="stretch_width")
        order = list(cards)
        order.insert(order.index("vis"), None)  # predictions and upload, side by side, above the visualisation
        main = pn.Column(
            *[side_by_side if name is None else cards[name] for name in order],
            sizing_mode="stretch_width",
            css_classes=["cp-main"],
        )
        return pn.Column(
            header,
            pn.Row(sidebar, main, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            css_classes=["cp-page"],
        )


def create_app(runner, refresh_ms=REFRESH_MS, lecture=None, viewers=False, autosaver=None):
    """A function for pn.serve: builds a session's Dashboard and starts its periodic refresh.

    With a lecture (app/lecture.py), the page's URL decides its role: ?presenter=<token>
    presents, anything else views read-only (sent on to the viewers' own server when the
    lecture has one); ?layout=present|full picks the layout. viewers: this is the viewers'
    server (app/relay.py): every page is read-only and, in the presenter layout (the
    default), follows the presenter's section (runner.presenter_slide()). autosaver: the
    app's Autosaver (app/core/autosave.py), whose last run the snapshot card offers."""

    def app():
        args = pn.state.session_args or {}
        cookies = pn.state.cookies or {}  # a presenter's reload: the token in its cookie
        role = "viewer" if viewers else role_of(lecture, args, cookies)
        if role == "viewer" and lecture is not None and lecture.viewer_port:
            from .views.goto import viewers_elsewhere

            return viewers_elsewhere(lecture.viewer_port)  # this process trains: no viewers here
        layout = (args.get("layout") or [b""])[0].decode("utf-8", "replace")
        if layout not in ("present", "full"):
            lecture_mode = lecture is not None and not lecture.guard
            layout = "present" if viewers or (lecture_mode and role == "presenter") else "full"
        guarded = None
        if lecture is not None and role == "presenter":  # off when the token is revoked
            from .presenter_auth import GuardedRunner

            guarded = GuardedRunner(runner, lecture, lecture.token)
        # lazy: a viewer's page is built with its first section only, the others when shown
        dash = Dashboard(guarded if guarded is not None else runner, role=role, autosaver=autosaver, lazy=viewers)
        if layout == "present":
            from .presenter import Presenter

            presenter = Presenter(dash, follow=runner.presenter_slide if viewers else None)
            if lecture is not None and role == "presenter":
                presenter.on_slide = lecture.set_slide
            page = presenter.layout()
        else:
            page = dash.layout()
        from .views.viewport import Viewport

        page.insert(0, Viewport(height=0, margin=0))  # a phone: the page at the phone's width
        if guarded is not None:
            from .presenter_auth import presenter_bar

            page.insert(1, presenter_bar(lecture, guarded, traded=lecture.role(args) == "presenter"))
        notice = setup_notice(dash.runner, args) if role == "presenter" and not viewers else None
        if notice is not None:  # a ?setup= link: loaded, or why it cannot be
            page.insert(1, notice)
        period = refresh_ms if role == "presenter" else max(refresh_ms, VIEWER_REFRESH_MS)
        pn.state.add_periodic_callback(dash.refresh, period=period)
        page.dashboard = dash  # reachable for debugging
        return page

    return app
