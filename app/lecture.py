"""Lecture mode: one presenter changes the run, a room of viewers watches it, read-only.

    Lecture()                    a secret presenter token (or the one given)
    lecture.role(session_args, cookies)
                                 "presenter" when the page's URL carries ?presenter=<token>
                                 or its cookie holds the token (app/presenter_auth.py), else
                                 "viewer"; without lecture mode every page presents
    lecture.revoke()             a new token: old links, cookies and pages change nothing
    lecture.urls(host, port)     (presenter URL, viewer URL) to print at start; the viewers'
                                 URL is the viewers' own server's (app/relay.py) when there is one
    ReadOnlyRunner(runner)       what a viewer's page gets instead of the Runner: the reading
                                 side passes through, every command raises ReadOnlyError

The server enforces the roles, not the page: a viewer's page is built over a ReadOnlyRunner,
so whatever its browser sends (a re-enabled button, a forged widget value) ends in a refused
command and the run is untouched. The page also disables its controls, but only as a courtesy.
"""

from __future__ import annotations

import hmac
import secrets
import socket

PRESENTER_ARG = "presenter"
COOKIE = "cp_presenter"  # the cookie a presenter's page trades its token for (app/presenter_auth.py)

# What a viewer's page may call on the Runner: reading the published state, and inference on a
# copy of the published weights (a viewer may try their own image without changing the run).
READS = frozenset(
    {
        "snapshot",
        "history_since",
        "predictions_since",
        "vis",
        "infer",
        "inference_net",
        "test_image",
        "check_spec",
        "snapshot_bytes",
        "health_history",
        "evaluation",
        "runs_view",
    }
)


class ReadOnlyError(PermissionError):
    """A viewer's page asked the run to change."""


class ReadOnlyRunner:
    """A Runner as a viewer's page sees it; see the module docstring. Deny by default: only
    the names in READS reach the runner."""

    MESSAGE = "this is a viewer's page: only the presenter can %s"

    def __init__(self, runner):
        object.__setattr__(self, "_runner", runner)

    def __getattr__(self, name):
        if name in READS:
            return getattr(self._runner, name)
        known = getattr(self._runner, name, None)
        if not name.startswith("_") and (known is None or callable(known)):  # a command (a mirror has none)

            def refused(*args, **kwargs):
                raise ReadOnlyError(self.MESSAGE % _what(name))

            return refused
        raise AttributeError("a viewer's page cannot read the runner's %r" % name)

    def __setattr__(self, name, value):
        raise ReadOnlyError(self.MESSAGE % "change the run")


def _what(command):
    return {
        "start": "start the training",
        "pause": "pause the training",
        "step": "step the training",
        "reset": "reset the weights",
        "undo": "undo a change of the net",
        "set_hyper": "change the settings",
        "apply_spec": "change the network",
        "load_snapshot": "load a snapshot",
        "load_pretrained": "load a snapshot",
        "set_vis_example": "change the example everyone sees",
        "show_test_image": "change the example everyone sees",
        "view_at": "scrub the run's timeline for everyone",
        "back_to_live": "scrub the run's timeline for everyone",
        "branch_from": "branch the run",
    }.get(command, "change the run")


def _arg(session_args, name):
    values = (session_args or {}).get(name) or [b""]
    value = values[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Lecture:
    """The presenter's secret and the roles of pages; see the module docstring.

    viewer_port: the port of the viewers' own server (app/relay.py), None when this server
    serves them too. guard: see __init__. slide: the section the presenter shows, which viewers follow."""

    def __init__(self, token=None, viewer_port=None, guard=False, token_file=None):
        self.token = token or secrets.token_urlsafe(16)
        self.token_file = token_file  # where revoke() saves a new token
        self.on_revoke = None  # called with the lecture after a revoke (the terminal prints it)
        self.viewer_url = None  # set by whoever serves: shown to the presenter as a QR code
        self.viewer_port = viewer_port
        self.slide = 0
        # guard: no lecture, only a server reachable from the network (`--host 0.0.0.0`
        # without --lecture): the same roles, the full dashboard for everyone
        self.guard = guard

    def set_slide(self, index):
        self.slide = int(index)

    def valid(self, token):
        """Is `token` the presenter's current token? (constant time)"""
        return bool(token) and hmac.compare_digest(str(token).encode(), self.token.encode())

    def role(self, session_args, cookies=None):
        """ "presenter" for ?presenter=<token> or the cookie a presenter's page was given
        (app/presenter_auth.py), else "viewer"."""
        given = _arg(session_args, PRESENTER_ARG)
        cookie = (cookies or {}).get(COOKIE, "")
        return "presenter" if self.valid(given) or self.valid(cookie) else "viewer"

    def revoke(self):
        """A new token: the old one, the cookies holding it and the pages opened with it
        change nothing any more. Returns the new token (and saves it, see token_file)."""
        self.token = secrets.token_urlsafe(16)
        if self.token_file is not None:
            save_token(self.token_file, self.token)
        if self.on_revoke is not None:
            self.on_revoke(self)
        return self.token

    def urls(self, host, port):
        """(presenter URL, viewer URL). On every interface (0.0.0.0, ::) the address is this
        machine's address on the room's network, the one viewers can reach."""
        name = lan_address() if host in ("0.0.0.0", "::", "") else host
        if ":" in name:
            name = "[%s]" % name  # an IPv6 literal
        base = "http://%s:%d/" % (name, port)
        viewers = "http://%s:%d/" % (name, self.viewer_port) if self.viewer_port else base
        return "%s?%s=%s" % (base, PRESENTER_ARG, self.token), viewers


def role_of(lecture, session_args, cookies=None):
    """The role of a page: every page presents when there is no lecture."""
    return "presenter" if lecture is None else lecture.role(session_args, cookies)


def load_token(path, new=False):
    """The presenter's token kept at `path` (a restart keeps the presenter's cookie valid), or a
    new one saved there when there is none or `new` (`--new-token`). Readable by the user only."""
    from pathlib import Path

    path = Path(path)
    if not new:
        try:
            token = path.read_text().strip()
            if len(token) >= 16:
                return token
        except OSError:
            pass
    token = secrets.token_urlsafe(16)
    save_token(path, token)
    return token


def save_token(path, token):
    from pathlib import Path

    from engine.atomic import write_atomic

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, token.encode("ascii"), mode=0o600)  # a secret: this user's alone
    except OSError:  # a read-only cache: the token lives as long as the process
        pass


def lan_address():
    """This machine's address on its local network (no packet is sent), else its host name."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))  # UDP connect only picks the outgoing interface
        return s.getsockname()[0]
    except OSError:
        return socket.gethostname()
    finally:
        s.close()
