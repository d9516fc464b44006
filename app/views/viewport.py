"""Viewport: a phone lays the page out at its own width, not at a desktop's 980 px.

Bokeh's page template has no `<meta name="viewport">`, so a phone renders the page as if it
were 980 px wide and zooms it out: the viewers' page was unreadable in a hand (issue 18). This
invisible component adds the tag when the page renders (mobile browsers apply a viewport tag
added later too) and marks the document `cp-narrow` below NARROW_PX, where the stylesheets of
the page (app/dashboard.py, app/presenter.py) lay it out in one column.
"""

from __future__ import annotations

from panel.custom import JSComponent

NARROW_PX = 600


class Viewport(JSComponent):
    """See the module docstring."""

    _esm = """
    export function render({ el }) {
      if (!document.querySelector('meta[name="viewport"]')) {
        const meta = document.createElement("meta")
        meta.name = "viewport"
        meta.content = "width=device-width, initial-scale=1"
        document.head.appendChild(meta)
      }
      const marker = document.createElement("div")
      marker.className = "cp-viewport"
      return marker
    }
    """
