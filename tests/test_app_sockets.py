"""app/sockets.py: a message lost to a closed tab is dropped; every other error is reported."""

from __future__ import annotations

import asyncio

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from app import sockets


class Loop:
    def __init__(self):
        self.reported = []

    def default_exception_handler(self, context):
        self.reported.append(context)


def test_closed_sockets_are_dropped_and_other_errors_reported():
    loop = Loop()
    for exc in (WebSocketClosedError(), StreamClosedError()):
        sockets.handle(loop, {"message": "Task exception was never retrieved", "exception": exc})
    assert loop.reported == []
    other = {"message": "Task exception was never retrieved", "exception": ZeroDivisionError()}
    sockets.handle(loop, other)
    sockets.handle(loop, {"message": "no exception at all"})
    assert loop.reported == [other, {"message": "no exception at all"}]


def test_install_sets_the_handler_on_tornados_loop():
    from tornado.ioloop import IOLoop

    aloop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(aloop)
        io_loop = IOLoop.current()
        assert sockets.install(io_loop) is aloop
        assert aloop.get_exception_handler() is sockets.handle
    finally:
        asyncio.set_event_loop(None)
        aloop.close()
