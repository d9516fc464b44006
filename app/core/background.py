"""Work off the training thread: one job at a time, in pieces, at the lowest priority.

BackgroundJob is what the exact points (exact_eval.py) and the timeline's moments
(runner_timeline.py) share: a job handed over under a lock, worked through piece by piece by
`work()` — in a thread of its own when threaded (the training thread never waits for it),
else one piece per Runner.tick() (the static site's worker has no threads) — and dropped by
`cancel()` when what it computes is gone. A subclass says what one piece is (`_piece(job,
max_images)`, True while there is more); it checks, under the lock, that its job is still the
current one before it publishes. No Panel here.

The lowest priority alone does not keep a busy background thread off the training: the
training's second kernel thread waits for the core it holds at each of a step's hand-offs, and
the app trained a third slower while its exact points ran without pause (docs/BENCHMARKS.md,
"Threads beside busy work"). So a threaded job may also rest between its pieces: `rest()`, asked
after each piece, says for how many times the piece's own time (0: none; the exact points rest
while the net trains, engine work the user waits for never does).
"""

from __future__ import annotations

import os
import threading
from time import perf_counter as _clock

BACKGROUND_NICE = 19  # the lowest priority: it runs on what the training (nice 10) leaves


def lower_thread_priority(nice=BACKGROUND_NICE):
    """This thread below the training: its result may come late, the training is not slowed
    while it waits. Linux only; elsewhere it shares the training's."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
        except OSError:
            pass


class BackgroundJob:
    """See the module docstring. `thread_name` names the thread (a subclass sets it)."""

    thread_name = "convnet-background"

    def __init__(self, threaded=True, rest=None):
        self.threaded = threaded
        self.rest = rest  # None, or () -> how many times a piece's time to wait after it (threaded)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._job = None

    @property
    def busy(self):
        return self._job is not None

    def _hand_over(self, job, replace=True):
        """Make `job` the one in flight (replacing one, or refused while busy unless `replace`);
        a threaded worker starts its thread on the first job. Returns False if refused."""
        with self._lock:
            if self._job is not None and not replace:
                return False
            self._job = job
        if self.threaded:
            if self._thread is None:  # started by the training thread: it inherits its low priority
                self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
                self._thread.start()
            self._wake.set()
        return True

    def cancel(self):
        """Drop the job in flight (what it computes is gone: a new run, live again)."""
        with self._lock:
            self._job = None

    def stop(self):
        self.cancel()
        self._stop.set()
        self._wake.set()

    def _loop(self):
        lower_thread_priority()
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.is_set():
                t0 = _clock()
                if not self.work():
                    break
                factor = self.rest() if self.rest is not None else 0
                if factor > 0:  # woken early only by stop()
                    self._stop.wait(factor * (_clock() - t0))

    def work(self, max_images=None):
        """The next piece of the job in flight; True while there is more to do."""
        with self._lock:
            job = self._job
        if job is None:
            return False
        return self._piece(job, max_images)

    def _piece(self, job, max_images):
        raise NotImplementedError
