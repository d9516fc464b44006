"""Viewport: a phone lays the page out at its own width, and everything on it fits that width.

Bokeh's page template has no `<meta name="viewport">`, so a phone renders the page as if it
were 980 px wide and zooms it out: the viewers' page was unreadable in a hand (issue 18). This
invisible component adds the tag when the page renders (mobile browsers apply a viewport tag
added later too). Below NARROW_PX wide, PHONE_CSS (one of the page's stylesheets, app/dashboard.py)
wraps rows into one column and compresses tables, and the component zooms a table still wider
than the screen out to its width (CSS zoom, which also scales the room it takes), re-checked
every FIT_MS as sections change. Figures are fitted on the server (app/presenter.py,
fit_width): CSS zoom or a transform on a Bokeh canvas makes Bokeh measure itself scaled and
draw itself scaled twice.
"""

from __future__ import annotations

from panel.custom import JSComponent

NARROW_PX = 600
FIT_MS = 700
# (raw_css reaches every component's shadow root: :host is each component.) Rows of
# widgets, charts and figures become one column, each item as wide as the screen but a figure
# of fixed size (stretched, it would lose its aspect; the wider ones, .cp-fit, keep it:
# app/presenter.py, fit_width); tables get small
# type and padding (a number is never broken: what is still too wide is zoomed out).
PHONE_CSS = (
    """
@media (max-width: %dpx) {
  :host(.bk-Row), :host(.bk-panel-models-layout-Row) { flex-wrap: wrap; max-width: 100%%; }
  :host(.bk-Row) > :not(.bk-Figure), :host(.bk-panel-models-layout-Row) > :not(.bk-Figure),
  :host(.bk-Row) > .cp-fit, :host(.bk-panel-models-layout-Row) > .cp-fit { flex: 1 1 100%%; }
  :host(.bk-panel-models-widgets-TextAreaInput), :host(.bk-panel-models-widgets-CustomSelect),
  :host(.bk-Spinner), :host(.bk-Slider), :host(.bk-panel-models-widgets-Button) { max-width: calc(100vw - 24px); }
  table { font-size: 12px !important; zoom: var(--cp-zoom, 1); }
  table th, table td { padding: 2px 4px !important; }
}
"""
    % NARROW_PX
)


class Viewport(JSComponent):
    """See the module docstring."""

    _esm = """
    const NARROW = %d, EVERY = %d
    function fit() {  // tables wider than the screen: zoomed out to its width
      const width = document.documentElement.clientWidth
      if (width > NARROW) return
      const tables = []
      const walk = (root) => {
        tables.push(...root.querySelectorAll("table"))
        for (const el of root.querySelectorAll("*")) { if (el.shadowRoot) walk(el.shadowRoot) }
      }
      walk(document)
      // The zoom is set on the table's host (--cp-zoom, which PHONE_CSS applies to its tables):
      // a pane that redraws its table keeps it, where a zoom on the replaced table was lost.
      const wants = new Map()
      for (const el of tables) {
        const host = el.getRootNode().host || document.documentElement
        const zoom = parseFloat(host.style.getPropertyValue("--cp-zoom") || "1")
        const box = el.getBoundingClientRect()  // zoomed: its own size times zoom
        if (box.width === 0) continue
        const want = Math.min(1, (width - Math.max(0, box.left) - 6) / (box.width / zoom))
        wants.set(host, [Math.min(want, wants.has(host) ? wants.get(host)[0] : 1), zoom])
      }
      for (const [host, [want, zoom]] of wants)
        if (Math.abs(want - zoom) > 0.01) host.style.setProperty("--cp-zoom", want.toFixed(3))
    }
    export function render({ el }) {
      if (!document.querySelector('meta[name="viewport"]')) {
        const meta = document.createElement("meta")
        meta.name = "viewport"
        meta.content = "width=device-width, initial-scale=1"
        document.head.appendChild(meta)
      }
      const marker = document.createElement("div")
      marker.className = "cp-viewport"
      setInterval(fit, EVERY)
      return marker
    }
    """ % (NARROW_PX, FIT_MS)
