"""The Runner's timeline: checkpoints of the run (timeline.py), the moment being viewed, and
branching from it.

After a step the training thread records the net's weights when the timeline says one is due
(a copy of the parameters, tens of microseconds on the default net). Commands any thread may call:

    runner.view_at(examples)     show the net of the stored checkpoint at or before `examples`
    runner.back_to_live()        show the live net again
    runner.branch_from(examples) a new run (a new entry of the RunLog) from that checkpoint

The moment being viewed is computed from the stored weights by MomentWorker, on its own NumPy
net in a thread of the lowest priority (background.py, as exact_eval.py's): the visualisation probe of the
shown example (its activations, their gradients, the filters and their gradients for this
example), the predictions of the first test images and a confusion matrix over the whole
test set, published as they come. The training thread only looks up the checkpoint and hands
it over, so it never waits more than a step. Unthreaded Runners work one piece per tick.

Published (`_pub`): "timeline" = {"examples": [checkpoint examples], "bytes", "too_large"} and
"timeline_view" = None (live) or {"key", "examples", "filters_sha", "ready"}; filters_sha is
weights_sha() of the stored checkpoint's first conv layer, what the shown filters must hash to.
No Panel here.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np

import engine

from .background import BackgroundJob
from .evaluation import RollingEvaluation
from .history import PredictionLog
from .probe import MAX_FILTER_DEPTH, MAX_FILTERS, probe, weight_grads
from .timeline import Timeline

MOMENT_PREDICTIONS = 24  # test images predicted for the moment's "Test predictions"
MOMENT_CHUNK = 500  # test images per forward pass of the moment's confusion matrix
TICK_CHUNK = 16  # unthreaded: images per tick


def first_filters(spec, params):
    """The first conv layer's filters as the visualisation draws them (probe.py), or None."""
    for layer in spec:
        if layer.get("type") == "conv":
            w = np.asarray(params[layer["name"] + ".weight"])
            depth = 3 if layer["in_shape"][0] == 3 else MAX_FILTER_DEPTH
            return w[:MAX_FILTERS, :depth]
    return None


def weights_sha(w):
    """A short hash of an array's float32 values: what a test compares across processes."""
    if w is None:
        return None
    return hashlib.sha1(np.ascontiguousarray(w, dtype=np.float32).tobytes()).hexdigest()[:16]


def vis_filters_sha(vis):
    """weights_sha of the first conv layer's filters in a probe's data (what the page draws)."""
    for row in (vis or {}).get("layers", ()):
        if row.get("type") == "conv":
            return weights_sha(row["weight"])
    return None


class MomentWorker(BackgroundJob):
    """Computes one moment at a time (see the module docstring); a newer job replaces the one
    in flight. publish(key, part, value) hands each piece over: "vis", "predictions",
    "evaluation" (the RollingEvaluation, as soon as it is made: it fills in chunks)."""

    thread_name = "convnet-moment"

    def __init__(self, publish, threaded=True):
        super().__init__(threaded)
        self.publish = publish

    def start(self, job):
        self._hand_over(dict(job, stage="vis"))

    def _piece(self, job, max_images):
        """The next piece of the moment: its probe, its predictions, a chunk of its matrix."""
        if "net" not in job:
            net = engine.Net(job["spec"], backend="numpy", preprocess=job["preprocess"])
            net.load_params(dict(zip(job["names"], job["params"])))
            job["net"] = net
        net, stage, ds = job["net"], job["stage"], job["dataset"]
        if stage == "vis":
            image, label, caption = job["example"]
            data = probe(net, image, label)
            grads = weight_grads(net)  # this example's own: no training batch belongs to a checkpoint
            for row in data["layers"]:
                dw = grads.get(row["name"] + ".weight")
                if row["type"] == "conv" and dw is not None:
                    row["dweight"] = dw[: row["weight"].shape[0], : row["weight"].shape[1]].astype(np.float32)
                    row["dw_min"], row["dw_max"] = float(dw.min()), float(dw.max())
            data.update(image=image, caption=caption, classes=job["classes"], examples=job["examples"])
            value, following = data, "predictions" if ds is not None else None
        elif stage == "predictions":
            idx = job["order"][:MOMENT_PREDICTIONS]
            images = np.asarray(ds.test_x[idx])
            log = PredictionLog(MOMENT_PREDICTIONS)
            for i, img, p in zip(idx, images, net.predict(images)):
                log.add(i, img, int(ds.test_y[i]), p)
            value, following = log, "evaluation"
        else:
            ev = job.get("evaluation")
            if ev is None:
                ev = job["evaluation"] = RollingEvaluation(
                    ds.test_x, ds.test_y, len(job["classes"]), job["classes"], order=job["order"]
                )
            ev.update(net, min(max_images or MOMENT_CHUNK, len(ev) - ev.cursor), step=None)
            value, following = ev, (None if ev.passes else "evaluation")
        with self._lock:
            if self._job is not job:
                return self._job is not None  # replaced meanwhile
            job["stage"] = following
            if following is None:
                self._job = None
        self.publish(job["key"], stage, value)
        return following is not None


class RunnerTimelineMixin:
    """The timeline for Runner (see runner.py and the module docstring)."""

    def _init_timeline(self, on=True):
        self.timeline_on = bool(on)
        self.timeline = Timeline()
        self._timeline_names = []
        self._view = None  # {"key", "run_id", "examples"} of the moment viewed, None: live
        self._view_key = 0
        self._moment = None  # {"key", "examples", "predictions", "evaluation"}: what readers get
        self._moments = MomentWorker(self._moment_part, threaded=self.threaded)

    # -- commands (any thread) -------------------------------------------------------------
    def view_at(self, examples):
        """Show the net of the stored checkpoint at or before `examples` (scrubbing)."""
        self._queue("view", int(examples))

    def back_to_live(self):
        self._queue("live")

    def branch_from(self, examples=None):
        """A new run from the stored checkpoint at or before `examples` (None: the one viewed)."""
        self._queue("branch", None if examples is None else int(examples))

    # -- the training thread ---------------------------------------------------------------
    def _timeline_begin(self, examples=0):
        """A new run (runner_net.py `_install`, which has ended the moment viewed): a new
        timeline, its first checkpoint the net as installed."""
        self.timeline.clear()
        self._timeline_names = list(self.net.params().keys())
        self._timeline_record(examples)

    def _timeline_record(self, examples):
        if not self.timeline_on:
            return
        params = self.net.params()
        tl = self.timeline
        if tl.record(examples, [params[k] for k in self._timeline_names]) or tl.too_large:
            with self._lock:
                self._pub["timeline"] = {"examples": tl.examples(), "bytes": tl.nbytes, "too_large": tl.too_large}

    def _timeline_step(self, examples):
        """After a step: a checkpoint when due (one comparison when not)."""
        if self.timeline_on and self.timeline.due(examples):
            self._timeline_record(examples)

    def _do_view(self, examples):
        if not len(self.timeline):
            return
        at, params = self.timeline.at(examples)
        self._view_key += 1
        key = self._view_key
        spec = self.net.spec()
        self._view = {"key": key, "run_id": self.run_id, "examples": at, "params": params}
        sha = weights_sha(first_filters(self.net.layers_spec, dict(zip(self._timeline_names, params))))
        with self._lock:
            self._moment = {"key": key, "examples": at, "predictions": None, "evaluation": None}
            self._pub["timeline_view"] = {"key": key, "examples": at, "filters_sha": sha, "ready": False}
        ds = self.dataset
        self._moments.start(
            {
                "key": key,
                "examples": at,
                "spec": spec,
                "preprocess": dict(self.net.preprocess),
                "names": list(self._timeline_names),
                "params": params,
                "example": self._vis_input(),
                "classes": list(self.classes),
                "dataset": ds,
                "order": self._test_order,
            }
        )

    def _do_live(self):
        self._end_view()

    def _end_view(self):
        self._moments.cancel()
        self._view = None
        self._vis_dirty = True  # the live probe again
        with self._lock:
            self._moment = None
            self._pub["timeline_view"] = None

    def _do_branch(self, examples):
        if examples is None:  # the moment viewed, even if the store has thinned it out since
            if self._view is None:
                return
            at, params = self._view["examples"], self._view["params"]
        elif len(self.timeline):
            at, params = self.timeline.at(examples)
        else:
            return
        net = engine.Net(self.net.spec(), backend=self.hyper["backend"], preprocess=self.net.preprocess)
        net.load_params(dict(zip(self._timeline_names, params)))
        parent = self.run_id
        self._keep_for_undo("branch")
        source = "branch of run %d at %s examples" % (parent, format(at, ","))
        self._install(net, None, self.classes, {"source": source, "branch_of": [parent, at]}, examples=at)

    def _moment_part(self, key, part, value):
        """A piece of the moment is ready (the worker's thread): published if still viewed."""
        with self._lock:
            view = self._pub.get("timeline_view")
            if view is None or view["key"] != key or self._moment is None:
                return
            if part == "vis":
                self._vis = value
                self._vis_version += 1
                self._pub["timeline_view"] = dict(view, ready=True, shown_sha=vis_filters_sha(value))
            else:
                self._moment = dict(self._moment, **{part: value})
                if part == "evaluation":
                    self._moment["evaluation_version"] = value.version

    def _timeline_tick(self):
        """Unthreaded: one piece of the moment in flight per tick."""
        if not self.threaded and self._moments.busy:
            self._moments.work(TICK_CHUNK if self.running else None)

    def _view_again(self):
        """Another example shown while a moment is viewed: the moment computed again for it."""
        if self._view is not None:
            self._do_view(self._view["examples"])


def moment_message(moment):
    """The moment viewed as copies to pickle for the lecture viewers' process (app/relay.py)."""
    if moment is None:
        return None
    ev = moment.get("evaluation")
    return {
        "key": moment["key"],
        "examples": moment["examples"],
        "predictions": copy.deepcopy(moment.get("predictions")),
        "evaluation": None if ev is None else ev.progress(),
        "evaluation_setup": None
        if ev is None
        else {"num_classes": ev.num_classes, "class_names": list(ev.class_names), "order": ev.order},
    }


def moment_from_message(msg, dataset, previous=None):
    """The moment of moment_message() rebuilt over the mirror's own test set."""
    if msg is None:
        return None
    ev = None
    if msg["evaluation"] is not None and dataset is not None:
        old = (previous or {}).get("evaluation")
        if old is not None and (previous or {}).get("key") == msg["key"]:
            ev = old
        else:
            s = msg["evaluation_setup"]
            ev = RollingEvaluation(dataset.test_x, dataset.test_y, s["num_classes"], s["class_names"], order=s["order"])
        ev.set_progress(msg["evaluation"])
    return {"key": msg["key"], "examples": msg["examples"], "predictions": msg["predictions"], "evaluation": ev}
