"""Small helpers every view uses: HTML panes carrying the page's CSS, section cards, messages,
and InView, the marker that reports whether a section is on screen.

Panel renders each component in its own shadow DOM, so the CSS from app/core/fragments.py is attached to
every HTML pane as a stylesheet rather than once to the page.

Importing this module also mends one costly habit of Panel's text panes (HTML, Markdown,
Alert): see keep_stylesheets().
"""

from __future__ import annotations

from html import escape

import panel as pn
import param
from panel.custom import JSComponent
from panel.pane.markup import HTMLBasePane

from ..core.fragments import CSS

CARD_CSS = """
:host { width: 100%; }
.card-header { font-size: 18px; }
"""


def _sheets(sheets):
    return [getattr(s, "url", s) for s in sheets or ()]


def keep_stylesheets(model, props):
    """Drop `stylesheets` from a text pane's update when they name the same sheets as the model's.

    A text pane's update sends all its properties, stylesheets too, rebuilt; on a server page
    its first update rebuilds Panel's theme sheets as new ImportedStyleSheet objects with the
    same URLs. New objects look like a new value, Bokeh then re-walks every model of the page
    (once per pane, in the server's thread) and the browser restyles the pane: the first click
    on Pause was slow by that much (docs/BENCHMARKS.md, "The first click")."""
    if "stylesheets" in props and _sheets(props["stylesheets"]) == _sheets(model.stylesheets):
        del props["stylesheets"]
    return props


_panel_update = HTMLBasePane._update


def _update(self, ref, model):
    if self.enable_streaming:
        return _panel_update(self, ref, model)
    model.update(**keep_stylesheets(model, self._get_properties(model.document)))


HTMLBasePane._update = _update


def html(text="", **kw):
    """An HTML pane with the dashboard's stylesheet."""
    kw.setdefault("sizing_mode", "stretch_width")
    kw["stylesheets"] = [CSS] + list(kw.get("stylesheets", []))
    return pn.pane.HTML(text, **kw)


def section(title, *objects, **kw):
    """A titled card, one per section of the page; css_classes name it for tests ("cp-<slug>")."""
    slug = title.lower().replace(" ", "-").replace("/", "-")
    kw.setdefault("sizing_mode", "stretch_width")
    return pn.Card(
        *objects,
        title=title,
        collapsible=False,
        css_classes=["cp-section", "cp-" + slug],
        header_css_classes=["cp-section-title"],
        margin=(6, 6),
        **kw,
    )


def alert(kind="danger"):
    """A hidden alert to show messages in: alert.object = text; alert.visible = True."""
    return pn.pane.Alert("", alert_type=kind, visible=False, sizing_mode="stretch_width", margin=(4, 5))


INACTIVE = {"opacity": "0.45", "pointer-events": "none"}


def dim(button, inactive):
    """Grey out a button that would do nothing now (Start while training runs), by its style.

    Not by `disabled`: Bokeh re-renders a button whose `disabled` or colour changes and then lays
    out the whole page again, most of a click's JavaScript (docs/BENCHMARKS.md, "Buttons greyed
    by style"). A style change only touches the button.
    """
    button.styles = INACTIVE if inactive else {}


def show(alert_pane, text, kind=None):
    if kind:
        alert_pane.alert_type = kind
    alert_pane.object = escape(text or "")  # messages quote user input (file names, specs)
    alert_pane.visible = bool(text)


class InView(JSComponent):
    """An invisible marker that tells the server whether its section is on screen.

    It watches the layout it sits in (the parent of its host element) with an
    IntersectionObserver and sets `in_view`; the dashboard skips redrawing figures nobody can
    see, which on a 2-core laptop is training speed won back. Defaults to True, so a browser
    without IntersectionObserver simply gets every update.
    """

    in_view = param.Boolean(default=True)

    _esm = """
    export function render({ model, el }) {
      const marker = document.createElement("div")
      marker.style.height = "0px"
      setTimeout(() => {
        const host = el.getRootNode().host
        const target = (host && (host.parentElement || host.getRootNode().host)) || el
        if (!("IntersectionObserver" in window)) return
        const io = new IntersectionObserver((entries) => {
          const seen = entries.some((e) => e.isIntersecting)
          if (seen !== model.in_view) { model.in_view = seen }
        }, { rootMargin: "200px" })
        io.observe(target)
      }, 0)
      return marker
    }
    """
