"""What the static site's worker (static/cp_worker.py) adds to its updates for issue 19's sections:
the runs to compare (the earlier runs' lines and the runs table, app/core/run_overlays.py), the
setup in the page's link (app/core/setup_link.py) and the run's timeline.

The worker is one thread (Pyodide has none): update() runs after each tick and adds only what
changed since the last one; command() answers the page's commands of these sections. The
timeline is the Runner's own (app/core/runner_timeline.py: it records the checkpoints after
steps and, unthreaded as here, computes the moment viewed a piece per tick while training goes
on); TimelineFeed passes the page's slider to it and sends the checkpoints, the moment viewed
and that checkpoint's first filters as stored, what the page's pictures must show. The page's
halves are static/runs.js and static/timeline.js. Plain Python and NumPy, Python 3.8: it ships
to the browser.
"""

from __future__ import annotations

import time

import numpy as np

from .run_overlays import TABLE_EVERY, overlays, table_html
from .runner_timeline import first_filters
from .runs import run_settings, runs_csv, runs_json
from .setup_link import SetupLinkError, apply_setup, encode_setup


class RunsFeed:
    """The runs table, the earlier runs' lines and the setup link of one Runner (see above)."""

    def __init__(self, runner):
        self.runner = runner
        self.runs_key = None  # (RunLog version, settings in progress) of the lines last sent
        self.table_at = -TABLE_EVERY
        self.setup_key = None  # (spec_version, hyper_version) of the link last sent

    def update(self, snap, out):
        """Add "runs" (table, lines) and "setup" (the link's parameter) to an update when changed."""
        runs = self._runs(snap, time.monotonic())
        if runs is not None:
            out["runs"] = runs
        key = (snap.get("spec_version"), snap.get("hyper_version"), snap.get("run_id"))
        if key != self.setup_key and snap.get("spec"):
            self.setup_key = key
            out["setup"] = encode_setup(snap["spec"], snap.get("hyper") or {})

    def _runs(self, snap, now_s):
        r = self.runner
        now = run_settings(snap.get("hyper") or {}, snap.get("spec") or [], snap.get("net_source", ""))
        version, _ = r.runs_view(with_current=False)  # cheap: the earlier runs are shared
        changed = (version, now) != self.runs_key
        if not changed and now_s - self.table_at < TABLE_EVERY:
            return None
        self.table_at = now_s
        _, runs = r.runs_view()
        out = {"table_html": table_html(runs, snap.get("run_id")), "count": len(runs)}
        if changed:
            self.runs_key = (version, now)
            earlier = [x for x in runs if x["run"] != snap.get("run_id")]
            # Every earlier run, hidden ones too: the page shows and hides them itself.
            out["earlier"] = [x["run"] for x in earlier]
            out["loss"] = overlays(earlier, now, "loss_smooth")
            out["acc"] = overlays(earlier, now, "val_acc")
        return out

    def command(self, cmd, args):
        """The answer to one of these sections' commands, or None when `cmd` is not one of them."""
        if cmd == "runs_download":
            _, runs = self.runner.runs_view()
            kind = args.get("kind")
            if kind not in ("csv", "json"):
                raise ValueError("runs download: kind must be csv or json, got %r" % (kind,))
            return {"text": runs_csv(runs) if kind == "csv" else runs_json(runs), "runs": len(runs)}
        if cmd == "setup":
            return self.open_link(args.get("setup", ""))
        return None

    def open_link(self, text):
        """Make a link's setup the run; {"error": one line} when it cannot be used (nothing changes)."""
        try:
            layers = apply_setup(self.runner, text)
        except SetupLinkError as e:
            return {"error": str(e)}
        self.setup_key = None  # the link as this page writes it goes back to the page
        return {"layers": len(layers)}


class TimelineFeed:
    """The page's slider over the Runner's timeline (see above)."""

    def __init__(self, runner):
        self.runner = runner
        self.sent = None  # (run, checkpoints, moment key, ready) last sent
        # (examples, first filters) of the checkpoint the last view_at looks up: taken when asked,
        # because the store may thin that checkpoint out after the Runner has looked it up.
        self.asked = None

    def update(self, snap, out, blob):
        """Add "timeline" to an update when the checkpoints or the moment viewed changed: the
        checkpoints' examples, the moment (view: its examples or None, ready: its pictures made,
        filters_sha and shown_sha: the Runner's hashes of the stored and the drawn filters) and,
        for a new moment, `weights`: the stored checkpoint's first conv filters."""
        tl = snap.get("timeline") or {}
        view = snap.get("timeline_view")
        key = (snap.get("run_id"), tuple(tl.get("examples") or ()), view and view["key"], view and view["ready"])
        if key == self.sent:
            return
        new_view = view is not None and (self.sent is None or self.sent[2] != view["key"])
        self.sent = key
        t = {
            "checkpoints": list(key[1]),
            "nbytes": int(tl.get("bytes") or 0),
            "too_large": bool(tl.get("too_large")),
            "view": None if view is None else view["examples"],
            "key": None if view is None else view["key"],
            "ready": bool(view and view["ready"]),
            "filters_sha": view and view.get("filters_sha"),
            "shown_sha": view and view.get("shown_sha"),
        }
        if new_view:
            w = self.asked[1] if self.asked is not None and self.asked[0] == view["examples"] else None
            t["weights"] = None if w is None else blob.add(w, np.float32)
        out["timeline"] = t

    def stored_filters(self, examples):
        """(examples, first conv filters as the pictures draw them) of the stored checkpoint at
        or before `examples`, what the Runner's view_at(examples) shows; None when none is stored."""
        r = self.runner
        if not len(r.timeline):
            return None
        at, params = r.timeline.at(examples)
        return at, first_filters(r.net.layers_spec, dict(zip(r.net.params().keys(), params)))

    def command(self, cmd, args):
        """timeline_view {examples: n or null (live)} and timeline_branch {examples: n or null
        (the moment viewed)}: queued for the Runner, which applies them before its next step."""
        r = self.runner
        if cmd == "timeline_view":
            if args.get("examples") is None:
                r.back_to_live()
            else:
                # Nothing is recorded before the Runner's next tick applies the command (one thread).
                self.asked = self.stored_filters(int(args["examples"]))
                r.view_at(int(args["examples"]))
            return {"queued": args.get("examples")}
        if cmd == "timeline_branch":
            r.branch_from(None if args.get("examples") is None else int(args["examples"]))
            return {"queued": args.get("examples")}
        return None
