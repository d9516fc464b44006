"""GET /status.json: the run's numbers for scripts, monitoring and measurements.

A plain Tornado handler beside the Panel app (no session is created, nothing is drawn): the
fields of the runner's published snapshot that are numbers or short strings, with NaN as null,
and the run's timeline.
tests/bench_page.py reads it to measure the training speed with and without a page open.
"""

from __future__ import annotations

import json
import math

from tornado.web import RequestHandler

FIELDS = (
    "status",
    "running",
    "backend",
    "examples",
    "steps",
    "epoch",
    "images_per_s",
    "loss",
    "loss_smooth",
    "train_acc",
    "val_acc",
    "test_acc",
    "exact_val_acc",
    "exact_test_acc",
    "exact_at_examples",
    "run_id",
    "error",
)


def status(runner):
    """The published snapshot's FIELDS, JSON-ready (NaN and infinities as null)."""
    snap = runner.snapshot(watch_vis=False)
    out = {}
    for key in FIELDS:
        value = snap.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    out["timeline"] = timeline(snap)
    return out


def timeline(snap):
    """The run's timeline (app/core/runner_timeline.py): the checkpoints' examples seen, the
    moment viewed (its examples, or None: live) and the hashes that prove what is shown:
    filters_sha of the stored checkpoint's first conv filters, shown_sha of the filters the
    visualisation holds for it (equal once the moment is drawn), live_filters_sha of the live
    net's."""
    tl = snap.get("timeline") or {}
    view = snap.get("timeline_view") or {}
    return {
        "checkpoints": list(tl.get("examples") or []),
        "bytes": tl.get("bytes", 0),
        "too_large": tl.get("too_large"),
        "viewing": view.get("examples"),
        "ready": bool(view.get("ready")),
        "filters_sha": view.get("filters_sha"),
        "shown_sha": view.get("shown_sha"),
        "live_filters_sha": snap.get("live_filters_sha"),
    }


class StatusHandler(RequestHandler):
    def initialize(self, runner):
        self.runner = runner

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(status(self.runner)))


def route(runner):
    """The (pattern, handler, arguments) to give pn.serve(extra_patterns=[...])."""
    return (r"/status\.json", StatusHandler, {"runner": runner})
