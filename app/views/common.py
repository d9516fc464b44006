"""Small helpers every view uses: HTML panes carrying the page's CSS, section cards, messages,
and InView, the marker that reports whether a section is on screen.

Panel renders each component in its own shadow DOM, so the CSS from markup.py is attached to
every HTML pane as a stylesheet rather than once to the page.
"""

from __future__ import annotations

from html import escape

import panel as pn
import param
from panel.custom import JSComponent

from ..markup import CSS

CARD_CSS = """
:host { width: 100%; }
.card-header { font-size: 18px; }
"""


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
