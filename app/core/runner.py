"""The Runner: the one training thread of the process and everything it owns.

It holds the net, the optimizer, the engine.Trainer and the batch source, and trains batch after
batch. Views never touch those: they call the Runner's commands (start, pause, step, reset,
apply_spec, set_hyper, load_snapshot, undo, ...), which validate in the caller's thread and queue the
change; the thread applies it between two steps. Commands return at once, so a control reacts
immediately however long a step takes. Invalid specs and snapshots raise to the caller and never
reach the running net.

The thread publishes plain data only (stats, bounded History and PredictionLog, the latest
visualisation arrays from probe.py, a copy of the weights); it never touches Bokeh or Panel.
To keep training fast it probes at most every `vis_interval` seconds, and only while a page
shows the visualisation, and evaluates small validation/test chunks every `eval_interval` seconds.
For tests and the static site's worker, `Runner(..., threaded=False)` is driven synchronously
with tick(); its batch source (IndexedBatches, runner_net.py) tells which training rows the last
batch held (`runner.batches.last_rows`).

This file: the commands, export (for the lecture viewers' process, app/relay.py) and the loop.
runner_reads.py: the reading side (shared with app/relay.py's MirrorRunner). runner_net.py: building
and swapping nets. runner_stats.py: step stats, running accuracies, the visualisation probe. runner_undo.py: Undo.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from collections import deque

import numpy as np

import engine

from . import paths
from .exact_eval import ExactEvaluator
from .history import History, PredictionLog
from .runner_net import RunnerNetMixin
from .runner_reads import RunnerReadsMixin
from .runner_stats import RunnerStatsMixin
from .runner_timeline import RunnerTimelineMixin, moment_message
from .runner_undo import RunnerUndoMixin
from .runs import RunLog

TRAINING_NICE = 10


def lower_priority(nice=TRAINING_NICE):
    """Lower the CPU priority of the training: this thread, the kernel threads it starts later
    (they inherit it) and the BLAS threads already running, i.e. every thread of the process but
    the main one, where the server runs. On Linux only. A click then gets a core at once instead
    of queueing behind the training, which loses only the little time the page really uses.
    (BLAS threads must follow: spinning at a higher priority they would starve this thread.)"""
    if not sys.platform.startswith("linux"):
        return False
    main, me = threading.main_thread().native_id, threading.get_native_id()
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [me]
    done = False
    for tid in tids:
        if tid == main and tid != me:
            continue
        try:
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
            done = True
        except OSError:
            pass
    return done


HYPER_KEYS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "seed", "backend")


class Runner(RunnerNetMixin, RunnerUndoMixin, RunnerStatsMixin, RunnerTimelineMixin, RunnerReadsMixin):
    """Owns the training thread; see the module docstring."""

    def __init__(
        self,
        dataset=None,
        *,
        data_error=None,
        spec=None,
        snapshot=None,
        backend=None,
        seed=0,
        optimizer="adadelta",
        lr=None,
        momentum=None,
        weight_decay=1e-4,
        batch_size=64,
        running=True,
        vis_interval=0.9,
        eval_interval=1.0,
        history_capacity=2000,
        predictions_capacity=64,
        threaded=True,
        timeline=True,
    ):
        self.threaded = threaded
        self.vis_interval = vis_interval
        self.eval_interval = eval_interval
        self._lock = threading.RLock()  # guards the queue and what is published; held briefly
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._commands = deque()
        self._thread = None
        defaults = engine.OPTIMIZER_DEFAULTS[optimizer]
        self.hyper = {
            "optimizer": optimizer,
            "lr": lr if lr is not None else defaults["lr"],
            "momentum": momentum if momentum is not None else defaults.get("momentum", 0.9),
            "weight_decay": weight_decay,
            "batch_size": int(batch_size),
            "seed": int(seed),
            "backend": backend or paths.default_backend(),
        }
        self.hyper_version = 0
        self.running = bool(running)
        self._steps_pending = 0
        self.history = History(history_capacity)
        self.predictions = PredictionLog(predictions_capacity)
        self.status_message = ""
        self.error = ""
        self.dataset = None
        self.data_error = data_error
        self.run_id = 0
        self.spec_version = 0
        self._last_poll = 0.0 if threaded else float("inf")
        self._vis = None
        self._vis_version = 0
        self._vis_dirty = True
        self._vis_example = None  # ("image", image, label, caption), ("test", index) or None: the fixed one
        self._weights = None  # (version, spec, preprocess, {name: array}) for inference in other threads
        self._infer = None
        self._infer_lock = threading.Lock()
        self._exact = ExactEvaluator(self._exact_done, threaded=threaded, training=lambda: self.running)
        self.runs = RunLog()
        self._init_timeline(timeline)
        self._init_net(spec, snapshot)
        if dataset is not None:
            self._set_dataset(dataset)
        self._publish()
        self._publish_undo()

    # -- commands (any thread) ------------------------------------------------------------
    def _queue(self, *cmd):
        with self._lock:
            self._commands.append(cmd)
        self._wake.set()

    def start(self):
        """Train continuously (as soon as there is data)."""
        with self._lock:
            self.running = True
            self.error = ""
            self._publish_status()
        self._wake.set()

    def pause(self):
        """Stop after the step in flight."""
        with self._lock:
            self.running = False
            self._publish_status()

    def step(self):
        """Train on exactly one batch (pauses continuous training first)."""
        with self._lock:
            self.running = False
            if self.dataset is not None:
                self._steps_pending += 1
            self._publish_status()
        self._wake.set()

    def reset(self):
        """Fresh weights from the current spec and seed; history and stats cleared."""
        self._queue("reset")

    def set_hyper(self, **hyper):
        """Change optimizer, lr, momentum, weight_decay, batch_size, seed or backend while training.

        Values are checked here (ValueError with a message); the seed applies at the next reset.
        """
        clean = {}
        for k, v in hyper.items():
            if k not in HYPER_KEYS:
                raise ValueError("unknown setting %r — use one of %s" % (k, ", ".join(HYPER_KEYS)))
            if k == "optimizer" and v not in engine.OPTIMIZER_DEFAULTS:
                raise ValueError("unknown optimizer %r" % (v,))
            elif k == "backend" and v not in paths.available_backends():
                raise ValueError(
                    "backend %r is not available here (have: %s)" % (v, ", ".join(paths.available_backends()))
                )
            elif k in ("batch_size", "seed"):
                v = int(v)
                if v < (1 if k == "batch_size" else 0):
                    raise ValueError("%s must be at least %d" % (k, 1 if k == "batch_size" else 0))
            elif k in ("lr", "momentum", "weight_decay"):
                v = float(v)
                if not np.isfinite(v) or v < 0:
                    raise ValueError("%s must be a finite number >= 0, got %r" % (k, v))
            clean[k] = v
        with self._lock:
            changed = {k: v for k, v in clean.items() if self.hyper.get(k) != v}
            if not changed:
                return
            self.hyper.update(changed)
            self.hyper_version += 1
            self._pub["hyper"] = dict(self.hyper)
            self._pub["hyper_version"] = self.hyper_version
        self._queue("hyper", changed)

    def load_data(self, loader):
        """Load the dataset in the runner's thread: loader() -> Dataset, or raises with a message."""
        with self._lock:
            self._pub["status"] = "loading"
            self.status_message = "loading the data…"
            self._pub["message"] = self.status_message
        self._queue("load", loader)

    def call(self, fn, timeout=30.0):
        """Run fn(self) in the training thread between two steps and return its result.

        On a timeout the job is cancelled: it never runs later, when its caller has given up
        (a snapshot taken minutes after the click, or a change nobody waits for any more)."""
        if not self.threaded or threading.current_thread() is self._thread:
            return fn(self)
        done = threading.Event()
        box = {"state": "queued"}  # -> "running", or "cancelled"; changed under the lock

        def job(r):
            with self._lock:
                if box["state"] == "cancelled":
                    return
                box["state"] = "running"
            try:
                box["value"] = fn(r)
            except BaseException as e:  # handed back to the caller below
                box["error"] = e
            finally:
                done.set()

        self._queue("call", job)
        if not done.wait(timeout):
            with self._lock:
                if box["state"] == "queued":
                    box["state"] = "cancelled"
                    try:
                        self._commands.remove(("call", job))
                    except ValueError:  # popped, not yet started: the state stops it
                        pass
                    raise TimeoutError("the training thread did not answer within %.0f s; cancelled" % timeout)
            if not done.is_set():  # it had started (it finishes now, not later); nobody waits
                raise TimeoutError("the training thread did not answer within %.0f s" % timeout)
        if "error" in box:
            raise box["error"]
        return box["value"]

    # -- reading (any thread) -------------------------------------------------------------
    def health_history(self):
        """The running net's HealthHistory (gradient norms, update ratios, dead ReLUs)."""
        return self._health.history

    def evaluation(self):
        """The running net's RollingEvaluation on the test set, or None without data; while a
        moment of the timeline is viewed, that moment's (runner_timeline.py)."""
        moment = self._moment
        return self._evaluation if moment is None else moment.get("evaluation")

    def export(self, marks, watch_vis=False, evaluation_every=2.0):
        """What a mirror of this runner in another process lacks (app/relay.py): the published
        state that changed since `marks` (a dict this call keeps up to date; start with {}), as
        copies to pickle. Keys: "pub" always; "dataset", "history", "predictions", "vis",
        "weights", "health", "evaluation_setup" and "evaluation" when they changed (the
        evaluation at most every `evaluation_every` seconds). watch_vis: as in snapshot()."""
        ds, ev, health = self.dataset, self._evaluation, self._health.history
        out = {}
        with self._lock:
            if watch_vis:
                self._last_poll = time.monotonic()
            out["pub"] = dict(self._pub)
            if marks.get("dataset", False) is not ds:
                marks["dataset"] = ds
                out["dataset"] = None
                if ds is not None:
                    out["dataset"] = {
                        "test_x": np.asarray(ds.test_x),
                        "test_y": np.asarray(ds.test_y),
                        "classes": list(ds.classes),
                        "shape": tuple(int(s) for s in ds.train_x.shape[1:]),
                        "source": getattr(ds, "source", ""),
                    }
            for name, buffer in (("history", self.history), ("predictions", self.predictions)):
                key = (self.run_id, buffer.next_id, getattr(buffer, "stride", 1))
                if marks.get(name) != key:
                    marks[name] = key
                    out[name] = copy.deepcopy(buffer)
            if marks.get("vis") != self._vis_version:
                marks["vis"] = self._vis_version
                out["vis"] = (self._vis_version, self._vis)  # replaced, never changed in place
            if marks.get("weights") is not self._weights:
                marks["weights"] = out["weights"] = self._weights  # the same
            if marks.get("runs") != self.runs.version:  # the runs table (the current run's row
                marks["runs"] = self.runs.version  # is made from history and pub there)
                out["runs"] = (self.runs.version, list(self.runs.runs), copy.deepcopy(self.runs.current))
            if marks.get("moment", False) is not self._moment:
                marks["moment"] = self._moment
                out["moment"] = moment_message(self._moment)
        if marks.get("health") != (health, health.version):
            marks["health"] = (health, health.version)
            out["health"] = copy.deepcopy(health)
        if marks.get("evaluation_of", False) is not ev:
            marks["evaluation_of"] = ev
            marks.pop("evaluation", None)
            out["evaluation_setup"] = None
            if ev is not None:
                out["evaluation_setup"] = {
                    "labels": ev.labels,
                    "num_classes": ev.num_classes,
                    "class_names": list(ev.class_names),
                    "order": ev.order,
                }
        now = time.monotonic()
        if ev is not None and marks.get("evaluation") != ev.version:
            if "evaluation_setup" in out or now - marks.get("evaluation_t", 0.0) >= evaluation_every:
                marks["evaluation"], marks["evaluation_t"] = ev.version, now
                out["evaluation"] = ev.progress()
        return out

    # -- the thread -----------------------------------------------------------------------
    def start_thread(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="convnet-runner", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout=10.0):
        self._exact.stop()
        self._moments.stop()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self):
        lower_priority()
        while not self._stop.is_set():
            try:
                self.tick(block=True)
            except Exception as e:  # never let the thread die silently: pause and say why
                with self._lock:
                    self.running = False
                    self.error = "training stopped: %s: %s" % (type(e).__name__, e)
                    self._publish_status()
                time.sleep(0.2)

    def tick(self, block=False):
        """One round: apply queued commands, train one batch if asked to, probe and evaluate when due.

        Returns the step event (or None when nothing was trained)."""
        self._run_commands()
        event = None
        with self._lock:
            single = not self.running and self._steps_pending > 0
            go = self._trainer is not None and (self.running or single)
            if single:
                self._steps_pending -= 1
        if go:
            self._health.before_step(self.net)
            event = self._trainer.step()
            if event["event"] == "diverged":
                with self._lock:
                    self.running = False
                    self._steps_pending = 0
                    self.error = event["message"]
                    self._publish_status()
                event = None
            else:
                self._health.after_step(self.net, event["step"])
                self._record_step(event)
                self._timeline_step(event["examples"])
                if single:
                    self._vis_dirty = True
                    self._evaluate()
        now = time.monotonic()
        watched = now - self._last_poll < 3.0 or not self.threaded
        if watched and (self._vis_dirty or (event and now - self._last_vis >= self.vis_interval)):
            self._probe()
        if event and self.running and now - self._last_eval >= self.eval_interval:
            self._evaluate()
        self._maybe_exact()
        self._timeline_tick()
        if event is None and block:
            self._wake.wait(0.5)
            self._wake.clear()
        return event

    def _run_commands(self):
        while True:
            with self._lock:
                if not self._commands:
                    return
                cmd = self._commands.popleft()
            name, args = cmd[0], cmd[1:]
            getattr(self, "_do_" + name)(*args)

    def _do_call(self, job):
        job(self)

    def _do_load(self, loader):
        try:
            ds = loader()
        except Exception as e:  # DataError and friends: the page says what to do
            with self._lock:
                self.data_error = str(e)
                self.status_message = ""
                self.running = False
                self._publish()
            return
        self._set_dataset(ds)
        with self._lock:
            if self.status_message == "loading the data…":
                self.status_message = ""
            self._publish()
