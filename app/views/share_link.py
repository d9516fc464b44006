"""Share a setup: a "Copy link" control with the link to this page's setup (spec, optimizer,
hyperparameters, seed: app/core/setup_link.py), and the page's answer to a `?setup=` link
(setup_notice): the setup applied and said so, or a message saying why it cannot be, with the
run in progress untouched."""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from ..core.setup_link import SETUP_KEYS, SetupLinkError, apply_setup, encode_setup
from .common import alert, show

# The link is the page's own address with only ?setup= (a presenter token never travels in it).
COPY_JS = """
const url = window.location.origin + window.location.pathname + "?setup=" + link.value
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(url).then(() => { note.text = "copied: " + url }, () => { note.text = url })
} else {
  note.text = url  // no clipboard on plain http from another host: the link to copy by hand
}
"""


class SetupLink(Viewer):
    """See the module docstring: follows the session's state (its spec and settings)."""

    def __init__(self, state, read_only=False, **params):
        super().__init__(**params)
        self.state = state
        self.link = pn.widgets.TextInput(disabled=True, sizing_mode="stretch_width", visible=False)
        self.button = pn.widgets.Button(label="Copy link to this setup", variant="outline", sizing_mode="stretch_width")
        self.note = pn.widgets.StaticText(value="", sizing_mode="stretch_width", css_classes=["cp-setup-note"])
        self.button.js_on_click(args={"link": self.link, "note": self.note}, code=COPY_JS)
        state.param.watch(self._update, ["spec", *SETUP_KEYS])
        self._update()
        # a lecture viewer's page: no link (it would load the setup on whoever opens it)
        self._layout = pn.Column(self.button, self.note, self.link, sizing_mode="stretch_width", visible=not read_only)

    def __panel__(self):
        return self._layout

    def _update(self, *events):
        s = self.state
        self.link.value = encode_setup(s.spec, {k: getattr(s, k) for k in SETUP_KEYS})


def setup_notice(runner, args):
    """Apply a page's `?setup=` argument (args: Panel's session_args) to the runner; an Alert
    saying what happened, or None without one. Never raises for a bad link."""
    values = (args or {}).get("setup")
    if not values:
        return None
    pane = alert("success")
    try:
        apply_setup(runner, values[0])
    except (SetupLinkError, PermissionError) as e:  # PermissionError: a revoked presenter link
        show(pane, "%s. The run in progress goes on unchanged." % str(e).rstrip("."), "danger")
    else:
        show(pane, "The link's setup is loaded: its net, optimizer, settings and seed train from scratch.", "success")
    return pane
