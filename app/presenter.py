"""The presenter's layout: the dashboard for a projector, readable from the back of a room.

Large type (the page is zoomed), the stats always on top, and one section at a time below
them. Keyboard (app/views/keys.py): space = pause / resume, s = one training step, left and
right arrows = previous / next section; the same as buttons in the navigation bar. The
commands go through the Dashboard's runner, so on a viewer's page (?layout=present without
the presenter's token) they are refused by the server and the page says so.
"""

from __future__ import annotations

from html import escape

import panel as pn

from .views.common import alert, html, show
from .views.keys import Keys, key_of

ZOOM = 1.3  # large type: everything, figures included, at 130%
PRESENT_CSS = """
.cp-nav { display: flex; align-items: center; gap: 14px; font-size: 20px; color: #101828; }
.cp-nav .n { color: #667085; font-variant-numeric: tabular-nums; }
.cp-nav h2 { font-size: 30px; margin: 4px 0; font-weight: 650; }
.cp-keyhelp { font-size: 15px; color: #475467; }
.cp-keyhelp kbd { border: 1px solid #d0d5dd; border-bottom-width: 2px; border-radius: 5px; padding: 0 6px; background: #fff; }
"""
# The sections that the presenter steps through, and what each shows (Dashboard.sections names).
SLIDES = (
    ("Learning: loss and accuracy", ("curves",)),
    ("Network visualisation", ("vis",)),
    ("Test predictions", ("predictions", "upload")),
    ("Evaluation: confusion matrix", ("evaluation",)),
    ("Saliency: what the net looks at", ("saliency",)),
    ("Training health", ("health",)),
    ("Convolution arithmetic", ("conv_arithmetic",)),
    ("Case studies: LeNet-5, AlexNet, VGG-16", ("case_studies",)),
    ("The network: editor and layer table", ("editor", "layers")),
    ("Settings and snapshots", ("controls", "snapshots")),
)


class Presenter:
    """One session's presenter layout over its Dashboard; see the module docstring."""

    def __init__(self, dash, slides=SLIDES):
        self.dash = dash
        content = {name: view for _, name, view in dash.sections()}
        content.update(controls=dash.controls, snapshots=dash.snapshots)
        self.slides = [(title, [(name, content[name]) for name in names]) for title, names in slides]
        self.index = 0
        self.keys = Keys()
        self.keys.param.watch(lambda e: self.handle(key_of(e.new)), "press")
        button = pn.widgets.Button
        self.prev_button = button(label="\u2190 previous", width=130)
        self.next_button = button(label="next \u2192", width=130)
        self.pause_button = button(label="Pause", width=120, color="warning")
        self.step_button = button(label="Step", width=100, color="primary")
        self.prev_button.on_click(lambda e: self.handle("left"))
        self.next_button.on_click(lambda e: self.handle("right"))
        self.pause_button.on_click(lambda e: self.handle("space"))
        self.step_button.on_click(lambda e: self.handle("s"))
        self.title = html(stylesheets=[PRESENT_CSS], css_classes=["cp-slide-title"])
        self.help = html(
            '<div class="cp-keyhelp"><kbd>space</kbd> pause / resume &nbsp; <kbd>s</kbd> one step &nbsp; '
            "<kbd>\u2190</kbd> <kbd>\u2192</kbd> sections</div>",
            stylesheets=[PRESENT_CSS],
        )
        self.message = alert("warning")
        self.body = pn.Column(sizing_mode="stretch_width", css_classes=["cp-slide"])
        dash.state.param.watch(lambda e: self._buttons(), ["running", "has_data"])
        self._buttons()
        self.go(0)

    def go(self, index):
        """Show section `index` (wrapping around) and only it."""
        self.index = index % len(self.slides)
        title, parts = self.slides[self.index]
        self.dash.shown = {name for name, _ in parts}
        self.title.object = '<div class="cp-nav"><span class="n">%d / %d</span><h2>%s</h2></div>' % (
            self.index + 1,
            len(self.slides),
            escape(title),
        )
        views = [view for _, view in parts]
        self.body.objects = [views[0] if len(views) == 1 else pn.Row(*views, sizing_mode="stretch_width")]
        self.dash.refresh(everything=True)  # the section appears with its latest data, not a tick later

    def handle(self, key):
        """One key (or its button): "space", "s", "left" or "right"."""
        if key == "left":
            self.go(self.index - 1)
        elif key == "right":
            self.go(self.index + 1)
        elif key in ("space", "s"):
            runner = self.dash.runner
            try:
                if key == "s":
                    runner.step()
                elif self.dash.state.running:
                    runner.pause()
                else:
                    runner.start()
            except PermissionError as e:  # a viewer's page: the server refuses
                show(self.message, str(e))
                return
            show(self.message, "")
            self.dash.state.sync(runner.snapshot(), stats=False)

    def _buttons(self):
        s = self.dash.state
        self.pause_button.label = "Pause" if s.running else "Resume"
        self.pause_button.color = "warning" if s.running else "success"
        self.step_button.disabled = not s.has_data

    def layout(self):
        nav = pn.Row(
            self.prev_button,
            self.next_button,
            self.title,
            pn.Spacer(sizing_mode="stretch_width"),
            self.pause_button,
            self.step_button,
            sizing_mode="stretch_width",
            align="center",
        )
        page = pn.Column(
            self.dash.header,
            self.keys,
            self.dash.stats,
            nav,
            self.help,
            self.message,
            self.body,
            sizing_mode="stretch_width",
            css_classes=["cp-page", "cp-present"],
            styles={"zoom": str(ZOOM)},
        )
        page.presenter = self
        return page
