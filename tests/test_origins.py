"""Who may open a session on `--host 0.0.0.0`: this machine's own pages, and drive: the token's.

app/origins.py lists the websocket origins the server accepts: never "*", only this machine's
names and addresses with the port, plus --allow-origin. End to end, the real app listens on
every interface (reached over loopback only, as every test) without --lecture: a websocket
handshake whose Origin is a foreign site is refused, one from the page's own address is
accepted; the page without the printed token is read-only, the one with it presents.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest
from browser import ARTIFACTS, free_port, start_app, stop_app

from app.lecture import Lecture
from app.origins import OriginError, check_origin, origins


def test_every_interface_is_this_machines_names_never_a_wildcard():
    port = free_port()
    allowed = origins("0.0.0.0", port)
    assert "*" not in allowed and all(a.endswith(":%d" % port) for a in allowed)
    for name in ("localhost", "127.0.0.1", socket.gethostname().lower()):
        assert "%s:%d" % (name, port) in allowed
    assert origins("::", port, ["proxy.example.org:443"])[-1] == "proxy.example.org:443"
    assert origins("127.0.0.1", port) == ["127.0.0.1:%d" % port, "localhost:%d" % port]


@pytest.mark.parametrize("value", ["*", "*.example.org:80", "a:b:c", ":80", "host:http"])
def test_an_allow_origin_bokeh_would_not_take_is_refused(value):
    with pytest.raises(OriginError):
        check_origin(value)


def test_without_a_lecture_the_token_decides_the_role():
    guard = Lecture(guard=True)
    assert guard.role({}) == "viewer"
    assert guard.role({"presenter": [b"wrong"]}) == "viewer"
    assert guard.role({"presenter": [guard.token.encode()]}) == "presenter"


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory):
    """`python -m app --host 0.0.0.0` without data (the page needs none) and without --lecture."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "origins_server.log"
    tmp = tmp_path_factory.mktemp("origins")
    args = ["--host", "0.0.0.0", "--paused", "--backend", "numpy", "--data", str(tmp / "no-data")]
    proc, url = start_app(args, log, tmp / "cache")
    token = re.search(r"\?presenter=(\S+)", log.read_text())
    assert token, log.read_text()
    yield {"url": url, "token": token.group(1), "log": log}
    stop_app(proc)


async def _session(url, origin):
    """Open a Bokeh session as a browser on `origin` would; the document's JSON, or the HTTP
    status of a refused handshake."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    page = await AsyncHTTPClient().fetch(url, request_timeout=120)
    token = re.search(r'"token":\s*"([^"]+)"', page.body.decode()).group(1)
    ws_url = "ws" + url.split("?")[0][len("http") :].rstrip("/") + "/ws"
    try:
        ws = await websocket_connect(
            HTTPRequest(ws_url, headers={"Origin": origin}, request_timeout=120),
            subprotocols=["bokeh", token],
            max_message_size=200 * 1024 * 1024,
        )
    except HTTPClientError as e:
        return e.code
    frames, asked = [], False
    while True:
        frame = await asyncio.wait_for(ws.read_message(), 120)
        assert frame is not None, "the server closed the session"
        frames.append(frame if isinstance(frame, str) else "")
        if not asked and '"ACK"' in frames[-1][:200]:
            for f in (json.dumps({"msgid": "pull", "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
                await ws.write_message(f)
            asked = True
        if len(frames) >= 3 and '"PULL-DOC-REPLY"' in frames[-3][:200]:
            ws.close()
            return frames[-1]  # the reply's content: the document


def session(url, origin):
    return asyncio.run(_session(url, origin))


def test_a_foreign_origin_is_refused_on_every_interface(everywhere):
    port = everywhere["url"].rsplit(":", 1)[1].strip("/")
    assert session(everywhere["url"], "http://evil.example.com:%s" % port) == 403
    assert session(everywhere["url"], "http://127.0.0.1:%s.evil.example.com" % port) == 403
    assert isinstance(session(everywhere["url"], "http://127.0.0.1:%s" % port), str)  # a document


def test_only_the_page_with_the_token_changes_the_run(everywhere):
    port = everywhere["url"].rsplit(":", 1)[1].strip("/")
    origin = "http://localhost:%s" % port
    other = session(everywhere["url"], origin)
    assert "watching: read-only" in other
    presenter = session(everywhere["url"] + "?presenter=" + everywhere["token"], origin)
    assert "watching: read-only" not in presenter and "Start" in presenter
    wrong = session(everywhere["url"] + "?presenter=" + everywhere["token"][::-1], origin)
    assert "watching: read-only" in wrong
    assert "Traceback" not in everywhere["log"].read_text()
