"""Lecture viewers, served by a second process: a room of pages does not slow the training.

A page's updates are Bokeh patches serialised for each session, in Python, holding the GIL;
the training thread needs the GIL between its kernels. With the viewers' sessions in the
training process, a room of viewer pages cuts training to a fraction (docs/BENCHMARKS.md,
"Lecture viewers in the training process"). So in lecture mode the viewers are served by
another process:

    start_relay(runner, lecture, host, port, origins)
        spawns the viewers' process (above the training's CPU priority, so the room always gets
        in, see RELAY_NICE) and, once its
        server listens, starts the Publisher; returns the Relay, or raises RelayError saying why
    Publisher(runner, conn, lecture)
        a thread of the training process: every PUBLISH_S it sends what changed of the runner's
        published state (Runner.export: stats, curves, predictions, the visualisation, weights,
        health, evaluation, the runs, the timeline's moment viewed) and the presenter's section down a pipe, one message for all viewers
    MirrorRunner()
        in the viewers' process: the reading side of a Runner (app/core/runner_reads.py, the READS
        of app/lecture.py) answered from the copies received; it has no commands at all

Every page of the viewers' process is read-only (a Dashboard over ReadOnlyRunner(mirror)) and,
unless its URL asks for ?layout=full, shows the presenter's layout following the presenter's
section. When the training process ends, the viewers' process ends with it (the pipe closes);
should the viewers' process end first, the training process serves the viewers again itself.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import types

import numpy as np

import engine

from .core.evaluation import RollingEvaluation
from .core.health import HealthHistory
from .core.history import History, PredictionLog
from .core.runner_reads import RunnerReadsMixin
from .core.runner_timeline import moment_from_message
from .core.runs import RunLog

PUBLISH_S = 0.5
# The viewers' process runs at the niceness of the app's own server thread (0), above the
# training threads (app/core/runner.py: TRAINING_NICE = 10), which keep the lower priority.
# At 19 it starved: beside two nice-0 programs on two cores, CFS gave it about 1.5% of the
# CPU (weight 15 against 2 x 1024) and it took minutes to import Panel and answer a first
# request. A room of viewers costs the training a little more now; it never locks the room out.
RELAY_NICE = 0
WATCH_S = 3.0  # a viewer page that showed the visualisation keeps the runner probing this long


class RelayError(RuntimeError):
    """The viewers' server could not start (its port is taken, ...)."""


class MirrorRunner(RunnerReadsMixin):
    """The runner as the viewers' process knows it: copies, updated by apply(message)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._pub = {}
        self.hyper = {}
        self.history = History(4)
        self.predictions = PredictionLog()
        self._vis_version, self._vis = 0, None
        self._weights = None
        self._infer, self._infer_lock = None, threading.Lock()
        self.dataset = None
        self._last_poll = 0.0
        self._health = HealthHistory()
        self._evaluation = None
        self.runs = RunLog()  # the presenter's runs, for the runs table
        self._moment = None  # the moment of the timeline the presenter shows, or None: live
        self.slide = 0  # the presenter's section
        self.messages = 0

    def apply(self, msg):
        """Take in one message of the Publisher (Runner.export's dict, plus "slide")."""
        with self._lock:
            self._pub = msg["pub"]
            self.hyper = dict(self._pub.get("hyper") or {})
            self.slide = int(msg.get("slide", self.slide))
            if "dataset" in msg:
                d = msg["dataset"]
                self.dataset = None
                if d is not None:
                    self.dataset = types.SimpleNamespace(
                        train_x=np.empty((0,) + tuple(d["shape"]), np.uint8),  # the image shape only
                        test_x=d["test_x"],
                        test_y=d["test_y"],
                        classes=d["classes"],
                        source=d["source"],
                    )
            for name in ("history", "predictions"):
                if name in msg:
                    setattr(self, name, msg[name])
            if "vis" in msg:
                self._vis_version, self._vis = msg["vis"]
            if "weights" in msg:
                self._weights = msg["weights"]
            if "health" in msg:
                self._health = msg["health"]
            if "evaluation_setup" in msg:
                s = msg["evaluation_setup"]
                self._evaluation = None
                if s is not None and self.dataset is not None:
                    self._evaluation = RollingEvaluation(
                        self.dataset.test_x, s["labels"], s["num_classes"], s["class_names"], order=s["order"]
                    )
            if "evaluation" in msg and self._evaluation is not None:
                self._evaluation.set_progress(msg["evaluation"])
            if "runs" in msg:
                self.runs.version, self.runs.runs, self.runs.current = msg["runs"]
            if "moment" in msg:
                self._moment = moment_from_message(msg["moment"], self.dataset, self._moment)
            self.messages += 1

    def health_history(self):
        return self._health

    def evaluation(self):
        moment = self._moment
        return self._evaluation if moment is None else moment.get("evaluation")

    def presenter_slide(self):
        with self._lock:
            return self.slide

    def watching_vis(self):
        """Has a page shown the visualisation lately (so the runner should keep probing)?"""
        with self._lock:
            return time.monotonic() - self._last_poll < WATCH_S

    def snapshot_bytes(self):
        """The weights everyone sees as a snapshot file (without the optimizer's state, which
        stays in the training process)."""
        net = self.inference_net()
        if net is None:
            raise ValueError("there is no net to save yet")
        pub = self._pub
        info = {
            "examples": pub.get("examples", 0),
            "test_acc": pub.get("test_acc"),
            "saved_by": "ConvNet Playground app (a lecture viewer's copy)",
        }
        return engine.snapshot_bytes(net, None, pub.get("classes"), info)


class Publisher(threading.Thread):
    """The training process's side of the pipe; see the module docstring."""

    def __init__(self, runner, conn, lecture=None, period=PUBLISH_S):
        super().__init__(name="convnet-publisher", daemon=True)
        self.runner, self.conn, self.lecture, self.period = runner, conn, lecture, period
        self.marks = {}
        self.watch_vis = False
        self.sent = 0
        self.on_lost = None  # called (in this thread) if the viewers' process goes away
        self._stop_event = threading.Event()

    def publish(self):
        msg = self.runner.export(self.marks, watch_vis=self.watch_vis)
        msg["slide"] = getattr(self.lecture, "slide", 0)
        self.conn.send(msg)
        self.sent += 1

    def receive(self):
        while self.conn.poll():
            kind, value = self.conn.recv()
            if kind == "watch":
                self.watch_vis = bool(value)

    def run(self):
        while not self._stop_event.wait(self.period):
            try:
                self.receive()
                self.publish()
            except (EOFError, OSError):  # the viewers' process is gone; training goes on
                if self.on_lost is not None and not self._stop_event.is_set():
                    self.on_lost()
                return

    def stop(self):
        self._stop_event.set()


class Relay:
    """The running viewers' process and its Publisher."""

    def __init__(self, process, publisher, port):
        self.process, self.publisher, self.port = process, publisher, port

    def stop(self, timeout=5.0):
        self.publisher.stop()
        self.publisher.conn.close()  # the viewers' process ends when its pipe closes
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)


def start_relay(runner, lecture, host, port, origins, nice=RELAY_NICE, timeout=120.0, refresh_ms=None):
    """Start the viewers' server on host:port; see the module docstring."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or locks inherited
    conn, child = ctx.Pipe()
    process = ctx.Process(
        target=serve_viewers, args=(child, host, port, origins, nice, refresh_ms), name="convnet-viewers", daemon=True
    )
    process.start()
    child.close()
    publisher = Publisher(runner, conn, lecture)
    try:
        publisher.publish()  # the first state: the viewers' pages have something to show at once
        if not conn.poll(timeout):
            raise RelayError("the viewers' server did not start within %.0f s" % timeout)
        kind, value = conn.recv()
    except (EOFError, OSError) as e:
        kind, value = "error", "the viewers' process ended (%s)" % (e or type(e).__name__)
    if kind != "ready":
        process.join(5.0)
        raise RelayError("cannot serve the viewers on %s:%d: %s" % (host, port, value))

    def lost():  # this server takes the viewers back (read-only, in this process) and says so
        lecture.viewer_port = None
        print("the viewers' server stopped: this server now serves the viewers too", file=sys.stderr, flush=True)

    publisher.on_lost = lost
    publisher.start()
    return Relay(process, publisher, port)


def serve_viewers(conn, host, port, origins, nice=RELAY_NICE, refresh_ms=None):
    """The viewers' process: a Panel server of read-only pages over a MirrorRunner."""
    if nice:
        below_training(nice)
    try:
        import panel as pn

        from . import sockets
        from .dashboard import TITLE, VIEWER_REFRESH_MS, create_app
        from .status import route as status_route

        mirror = MirrorRunner()
        mirror.apply(conn.recv())
        server = pn.serve(
            create_app(mirror, refresh_ms=refresh_ms or VIEWER_REFRESH_MS, viewers=True),
            address=host,
            port=port,
            websocket_origin=origins,
            show=False,
            start=False,
            title=TITLE,
            extra_patterns=[status_route(mirror)],  # the viewers' numbers, without a session
        )
    except Exception as e:  # a taken port above all: said in the training process
        conn.send(("error", "%s: %s" % (type(e).__name__, e)))
        return
    conn.send(("ready", port))
    threading.Thread(target=_receive, args=(conn, mirror), name="convnet-mirror", daemon=True).start()
    server.start()
    sockets.install(server.io_loop)  # viewers come and go: no tracebacks for their closed tabs
    server.io_loop.start()


def below_training(nice=RELAY_NICE):
    """Lower this process's priority by `nice` (and the threads it starts from now on). Not
    used at the default RELAY_NICE of 0; kept for measurements of other settings (SCHED_IDLE,
    tried, left the pages no time at all while the NumPy backend's BLAS threads kept both
    cores busy; nice 19 starved them beside other programs). Returns whether it was set."""
    try:
        os.nice(nice)
        return True
    except (AttributeError, OSError):
        return False


def _receive(conn, mirror):
    """The viewers' process's side of the pipe: apply every message, say whether pages watch
    the visualisation (the runner probes only then)."""
    watching = None
    while True:
        try:
            mirror.apply(conn.recv())
            now = mirror.watching_vis()
            if now != watching:
                watching = now
                conn.send(("watch", now))
        except (EOFError, OSError):
            os._exit(0)  # the training process is gone, and with it the lecture
