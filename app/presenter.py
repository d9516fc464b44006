"""The presenter's layout: the dashboard for a projector, readable from the back of a room.

Large type (HTML and widgets zoomed, figures and their text scaled up: CSS zoom on a Bokeh
canvas breaks its layout, so figures are enlarged through their own properties), the header (status, examples seen) and a navigation bar
always on top, and one section at a time below them (the first: the numbers and the curves). Keyboard (app/views/keys.py): space = pause / resume, s = one training step, left and
right arrows = previous / next section; the same as buttons in the navigation bar. The
commands go through the Dashboard's runner, so on a viewer's page they are refused by the
server and the page says so. A lecture viewer's page (app/relay.py) has neither keys nor
buttons: it follows the presenter's section (`follow`); the presenter's page reports its
section (`on_slide`).
"""

from __future__ import annotations

from html import escape

import panel as pn
from bokeh.models import CustomJS, Plot, Text

from .views.chart import LineChart
from .views.common import alert, html, show
from .views.dropzone import FileDrop
from .views.keys import Keys, key_of
from .views.prediction_grid import PredictionGrid

ZOOM = 1.3  # large type: text at 130%, figures (and their text) too
# Large type for a projector, not for a phone in a viewer's hand (app/views/viewport.py).
BIG_HTML = ":host { zoom: %s; } @media (max-width: 600px) { :host { zoom: 1; } }" % ZOOM
PRESENT_CSS = """
.cp-nav { display: flex; align-items: baseline; gap: 14px; font-size: 20px; color: #101828; padding: 0 10px; }
.cp-nav .n { white-space: nowrap; }
.cp-nav .n { color: #667085; font-variant-numeric: tabular-nums; }
.cp-nav h2 { font-size: 30px; margin: 0; font-weight: 650; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cp-keyhelp { font-size: 15px; color: #475467; }
@media (max-width: 600px) {
  .cp-nav { flex-wrap: wrap; gap: 4px 10px; font-size: 15px; }
  .cp-nav h2 { font-size: 20px; white-space: normal; }
}
.cp-keyhelp kbd { border: 1px solid #d0d5dd; border-bottom-width: 2px; border-radius: 5px; padding: 0 6px; background: #fff; }
"""
# The sections that the presenter steps through, and what each shows (Dashboard.sections names).
SLIDES = (
    ("Learning: loss and accuracy", ("stats", "curves")),
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

    def __init__(self, dash, slides=SLIDES, follow=None):
        self.dash = dash
        self.follow = follow  # a lecture viewer's page: () -> the presenter's section, followed
        self.on_slide = None  # the presenter's page in a lecture: told every section shown
        content = {name: view for _, name, view in dash.sections()}
        content.update(controls=dash.controls, snapshots=dash.snapshots)
        self.slides = [(title, [(name, content[name]) for name in names]) for title, names in slides]
        self.index = 0
        self._walked = set()  # Bokeh roots looked through
        self._enlarged = set()  # figures scaled (a root may be a figure itself)
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
        if self.on_slide is not None:
            self.on_slide(self.index)
        title, parts = self.slides[self.index]
        self.dash.shown = {name for name, _ in parts}
        self.title.object = '<div class="cp-nav"><span class="n">%d / %d</span><h2>%s</h2></div>' % (
            self.index + 1,
            len(self.slides),
            escape(title),
        )
        views = [view for _, view in parts]
        self.enlarge(*views)  # before they are shown: a stylesheet added later is not applied
        self.body.objects = views  # one below the other: nothing squeezed at large type
        self.dash.refresh(everything=True)  # the section appears with its latest data, not a tick later
        self.enlarge()

    def enlarge(self, *objects):
        """Large type for what is on screen: HTML panes zoomed, Bokeh figures scaled. Figures
        that views create later (a new net, new layers) are caught at the next refresh."""
        objects = objects or (self.dash.header, self.title, self.help, self.body)
        for obj in [pn.Column(*objects)]:  # a Column looks inside Viewers too
            for pane in obj.select(pn.pane.HTML) + obj.select(pn.widgets.Widget) + obj.select(FileDrop):
                if BIG_HTML not in pane.stylesheets:
                    pane.stylesheets = list(pane.stylesheets) + [BIG_HTML]
            for chart in obj.select(LineChart):
                if chart.zoom != ZOOM:
                    chart.param.update(zoom=ZOOM, height=round(chart.height * ZOOM / chart.zoom))
            for grid in obj.select(PredictionGrid):
                grid.zoom = ZOOM
            for pane in obj.select(pn.pane.Bokeh):
                root = pane.object
                if root is not None and root.id not in self._walked:  # (walking a figure's models
                    self._walked.add(root.id)  # is most of a refresh's time: each root once)
                    for model in root.select({"type": Plot}):
                        if model.id not in self._enlarged:
                            self._enlarged.add(model.id)
                            scale_figure(model, ZOOM)
                        if self.follow is not None:  # a viewer's: as wide as a phone at most
                            fit_width(model)

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
        if self.follow is not None:  # the presenter turns the sections: no keys, no buttons
            nav = pn.Row(self.title, sizing_mode="stretch_width")
            self.help.object = '<div class="cp-keyhelp">following the presenter</div>'
            top = [self.dash.header, nav, self.help]
        else:
            nav = pn.Row(
                self.prev_button,
                self.next_button,
                self.title,
                self.pause_button,
                self.step_button,
                sizing_mode="stretch_width",
            )
            top = [self.dash.header, self.keys, nav, self.help]
        page = pn.Column(
            *top,
            self.message,
            self.body,
            sizing_mode="stretch_width",
            css_classes=["cp-page", "cp-present"],
        )
        page.presenter = self
        self.dash.after_refresh = self._after_refresh
        return page

    def _after_refresh(self):
        """After each refresh: follow the presenter (a viewer's page), large type for new figures."""
        if self.follow is not None:
            index = self.follow() % len(self.slides)
            if index != self.index:
                self.go(index)  # refreshes the new section, which calls this again: same index
                return
        self.enlarge()


def scale_figure(fig, k):
    """Scale a Bokeh figure by k: its size and every font size in it (titles, axes, legends,
    text glyphs). Data coordinates are untouched, so images and glyphs scale with the frame."""
    for dim in ("width", "height", "min_border_left", "min_border_right", "min_border_top", "min_border_bottom"):
        v = getattr(fig, dim, None)
        if isinstance(v, (int, float)) and v:
            setattr(fig, dim, int(round(v * k)))
    for model in fig.references():
        for name in model.properties():
            if name.endswith("font_size"):
                v = getattr(model, name)
                if isinstance(v, dict) and isinstance(v.get("value"), str):
                    setattr(model, name, dict(v, value=_scale_size(v["value"], k)))
                elif isinstance(getattr(v, "value", None), str):
                    setattr(model, name, _scale_size(v.value, k))
                elif isinstance(v, str):
                    setattr(model, name, _scale_size(v, k))


FITS_PX = 360  # a figure this wide fits the narrowest phone as it is (rows wrap there)


def fit_width(fig):
    """A figure of fixed size wider than FITS_PX that shrinks (keeping its aspect) to a
    narrower container, a phone's screen, and keeps its size where there is room: images
    scale with the frame."""
    width, height = fig.width, fig.height
    if fig.frame_width and fig.frame_height:  # (a pixel canvas: its frame's size is fixed)
        border = fig.min_border or 0
        width = fig.frame_width + (fig.min_border_left or border) + (fig.min_border_right or border)
        height = fig.frame_height + (fig.min_border_top or border) + (fig.min_border_bottom or border)
    if isinstance(width, int) and isinstance(height, int) and width > FITS_PX and height:
        fig.update(frame_width=None, frame_height=None, width=width, height=height)
        fig.update(sizing_mode="scale_width", max_width=width, aspect_ratio=width / height)
        fig.css_classes = list(fig.css_classes) + ["cp-fit"]  # a whole row on a phone (app/views/viewport.py)
        _scale_text_with_width(fig, width)


def _scale_text_with_width(fig, width):
    """Text glyphs (the network visualisation's captions) and the title keep their size in
    screen pixels while the images shrink with the frame: in the browser, scale them by the
    figure's shrink too, so a caption stays over its row instead of across the next one and a
    title (the confusion matrix's) stays on the screen."""
    texts = [r.glyph for r in fig.renderers if isinstance(getattr(r, "glyph", None), Text)]
    texts += [fig.title] if fig.title is not None and fig.title.text else []
    sized = [(g, _px(g.text_font_size)) for g in texts]
    sized = [(g, px) for g, px in sized if px]
    if not sized:
        return
    fig.js_on_change(
        "inner_width",
        CustomJS(
            args=dict(fig=fig, texts=[g for g, _ in sized], sizes=[px for _, px in sized], full=width),
            code="""
const k = Math.min(1, Math.max(0.3, (fig.outer_width || fig.inner_width) / full));
texts.forEach((g, i) => { g.text_font_size = Math.round(sizes[i] * k * 10) / 10 + "px"; });
""",
        ),
    )


def _px(size):
    """15 for "15px" (a value spec or a plain string), else None."""
    value = size.get("value") if isinstance(size, dict) else getattr(size, "value", size)
    if isinstance(value, str) and value.endswith("px"):
        try:
            return float(value[:-2])
        except ValueError:
            return None
    return None


def _scale_size(size, k):
    """ "13px" -> "17px" for k = 1.3; "1.2em" -> "1.56em"; anything else unchanged."""
    for unit in ("px", "pt", "em", "rem"):
        if size.endswith(unit):
            try:
                value = float(size[: -len(unit)])
            except ValueError:
                return size
            return ("%d%s" if unit in ("px", "pt") else "%.2f%s") % (
                round(value * k) if unit in ("px", "pt") else value * k,
                unit,
            )
    return size
