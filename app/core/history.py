"""Bounded buffers the runner publishes and the views poll: training curves and test predictions.

Both hand out only what a reader has not seen yet (`since(last_id)`), so a view streams the new
rows and never receives the whole history again. Memory stays flat however long a run lasts:
History keeps at most `capacity` points and, when full, drops every other point and records
half as often from then on (so it always spans the whole run); PredictionLog is a ring.
Not thread-safe by itself: the runner guards both with its lock. No Panel or Bokeh here.
"""

from __future__ import annotations

from collections import deque

import numpy as np

CURVE_COLUMNS = ("examples", "loss", "loss_smooth", "train_acc", "val_acc", "test_acc")
ACC_WINDOW = 1000  # predictions the running validation and test accuracies each average
TRAIN_WINDOW = 50  # batches the running training accuracy averages
EVAL_CHUNK = 16  # validation and test images each evaluation adds: both windows span the same training
# What the accuracy chart's lines average, said under the chart (the app's and the static site's)
ACCURACY_NOTE = (
    f"train: the last {TRAIN_WINDOW} batches; validation and test: each the last {ACC_WINDOW:,} predictions, "
    "sampled alike; dots: the whole validation and test sets"
)


class History:
    """Curve points (examples seen, loss, smoothed loss, accuracies), decimated when full."""

    def __init__(self, capacity=2000):
        if capacity < 4 or capacity % 2:
            raise ValueError("History capacity must be an even number >= 4, got %r" % capacity)
        self.capacity = capacity
        self.clear()

    def clear(self):
        self.ids = np.zeros(self.capacity, np.int64)
        self.cols = {c: np.full(self.capacity, np.nan) for c in CURVE_COLUMNS}
        self.n = 0  # points held
        self.stride = 1  # record every stride-th offered point
        self.offered = 0
        self.next_id = 0  # ids are consecutive over the points recorded, never reused

    def offer(self, **point):
        """Offer one step's values; it is kept when it falls on the current stride."""
        self.offered += 1
        if (self.offered - 1) % self.stride:
            return False
        if self.n == self.capacity:
            keep = slice(0, self.capacity, 2)  # keep the first point of the run (the initial loss)
            half = self.capacity // 2
            self.ids[:half] = self.ids[keep]
            for a in self.cols.values():
                a[:half] = a[keep]
            self.n = half
            self.stride *= 2
        i = self.n
        self.ids[i] = self.next_id
        for c in CURVE_COLUMNS:
            self.cols[c][i] = point.get(c, np.nan)
        self.n += 1
        self.next_id += 1
        return True

    def since(self, last_id):
        """(columns dict of float arrays, newest id) of points recorded after id last_id."""
        start = int(np.searchsorted(self.ids[: self.n], last_id, side="right"))
        data = {c: self.cols[c][start : self.n].copy() for c in CURVE_COLUMNS}
        return data, (int(self.ids[self.n - 1]) if self.n else -1)


class PredictionLog:
    """The last `capacity` test predictions: id, test index, image, top-3 classes and probabilities."""

    def __init__(self, capacity=64):
        self.items = deque(maxlen=capacity)
        self.next_id = 0
        self.correct = deque(maxlen=ACC_WINDOW)  # the running test accuracy's window

    def clear(self):
        self.items.clear()
        self.correct.clear()

    def add(self, index, image, label, probs):
        top = np.argsort(-probs)[:3]
        self.items.append(
            {
                "id": self.next_id,
                "index": int(index),
                "image": image,
                "label": int(label),
                "top": [int(k) for k in top],
                "probs": [float(probs[k]) for k in top],
            }
        )
        self.correct.append(bool(top[0] == label))
        self.next_id += 1

    @property
    def accuracy(self):
        return float(np.mean(self.correct)) if self.correct else float("nan")

    def since(self, last_id):
        """(items with id > last_id, oldest id still held)."""
        items = [p for p in self.items if p["id"] > last_id]
        return items, (self.items[0]["id"] if self.items else self.next_id)
