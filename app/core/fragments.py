"""HTML fragments of the dashboard, from plain data: stat cards, the layer table, the memory
breakdown, top-3 prediction bars, and the page's CSS.

Plain functions returning strings (no Panel, no runner), so the static site can reuse them.
Everything a user typed or uploaded is escaped. Names follow the slides: "32x32x3", "params",
"memory".
"""

from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from html import escape

import numpy as np

from engine import human_bytes

CSS = """
:root { --cp-blue: #1f4e8c; --cp-green: #3c9d4e; --cp-red: #c9453b; --cp-grey: #667085; }
.cp-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(104px, 1fr)); gap: 8px; }
.cp-card { background: #fff; border: 1px solid #e4e7ec; border-radius: 10px; padding: 8px 10px;
  box-shadow: 0 1px 2px rgba(16,24,40,.05); }
.cp-card .v { font-size: 25px; font-weight: 600; color: #101828; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cp-card .k { font-size: 13px; color: var(--cp-grey); text-transform: none; }
.cp-pill { display: inline-block; padding: 3px 12px; border-radius: 999px; font-weight: 600; font-size: 15px; }
.cp-running { background: #dcfae6; color: #067647; } .cp-paused { background: #fef0c7; color: #93370d; }
.cp-nodata, .cp-loading { background: #eef2f6; color: #364152; }
table.cp-table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; width: 100%; }
table.cp-table th { text-align: right; color: var(--cp-grey); font-weight: 600; border-bottom: 2px solid #d0d5dd; padding: 4px 10px; }
table.cp-table td { text-align: right; padding: 3px 10px; border-bottom: 1px solid #eaecf0; }
table.cp-table td:first-child, table.cp-table th:first-child, table.cp-table td:nth-child(2), table.cp-table th:nth-child(2) { text-align: left; }
table.cp-table tr.total td { font-weight: 700; border-top: 2px solid #d0d5dd; }
table.cp-compact { font-size: 13px; } table.cp-compact td, table.cp-compact th { padding: 2px 6px; white-space: nowrap; }
.cp-scroll { overflow-x: auto; }
.cp-mem { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 14px; margin-top: 8px; }
.cp-mem b { font-variant-numeric: tabular-nums; }
.cp-pred { display: flex; gap: 14px; align-items: center; }
.cp-pred img { image-rendering: pixelated; border-radius: 4px; border: 1px solid #d0d5dd; }
.cp-bars { flex: 1; min-width: 220px; max-width: 440px; }
.cp-bar { position: relative; height: 24px; margin: 4px 0; background: #f2f4f7; border-radius: 4px; }
.cp-bar span.fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 4px; }
.cp-bar span.t { position: absolute; left: 8px; top: 2px; font-size: 14px; color: #101828; }
.cp-dim { color: var(--cp-grey); }
.cp-msg { font-size: 15px; }
"""


def png_bytes(img):
    """uint8 (H, W), (H, W, 3) or (H, W, 4) image -> the bytes of a PNG file.

    The standard library's zlib alone (no Pillow): the static site's worker draws its pictures
    with it too, in Pyodide, where only NumPy is loaded."""
    img = np.asarray(img, dtype=np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    H, W = img.shape[:2]
    color = {2: 0, 3: {3: 2, 4: 6}.get(img.shape[-1])}.get(img.ndim)  # grey, RGB, RGBA
    if color is None:
        raise ValueError("a PNG needs an (H, W), (H, W, 3) or (H, W, 4) image, got shape %s" % (img.shape,))
    rows = np.concatenate([np.zeros((H, 1), np.uint8), img.reshape(H, -1)], axis=1)  # filter 0 per row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", W, H, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def png_data_uri(img):
    """uint8 (H, W, 3) or (H, W) image -> "data:image/png;base64,..." for an <img src>."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")


def spec_text(layers):
    """A spec as JSON with one layer per line: easy to read and to edit (the network editor's text)."""
    return "[\n" + ",\n".join("  " + json.dumps(layer) for layer in layers) + "\n]"


def _num(v, fmt):
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt % v


def _pct(v):
    return _num(None if v is None else 100 * v, "%.1f%%")


def status_html(status, message=""):
    cls = {"running": "cp-running", "paused": "cp-paused", "no data": "cp-nodata"}.get(status, "cp-loading")
    extra = ' <span class="cp-dim cp-msg">%s</span>' % escape(message) if message else ""
    return '<span class="cp-pill %s">%s</span>%s' % (cls, escape(status), extra)


def stats_html(s):
    """Stat cards from a runner snapshot dict (examples, epoch, fwd_ms, bwd_ms, images_per_s,
    loss, loss_smooth, train_acc, val_acc, test_acc)."""
    cards = [
        ("examples seen", "{:,}".format(int(s.get("examples") or 0))),
        ("epoch", _num(s.get("epoch"), "%.2f")),
        ("images/s", _num(s.get("images_per_s"), "%.0f")),
        ("fwd ms / example", _num(s.get("fwd_ms"), "%.3f")),
        ("bwd ms / example", _num(s.get("bwd_ms"), "%.3f")),
        ("loss (smoothed)", _num(s.get("loss_smooth"), "%.3f")),
        ("train acc", _pct(s.get("train_acc"))),
        ("validation acc", _pct(s.get("val_acc"))),
        ("test acc", _pct(s.get("test_acc"))),
    ]
    body = "".join(
        '<div class="cp-card"><div class="v">%s</div><div class="k">%s</div></div>' % (v, k) for k, v in cards
    )
    return '<div class="cp-cards">%s</div>' % body


def layer_table_html(summary, compact=False):
    """engine.summarize() output as the slides' table: output volume, params and memory per layer."""
    rows = []
    for r in summary["layers"]:
        rows.append(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % (
                escape(r["name"]),
                escape(r["type"] + ("+relu" if r.get("relu") else "")),
                r["output_text"],
                "{:,}".format(r["weights"]),
                "{:,}".format(r["biases"]),
                "{:,}".format(r["params"]),
                "{:,}".format(r["activations"]),
                human_bytes(r["bytes"]),
            )
        )
    rows.append(
        '<tr class="total"><td>total</td><td></td><td></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>'
        % (
            "{:,}".format(sum(r["weights"] for r in summary["layers"])),
            "{:,}".format(sum(r["biases"] for r in summary["layers"])),
            "{:,}".format(summary["total_params"]),
            "{:,}".format(summary["total_activations"]),
            human_bytes(summary["bytes"]),
        )
    )
    head = (
        "<tr><th>layer</th><th>type</th><th>output</th><th>weights</th><th>biases</th><th>params</th>"
        "<th>activations</th><th>memory</th></tr>"
    )
    cls = "cp-table cp-compact" if compact else "cp-table"
    return '<div class="cp-scroll"><table class="%s">%s%s</table></div>' % (cls, head, "".join(rows))


def memory_html(memory):
    """The training memory of one step at a batch size, as engine.summarize()["memory"] gives
    it: what the step holds throughout (activations, the backend's workspace, params,
    gradients, optimizer state) and the peak of what comes and goes (scratch), which add up
    to the total (docs/ARCHITECTURE.md, "Memory of a training step")."""
    parts = [
        ("activations", "activations"),
        ("workspace", "workspace"),
        ("params", "params"),
        ("gradients", "param_grads"),
        ("optimizer state", "optimizer_state"),
    ]
    items = "".join("<span>%s <b>%s</b></span>" % (k, human_bytes(memory[key])) for k, key in parts)
    scratch = memory["total"] - sum(memory[key] for _, key in parts)
    return (
        '<div class="cp-mem"><span><b>memory</b> for a training step at batch %d with %s (%s backend):</span>%s'
        "<span>scratch <b>%s</b></span><span>total <b>%s</b></span></div>"
        % (
            memory["batch"],
            escape(memory["optimizer"]),
            escape(memory["backend"]),
            items,
            human_bytes(scratch),
            human_bytes(memory["total"]),
        )
    )


def bars_html(classes, probs, label=None, k=3):
    """Top-k classes as horizontal bars: green for the true class, red for others, blue if unknown."""
    probs = np.asarray(probs, dtype=np.float64)
    out = []
    for i in np.argsort(-probs)[:k]:
        color = "var(--cp-blue)" if label is None else ("var(--cp-green)" if i == label else "var(--cp-red)")
        out.append(
            '<div class="cp-bar"><span class="fill" style="width:%.1f%%;background:%s;opacity:.55"></span>'
            '<span class="t">%s <b>%.1f%%</b></span></div>'
            % (100 * probs[i], color, escape(classes[i]), 100 * probs[i])
        )
    return '<div class="cp-bars">%s</div>' % "".join(out)


def prediction_html(image, classes, probs, label=None, title="", size=128):
    """An image (uint8 (H, W, 3), shown pixelated at `size` px) beside its top-3 bars."""
    return (
        '<div class="cp-pred"><img src="%s" width="%d" height="%d" alt="input image">'
        '<div class="cp-bars"><div class="cp-dim">%s</div>%s</div></div>'
        % (png_data_uri(image), size, size, escape(title), bars_html(classes, probs, label))
    )
