"""The Runner's nets: building, checking and swapping them, and inference for other threads.

Split from runner.py (the thread and its loop) to keep both short. What runs in the caller's
thread (apply_spec, load_snapshot, check_spec, infer) validates and builds but never touches the
running net; what runs in the training thread (the _do_* commands, _install) swaps it between
two steps. See runner.py for the locking rules.
"""

from __future__ import annotations

from collections import deque

import numpy as np

import engine
from datasets import Batches, validation_split

from . import paths
from .data_fit import DEFAULT_PRESET, fitted_net
from .evaluation import RollingEvaluation
from .health import HealthMonitor
from .history import ACC_WINDOW, TRAIN_WINDOW
from .runner_timeline import first_filters, weights_sha
from .runs import run_settings

HEALTH_EVERY = 10  # steps between two training-health measurements (a copy of the weights each)


class IndexedBatches(Batches):
    """datasets.Batches whose batches also say which training rows they hold: `last_rows`.

    Batches draws the rows (its seeded order, epochs and batch size, unchanged) as a stream of
    row numbers, and the images are gathered here by those numbers: the same batches as
    Batches(images, labels, ...) would give, and the static site's worker can name the images
    its first step trained on. (Batches' own `x` holds the row numbers.)
    """

    def __init__(self, images, labels, batch_size, *, seed=0, indices=None):
        super().__init__(np.arange(len(labels)), labels, batch_size, seed=seed, indices=indices)
        self.images = images
        self.last_rows = None  # (B,) int: the rows of images the last batch holds

    def next_batch(self):
        rows, yb = super().next_batch()  # (B,) row numbers, (B,) labels
        self.last_rows = rows
        return self.images[rows], yb  # (B, H, W, C): a gather, a copy of B images only


class RunnerNetMixin:
    """Net management for Runner (see runner.py); relies on its lock, hyper and publish fields."""

    # -- construction ---------------------------------------------------------------------
    def _init_net(self, spec, snapshot):
        self.batches = None
        self._trainer = None
        self._fixed_index = None
        self._val_idx = self._test_order = np.zeros(0, np.int64)
        self._pub = {}
        if snapshot is not None:
            snap = snapshot if isinstance(snapshot, engine.Snapshot) else engine.read_snapshot(snapshot)
            opt = self._new_optimizer()
            net = snap.build(self.hyper["backend"], optimizer=opt)
            self._install(net, opt, snap.classes, {"source": "snapshot"})
        else:
            net = engine.Net(
                spec if spec is not None else engine.get_preset(DEFAULT_PRESET),
                backend=self.hyper["backend"],
                seed=self.hyper["seed"],
            )
            self._install(net, None, None, {"source": "new"})

    def _new_optimizer(self, name=None):
        h = self.hyper
        name = name or h["optimizer"]
        return engine.Optimizer(name, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"])

    def _set_dataset(self, ds):
        """Train on this Dataset from now on (the runner's thread, or __init__)."""
        self.dataset = ds
        self.data_error = None
        self._make_batches()
        try:
            self._compatible(self.net.layers_spec, "the current net")
            self._install(self.net, self.optimizer, ds.classes, self.net_info)
        except engine.SpecError as e:
            net, note = fitted_net(self.net, ds, self.hyper, e, self.net_info.get("source") == "new")
            self._install(net, None, ds.classes, {"source": "new"})
            self.status_message = note

    def _make_batches(self):
        """A fresh batch source and test order, seeded from the current seed."""
        ds = self.dataset
        train_idx, val_idx = validation_split(len(ds.train_y), every=10)
        self.batches = IndexedBatches(
            ds.train_x, ds.train_y, self.hyper["batch_size"], seed=self.hyper["seed"], indices=train_idx
        )
        # An image folder is sorted by class: shuffle (seeded) before streaming validation and
        # test images, or the running accuracies' windows hold a class or two at a time (the
        # validation one read 72.5% on airplanes and automobiles while the test one read 59.3%)
        rng = np.random.default_rng(self.hyper["seed"])
        self._test_order = rng.permutation(len(ds.test_y)).astype(np.int64)
        self._val_idx = rng.permutation(val_idx).astype(np.int64)
        if self._fixed_index is None and len(self._test_order):
            self._fixed_index = int(self._test_order[0])

    def _install(self, net, optimizer, classes, info, examples=0):
        """Make `net` the running net: fresh optimizer (unless given), stats and history cleared.
        examples: what the net has seen already (a branch from a checkpoint of the timeline)."""
        self.net = net
        self.optimizer = optimizer if optimizer is not None else self._new_optimizer()
        if self.dataset is not None:
            self.classes = list(self.dataset.classes)
        else:
            self.classes = paths.class_names(net.num_classes, classes)
        self.net_info = dict(info or {})
        self._trainer = engine.Trainer(net, self.optimizer, self.batches) if self.batches is not None else None
        if self._trainer is not None:
            self._trainer.examples = int(examples)
        self._stats = {"loss_smooth": None, "fwd_ms": None, "bwd_ms": None}
        self._train_correct = deque(maxlen=TRAIN_WINDOW)
        self._val_correct = deque(maxlen=ACC_WINDOW)
        self._exact.cancel()  # its weights belong to the run that ends here
        self._exact_last = None
        self._rate = deque()
        self._val_pos = self._test_pos = 0
        self._last_vis = self._last_eval = 0.0
        self._vis_dirty = True
        self._health = HealthMonitor(every=HEALTH_EVERY)
        ds = self.dataset
        self._evaluation = None
        if ds is not None:  # in the shuffled test order: every class from the first update
            order = self._test_order
            self._evaluation = RollingEvaluation(ds.test_x, ds.test_y, len(self.classes), self.classes, order=order)
        ex = self._vis_example
        if ex is not None and ex[0] == "image" and tuple(ex[1].shape) != tuple(net.input_shape):
            self._vis_example = None  # an upload for the previous net's input size
        self.error = ""
        # the moment viewed ends before the new run's id is published: /status.json never
        # shows the new run beside the old run's moment
        self._end_view()
        with self._lock:
            self.runs.end(self.history, self._pub)  # the run ending here keeps its curves
            self.history.clear()
            self.predictions.clear()
            self.run_id += 1
            self.spec_version += 1
            self._publish_weights()
            self._publish()
            self._pub["examples"] = int(examples)
            self.runs.begin(self.run_id, run_settings(self.hyper, self.net.spec(), self.net_info["source"]), net.spec())
        self._timeline_begin(examples)

    def apply_spec(self, spec):
        """Rebuild the net from a spec and restart training; invalid specs raise SpecError, untouched net."""
        layers = self.check_spec(spec)
        self._queue("spec", engine.to_json(layers))

    def load_snapshot(self, source, name="snapshot"):
        """Make a snapshot (bytes, path; ours or ConvNetJS's) the running net; SnapshotError if unusable."""
        snap = engine.read_snapshot(source)
        try:
            self._compatible(engine.normalize(snap.spec), "the snapshot's net")
            opt = self._new_optimizer()
            net = snap.build(self.hyper["backend"], optimizer=opt)
        except engine.SnapshotError:
            raise
        except (ValueError, MemoryError) as e:
            raise engine.SnapshotError("cannot use %s: %s" % (name, e)) from None
        self._queue("net", net, opt, snap.classes, {"source": name, "info": snap.meta.get("info") or {}})
        return snap

    def load_pretrained(self):
        path = paths.pretrained_path()
        if path is None:
            raise engine.SnapshotError("no pretrained snapshot shipped (expected at %s)" % paths.PRETRAINED)
        return self.load_snapshot(path, name="the pretrained snapshot")

    def snapshot_bytes(self):
        """The running net and optimizer as a snapshot file's bytes (taken between two steps)."""

        def take(r):
            info = {
                "examples": r._pub.get("examples", 0),
                "test_acc": r._pub.get("test_acc"),
                "saved_by": "ConvNet Playground app",
            }
            return engine.snapshot_bytes(r.net, r.optimizer, r.classes, info)

        return self.call(take)

    # -- commands applied in the training thread ------------------------------------------
    def _do_reset(self):
        net = engine.Net(
            self.net.spec(), backend=self.hyper["backend"], seed=self.hyper["seed"], preprocess=self.net.preprocess
        )
        if self.dataset is not None:
            self._make_batches()  # a fresh, seeded batch order too
        self._keep_for_undo("reset")
        self._install(net, None, self.classes, {"source": "new"})

    def _do_spec(self, spec):
        net = engine.Net(spec, backend=self.hyper["backend"], seed=self.hyper["seed"])
        self._keep_for_undo("new spec")
        self._install(net, None, self.classes, {"source": "edited spec"})
        with self._lock:
            self.running = True
            self._publish_status()

    def _do_net(self, net, optimizer, classes, info):
        self._keep_for_undo("snapshot")
        self._install(net, optimizer, classes, info)

    def _do_hyper(self, changed):
        h = self.hyper
        if "optimizer" in changed:
            self.optimizer = self._new_optimizer()
        else:
            self.optimizer.set(**{k: h[k] for k in ("lr", "momentum", "weight_decay")})
        if self.batches is not None:
            self.batches.batch_size = h["batch_size"]
        if "backend" in changed and changed["backend"] != self.net.backend:
            net = engine.Net(self.net.spec(), backend=h["backend"], preprocess=self.net.preprocess)
            net.load_params(self.net.params())
            self.net = net
        if self._trainer is not None:
            self._trainer.net = self.net
            self._trainer.optimizer = self.optimizer
        with self._lock:
            self._pub["backend"] = self.net.backend
            self.runs.changed(self._pub.get("examples", 0), run_settings(h, self.net.spec(), self.net_info["source"]))

    # -- publishing (under the lock) ------------------------------------------------------
    def _status(self):
        if self._pub.get("status") == "loading" and self.dataset is None and self.data_error is None:
            return "loading"
        if self.dataset is None:
            return "no data"
        return "running" if self.running else "paused"

    def _publish_status(self):
        self._pub.update(status=self._status(), running=self.running, error=self.error, message=self.status_message)

    def _publish(self):
        ds = self.dataset
        nan = float("nan")
        self._pub.update(
            has_data=ds is not None,
            data_error=self.data_error,
            data_source=getattr(ds, "source", ""),
            n_train=len(self.batches.indices) if self.batches is not None else 0,
            n_val=len(self._val_idx),
            n_test=len(ds.test_y) if ds is not None else 0,
            classes=list(self.classes),
            spec=self.net.spec(),
            spec_version=self.spec_version,
            run_id=self.run_id,
            net_source=self.net_info.get("source", ""),
            hyper=dict(self.hyper),
            hyper_version=self.hyper_version,
            backend=self.net.backend,
            examples=0,
            steps=0,
            epoch=0.0,
            loss=nan,
            loss_smooth=nan,
            train_acc=nan,
            val_acc=nan,
            test_acc=nan,
            test_seen=0,
            exact_val_acc=nan,
            exact_test_acc=nan,
            exact_at_examples=None,
            exact_points=(),
            fwd_ms=nan,
            bwd_ms=nan,
            images_per_s=nan,
            step_images_per_s=nan,
            history_id=-1,
            pretrained=str(paths.pretrained_path() or ""),
        )
        self._publish_status()

    def _publish_weights(self):
        params = {k: v.copy() for k, v in self.net.params().items()}
        version = (self._weights[0] + 1) if self._weights else 1
        sha = weights_sha(first_filters(self.net.layers_spec, params))
        with self._lock:
            self._weights = (version, self.net.spec(), dict(self.net.preprocess), params)
            self._pub["live_filters_sha"] = sha

    def _shape(self):
        return self.net.input_shape
