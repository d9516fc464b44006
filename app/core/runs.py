"""Runs to compare: every run of a session keeps its curves and its settings.

A run ends where the Runner's run_id changes (runner_net.py `_install`: Reset, a new spec, a
snapshot, new data); RunLog.end() then keeps a copy of the run's curve points (at most the
History's capacity, as the History itself holds them) with the settings it began with, its
examples seen, its best running and exact accuracies and the settings changed while it ran.
At most `max_runs` earlier runs are kept, the oldest dropped first. A run that saw no example
is not kept (nothing to compare). Mutated by the training thread under the Runner's lock;
what it hands out is a copy or never changed again. Also: what differs between two runs'
settings ("lr 1 → 0.01"), and the runs as CSV and JSON (and back). No Panel here.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .history import CURVE_COLUMNS

MAX_RUNS = 8
SETTINGS = ("net", "optimizer", "lr", "momentum", "weight_decay", "batch_size", "seed", "backend", "source")
SUMMARY = ("run", "examples", "best_val_acc", "best_test_acc", "exact_val_acc", "exact_test_acc")


def describe_net(spec):
    """A short name of a spec's layers: conv16-pool-conv20-pool-fc10-softmax10 (ReLUs, the
    usual activation, left out; any other activation named)."""
    parts = []
    for layer in spec:
        t = layer.get("type")
        if t in ("input", "relu"):
            continue
        n = layer.get("out_channels", layer.get("out_features", layer.get("num_classes", "")))
        parts.append("%s%s" % (t, n))
    return "-".join(parts)


def run_settings(hyper, spec, source=""):
    """The settings a run begins with (the net as a short name; the whole spec apart)."""
    out = {k: hyper.get(k) for k in SETTINGS if k in hyper}
    out["net"] = describe_net(spec)
    out["source"] = source
    return out


def _fmt(v):
    if isinstance(v, float):
        return "%.4g" % v
    return str(v)


def differences(before, after):
    """What changed from settings `before` to `after`, e.g. "lr 1 → 0.01, seed 0 → 1"."""
    parts = []
    for k in SETTINGS:
        a, b = before.get(k), after.get(k)
        if a != b:
            parts.append((k, "%s %s → %s" % (k.replace("_", " "), _fmt(a), _fmt(b))))
    if len(parts) > 1:  # where the net came from matters only when nothing else differs
        parts = [p for p in parts if p[0] != "source"]
    return ", ".join(text for _, text in parts)


def _best(values):
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return max(values) if values else float("nan")


class RunLog:
    """The session's earlier runs (see the module docstring) and the settings of the one running."""

    def __init__(self, max_runs=MAX_RUNS):
        if max_runs < 1:
            raise ValueError("RunLog keeps at least one run, got %r" % max_runs)
        self.max_runs = max_runs
        self.runs = []  # dicts, oldest first; never changed once here
        self.version = 0  # changes whenever runs or the current run's settings do
        self.current = None  # {"run", "settings", "spec", "changes"} of the run in progress

    def begin(self, run_id, settings, spec):
        self.current = {"run": int(run_id), "settings": dict(settings), "spec": spec, "changes": []}
        self.version += 1

    def changed(self, examples, settings):
        """Settings changed while the run goes on (new hyperparameters): noted, same run."""
        if self.current is not None:
            before = self.current.get("now", self.current["settings"])
            text = differences(before, settings)
            if text:
                self.current["changes"] = self.current["changes"] + [[int(examples), text]]
                self.current["now"] = dict(settings)
                self.version += 1

    def end(self, history, pub):
        """The run in progress ends: kept with a copy of its curves unless it saw no example."""
        record = self.record(history, pub)
        self.current = None
        if record is not None:
            self.runs = (self.runs + [record])[-self.max_runs :]
            self.version += 1

    def record(self, history, pub):
        """The run in progress as a record like the earlier ones (None before its first example)."""
        cur = self.current
        if cur is None or not pub.get("examples"):
            return None
        data, _ = history.since(-1)
        return {
            "run": cur["run"],
            "settings": cur["settings"],
            "spec": cur["spec"],
            "changes": cur["changes"],
            "curves": {c: data[c].tolist() for c in CURVE_COLUMNS},
            **summary(pub, data),
        }


def summary(pub, curves):
    """examples seen and best accuracies of a run from its published stats and curve columns."""
    points = pub.get("exact_points") or ()
    return {
        "examples": int(pub.get("examples") or 0),
        "best_val_acc": _best(list(curves["val_acc"]) + [p[1] for p in points]),
        "best_test_acc": _best(list(curves["test_acc"]) + [p[2] for p in points]),
        "exact_val_acc": _best([pub.get("exact_val_acc")]),
        "exact_test_acc": _best([pub.get("exact_test_acc")]),
        "exact_points": [list(p) for p in points],
    }


def _plain(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _plain(obj)


def runs_json(runs):
    """The runs as a JSON document: {"format", "runs": [...]}; NaN as null."""
    return json.dumps({"format": "convnet-playground-runs", "version": 1, "runs": _clean(runs)}, indent=1)


def runs_from_json(text):
    """The runs of runs_json(); ValueError with a message for anything else."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ValueError("not a runs file: %s" % e) from None
    if not isinstance(doc, dict) or doc.get("format") != "convnet-playground-runs":
        raise ValueError("not a runs file (no format convnet-playground-runs)")
    return doc["runs"]


CSV_COLUMNS = ("run",) + SETTINGS + CURVE_COLUMNS


def runs_csv(runs):
    """One row per curve point, with its run's number and settings: a tidy table to group by run."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in runs:
        settings = [_plain(r["settings"].get(k)) for k in SETTINGS]
        curves = r["curves"]
        for i in range(len(curves["examples"])):
            row = [r["run"]] + settings + [_plain(curves[c][i]) for c in CURVE_COLUMNS]
            w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return out.getvalue()


def runs_from_csv(text):
    """{run: {"settings", "curves"}} read back from runs_csv (settings as text, curves as floats)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = {}
    for row in rows:
        r = out.setdefault(int(row["run"]), {"settings": {k: row[k] for k in SETTINGS}, "curves": {}})
        for c in CURVE_COLUMNS:
            r["curves"].setdefault(c, []).append(float(row[c]) if row[c] != "" else float("nan"))
    return out
