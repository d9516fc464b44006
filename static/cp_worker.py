"""The Python half of the static site's Web Worker (runs in Pyodide: Python 3.8, NumPy 1.17 and up).

worker.js writes the engine, datasets and the app's runner modules and the data into Pyodide's
file system, then calls start(), tick(), command() and bench() here. Each returns a JSON string;
large arrays go to one binary file (OUT) that worker.js reads and transfers to the page, so the
JSON holds only {"__blob__": [offset, count, dtype, shape]} markers for them.

Training is the server app's own Runner (app/core/runner.py), unthreaded: worker.js calls
tick() in a loop and lets the page's messages in between, because Pyodide has no threads. The
curves, stats, predictions and network pictures are made by the core's functions
(app.core.fragments, app.core.plot_data), so both front ends show the same things. This file
imports the core, the engine and datasets only: build.py ships what those import, and nothing
that imports Panel, Bokeh or Numba.
"""

from __future__ import annotations

import json
import sys
import time

import cp_sections
import numpy as np

import engine
from app.core import Runner, fragments, paths, plot_data
from app.core.worker_feed import RunsFeed, TimelineFeed
from datasets import Batches, Dataset

OUT = "/tmp/cp_out.bin"
UPLOAD = "/tmp/cp_upload.u8"
SESSION = None
SLOTS, COLS = 24, 3  # the test-prediction grid, as in the app's PredictionsView
# Seconds between network pictures and between accuracy checks. One thread does everything
# here, and a probe plus its pictures cost about as much as a training step: every 2 s keeps
# them a small part of the time (docs/BENCHMARKS.md, "The worker's probe interval"; the app's
# thread, beside the server's, probes more often).
VIS_INTERVAL = EVAL_INTERVAL = 2.0


class Blob:
    """Arrays for OUT, replaced in the JSON by markers that worker.js turns into typed arrays."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def add(self, a, dtype):
        a = np.ascontiguousarray(a, dtype=dtype)
        pad = -self.size % 8  # typed-array views need aligned offsets
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        marker = {"__blob__": [self.size, int(a.size), a.dtype.name, list(a.shape)]}
        self.parts.append(a.tobytes())
        self.size += a.nbytes
        return marker

    def answer(self, obj):
        if self.parts:
            with open(OUT, "wb") as f:
                f.write(b"".join(self.parts))
            obj["__has_blob__"] = True
        return json.dumps(_clean(obj))


def _clean(v):
    """JSON has no NaN: non-finite floats become null."""
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, (np.floating, np.integer)):
        return _clean(v.item())
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _images(rows, blob):
    """The `image` column of an image_rgba source: uint32 (H, W) arrays -> markers."""
    rows = dict(rows)
    rows["image"] = [blob.add(a, np.uint32) for a in rows["image"]]
    return rows


class Session:
    """One page's training: the Runner, and what the page has already been sent."""

    def __init__(self, home, site, options):
        d = home + "/data/"
        n, m = site["n_train"], site["n_test"]
        shape = tuple(site["shape"])
        ds = Dataset(
            np.fromfile(d + "train-images.u8", np.uint8).reshape((n,) + shape),
            np.fromfile(d + "train-labels.u8", np.uint8).astype(np.int64),
            np.fromfile(d + "test-images.u8", np.uint8).reshape((m,) + shape),
            np.fromfile(d + "test-labels.u8", np.uint8).astype(np.int64),
            site["classes"],
            source="%d training and %d test images packed by build.py" % (n, m),
        )
        self.dataset = ds
        defaults = dict(site["defaults"], **{k: v for k, v in options.items() if k in site["defaults"]})
        self.runner = Runner(
            ds,
            backend="numpy",
            seed=int(defaults["seed"]),
            optimizer=defaults["optimizer"],
            batch_size=int(defaults["batch_size"]),
            weight_decay=float(defaults["weight_decay"]),
            running=bool(options.get("autostart", True)),
            vis_interval=VIS_INTERVAL,
            eval_interval=EVAL_INTERVAL,
            threaded=False,
        )
        self.sent = {"run_id": None, "history": -1, "predictions": -1, "vis": -1}
        self._pretrained = None
        self.sections = cp_sections.Sections(self.runner)  # the explaining sections (cp_sections.py)
        self.feed = RunsFeed(self.runner)  # issue 19: runs to compare, the setup link
        self.timeline = TimelineFeed(self.runner)  # and the run's timeline

    # -- training ---------------------------------------------------------------------------
    def tick(self, budget_ms):
        r = self.runner
        t0 = time.perf_counter()
        trained = False
        first = None
        while True:
            # A run's first step goes to the page at once, before the first accuracy check (a
            # chunk of test images and the confusion matrix's, several steps' worth): the next
            # tick makes that check, its interval being long past.
            fresh = not trained and not r.snapshot().get("steps")
            if fresh:
                r.eval_interval = float("inf")
            try:
                ev = r.tick()
            finally:
                r.eval_interval = EVAL_INTERVAL
            if ev is None:
                break
            trained = True
            if ev["step"] == 1:
                first = self._first_step_report(ev)
                break
            if (time.perf_counter() - t0) * 1000 >= budget_ms:
                break
        blob = Blob()
        out = self._update(blob)
        out["busy"] = trained or bool(out["status"]["running"])
        if first is not None:
            out["first_step"] = first
        return blob.answer(out)

    def _first_step_report(self, ev):
        """A run's first step, for the page's debug hook: its loss and the batch it trained on."""
        rows = self.runner.batches.last_rows  # indices into the site's training images
        h = self.runner.hyper
        return {
            "loss": ev["loss"],
            "indices": rows.tolist(),
            "labels": self.dataset.train_y[rows].tolist(),
            "seed": h["seed"],
            "batch_size": h["batch_size"],
            "optimizer": h["optimizer"],
            "python": sys.version.split()[0],
            "numpy": np.__version__,
        }

    # -- what the page shows ------------------------------------------------------------------
    def _update(self, blob):
        r = self.runner
        snap = r.snapshot()
        out = {
            "status": {
                k: snap.get(k)
                for k in (
                    "status",
                    "running",
                    "error",
                    "message",
                    "examples",
                    "steps",
                    "epoch",
                    "run_id",
                    "hyper",
                    "pretrained",
                    "net_source",
                    "test_acc",
                    "test_seen",
                    "exact_val_acc",
                    "exact_test_acc",
                    "exact_at_examples",
                    "exact_points",
                    "classes",
                )
            },
            "stats_html": fragments.stats_html(snap),
            "status_html": fragments.status_html(snap["status"], snap["message"]),
        }
        sent = self.sent
        if sent["run_id"] != snap["run_id"]:
            sent.update(run_id=snap["run_id"], history=-1, predictions=-1)
            out["reset"] = True
        view = snap.get("timeline_view")
        if (view and view["key"]) != sent.get("moment"):  # a moment of the timeline or live again:
            sent.update(moment=view and view["key"], predictions=-1)  # its own test predictions
        cols, last = r.history_since(sent["history"])
        if len(cols["examples"]):
            out["curves"] = {k: blob.add(v, np.float64) for k, v in cols.items()}
            sent["history"] = last
        items, _ = r.predictions_since(sent["predictions"])
        if items:
            # As the app's PredictionsView: redraw when the ring moved past what was sent.
            behind = sent["predictions"] >= 0 and items[0]["id"] > sent["predictions"] + 1
            items = items[-SLOTS:]
            im, bars = plot_data.prediction_data(items, snap["classes"], SLOTS, COLS)
            out["predictions"] = {"images": _images(im, blob), "bars": bars, "clear": behind, "slots": SLOTS}
            sent["predictions"] = items[-1]["id"]
        version, data = r.vis()
        if data is not None and version != sent["vis"]:
            sent["vis"] = version
            out["vis"] = self._vis_out(data, blob)
        self.feed.update(snap, out)
        self.timeline.update(snap, out, blob)
        sections = self.sections.update()
        if sections:
            out["sections"] = sections
        return out

    def _vis_out(self, data, blob):
        """The network pictures of one probe, for the page's network figure (a moment of the
        timeline's probe has the examples seen of its checkpoint: `moment`)."""
        im, cap, width, height = plot_data.network_data(data["layers"], data.get("image"))
        moment = data.get("examples")
        caption = data.get("caption", "")
        if moment is not None:
            caption += " · the net at %s examples seen" % format(moment, ",")
        return {
            "moment": moment,
            "images": _images(im, blob),
            "captions": cap,
            "caption": caption,
            "image": blob.add(data["image"], np.uint8),
            "bars_html": fragments.bars_html(self.runner.classes, data["probs"], data.get("label")),
            "size": [width, height],  # the figure's, in pixels: another net's pictures need another
        }

    # -- commands from the page ---------------------------------------------------------------
    def command(self, cmd, args, blob):
        r = self.runner
        answer = self.feed.command(cmd, args)
        if answer is None:
            answer = self.timeline.command(cmd, args)
        if answer is not None:
            return answer
        if cmd in ("start", "pause", "step", "reset"):
            getattr(r, cmd)()
        elif cmd == "hyper":
            r.set_hyper(**args)
        elif cmd == "pretrained":
            r.load_pretrained()
        elif cmd == "snapshot":
            # The running net as a snapshot file (.npz) for the page to download: the onnx and
            # safetensors packages do not run here, `python -m engine export` does the rest.
            data = r.snapshot_bytes()
            return {"snapshot": blob.add(np.frombuffer(data, np.uint8), np.uint8), "bytes": len(data)}
        elif cmd in cp_sections.COMMANDS:
            return self.sections.command(cmd, args)
        elif cmd == "vis_fixed":
            r.set_vis_example(None)
        elif cmd == "upload":
            image = np.fromfile(UPLOAD, np.uint8).reshape(r.net.input_shape)
            r.set_vis_example(image, None, "uploaded " + args.get("name", "image"))
            return self._predictions(image, None, blob)
        elif cmd == "test_image":
            image, label = r.test_image(int(args["index"]))
            r.show_test_image(int(args["index"]))
            return self._predictions(image, label, blob)
        else:
            raise ValueError("unknown command %r" % cmd)
        return {}

    def _predictions(self, image, label, blob):
        """Top-3 bars of the live net and of the pretrained snapshot (when one ships)."""
        classes = self.runner.snapshot()["classes"]
        out = {
            "live": fragments.bars_html(classes, self.runner.infer(image[None])[0], label),
            "examples": self.runner.snapshot()["examples"],
            "label": label,
            "image": blob.add(image, np.uint8),
        }
        path = paths.pretrained_path()
        if path is not None:
            if self._pretrained is None:
                self._pretrained = engine.load_snapshot(str(path))
            net, snap = self._pretrained
            names = paths.class_names(net.num_classes, snap.classes)
            same = list(names) == list(classes)
            out["pretrained"] = fragments.bars_html(names, net.predict(image[None])[0], label if same else None)
        return out


# -- entry points for worker.js -----------------------------------------------------------------
def start(config):
    global SESSION
    c = json.loads(config)
    options = c.get("options") or {}
    SESSION = Session(c["home"], c["site"], options)
    info = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pretrained": paths.pretrained_path() is not None,
    }
    if options.get("setup"):  # the page's link carries a setup: it is the first run's
        info["setup"] = SESSION.feed.open_link(options["setup"])
    return json.dumps(info)


def tick(budget_ms):
    return SESSION.tick(budget_ms)


def command(message):
    m = json.loads(message)
    try:
        blob = Blob()
        return blob.answer(SESSION.command(m["cmd"], m.get("args") or {}, blob))
    except (ValueError, engine.SnapshotError) as e:  # bad input from the page: say why
        return json.dumps({"error": str(e)})


def bench(options):
    """Train the benchmark net on the images worker.js wrote; images/s of the timed part.

    Same recipe as the ConvNetJS side of bench.html: the images in order, `batch` per step,
    Adadelta with L2 decay 1e-4 (ConvNetJS's CIFAR-10 demo), one warm-up batch not timed.
    """
    o = json.loads(options)
    n, batch = int(o["n"]), int(o["batch"])
    x = np.fromfile("/tmp/cp_bench_images.u8", np.uint8)[: n * 3072].reshape(n, 32, 32, 3)
    y = np.fromfile("/tmp/cp_bench_labels.u8", np.uint8)[:n].astype(np.int64)
    net = engine.Net(o["layer_defs"], backend="numpy", seed=0)
    trainer = engine.Trainer(net, engine.Optimizer("adadelta", weight_decay=1e-4), Batches(x, y, batch, shuffle=False))
    first = trainer.step((x[:batch], y[:batch]))
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        ev = trainer.step((x[i : i + batch], y[i : i + batch]))
    seconds = time.perf_counter() - t0
    return json.dumps(
        {
            "images_per_s": n / seconds,
            "seconds": seconds,
            "n": n,
            "batch": batch,
            "loss_first": first["loss"],
            "loss_last": ev["loss"],
            "python": sys.version.split()[0],
            "numpy": np.__version__,
        }
    )
