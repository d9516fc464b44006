"""LineChart: a light line chart for live curves, drawn on one canvas by a few lines of JavaScript.

Why not a Bokeh figure: the page's two curve figures cost the browser a good share of a core
(docs/BENCHMARKS.md, "LineChart instead of Bokeh curve figures"), and that core is taken from
training on a 2-core laptop. A Bokeh figure's redraw re-measures its axes' labels and
re-renders its legend, and reads CSS through getComputedStyle for every visual, each time new
points arrive; this chart only draws its lines, grid and tick labels, and leaves the rest of
the page alone. It keeps what the figures showed: title, legend, axes
labelled, NaN as gaps, and a readout of the values under the mouse. Beside the live lines:
`markers` (a few exact points drawn as dots, e.g. whole-set accuracies), `overlays` (earlier
runs as faint lines, each a whole short series) and a `note` under the title (what a line
averages); all three are small and sent whole when they change.

Data: the server keeps the last `rollover` points of each column (`columns`, plain lists).
New points go to the page as a message (`append`), never the whole history; the page gets the
whole history (`history`) when its view is built, and again if it finds a gap in what it was
sent (a view built again, e.g. when the presenter returns to the section), by asking for it.
"""

from __future__ import annotations

import math

import param
from panel.custom import JSComponent


def _plain(v):
    v = float(v)
    return v if math.isfinite(v) else None  # JSON has no NaN: null is a gap in the line


# For the components' JavaScript: a dict from Python arrives as a Map or as a plain object,
# depending on how it travelled (a property or a message).
JS_GET = """
function get(obj, key) { return obj == null ? undefined : obj instanceof Map ? obj.get(key) : obj[key] }
"""


class LineChart(JSComponent):
    """See the module docstring. lines: [{"column", "label", "color", "width"}]."""

    title = param.String(default="")
    x = param.String(default="x", doc="the column on the x axis (ascending)")
    x_label = param.String(default="")
    y_label = param.String(default="")
    lines = param.List(default=[])
    y_min = param.Number(default=None, allow_None=True, doc="fixed bottom of the y axis (None: from the data)")
    y_max = param.Number(default=None, allow_None=True, doc="fixed top of the y axis (None: from the data)")
    percent = param.Boolean(default=False, doc="y values are fractions, labelled as percentages")
    zoom = param.Number(default=1.0, doc="text and line widths scaled (the presenter's large type)")
    history = param.Dict(default={"start": 0, "columns": {}}, doc="what a new view starts from")
    rollover = param.Integer(default=4000)
    note = param.String(default="", doc="a line of small text under the title")
    markers = param.List(default=[], doc='[{"label", "color", "points": [[x, y], ...]}] drawn as dots')
    overlays = param.List(default=[], doc='[{"label", "color", "x": [...], "y": [...]}] drawn as faint lines')

    def __init__(self, **params):
        params.setdefault("sizing_mode", "stretch_width")
        params.setdefault("height", 300)
        super().__init__(**params)
        self.total = 0  # points appended since the last clear()
        self.columns = {}
        self.clear()

    def names(self):
        return [self.x] + [line["column"] for line in self.lines]

    def clear(self):
        """A new run: no points."""
        self.total = 0
        self.columns = {c: [] for c in self.names()}
        self.history = self._whole()

    def append(self, data):
        """Add points: data maps every column to a sequence of the same length."""
        new = {c: [_plain(v) for v in data[c]] for c in self.names()}
        n = len(new[self.x])
        if n == 0:
            return
        for c, values in new.items():
            column = self.columns[c]
            column.extend(values)
            del column[: max(0, len(column) - self.rollover)]
        self.total += n
        if self._models:  # on a page: only the new points travel
            self._send_msg({"start": self.total - n, "columns": new})
        else:  # no page yet: the first one gets the whole history when it is built
            self.history = self._whole()

    def _whole(self):
        return {
            "start": self.total - len(self.columns[self.x]),
            "columns": {c: list(v) for c, v in self.columns.items()},
        }

    def _handle_msg(self, msg):
        if msg == "resync":  # the page missed points: it gets them all once
            self.history = self._whole()

    _stylesheets = [
        """
.cp-chart { position: relative; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #101828; }
.cp-chart-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; padding: 0 4px 4px 4px; }
.cp-chart-title { font-weight: 600; }
.cp-chart-key { display: inline-flex; align-items: center; gap: 5px; color: #344054; max-width: 100%; overflow-wrap: anywhere; }
.cp-chart-key i { display: inline-block; flex: none; width: 18px; border-top-style: solid; }
.cp-chart-key b { display: inline-block; flex: none; width: 8px; height: 8px; border-radius: 50%; border: 1.5px solid #fff; }
.cp-chart-note { flex-basis: 100%; color: #667085; }
.cp-chart canvas { display: block; width: 100%; }
.cp-chart-tip { position: absolute; pointer-events: none; background: rgba(255,255,255,.95); border: 1px solid #d0d5dd;
  border-radius: 6px; padding: 4px 8px; white-space: nowrap; box-shadow: 0 1px 3px rgba(16,24,40,.12); display: none; }
"""
    ]

    _esm = (
        JS_GET
        + """
const FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif'

function niceStep(span, n) {
  const raw = span / Math.max(1, n)
  const p = Math.pow(10, Math.floor(Math.log10(raw)))
  for (const m of [1, 2, 2.5, 5, 10]) { if (m * p >= raw) return m * p }
  return 10 * p
}

function ticks(lo, hi, n) {
  if (!(hi > lo)) return [lo]
  const step = niceStep(hi - lo, n)
  const out = []
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v)
  return out
}


function fmtCount(v) {
  const a = Math.abs(v)
  if (a >= 1e6) return +(v / 1e6).toFixed(2) + "M"
  if (a >= 1e3) return +(v / 1e3).toFixed(1) + "k"
  return String(+v.toFixed(2))
}

export function render({ model, el }) {
  const root = document.createElement("div")
  root.className = "cp-chart"
  const head = document.createElement("div")
  head.className = "cp-chart-head"
  const canvas = document.createElement("canvas")
  const tip = document.createElement("div")
  tip.className = "cp-chart-tip"
  root.append(head, canvas, tip)
  const state = { total: 0, x: [], ys: {}, hover: -1, draws: 0 }
  const charts = (window.cpCharts = window.cpCharts || {})
  if (model.name) charts[model.name] = state  // for tests and the curious: what the page holds

  function lines() {
    return (model.lines || []).map((l) => ({
      column: get(l, "column"), label: get(l, "label"), color: get(l, "color"), width: get(l, "width"), alpha: get(l, "alpha"),
    }))
  }

  function header() {
    const z = model.zoom
    head.innerHTML = ""
    const t = document.createElement("span")
    t.className = "cp-chart-title"
    t.style.fontSize = 15 * z + "px"
    t.textContent = model.title
    head.append(t)
    // one legend key: a swatch (<i> a line, <b> a dot) styled by `style`, then the label
    const key = (tag, style, label) => {
      const k = document.createElement("span")
      k.className = "cp-chart-key"
      k.style.fontSize = 12 * z + "px"
      const sw = document.createElement(tag)
      Object.assign(sw.style, style)
      k.append(sw, document.createTextNode(label))
      head.append(k)
    }
    for (const l of lines())
      key("i", {borderTopColor: l.color, borderTopWidth: Math.max(2, l.width || 2) * z + "px"}, l.label)
    for (const m of series(model.markers))
      key("b", {background: m.color}, m.label)
    for (const o of series(model.overlays))
      key("i", {borderTopColor: o.color, borderTopWidth: 2 * z + "px", borderTopStyle: "dashed"}, o.label)
    // what the page holds, for tests: the earlier runs' lines and the markers
    state.overlays = series(model.overlays).map((o) => ({ label: o.label, n: o.x.length }))
    state.markers = series(model.markers).reduce((n, m) => n + m.points.length, 0)
    if (model.note) {
      const n = document.createElement("span")
      n.className = "cp-chart-note"
      n.style.fontSize = 11.5 * z + "px"
      n.textContent = model.note
      head.append(n)
    }
  }

  // markers and overlays: small lists of plain objects (or Maps), read the same way
  function series(list) {
    return Array.from(list || [], (m) => ({
      label: get(m, "label"), color: get(m, "color"), points: Array.from(get(m, "points") || []),
      x: Array.from(get(m, "x") || []), y: Array.from(get(m, "y") || [], (v) => (v == null ? NaN : v)),
    }))
  }

  function load() {
    const h = model.history
    const cols = get(h, "columns")
    const column = (c) => Array.from(get(cols, c) || [], (v) => (v == null ? NaN : v))
    state.x = column(model.x)
    state.ys = {}
    for (const l of lines()) state.ys[l.column] = column(l.column)
    state.total = (get(h, "start") || 0) + state.x.length
  }

  function append(msg) {
    const cols = get(msg, "columns"), start = get(msg, "start")
    if (cols == null) return
    const n = get(cols, model.x).length
    if (start > state.total) { model.send_msg("resync"); return }  // points missed: ask for all
    const skip = state.total - start  // already held (sent twice)
    if (skip >= n) return
    const push = (arr, vals) => { for (let i = skip; i < n; i++) arr.push(vals[i] == null ? NaN : vals[i]) }
    push(state.x, get(cols, model.x))
    for (const l of lines()) push(state.ys[l.column] || (state.ys[l.column] = []), get(cols, l.column) || [])
    state.total += n - skip
    const extra = state.x.length - model.rollover
    if (extra > 0) {
      state.x.splice(0, extra)
      for (const k in state.ys) state.ys[k].splice(0, extra)
    }
    schedule()
  }

  let pending = false
  function schedule() {
    if (pending) return
    pending = true
    requestAnimationFrame(() => { pending = false; draw() })
  }

  function yRange() {
    let lo = Infinity, hi = -Infinity
    for (const l of lines()) {
      for (const v of state.ys[l.column] || []) { if (v < lo) lo = v; if (v > hi) hi = v }
    }
    for (const o of series(model.overlays)) for (const v of o.y) { if (v < lo) lo = v; if (v > hi) hi = v }
    if (model.y_min != null) lo = model.y_min
    if (model.y_max != null) hi = model.y_max
    if (!isFinite(lo) || !isFinite(hi)) { lo = 0; hi = 1 }
    if (hi <= lo) hi = lo + 1
    if (model.y_max == null) hi += (hi - lo) * 0.04
    return [lo, hi]
  }

  function geometry() {
    const z = model.zoom
    const w = canvas.clientWidth, h = canvas.clientHeight
    return { z, w, h, left: 58 * z, right: w - 12 * z, top: 8 * z, bottom: h - 44 * z }
  }

  function draw() {
    state.draws += 1
    const dpr = window.devicePixelRatio || 1
    const g = geometry()
    if (g.w < 40 || g.h < 40) return
    if (canvas.width !== Math.round(g.w * dpr) || canvas.height !== Math.round(g.h * dpr)) {
      canvas.width = Math.round(g.w * dpr)
      canvas.height = Math.round(g.h * dpr)
    }
    const ctx = canvas.getContext("2d")
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, g.w, g.h)
    ctx.fillStyle = "#fbfbfd"
    ctx.fillRect(g.left, g.top, g.right - g.left, g.bottom - g.top)
    const xs = state.x
    let x0 = xs.length ? xs[0] : 0
    let x1 = xs.length ? xs[xs.length - 1] : 1
    for (const o of series(model.overlays)) {  // an earlier run may have gone further
      if (o.x.length) { x0 = Math.min(x0, o.x[0]); x1 = Math.max(x1, o.x[o.x.length - 1]) }
    }
    if (!(x1 > x0)) x1 = x0 + 1
    const [y0, y1] = yRange()
    const px = (v) => g.left + ((v - x0) / (x1 - x0)) * (g.right - g.left)
    const py = (v) => g.bottom - ((v - y0) / (y1 - y0)) * (g.bottom - g.top)
    ctx.font = 12 * g.z + "px " + FONT
    ctx.lineWidth = 1
    ctx.strokeStyle = "#e4e7ec"
    ctx.fillStyle = "#475467"
    ctx.textAlign = "right"
    ctx.textBaseline = "middle"
    for (const v of ticks(y0, y1, Math.max(2, Math.floor((g.bottom - g.top) / (42 * g.z))))) {
      const y = Math.round(py(v)) + 0.5
      ctx.beginPath(); ctx.moveTo(g.left, y); ctx.lineTo(g.right, y); ctx.stroke()
      ctx.fillText(model.percent ? Math.round(v * 100) + "%" : fmtCount(v), g.left - 6 * g.z, y)
    }
    ctx.textAlign = "center"
    ctx.textBaseline = "top"
    for (const v of ticks(x0, x1, Math.max(2, Math.floor((g.right - g.left) / (90 * g.z))))) {
      const x = Math.round(px(v)) + 0.5
      ctx.beginPath(); ctx.moveTo(x, g.top); ctx.lineTo(x, g.bottom); ctx.stroke()
      ctx.fillText(fmtCount(v), x, g.bottom + 5 * g.z)
    }
    ctx.strokeStyle = "#98a2b3"
    ctx.strokeRect(g.left + 0.5, g.top + 0.5, g.right - g.left, g.bottom - g.top)
    ctx.font = 14 * g.z + "px " + FONT
    ctx.fillStyle = "#344054"
    ctx.fillText(model.x_label, (g.left + g.right) / 2, g.h - 18 * g.z)
    ctx.save()
    ctx.translate(14 * g.z, (g.top + g.bottom) / 2)
    ctx.rotate(-Math.PI / 2)
    ctx.textBaseline = "middle"
    ctx.fillText(model.y_label, 0, 0)
    ctx.restore()
    ctx.save()
    ctx.beginPath(); ctx.rect(g.left, g.top, g.right - g.left, g.bottom - g.top); ctx.clip()
    ctx.lineJoin = "round"
    ctx.setLineDash([6 * g.z, 4 * g.z])
    for (const o of series(model.overlays)) {
      ctx.strokeStyle = o.color
      ctx.globalAlpha = 0.45
      ctx.lineWidth = 1.5 * g.z
      ctx.beginPath()
      let pen = false
      for (let i = 0; i < o.x.length; i++) {
        if (!isFinite(o.y[i]) || !isFinite(o.x[i])) { pen = false; continue }
        if (pen) ctx.lineTo(px(o.x[i]), py(o.y[i])); else { ctx.moveTo(px(o.x[i]), py(o.y[i])); pen = true }
      }
      ctx.stroke()
    }
    ctx.setLineDash([])
    for (const l of lines()) {
      const ys = state.ys[l.column] || []
      ctx.strokeStyle = l.color
      ctx.globalAlpha = l.alpha == null ? 1 : l.alpha
      ctx.lineWidth = (l.width || 2) * g.z
      ctx.beginPath()
      let pen = false
      for (let i = 0; i < xs.length; i++) {
        const v = ys[i]
        if (!isFinite(v) || !isFinite(xs[i])) { pen = false; continue }
        if (pen) ctx.lineTo(px(xs[i]), py(v)); else { ctx.moveTo(px(xs[i]), py(v)); pen = true }
      }
      ctx.stroke()
    }
    ctx.globalAlpha = 1
    for (const m of series(model.markers)) {
      ctx.fillStyle = m.color
      ctx.strokeStyle = "#ffffff"
      ctx.lineWidth = 1.5 * g.z
      for (const p of m.points) {
        const x = get(p, 0), y = get(p, 1)
        if (x == null || y == null || !isFinite(x) || !isFinite(y)) continue
        ctx.beginPath(); ctx.arc(px(x), py(y), 4.5 * g.z, 0, 2 * Math.PI); ctx.fill(); ctx.stroke()
      }
    }
    if (state.hover >= 0 && state.hover < xs.length) {
      const x = Math.round(px(xs[state.hover])) + 0.5
      ctx.strokeStyle = "#667085"
      ctx.lineWidth = 1
      ctx.beginPath(); ctx.moveTo(x, g.top); ctx.lineTo(x, g.bottom); ctx.stroke()
    }
    ctx.restore()
  }

  function readout(ev) {
    const g = geometry()
    const r = canvas.getBoundingClientRect()
    const mx = ev.clientX - r.left
    const xs = state.x
    if (!xs.length || mx < g.left || mx > g.right) { leave(); return }
    const x0 = xs[0], x1 = xs[xs.length - 1] > x0 ? xs[xs.length - 1] : x0 + 1
    const target = x0 + ((mx - g.left) / (g.right - g.left)) * (x1 - x0)
    let lo = 0, hi = xs.length - 1
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < target) lo = mid + 1; else hi = mid }
    if (lo > 0 && target - xs[lo - 1] < xs[lo] - target) lo -= 1
    state.hover = lo
    const fmt = (v) => (!isFinite(v) ? "–" : model.percent ? (v * 100).toFixed(1) + "%" : v.toFixed(3))
    tip.textContent = ""
    const rows = [[model.x_label || model.x, Math.round(xs[lo]).toLocaleString("en-US")]]
    for (const l of lines()) rows.push([l.label, fmt((state.ys[l.column] || [])[lo])])
    for (const [k, v] of rows) {
      const d = document.createElement("div")
      d.textContent = k + ": " + v
      tip.append(d)
    }
    tip.style.fontSize = 12 * g.z + "px"
    tip.style.display = "block"
    const left = mx + 14 + tip.offsetWidth > g.w ? mx - 14 - tip.offsetWidth : mx + 14
    tip.style.left = left + "px"
    tip.style.top = canvas.offsetTop + g.top + 4 + "px"
    schedule()
  }

  function leave() {
    tip.style.display = "none"
    if (state.hover !== -1) { state.hover = -1; schedule() }
  }

  canvas.addEventListener("mousemove", readout)
  canvas.addEventListener("mouseleave", leave)
  function size() { canvas.style.height = Math.max(60, el.clientHeight - head.offsetHeight) + "px"; schedule() }
  new ResizeObserver(size).observe(el)
  model.on("history", () => { load(); schedule() })
  model.on("msg:custom", append)
  model.on(["title", "lines", "zoom", "note", "markers", "overlays"], () => { header(); size() })
  model.on(["y_min", "y_max", "percent", "x_label", "y_label"], schedule)
  header()
  load()
  setTimeout(size, 0)
  return root
}
"""
    )
