"""Lecture mode: one presenter changes the run, a room of viewers watches it, read-only.

    Lecture()                    a secret presenter token (or the one given)
    lecture.role(session_args)   "presenter" when the page's URL carries ?presenter=<token>,
                                 else "viewer"; without lecture mode every page presents
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
    }.get(command, "change the run")


def _arg(session_args, name):
    values = (session_args or {}).get(name) or [b""]
    value = values[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Lecture:
    """The presenter's secret and the roles of pages; see the module docstring.

    viewer_port: the port of the viewers' own server (app/relay.py), None when this server
    serves them too. guard: see __init__. slide: the section the presenter shows, which viewers follow."""

    def __init__(self, token=None, viewer_port=None, guard=False):
        self.token = token or secrets.token_urlsafe(16)
        self.viewer_port = viewer_port
        self.slide = 0
        # guard: no lecture, only a server reachable from the network (`--host 0.0.0.0`
        # without --lecture): the same roles, the full dashboard for everyone
        self.guard = guard

    def set_slide(self, index):
        self.slide = int(index)

    def role(self, session_args):
        given = _arg(session_args, PRESENTER_ARG)
        ok = bool(given) and hmac.compare_digest(given.encode(), self.token.encode())
        return "presenter" if ok else "viewer"

    def urls(self, host, port):
        """(presenter URL, viewer URL). On every interface (0.0.0.0, ::) the address is this
        machine's address on the room's network, the one viewers can reach."""
        name = lan_address() if host in ("0.0.0.0", "::", "") else host
        if ":" in name:
            name = "[%s]" % name  # an IPv6 literal
        base = "http://%s:%d/" % (name, port)
        viewers = "http://%s:%d/" % (name, self.viewer_port) if self.viewer_port else base
        return "%s?%s=%s" % (base, PRESENTER_ARG, self.token), viewers


def role_of(lecture, session_args):
    """The role of a page: every page presents when there is no lecture."""
    return "presenter" if lecture is None else lecture.role(session_args)


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
