"""What the static site's worker (static/cp_worker.py) adds to its updates for issue 19's sections:
the runs to compare (the earlier runs' lines and the runs table, app/core/run_overlays.py), the
setup in the page's link (app/core/setup_link.py) and the run's timeline (app/core/timeline.py).

The worker is one thread (Pyodide has none): update() runs after each tick and adds only what
changed since the last one; command() answers the page's commands of these sections. The
timeline is recorded after training steps (TimelineFeed.stepped: a copy of the net's flat
parameter buffer when one is due); looking at a checkpoint probes a second net loaded with its
weights, once per move of the slider, between two ticks, while training goes on. The page's
halves are static/runs.js and static/timeline.js. Plain Python and NumPy, Python 3.8: it ships
to the browser.
"""

from __future__ import annotations

import time

import numpy as np

import engine

from .probe import probe
from .run_overlays import TABLE_EVERY, overlays, table_html
from .runs import run_settings, runs_csv, runs_json
from .setup_link import SetupLinkError, apply_setup, encode_setup
from .timeline import Timeline


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
    """The run's checkpoints and the one being looked at (None: the live net); see above.

    `picture(data, blob)` turns probe data into the page's network pictures (cp_worker.py's);
    a Runner that keeps a Timeline of its own (`runner.timeline`) is read, not doubled."""

    def __init__(self, runner, picture, timeline=None):
        self.runner = runner
        self.picture = picture
        own = getattr(runner, "timeline", None)
        self.recording = own is None
        self.timeline = own if own is not None else (timeline or Timeline())
        self.run_id = runner.run_id
        self.view = None  # examples of the checkpoint shown, or None for the live net
        self.sent = None  # (run, checkpoints) last sent
        self._net = None  # (spec, Net) to probe checkpoints with

    def stepped(self, event):
        """After a training step: a new run starts an empty timeline; a due checkpoint is kept."""
        r = self.runner
        if r.run_id != self.run_id:
            self.run_id, self.view = r.run_id, None
            if self.recording:
                self.timeline.clear()
        examples = int(event["examples"])
        if self.recording and self.timeline.due(examples):
            self.timeline.record(examples, [r.net.params().flat])

    def update(self, out):
        """Add "timeline" (checkpoints, the one shown, bytes kept) to an update when it changed."""
        tl = self.timeline
        key = (self.run_id, tuple(tl.examples()), self.view)
        if key != self.sent:
            self.sent = key
            out["timeline"] = {"checkpoints": list(key[1]), "view": self.view, "nbytes": int(tl.nbytes)}

    def command(self, cmd, args, blob):
        if cmd != "timeline_view":
            return None
        if args.get("examples") is None:
            self.view = None
            return {"live": True}
        return self.show(int(args["examples"]), blob)

    def show(self, examples, blob):
        """The network pictures of the stored checkpoint at or before `examples`, and its first
        conv layer's weights as stored (what the filters show)."""
        if not len(self.timeline):
            raise ValueError("no checkpoint yet: the timeline starts with the first training step")
        at, params = self.timeline.at(examples)
        stored = self._by_name(params)
        net = self._checkpoint_net()
        net.load_params(stored)
        live = self.runner.vis()[1] or {}
        image = live.get("image")
        if image is None:
            image = np.full(net.input_shape, 128, np.uint8)
        data = probe(net, image, live.get("label"))
        caption = live.get("caption", "")
        data.update(image=image, caption="%s · the net at %s examples seen" % (caption, f"{at:,}"))
        self.view = at
        convs = [k for k, v in stored.items() if k.endswith(".weight") and v.ndim == 4]
        first = convs[0] if convs else None  # the first conv layer's, as the checkpoint holds them
        return {
            "view": at,
            "vis": self.picture(data, blob),
            "weights": {first: blob.add(stored[first], np.float32)} if first else {},
        }

    def _by_name(self, params):
        """A checkpoint's arrays by parameter name: this feed's own hold the flat buffer; a
        Runner's own timeline, one array per parameter in the net's order."""
        live = self.runner.net.params()
        if len(params) == 1 and params[0].size == live.flat.size:
            return {key: params[0][start:stop].reshape(shape) for key, start, stop, shape in live.layout}
        return dict(zip(live.keys(), params))

    def _checkpoint_net(self):
        r = self.runner
        spec = r.net.spec()
        if self._net is None or self._net[0] != spec:
            self._net = (spec, engine.Net(spec, backend="numpy", seed=0, preprocess=r.net.preprocess))
        return self._net[1]
