"""How many threads a training step runs on: the setting that trains faster now, found by timing
the steps themselves.

On an idle 2-core machine two threads train ~1.8x faster than one. Beside other busy work (a
browser drawing the dashboard, the app's own background jobs at the lowest priority, a build)
they can train slower than one: at each of a step's ~25 hand-offs the kernel's second thread
waits for a core someone else holds, while the first waits for it at the join. Neither setting
is right everywhere and a machine changes under a run, so ThreadTuner compares them as the run
goes: now and then a few steps on the other setting, between steps on the current one before
and after, and the other is taken if it trained faster (docs/BENCHMARKS.md, "Threads beside
busy work").

The setting is workers.cap_threads, set by begin() and lifted by end(): between steps
(evaluations, the dashboard's views, another thread's inference) nothing is capped. A cap changes
which threads run a kernel's chunks, never the chunks, so a run's weights are the same bits
whatever the tuner picks. Plain Python 3.8 (it ships to the browser, where it stays off: one
thread). `CONVNET_TUNE_THREADS=0` turns it off: every step then runs on all threads.

    tuner = ThreadTuner()
    tuner.begin(); ...one training step...; tuner.end(images, seconds)
"""

from __future__ import annotations

import os
import sys

from .workers import cap_threads

FIRST = 2.0  # seconds of steps before the first comparison, and after a switch
LONGEST = 30.0  # the longest run of steps between comparisons; each that keeps the setting doubles the run
WINDOW = 0.3  # seconds of steps timed on each side of a comparison (at least MIN_STEPS steps)
MIN_STEPS = 2
MARGIN = 0.05  # the other setting is taken if it trains this much faster
DROP = 0.7  # a window of steps this much slower than at the last comparison: compare at once

ALL = None  # the settings: no cap (all threads), or one thread
ONE = 1


def _cores():
    if sys.platform == "emscripten":  # Pyodide: no threads
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def enabled_by_default():
    """On where there are threads to choose between, unless CONVNET_TUNE_THREADS=0."""
    off = os.environ.get("CONVNET_TUNE_THREADS", "1").strip().lower() in ("0", "false", "no", "off")
    return not off and _cores() > 1


class ThreadTuner:
    """See the module docstring. `setting` is the cap the steps run under (ALL or ONE);
    `comparisons` and `switches` count what it did."""

    def __init__(self, enabled=None):
        self.enabled = enabled_by_default() if enabled is None else bool(enabled)
        self.setting = ALL
        self.interval = FIRST
        self.comparisons = self.switches = 0
        self._rate = None  # images/s of the setting at the last comparison
        self._rates = {}  # the comparison under way: "before", "other", "after"
        self._phase, self._left = "run", FIRST  # "run" lasts _left seconds of steps
        self._window = [0, 0.0, 0]  # images, seconds, steps of the phase's timing
        self._skip = False  # the first step after a change of setting is not timed (warm-up)

    def _other(self):
        return ONE if self.setting is ALL else ALL

    def begin(self):
        """Set the cap of the step about to run."""
        if self.enabled:
            cap_threads(self._other() if self._phase == "other" else self.setting)

    def end(self, images=0, seconds=0.0):
        """Lift the cap; images trained in `seconds` by the step (0 images: a step that did
        not count, e.g. one that diverged)."""
        if not self.enabled:
            return
        cap_threads(None)
        if images <= 0 or seconds <= 0:
            return
        if self._skip:
            self._skip = False
            return
        w = self._window
        w[0] += images
        w[1] += seconds
        w[2] += 1
        if self._phase == "run":
            self._left -= seconds
            if w[1] >= WINDOW and w[2] >= MIN_STEPS:  # the setting's speed now, for DROP
                slower = self._rate is not None and w[0] / w[1] < DROP * self._rate
                self._window = [0, 0.0, 0]
                if slower:
                    self._left = 0.0
            if self._left <= 0:
                self._next("before", skip=False)
            return
        if w[1] < WINDOW or w[2] < MIN_STEPS:
            return
        self._rates[self._phase] = w[0] / w[1]
        if self._phase == "before":
            self._next("other", skip=True)
        elif self._phase == "other":
            self._next("after", skip=True)
        else:
            self._decide()

    def _next(self, phase, skip):
        self._phase, self._skip = phase, skip
        self._window = [0, 0.0, 0]

    def _decide(self):
        r = self._rates
        now = 0.5 * (r["before"] + r["after"])
        self.comparisons += 1
        if r["other"] > (1 + MARGIN) * now:
            self.setting = self._other()
            self.switches += 1
            self._rate, self.interval = r["other"], FIRST
        else:
            self._rate, self.interval = now, min(2 * self.interval, LONGEST)
        self._rates = {}
        self._next("run", skip=False)
        self._left = self.interval
