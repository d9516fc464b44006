"""Autosave: the app's run written to the cache directory every few minutes, and restored on request.

    saver = Autosaver(runner)   # the folder: datasets.default_cache_dir() / "runs"
    saver.offer                 # the newest autosave found when the app started, or None
    saver.start()               # a thread: maybe_save() every few seconds, stop() to end it
    saver.maybe_save()          # saves when AUTOSAVE_EVERY_S have passed and the net trained since
    restore(runner, saver.offer)   # the page's "Restore the last run": never done automatically

Each app process writes its own file (autosave-<UTC time>-<pid>.npz), so a fresh start that
trains a new net for a few minutes never overwrites the run the page offers to restore; the
newest KEEP files stay, older ones are removed. A save is a snapshot (engine.snapshot_bytes:
weights, optimizer state, class names) whose info carries the run's settings and counters under
"autosave"; it is taken between two steps (Runner.call) and written from this thread with
engine/atomic.py (temp file, fsync, rename), so training waits for the copy only and a failed
write leaves the previous file whole. A failure is kept in `error` and the next round tries
again. Server only: the static site's worker does not import this module.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import engine
from engine.atomic import write_atomic

AUTOSAVE_EVERY_S = 180.0  # seconds between two autosaves ("every few minutes")
POLL_S = 5.0  # how often the thread asks whether a save is due (and notices stop())
KEEP = 5  # autosave files kept in the folder, newest first
PATTERN = re.compile(r"^autosave-\d{8}T\d{12}Z-\d+\.npz$")  # UTC, to the microsecond
RESTORED_SETTINGS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size")


def runs_dir():
    """Where autosaves go: the cache directory's `runs` folder (docs/ARCHITECTURE.md, Data layout)."""
    from datasets import default_cache_dir

    return default_cache_dir() / "runs"


def autosaves(folder):
    """The autosave files in `folder`, newest first (their names sort by time)."""
    try:
        names = [n for n in os.listdir(folder) if PATTERN.match(n)]
    except OSError:
        return []
    return [Path(folder) / n for n in sorted(names, reverse=True)]


class Autosaver:
    """See the module docstring. every: seconds between saves; clock: time.monotonic (tests
    pass their own)."""

    def __init__(self, runner, folder=None, every=AUTOSAVE_EVERY_S, clock=time.monotonic):
        self.runner = runner
        self.folder = Path(folder) if folder is not None else runs_dir()
        self.every = float(every)
        self.clock = clock
        found = autosaves(self.folder)
        self.offer = found[0] if found else None
        self.offer_text = describe(self.offer) if self.offer else ""  # once, not per page
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = self.folder / ("autosave-%s-%d.npz" % (stamp, os.getpid()))
        self.saves = 0
        self.error = ""
        self._last = clock()
        self._saved = None  # (run_id, examples) of the last save: nothing new, no save
        self._stop = threading.Event()
        self._thread = None

    def maybe_save(self):
        """Save if the interval has passed; True when a file was written."""
        if self.clock() - self._last < self.every:
            return False
        self._last = self.clock()
        return self.save()

    def save(self):
        """Write the running net now, unless it has not trained since the last save."""
        try:
            taken = self.runner.call(self._take)
            if taken is None:
                return False
            key, data = taken
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
        except Exception as e:  # a full disk, a thread that did not answer: try again next round
            error = "autosave to %s failed: %s" % (self.path, e)
            if error != self.error:  # said once in the terminal, not every round
                print("python -m app: " + error, file=sys.stderr, flush=True)
            self.error = error
            return False
        self._saved, self.error = key, ""
        self.saves += 1
        if self.saves == 1:
            self._prune()
        return True

    def _take(self, r):
        """In the training thread: (key, snapshot bytes), or None when there is nothing new."""
        pub = r.snapshot(watch_vis=False)
        key = (pub["run_id"], pub["examples"])
        if not pub["examples"] or key == self._saved:
            return None  # an untrained net is no run to restore; an unchanged one is saved already
        info = {
            "saved_by": "ConvNet Playground app (autosave)",
            "examples": pub["examples"],
            "test_acc": pub.get("test_acc"),
            "autosave": {
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "hyper": dict(r.hyper),
                "steps": pub["steps"],
                "epoch": pub["epoch"],
                "data_source": pub.get("data_source", ""),
            },
        }
        return key, engine.snapshot_bytes(r.net, r.optimizer, r.classes, info)

    def _prune(self):
        for old in autosaves(self.folder)[KEEP:]:
            if old != self.path and old != self.offer:
                try:
                    old.unlink()
                except OSError:
                    pass

    # -- the thread ---------------------------------------------------------------------
    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="convnet-autosave", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout=10.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self):
        while not self._stop.wait(min(POLL_S, self.every)):
            self.maybe_save()


def describe(path):
    """One line about an autosave for the page: when, how far it trained, or why it is unreadable.
    Reads the metadata only (an .npz opens lazily): a VGG-16's weights are not loaded for it."""
    import json

    import numpy as np

    try:
        with np.load(str(path), allow_pickle=False) as z:
            info = json.loads(z["__meta__"].tobytes().decode("utf-8")).get("info") or {}
    except Exception as e:  # not a zip, no metadata, bad JSON: Restore will say more
        return "the last run's autosave is unreadable (%s)" % type(e).__name__
    run = info.get("autosave") or {}
    acc = info.get("test_acc")
    return "last run: %s examples%s, autosaved %s" % (
        "{:,}".format(int(info.get("examples") or 0)),
        ", test accuracy %.1f%%" % (100 * acc) if isinstance(acc, float) else "",
        str(run.get("saved_at", "?")).replace("T", " ").replace("+00:00", " UTC"),
    )


def restore(runner, path):
    """Make the autosave at `path` the running net, with the settings it trained with (the
    Runner's load_snapshot path: SnapshotError, and the run untouched, if unusable)."""
    snap = engine.read_snapshot(str(path))
    hyper = ((snap.meta.get("info") or {}).get("autosave") or {}).get("hyper") or {}
    settings = {k: hyper[k] for k in RESTORED_SETTINGS if k in hyper}
    current = runner.snapshot(watch_vis=False)["hyper"]
    before = {k: current[k] for k in settings}
    # First the settings: load_snapshot builds the optimizer from them, and takes the saved
    # optimizer state when the names match.
    try:
        runner.set_hyper(**settings)
    except ValueError as e:
        raise engine.SnapshotError("the last run's settings are unusable: %s" % e) from None
    try:
        return runner.load_snapshot(str(path), name="the last run")
    except BaseException:
        runner.set_hyper(**before)  # the net is untouched: so are the settings
        raise
