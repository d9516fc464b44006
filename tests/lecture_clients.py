"""Bokeh sessions without a browser: N clients of a Panel page, for load measurements.

    python tests/lecture_clients.py URL N

Each client does what a browser's BokehJS does on the wire, minus drawing: it loads the page
(the server creates a session and embeds its token), opens the session's websocket (/ws,
subprotocols "bokeh" and the token), waits for the server's ACK, asks for the document
(PULL-DOC-REQ) and then reads every message the server pushes (the periodic updates: PATCH-DOC).
Prints "ready" once every client has its document, then, when stdin closes, one JSON line:
clients still connected, messages and bytes received per client. Used by bench_lecture.py;
stdlib and Tornado (Bokeh's own dependency) only.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = re.compile(r'"token":\s*"([^"]+)"')


def frames(msgtype, msgid):
    """The three text frames of a Bokeh message with an empty body."""
    return [json.dumps({"msgid": msgid, "msgtype": msgtype}), "{}", "{}"]


class Client:
    def __init__(self, url):
        self.url = url
        self.messages = self.bytes = 0
        self.connected = False
        self.has_document = asyncio.Event()

    async def run(self):
        page = await AsyncHTTPClient().fetch(self.url, request_timeout=300)
        token = TOKEN.search(page.body.decode("utf-8", "replace")).group(1)
        ws_url = re.sub(r"^http", "ws", self.url.split("?")[0].rstrip("/")) + "/ws"
        ws = await websocket_connect(
            HTTPRequest(ws_url, request_timeout=300),
            subprotocols=["bokeh", token],
            max_message_size=200 * 1024 * 1024,
        )
        self.connected = True
        sent = False
        while True:
            frame = await ws.read_message()
            if frame is None:
                self.connected = False
                return
            self.bytes += len(frame)
            header = _header(frame)
            if header is None:
                continue  # metadata, content or a buffer
            self.messages += 1
            if header["msgtype"] == "ACK" and not sent:
                for f in frames("PULL-DOC-REQ", "pull-1"):
                    await ws.write_message(f)
                sent = True
            elif header["msgtype"] == "PULL-DOC-REPLY":
                self.has_document.set()


async def first_view(url):
    """Load a page and pull its session's document, as a browser's first view does: returns
    the document (the PULL-DOC-REPLY's content, JSON text) with every model of the page's
    first view, the header, the status and the figures included."""
    page = await AsyncHTTPClient().fetch(url, request_timeout=300)
    token = TOKEN.search(page.body.decode("utf-8", "replace")).group(1)
    ws_url = re.sub(r"^http", "ws", url.split("?")[0].rstrip("/")) + "/ws"
    ws = await websocket_connect(
        HTTPRequest(ws_url, request_timeout=300), subprotocols=["bokeh", token], max_message_size=200 * 1024 * 1024
    )
    try:
        while True:
            frame = await ws.read_message()
            if frame is None:
                raise ConnectionError("the server closed the session before sending its document")
            header = _header(frame)
            if header is not None and header["msgtype"] == "ACK":
                for f in frames("PULL-DOC-REQ", "pull-1"):
                    await ws.write_message(f)
            elif header is not None and header["msgtype"] == "PULL-DOC-REPLY":
                await ws.read_message()  # its metadata
                return await ws.read_message()  # its content: the document
    finally:
        ws.close()


def _header(frame):
    if not isinstance(frame, str) or '"msgtype"' not in frame[:200]:
        return None
    try:
        value = json.loads(frame)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "msgtype" in value and "msgid" in value else None


async def main(url, n):
    clients = [Client(url) for _ in range(n)]
    tasks = []
    for c in clients:  # one after the other, as a room arrives
        tasks.append(asyncio.ensure_future(c.run()))
        await asyncio.wait_for(c.has_document.wait(), 300)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(
        json.dumps(
            {
                "connected": sum(c.connected for c in clients),
                "messages_per_client": round(sum(c.messages for c in clients) / n, 1),
                "bytes_per_client": round(sum(c.bytes for c in clients) / n),
            }
        ),
        flush=True,
    )
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
