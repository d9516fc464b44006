"""GoTo: a page that sends its browser to the same address on another port.

In lecture mode the training process serves only the presenter; a viewer who opens its
address (without the presenter's token) is sent on to the viewers' server (app/relay.py), with
the same host name and query, so the link the room was given keeps working whichever port it
names. Without JavaScript the page says which port to use.
"""

from __future__ import annotations

import panel as pn
import param
from panel.custom import JSComponent

from .common import html


class GoTo(JSComponent):
    """Replaces the page's location with the same URL on `port` (minus ?presenter=)."""

    port = param.Integer(default=0)

    _esm = """
    export function render({ model, el }) {
      const url = new URL(window.location.href)
      url.port = String(model.port)
      url.searchParams.delete("presenter")
      if (model.port) { window.location.replace(url.href) }
      const note = document.createElement("div")
      note.className = "cp-goto"
      note.dataset.href = url.href
      return note
    }
    """


def viewers_elsewhere(port):
    """The whole page for a viewer who came to the presenter's server."""
    return pn.Column(
        GoTo(port=int(port)),
        html(
            '<div class="cp-goto-text" style="font-size:20px;padding:24px">This lecture\'s viewers watch on '
            "port %d of this address: the page moves there.</div>" % int(port)
        ),
        sizing_mode="stretch_width",
    )
