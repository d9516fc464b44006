"""Exact points: the whole validation and test sets evaluated on a copy of the weights.

The page's running accuracies average the last ACC_WINDOW predictions of small chunks
(runner_stats.py): cheap, but they lag while the net learns fast. An exact point says what the
net of one moment really scores on every validation and every test image, so a gap on the
chart is a real one (see docs/ARCHITECTURE.md, Contracts, /status.json).

ExactEvaluator works through one job at a time (weights as published by the Runner, which are
copies and never change in place) on its own NumPy net, in chunks: in a worker thread of its
own when the Runner is threaded (so the training thread never waits for it), else one chunk
per Runner.tick() (the static site's worker has no threads): TICK_CHUNK images while it trains,
so a step grows by a fraction of its forward pass, and CHUNK while paused. The Runner decides when a job is
due (runner_stats.py `_maybe_exact`); a new run cancels the job in flight. No Panel here.
"""

from __future__ import annotations

import numpy as np

import engine

from .background import BackgroundJob

EXACT_EVERY_EPOCHS = 0.5  # a new exact point every half epoch: at least one per epoch even if one is skipped
CHUNK = 200  # images per forward pass: a few ms to ~100 ms on the default net
TICK_CHUNK = 16  # unthreaded, while training: images per tick, a fraction of a step's own work
# Threaded, while the net trains: after each chunk, rest this many times the chunk's time, so
# the points take at most a quarter of a core from the training (background.py says why; the
# app trained at 8,867 images/s with points every half epoch back to back, 13,735 without).
REST_WHILE_TRAINING = 3
MAX_POINTS = 256  # exact points kept per run; when full every other one is dropped


class ExactEvaluator(BackgroundJob):
    """See the module docstring. on_done(run_id, examples, val_acc, test_acc) publishes a result."""

    thread_name = "convnet-exact"

    def __init__(self, on_done, threaded=True, chunk=CHUNK, training=None):
        """training: () -> True while the net trains (the evaluator then rests between chunks)."""
        super().__init__(threaded, rest=None if training is None else lambda: REST_WHILE_TRAINING if training() else 0)
        self.on_done = on_done
        self.chunk = chunk
        self._net = None  # (spec, preprocess, Net): rebuilt only when the net's shape changes

    def start(self, run_id, examples, weights, sets):
        """Evaluate `weights` (version, spec, preprocess, params) on `sets`: [(name, images,
        rows or None, labels)]; images[rows] are the set's images. Returns False if busy."""
        job = {
            "run_id": run_id,
            "examples": examples,
            "weights": weights,
            "sets": sets,
            "set": 0,
            "pos": 0,
            "correct": [0] * len(sets),
        }
        return self._hand_over(job, replace=False)

    def _piece(self, job, max_images):
        """Evaluate the next chunk of the job's sets."""
        name, images, rows, labels = job["sets"][job["set"]]
        pos = job["pos"]
        n = min(max_images or self.chunk, len(labels) - pos)
        picked = slice(pos, pos + n)
        x = np.asarray(images[rows[picked]] if rows is not None else images[picked])
        pred = self._net_for(job["weights"]).predict(x).argmax(axis=1)
        correct = int(np.sum(pred == np.asarray(labels[picked])))
        with self._lock:
            if self._job is not job:
                return self._job is not None  # cancelled meanwhile: a newer job may wait
            job["correct"][job["set"]] += correct
            job["pos"] = pos + n
            if job["pos"] >= len(labels):
                job["set"] += 1
                job["pos"] = 0
            if job["set"] < len(job["sets"]):
                return True
            self._job = None
        accs = [c / max(1, len(s[3])) for c, s in zip(job["correct"], job["sets"])]
        self.on_done(job["run_id"], job["examples"], *accs)
        return False

    def _net_for(self, weights):
        _, spec, preprocess, params = weights
        if self._net is None or self._net[:2] != (spec, preprocess):
            self._net = (spec, preprocess, engine.Net(spec, backend="numpy", preprocess=preprocess))
        net = self._net[2]
        net.load_params(params)
        return net


def add_point(points, point, limit=MAX_POINTS):
    """points (a tuple) with `point` added; when more than `limit`, every other old one dropped
    (the first kept), so the markers span the whole run in bounded memory."""
    points = tuple(points) + (tuple(point),)
    if len(points) > limit:
        points = points[:-1][::2] + points[-1:]
    return points
