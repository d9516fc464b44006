"""GET /status.json: the run's numbers for scripts, monitoring and measurements.

A plain Tornado handler beside the Panel app (no session is created, nothing is drawn): the
fields of the runner's published snapshot that are numbers or short strings, with NaN as null.
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
    return out


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
