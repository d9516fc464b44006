"""Evaluation on the test set: a confusion matrix, per-class accuracy, and the images in a cell.

Plain functions (confusion_matrix, per_class_accuracy, cell_indices, top_k) over labels and
predictions, and RollingEvaluation, which the runner feeds a few hundred test images at a
time between training steps so that evaluation never stalls training: it keeps the latest
prediction (and top-3) of every test image, round robin, so after one full pass the matrix
always covers the whole test set, each image judged by a net at most one pass old.

Convention: rows are the true class, columns the predicted class (cm[i, j] counts images of
class i predicted as j). What does not live here: drawing (app/teaching/teaching_plots.py),
widgets (app/teaching/live_views.py).
"""

from __future__ import annotations

import threading

import numpy as np

TOP_K = 3  # classes shown per image: min(TOP_K, number of classes)


def confusion_matrix(labels, preds, num_classes):
    """(K, K) int64 counts: cm[true, predicted]."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    if labels.shape != preds.shape:
        raise ValueError("labels %s and predictions %s differ in shape" % (labels.shape, preds.shape))
    K = int(num_classes)
    # np.bincount takes intp only: int32 in Pyodide's 32-bit WebAssembly, where the static site runs this
    return np.bincount((labels * K + preds).astype(np.intp), minlength=K * K).reshape(K, K)


def per_class_accuracy(cm):
    """(K,) fraction of each true class predicted right; NaN for a class with no images."""
    cm = np.asarray(cm)
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def overall_accuracy(cm):
    cm = np.asarray(cm)
    n = cm.sum()
    return float(np.trace(cm) / n) if n else float("nan")


def top_k(probs, k=3):
    """(classes (N, k), probabilities (N, k)) of the k most probable classes, best first."""
    probs = np.asarray(probs)
    k = min(k, probs.shape[1])
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=1)


def cell_indices(labels, preds, true_class, pred_class):
    """Indices of the images of class true_class that were predicted as pred_class."""
    labels = np.asarray(labels)
    preds = np.asarray(preds)
    return np.flatnonzero((labels == true_class) & (preds == pred_class))


class RollingEvaluation:
    """The latest prediction of every test image, refreshed a chunk at a time.

    update(net, count) predicts the next `count` test images (wrapping around) with `net`;
    call it from the thread that owns the net (the runner, between steps). Readers on other
    threads use snapshot() and cell(), which copy under a lock.
    """

    def __init__(self, images, labels, num_classes, class_names=None, order=None):
        self.images = images  # uint8 (N, H, W, C)
        # the order images are visited in: a shuffled one gives every class from the start
        # (an image folder is sorted by class)
        self.order = np.arange(len(labels)) if order is None else np.asarray(order, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.num_classes = int(num_classes)
        self.class_names = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]
        n = len(self.labels)
        self.preds = np.full(n, -1, dtype=np.int64)  # -1: not evaluated yet
        self.k = min(TOP_K, self.num_classes)  # a 2-class net has a top-2, not a top-3
        self.top_classes = np.zeros((n, self.k), dtype=np.int64)
        self.top_probs = np.zeros((n, self.k), dtype=np.float32)
        self.cursor = 0
        self.passes = 0  # full passes over the test set completed
        self.step = None  # the training step of the latest update
        self.version = 0  # bumps on every update, so views redraw only on change
        self._lock = threading.Lock()

    def __len__(self):
        return len(self.labels)

    def update(self, net, count=256, step=None):
        """Predict the next `count` images with `net`; returns how many were evaluated."""
        n = len(self.labels)
        if n == 0:
            return 0
        count = min(int(count), n)
        idx = self.order[(self.cursor + np.arange(count)) % n]
        probs = net.predict(self.images[idx])  # (count, K)
        classes, p = top_k(probs, self.k)
        with self._lock:
            self.preds[idx] = probs.argmax(axis=1)
            self.top_classes[idx, : classes.shape[1]] = classes
            self.top_probs[idx, : p.shape[1]] = p
            self.passes += (self.cursor + count) // n
            self.cursor = (self.cursor + count) % n
            self.step = step
            self.version += 1
        return count

    PROGRESS = ("preds", "top_classes", "top_probs", "cursor", "passes", "step", "version")

    def progress(self):
        """A copy of what update() changes: to mirror this evaluation in another process
        (app/relay.py), build one over the same images and order there and set_progress() it."""
        with self._lock:
            return {
                k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in vars(self).items() if k in self.PROGRESS
            }

    def set_progress(self, progress):
        with self._lock:
            for k in self.PROGRESS:
                setattr(self, k, progress[k])

    def snapshot(self):
        """{"matrix", "per_class", "accuracy", "evaluated", "total", "passes", "step", "version"}."""
        with self._lock:
            done = self.preds >= 0
            labels, preds = self.labels[done], self.preds[done]
            passes, step, version = self.passes, self.step, self.version
        cm = confusion_matrix(labels, preds, self.num_classes)
        return {
            "matrix": cm,
            "per_class": per_class_accuracy(cm),
            "accuracy": overall_accuracy(cm),
            "evaluated": int(done.sum()),
            "total": len(self.labels),
            "passes": passes,
            "step": step,
            "version": version,
        }

    def cell(self, true_class, pred_class, limit=24):
        """The images of one cell: [{"index", "label", "top": [(class, prob) x k]}], at most
        `limit`, in test-set order."""
        with self._lock:
            idx = cell_indices(self.labels, self.preds, true_class, pred_class)[:limit]
            tops = self.top_classes[idx].copy()
            probs = self.top_probs[idx].copy()
        return [
            {
                "index": int(i),
                "label": int(self.labels[i]),
                "top": [(int(c), float(p)) for c, p in zip(tops[k], probs[k])],
            }
            for k, i in enumerate(idx)
        ]
