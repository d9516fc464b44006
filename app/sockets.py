"""Quiet the server's log when a browser tab closes while a message to it is on its way.

Tornado writes a websocket message in a task that nobody awaits; when the page has gone, the
task ends in WebSocketClosedError and asyncio prints "Task exception was never retrieved"
with two tracebacks into the terminal of the person who started the app, once per lost
message: in a lecture, where viewers come and go, a scroll of them. Nothing was lost that
anyone was waiting for, so those two exceptions are dropped; every other one still goes to
asyncio's default handler.
"""

from __future__ import annotations

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

CLOSED = (WebSocketClosedError, StreamClosedError)


def handle(loop, context):
    """An asyncio exception handler: closed sockets are dropped, the rest handled as usual."""
    if isinstance(context.get("exception"), CLOSED):
        return
    loop.default_exception_handler(context)


def install(io_loop=None):
    """Set `handle` on the asyncio loop under Tornado's current IOLoop (or the one given)."""
    from tornado.ioloop import IOLoop

    loop = (io_loop or IOLoop.current()).asyncio_loop
    loop.set_exception_handler(handle)
    return loop
