"""PredictionGrid: the test predictions as plain HTML — a small picture and three bars per slot.

Why not a Bokeh figure: the grid redraws every 2 s while training, and as one figure (images,
bars and their texts as glyphs) it laid out the page and cost the browser CPU that training
runs on (docs/BENCHMARKS.md, "PredictionGrid instead of a Bokeh figure"). Here a new prediction
changes one slot's picture, three bar widths and three labels, and nothing else on the page.

Data: the server keeps what each slot shows (`cells`). New predictions go to the page as a
message numbered `seq`; a view that is built gets the slots whole (`history`), and asks for
them again when a message's number shows it missed one.
"""

from __future__ import annotations

import base64

import numpy as np
import param
from panel.custom import JSComponent

from .chart import JS_GET


def cell(slot, picture, index, label, top):
    """One slot's content. picture: uint8 (H, W, 3); label: the true class's name (None: unknown);
    top: [(class name, probability, right)] with right True/False/None (None: the true class is
    unknown). The picture travels as its raw RGB bytes (base64), drawn with putImageData: PNG
    data: URLs in <img> elements cost the browser more (docs/BENCHMARKS.md, "PredictionGrid
    instead of a Bokeh figure")."""
    picture = np.asarray(picture, dtype=np.uint8)
    h, w = picture.shape[:2]
    picture = picture.reshape(h, w, -1)
    if picture.shape[2] < 3:  # grey: the same value in R, G and B
        picture = np.repeat(picture[..., :1], 3, axis=2)
    return {
        "slot": int(slot),
        "rgb": base64.b64encode(np.ascontiguousarray(picture[..., :3]).tobytes()).decode("ascii"),
        "w": int(w),
        "h": int(h),
        "title": "test image #%d · true class: %s" % (index, label if label is not None else "?"),
        "bars": [{"text": "%s %.0f%%" % (name, 100 * p), "width": float(p), "right": right} for name, p, right in top],
    }


class PredictionGrid(JSComponent):
    """See the module docstring; show(cells) puts cells (from cell()) in their slots."""

    slots = param.Integer(default=24)
    zoom = param.Number(default=1.0, doc="pictures, bars and text scaled (the presenter's large type)")
    history = param.Dict(default={"seq": 0, "cells": []})

    def __init__(self, **params):
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("min_width", 180)  # one slot: a 56 px picture and its bars
        super().__init__(**params)
        self.cells = {}
        self.seq = 0

    def show(self, cells):
        for c in cells:
            self.cells[c["slot"] % self.slots] = c
        self.seq += 1
        if self._models:  # on a page: only the new slots travel
            self._send_msg({"seq": self.seq, "cells": list(cells)})
        else:
            self.history = self._whole()

    def clear(self):
        self.cells = {}
        self.seq += 1
        self.history = self._whole()

    def _whole(self):
        return {"seq": self.seq, "cells": [self.cells[k] for k in sorted(self.cells)]}

    def _handle_msg(self, msg):
        if msg == "resync":  # the page missed a message: it gets every slot once
            self.history = self._whole()

    _stylesheets = [
        """
.cp-grid { display: grid; gap: 6px; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.cp-slot { display: flex; gap: 8px; align-items: center; height: calc(60px * var(--z, 1)); }
.cp-slot canvas { width: calc(56px * var(--z, 1)); height: calc(56px * var(--z, 1)); image-rendering: pixelated;
  border-radius: 3px; background: #eef0f3; flex: none; }
.cp-bars { display: flex; flex-direction: column; gap: 3px; flex: 1; min-width: 0; }
.cp-bar { position: relative; height: calc(15px * var(--z, 1)); font-size: calc(12px * var(--z, 1));
  line-height: calc(15px * var(--z, 1)); color: #111; white-space: nowrap; }
.cp-bar i { position: absolute; left: 0; top: 0; bottom: 0; opacity: .6; border-radius: 2px; }
.cp-bar span { position: relative; padding-left: 4px; }
.cp-bar.right i { background: #3c9d4e; }
.cp-bar.wrong i { background: #c9453b; }
.cp-bar.unknown i { background: #4a78b5; }
"""
    ]

    _esm = (
        JS_GET
        + """

export function render({ model, el }) {
  const grid = document.createElement("div")
  grid.className = "cp-grid"
  const state = { seq: 0, shown: 0 }
  const slots = []

  function build() {
    grid.innerHTML = ""
    slots.length = 0
    grid.style.setProperty("--z", model.zoom)
    grid.style.gridTemplateColumns = "repeat(auto-fill, minmax(" + 176 * model.zoom + "px, 1fr))"  // as many as fit
    for (let i = 0; i < model.slots; i++) {
      const slot = document.createElement("div")
      slot.className = "cp-slot"
      const img = document.createElement("canvas")
      img.width = img.height = 1
      const bars = document.createElement("div")
      bars.className = "cp-bars"
      const rows = []
      for (let j = 0; j < 3; j++) {
        const bar = document.createElement("div")
        const fill = document.createElement("i")
        const text = document.createElement("span")
        bar.append(fill, text)
        bars.append(bar)
        rows.push({ bar, fill, text })
      }
      slot.append(img, bars)
      grid.append(slot)
      slots.push({ img, rows })
    }
  }

  function put(c) {
    const s = slots[get(c, "slot") % slots.length]
    if (!s) return
    const w = get(c, "w"), h = get(c, "h"), raw = atob(get(c, "rgb"))
    if (s.img.width !== w || s.img.height !== h) { s.img.width = w; s.img.height = h }
    const ctx = s.img.getContext("2d")
    const pixels = ctx.createImageData(w, h)
    for (let i = 0, j = 0; i < w * h; i++, j += 3) {
      pixels.data[4 * i] = raw.charCodeAt(j)
      pixels.data[4 * i + 1] = raw.charCodeAt(j + 1)
      pixels.data[4 * i + 2] = raw.charCodeAt(j + 2)
      pixels.data[4 * i + 3] = 255
    }
    ctx.putImageData(pixels, 0, 0)
    s.img.title = get(c, "title")
    const bars = get(c, "bars") || []
    s.rows.forEach((r, j) => {
      const b = bars[j]
      r.bar.style.visibility = b ? "visible" : "hidden"
      if (!b) return
      const right = get(b, "right")
      r.bar.className = "cp-bar " + (right === true ? "right" : right === false ? "wrong" : "unknown")
      r.fill.style.width = Math.max(1, 100 * get(b, "width")) + "%"
      r.text.textContent = get(b, "text")
    })
    state.shown += 1
  }

  function load() {
    build()
    const h = model.history
    state.seq = get(h, "seq") || 0
    for (const c of get(h, "cells") || []) put(c)
  }

  model.on("history", load)
  model.on(["slots", "zoom"], load)
  model.on("msg:custom", (msg) => {
    const seq = get(msg, "seq")
    if (seq !== state.seq + 1) { if (seq > state.seq) model.send_msg("resync"); return }
    state.seq = seq
    for (const c of get(msg, "cells") || []) put(c)
  })
  ;(window.cpCharts = window.cpCharts || {})[model.name || "cp-predictions"] = state
  load()
  return grid
}
"""
    )
