"""The reading side of a Runner: what every page asks of it, answered from published copies.

Shared by the Runner (runner.py), which publishes from its training thread, and by the
lecture viewers' MirrorRunner (app/relay.py), which holds copies sent from the training process:
the same answers from the same fields. A class using this mixin has `_lock`, `_pub`, `history`,
`predictions`, `_vis_version`, `_vis`, `_weights` (version, spec, preprocess, params),
`runs` (a RunLog), `_moment` (the timeline's moment viewed, or None),
`_infer`, `_infer_lock`, `hyper` and `dataset` (test_x, test_y, classes and train_x's image shape),
and `_last_poll`, which snapshot(watch_vis=True) refreshes. Nothing here changes the run.
"""

from __future__ import annotations

import time

import numpy as np

import engine

MEMORY_LIMIT = 1 << 30  # bytes a training step of an applied spec may need (activations, grads, state)


class RunnerReadsMixin:
    """See the module docstring."""

    def snapshot(self, watch_vis=True):
        """The published stats and settings as a plain dict (a copy).

        watch_vis: the caller shows the network visualisation, so the runner keeps probing
        for the next few seconds (nobody watching: no probes, all time to training)."""
        with self._lock:
            if watch_vis:
                self._last_poll = time.monotonic()
            return dict(self._pub)

    def history_since(self, last_id):
        with self._lock:
            return self.history.since(last_id)

    def predictions_since(self, last_id):
        """(new test predictions, oldest id held): the live run's, or while a moment of the
        timeline is viewed, that moment's (runner_timeline.py; empty until computed)."""
        with self._lock:
            moment = self._moment
            if moment is not None:
                log = moment.get("predictions")
                return log.since(last_id) if log is not None else ([], 0)
            items, oldest = self.predictions.since(last_id)
            return items, oldest

    def runs_view(self, with_current=True):
        """(version, runs): the session's earlier runs, oldest first, then (with_current) the
        run in progress as a record of its own (see runs.py); each a copy or never changed."""
        with self._lock:
            runs = list(self.runs.runs)
            current = self.runs.record(self.history, self._pub) if with_current else None
            return self.runs.version, runs + ([current] if current is not None else [])

    def vis(self):
        """(version, probe data or None) of the visualised example."""
        with self._lock:
            return self._vis_version, self._vis

    def test_image(self, index):
        """(uint8 image, label) of test image `index`; ValueError if there is none."""
        n = len(self.dataset.test_y) if self.dataset is not None else 0
        if not 0 <= int(index) < n:
            raise ValueError("there is no test image %d (the test set has %d)" % (index, n))
        return np.asarray(self.dataset.test_x[int(index)]), int(self.dataset.test_y[int(index)])

    def _compatible(self, layers, what):
        ds = self.dataset
        if ds is None:
            return
        shape = tuple(layers[0]["shape"])
        data_shape = tuple(int(s) for s in ds.train_x.shape[1:])
        if shape != data_shape:
            raise engine.SpecError(
                '%s takes %s images but the data are %s — use {"type": "input", "shape": [%d, %d, %d]}'
                % (what, "x".join(map(str, shape)), "x".join(map(str, data_shape)), *data_shape)
            )
        engine.check_classes(what, layers[-1]["num_classes"], len(ds.classes))

    def check_spec(self, spec):
        """Canonical layers of a spec fit to train here, or engine.SpecError saying why not."""
        layers = engine.normalize(spec)
        self._compatible(layers, "this net")
        s = engine.summarize(engine.to_json(layers), batch=self.hyper["batch_size"], optimizer=self.hyper["optimizer"])
        if s["memory"]["total"] > MEMORY_LIMIT:
            raise engine.SpecError(
                "this net needs %s to train at batch %d (limit %s) — make it smaller or lower the batch size"
                % (engine.human_bytes(s["memory"]["total"]), self.hyper["batch_size"], engine.human_bytes(MEMORY_LIMIT))
            )
        return layers

    def inference_net(self):
        """A fresh NumPy net holding the weights last published: the teaching views run their
        own forward and backward on it without touching the training thread's net."""
        with self._lock:
            weights = self._weights
        if weights is None:
            return None  # no net installed yet (the data may still be loading)
        _, spec, preprocess, params = weights
        net = engine.Net(spec, backend="numpy", preprocess=preprocess)
        net.load_params(params)
        return net

    def infer(self, images):
        """Class probabilities (N, K) for uint8 images, from the weights last published.

        Runs in the caller's thread on its own NumPy net, so it never waits for a training step.
        """
        with self._lock:
            version, spec, preprocess, params = self._weights
        with self._infer_lock:
            if self._infer is None or self._infer[1] != spec:
                self._infer = [None, spec, engine.Net(spec, backend="numpy", preprocess=preprocess)]
            if self._infer[0] != version:
                self._infer[2].load_params(params)
                self._infer[0] = version
            return self._infer[2].predict(images)
