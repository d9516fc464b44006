"""The presenter's token off the address bar: a cookie, sessions that lose their role on revoke.

The presenter's URL carries `?presenter=TOKEN`, and the presenter's page is the one on the
projector. So on its first load the page trades the token for a cookie and drops it from the
address bar:

    TokenExchange      an invisible component of the presenter's page: POSTs the token to
                       LOGIN_PATH, then rewrites the address bar to the bare URL
                       (history.replaceState); told a new token after a revoke, it trades that
    LoginHandler       LOGIN_PATH: a valid token in the body -> an HttpOnly, SameSite=Strict
                       cookie holding it (page scripts cannot read it, other sites' pages do
                       not send it); anything else -> 403
    GuardedRunner      what a presenter's page drives: the Runner, whose commands pass only
                       while the token the page was opened with is still the lecture's, so a
                       revoke (Lecture.revoke, `--new-token`) ends every session that used
                       the old one at its next click

A reload sends the cookie, and Lecture.role reads it as it reads `?presenter=`. The token is
kept in the cache directory (app/lecture.py: token_file) so that a restart keeps the
presenter's cookie valid; `--new-token` replaces it.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent
from tornado.web import RequestHandler

from .lecture import COOKIE, READS, ReadOnlyError

LOGIN_PATH = "/cp-presenter"


class LoginHandler(RequestHandler):
    def initialize(self, lecture):
        self.lecture = lecture

    def post(self):
        token = self.request.body.decode("utf-8", "replace").strip()
        if not self.lecture.valid(token):
            self.set_status(403)
            return
        self.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Strict")
        self.set_status(204)


def route(lecture):
    """The login route for pn.serve's extra_patterns."""
    return (LOGIN_PATH, LoginHandler, {"lecture": lecture})


class TokenExchange(JSComponent):
    """See the module docstring; `token` is the token to trade for the cookie."""

    token = param.String(default="")
    login_path = param.String(default=LOGIN_PATH)

    _esm = """
    export function render({ model }) {
      const trade = () => {
        const token = model.token
        if (!token) return
        fetch(model.login_path, { method: "POST", body: token, credentials: "same-origin" }).then((r) => {
          if (!r.ok) return
          const url = new URL(window.location.href)
          url.searchParams.delete("presenter")
          window.history.replaceState(null, "", url.pathname + url.search + url.hash)
        })
      }
      trade()
      model.on("token", trade)
      const marker = document.createElement("div")
      marker.className = "cp-token-exchange"
      return marker
    }
    """


class GuardedRunner:
    """The Runner for a presenter's page opened with `token`; see the module docstring."""

    def __init__(self, runner, lecture, token):
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_lecture", lecture)
        object.__setattr__(self, "token", token)

    def adopt(self, token):
        """This page made the revoke: it keeps presenting with the new token."""
        object.__setattr__(self, "token", token)

    def __getattr__(self, name):
        value = getattr(self._runner, name)
        if name in READS or name.startswith("_") or not callable(value):
            return value

        def command(*args, **kwargs):
            if not self._lecture.valid(self.token):
                raise ReadOnlyError("this page's presenter link was revoked: open the new one to present")
            return value(*args, **kwargs)

        return command

    def __setattr__(self, name, value):
        setattr(self._runner, name, value)


BAR_CSS = """
.cp-join { display: flex; align-items: center; gap: 10px; font-size: 15px; color: #101828; }
.cp-join svg { width: 96px; height: 96px; }
.cp-join-url { font-family: ui-monospace, monospace; word-break: break-all; }
"""


def presenter_bar(lecture, guarded, traded):
    """The presenter's row: the token exchange (when the URL held the token: `traded`), the
    viewers' URL as a QR code, and "Revoke presenter link" (a new token; this page keeps it)."""
    import panel as pn

    from .qr import join_html

    exchange = TokenExchange(token=lecture.token if traded else "")
    parts = [exchange]
    if lecture.viewer_url:
        parts.append(pn.pane.HTML(join_html(lecture.viewer_url), stylesheets=[BAR_CSS], css_classes=["cp-join-pane"]))
    revoke = pn.widgets.Button(
        name="Revoke presenter link", button_type="danger", button_style="outline", width=200, align="center"
    )
    note = pn.pane.HTML("", css_classes=["cp-revoke-note"], align="center")

    def on_revoke(event):
        if not lecture.valid(guarded.token):  # a revoked page cannot revoke its successor
            note.object = "this page's presenter link was revoked"
            return
        token = lecture.revoke()
        guarded.adopt(token)
        exchange.token = token  # this page's cookie follows; every other presenter page is out
        note.object = "revoked: the new presenter link is in the terminal"

    revoke.on_click(on_revoke)
    parts += [revoke, note]
    return pn.Row(*parts, sizing_mode="stretch_width", css_classes=["cp-presenter-bar"])
