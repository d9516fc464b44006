"""The static site's explaining sections, worker side: the network editor, evaluation, saliency,
training health, the convolution arithmetic and the case studies (static/sections.js draws them).

Every number comes from the server's own core (app/core: casestudies, convarith, evaluation,
health, saliency, fragments, teaching_fragments) and engine.summarize; what is new here is only
the HTML that stands in for the server's Bokeh figures (the page has no Bokeh server): a
coloured table for the confusion matrix and the conv grids, bars for per-class accuracy, small
SVG lines for the health curves, PNGs for pictures. Sections(runner) lives beside the Session
of cp_worker.py: update() adds what changed to a tick's answer (throttled: a few ms every
UPDATE_EVERY seconds), command() answers the page's requests. Heavy work happens on request
only (saliency, one conv output, a cell's images), in the worker between two ticks; the
confusion matrix is the runner's own RollingEvaluation, fed a chunk at a time between steps.

Runs in Pyodide (Python 3.8, NumPy 1.17 and up): no Panel, Bokeh or Numba.
"""

from __future__ import annotations

import html
import time

import numpy as np

import engine
from app.core import casestudies, convarith, fragments, health, saliency
from app.core import teaching_fragments as M

UPDATE_EVERY = 2.0  # seconds between two redraws of the confusion matrix and the health lines
SCALE = 6  # a 32x32 picture drawn 192 px wide
COMMANDS = ("sections", "preview", "preset", "apply_spec", "cell", "saliency", "conv", "case")
# Category10, the colours of the server's health lines (app/teaching/teaching_plots.py)
LINES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
HEALTH_TITLES = {"grad": "gradient norm ||dW||", "ratio": "update / weight ||ΔW|| / ||W||", "dead": "dead ReLUs"}
_FIELDS = {  # what a switched case-study row asks for, per layer type (as the server's view)
    "conv": ("out_channels", "kernel_size", "stride", "padding"),
    "pool": ("kernel_size", "stride"),
    "fc": ("out_features",),
    "input": ("height", "width", "channels"),
}
e = html.escape


def _mix(a, b, t):
    """A colour t of the way from hex a to hex b."""
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#%02x%02x%02x" % tuple(int(round(x + (y - x) * t)) for x, y in zip(ca, cb))


def _blue(t):
    return "#eeeeee" if not np.isfinite(t) else _mix("#f7fbff", "#08306b", float(np.clip(t, 0, 1)))


def _diverging(t):
    """t in [-1, 1]: blue (negative), white, red (positive), as the server's conv grids."""
    t = float(np.clip(t, -1, 1))
    return _mix("#ffffff", "#b2182b", t) if t >= 0 else _mix("#ffffff", "#2166ac", -t)


# -- what the sections show -------------------------------------------------------------------
def confusion_html(snap, names):
    """The RollingEvaluation snapshot's matrix as a table: rows true, columns predicted; a
    cell's colour is its share of the true class; each cell names (true, predicted) for a click."""
    cm = snap["matrix"]
    K = len(names)
    frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    head = "".join('<th class="cs-col"><span>%s</span></th>' % e(n) for n in names)
    rows = []
    for i in range(K):
        cells = "".join(
            '<td class="cs-cell" data-true="%d" data-pred="%d" title="%s as %s: %d" style="background:%s;color:%s">%s</td>'
            % (
                i,
                j,
                e(names[i]),
                e(names[j]),
                cm[i, j],
                _blue(frac[i, j]),
                "#fff" if frac[i, j] > 0.5 else "#222",
                cm[i, j] or "",
            )
            for j in range(K)
        )
        rows.append("<tr><th>%s</th>%s</tr>" % (e(names[i]), cells))
    return '<table class="cs-confusion"><tr><th class="cs-corner">true \\ predicted</th>%s</tr>%s</table>' % (
        head,
        "".join(rows),
    )


def per_class_html(snap, names):
    acc = snap["per_class"]
    rows = []
    for n, a in zip(names, acc):
        ok = np.isfinite(a)
        rows.append(
            '<div class="cs-acc"><span class="cs-acc-name">%s</span><span class="cs-acc-bar">'
            '<span style="width:%.1f%%;background:%s"></span></span><span class="cs-acc-v">%s</span></div>'
            % (
                e(n),
                100 * a if ok else 0,
                _blue(0.35 + 0.65 * a) if ok else "#eee",
                "%.0f%%" % (100 * a) if ok else "–",
            )
        )
    return "".join(rows)


def evaluation_status(snap):
    acc = snap["accuracy"]
    return "test accuracy <b>%s</b> on %d of %d test images (pass %d%s)" % (
        "–" if not np.isfinite(acc) else "%.1f%%" % (100 * acc),
        snap["evaluated"],
        snap["total"],
        snap["passes"] + 1,
        "" if snap["step"] is None else ", step %d" % snap["step"],
    )


def sparkline_svg(steps, series, log, width=300, height=150):
    """Lines of several series over the steps as an inline SVG, a log axis for norms and ratios."""
    x = np.asarray(steps, dtype=np.float64)
    ys = {}
    for name, v in series.items():
        v = np.asarray(v, dtype=np.float64)
        bad = ~np.isfinite(v) | ((v <= 0) if log else False)
        ys[name] = np.where(bad, np.nan, np.log10(np.where(bad, 1, v)) if log else v)
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] + [np.zeros(0)])
    if len(x) < 1 or not finite.size:
        return '<svg width="%d" height="%d"></svg>' % (width, height)
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    x0, x1 = float(x.min()), float(max(x.max(), x.min() + 1))
    L, R, T, B = 46, 6, 6, 18

    def px(xv):
        return L + (xv - x0) / (x1 - x0) * (width - L - R)

    def py(yv):
        return T + (hi - yv) / (hi - lo) * (height - T - B)

    label = (lambda v: "1e%.0f" % v if abs(v - round(v)) < 1e-9 else "%.1e" % 10**v) if log else (lambda v: "%.2f" % v)
    parts = [
        '<svg class="cs-spark" width="%d" height="%d" viewBox="0 0 %d %d">' % (width, height, width, height),
        '<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#ddd"/>'
        % (L, T, width - L - R, height - T - B),
    ]
    for v in (lo, hi):
        parts.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>' % (L - 3, py(v) + 3, label(v)))
    parts.append(
        '<text x="%d" y="%d" font-size="10">step %d</text><text x="%d" y="%d" font-size="10" text-anchor="end">%d</text>'
        % (L, height - 4, x0, width - R, height - 4, x1)
    )
    for k, y in enumerate(ys.values()):
        points, path = [], []
        for xv, yv in zip(x, y):
            if np.isfinite(yv):
                points.append("%.1f,%.1f" % (px(xv), py(yv)))
            elif points:
                path.append(points)
                points = []
        path.append(points)
        for p in path:
            if p:
                parts.append(
                    '<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (LINES[k % 10], " ".join(p))
                )
    parts.append("</svg>")
    return "".join(parts)


def health_html(history):
    """Per metric, the lines over the steps and the latest value of each layer."""
    data = history.data()
    steps = data["step"]
    out = []
    for metric in health.METRICS:
        keys = history.keys(metric)
        series = {k: data["%s:%s" % (metric, k)] for k in keys}
        latest = "".join(
            '<tr><td><span class="cs-swatch" style="background:%s"></span>%s</td><td>%s</td></tr>'
            % (LINES[i % 10], e(k), "%.3g" % v[-1] if v and np.isfinite(v[-1]) else "–")
            for i, (k, v) in enumerate(series.items())
        )
        out.append(
            '<div class="cs-health"><div class="cs-health-title">%s</div>%s'
            '<table class="cs-health-latest"><tr><th>layer</th><th>latest</th></tr>%s</table></div>'
            % (e(HEALTH_TITLES[metric]), sparkline_svg(steps, series, log=metric != "dead"), latest)
        )
    return '<div class="cs-health-row">%s</div>' % "".join(out)


def grid_html(values, pad_mask=None, scale=None, title=""):
    """A (HH, WW) grid of numbers on blue-white-red cells; padding cells hatched."""
    v = np.asarray(values, dtype=np.float64)
    scale = float(scale or np.abs(v).max() or 1.0)
    mask = np.zeros(v.shape, bool) if pad_mask is None else np.asarray(pad_mask, bool)
    rows = "".join(
        "<tr>%s</tr>"
        % "".join(
            '<td class="%s" style="background-color:%s">%.2f</td>'
            % ("cs-pad" if mask[i, j] else "", "#f0f0f0" if mask[i, j] else _diverging(v[i, j] / scale), v[i, j])
            for j in range(v.shape[1])
        )
        for i in range(v.shape[0])
    )
    return '<div class="cs-grid"><div class="cs-grid-title">%s</div><table>%s</table></div>' % (e(title), rows)


def window_png(x_channel, padding, window, scale=6):
    """One input channel, zero-padded, as a grey picture with the window in red and the
    unpadded input in green (what the server's window figure shows)."""
    x = np.asarray(x_channel, dtype=np.float64)
    H, W = x.shape
    P = padding
    span = float(x.max() - x.min()) or 1.0
    grey = np.full((H + 2 * P, W + 2 * P), 240.0)
    grey[P : P + H, P : P + W] = 255 * (x - x.min()) / span
    img = np.repeat(np.repeat(grey, scale, 0), scale, 1).astype(np.uint8)
    img = np.repeat(img[..., None], 3, axis=2)
    top, left, bottom, right = window

    def box(t, l, b, r, color):
        t, l, b, r = t * scale, l * scale, (b + 1) * scale - 1, (r + 1) * scale - 1
        t, l = max(t, 0), max(l, 0)
        b, r = min(b, img.shape[0] - 1), min(r, img.shape[1] - 1)
        img[t : t + 2, l : r + 1] = img[b - 1 : b + 1, l : r + 1] = color
        img[t : b + 1, l : l + 2] = img[t : b + 1, r - 1 : r + 1] = color

    box(P, P, P + H - 1, P + W - 1, (44, 160, 44))
    box(top + P, left + P, bottom + P, right + P, (214, 39, 40))
    return M.png_uri(img, 1)


# -- the worker's side of the page's sections ------------------------------------------------------
class Sections:
    """See the module docstring. runner: the Session's app.core.Runner (unthreaded)."""

    def __init__(self, runner):
        self.runner = runner
        self.marks = {"spec": None, "evaluation": None, "health": None, "t_evaluation": 0.0, "t_health": 0.0}
        self.conv = None  # the net (a copy) and image the convolution arithmetic explains
        self.case = None  # {"net", "spec", "changed", "base", "claims"}

    def _names(self):
        return [str(c) for c in self.runner.snapshot(watch_vis=False)["classes"]]

    def update(self):
        """What changed since the last call, for the page: {} most of the time."""
        r, out, now = self.runner, {}, time.monotonic()
        key = (r.spec_version, r.hyper["batch_size"], r.hyper["optimizer"])
        if key != self.marks["spec"]:
            self.marks["spec"] = key
            spec = r.net.spec()
            s = engine.summarize(spec, batch=r.hyper["batch_size"], optimizer=r.hyper["optimizer"], backend="numpy")
            out["spec"] = {
                "text": fragments.spec_text(spec),
                "table": fragments.layer_table_html(s),
                "memory": fragments.memory_html(s["memory"]),
            }
        ev = r.evaluation()
        if ev is not None and (ev, ev.version) != self.marks["evaluation"]:
            if now - self.marks["t_evaluation"] >= UPDATE_EVERY or self.marks["evaluation"] is None:
                drawn = self._evaluation(ev)
                if drawn:
                    out["evaluation"] = drawn
        h = r.health_history()
        if len(h) and (h, h.version) != self.marks["health"] and now - self.marks["t_health"] >= UPDATE_EVERY:
            self.marks["health"], self.marks["t_health"] = (h, h.version), now
            out["health"] = health_html(h)
        return out

    def _evaluation(self, ev):
        """The matrix, per-class bars and status line of the evaluation as it stands, or None."""
        snap = ev.snapshot()
        if not snap["evaluated"]:
            return None
        self.marks["evaluation"], self.marks["t_evaluation"] = (ev, snap["version"]), time.monotonic()
        names = [str(c) for c in ev.class_names]
        return {
            "status": evaluation_status(snap),
            "matrix": confusion_html(snap, names),
            "per_class": per_class_html(snap, names),
        }

    def command(self, cmd, args):
        return getattr(self, "_" + cmd)(**args)

    # -- the network editor (as app/views/editor.py) ------------------------------------------------
    def _sections(self):
        """What the page's controls list: presets, classes, case studies."""
        return {
            "presets": sorted(engine.PRESETS),
            "classes": self._names(),
            "case_studies": casestudies.CASE_STUDIES,
            "switch_types": list(casestudies.SWITCH_TYPES),
            "fields": _FIELDS,
        }

    def _preset(self, name=None):
        r = self.runner
        return {"text": fragments.spec_text(r.net.spec() if not name else engine.get_preset(name))}

    def _preview(self, text):
        r = self.runner
        try:
            layers = engine.normalize(text)
            s = engine.summarize(
                engine.to_json(layers), batch=r.hyper["batch_size"], optimizer=r.hyper["optimizer"], backend="numpy"
            )
        except engine.SpecError as err:
            return {"error": str(err), "html": "", "trainable": False}
        out = {"html": fragments.layer_table_html(s, compact=True) + fragments.memory_html(s["memory"])}
        try:
            r.check_spec(engine.to_json(layers))
            out["trainable"] = True
        except engine.SpecError as err:
            out.update(note="This net can be inspected but not trained here: %s" % err, trainable=False)
        return out

    def _apply_spec(self, text):
        try:
            self.runner.apply_spec(text)
        except engine.SpecError as err:
            return {"error": str(err)}
        self.conv = None
        return {"done": "Applied: the net is rebuilt and training restarts."}

    # -- evaluation: a cell's images (as app/teaching/live_views.EvaluationView.show_cell) ----------
    def _cell(self, true, pred, limit=24):
        ev = self.runner.evaluation()
        if ev is None:
            return {"html": "<p>No evaluation yet.</p>", "count": 0}
        names = [str(c) for c in ev.class_names]
        items = ev.cell(int(true), int(pred), limit)
        images = ev.images[[it["index"] for it in items]]
        what = "misclassified as" if true != pred else "correctly classified as"
        head = "<h4>%s %s %s: %d shown</h4>" % (e(names[true]), what, e(names[pred]), len(items))
        # the matrix as it stands too: the page redraws it, so the clicked cell and its images agree
        out = {"html": head + M.gallery_html(items, images, names), "count": len(items)}
        out["evaluation"] = self._evaluation(ev)
        return out

    # -- saliency (as SaliencyView.refresh) -----------------------------------------------------------
    def _saliency(self, index=None, class_index=-1):
        r = self.runner
        if index is None:
            _, data = r.vis()
            if data is None:
                return {"error": "no example yet: pick a test image"}
            image, caption = data["image"], data.get("caption", "the network visualisation's example")
        else:
            image, label = r.test_image(int(index))
            caption = "test image #%d (%s)" % (int(index), self._names()[label])
        net = r.inference_net()
        smap, k, probs = saliency.saliency_map(net, image, None if class_index < 0 else int(class_index), copy=False)
        names = self._names()
        top = np.argsort(-probs)[:3]
        guesses = ", ".join("%s %.0f%%" % (e(names[c]), 100 * probs[c]) for c in top)
        heat = saliency.heat_rgba(saliency.normalize_map(smap))[..., :3]
        return {
            "html": '<div class="cs-pics"><figure><img src="%s" alt="input"><figcaption>%s</figcaption></figure>'
            '<figure><img src="%s" alt="saliency map"><figcaption>saliency |d score / d input|</figcaption></figure></div>'
            "<p>Gradient of the score of <b>%s</b> (p = %.0f%%) with respect to each input pixel (largest over "
            "the colour channels): bright pixels change that score most.<br>Top-3: %s</p>"
            % (M.png_uri(image, SCALE), e(caption), M.png_uri(heat, SCALE), e(names[k]), 100 * probs[k], guesses),
            "class": k,
        }

    # -- the convolution arithmetic (as ConvArithmeticView) ----------------------------------------
    def _conv(self, layer=None, row=0, col=0, channel=0, in_channel=0, take=False):
        r = self.runner
        if self.conv is None or take:
            net = r.inference_net()
            _, data = r.vis()
            image = data["image"] if data is not None else None
            if image is None:
                image = np.random.RandomState(0).randint(0, 256, net.input_shape).astype(np.uint8)
            net.forward(net.prepare(image), pre_activations=True)
            self.conv = net
        net = self.conv
        names = convarith.conv_layers(net)
        if not names:
            return {"layers": [], "html": "<p>This net has no conv layer.</p>"}
        layer = layer if layer in names else names[0]
        i = convarith.layer_index(net, layer)
        F, Ho, Wo = net.layers_spec[i]["out_shape"]
        C = net.layers_spec[i]["in_shape"][0]
        limits = {"row": Ho - 1, "col": Wo - 1, "channel": F - 1, "in_channel": C - 1}
        row, col, channel, in_channel = (
            min(max(int(v), 0), limits[k])
            for k, v in (("row", row), ("col", col), ("channel", channel), ("in_channel", in_channel))
        )
        res = convarith.conv_arithmetic(net, layer, row, col, channel)
        c = min(in_channel, res["patch"].shape[2] - 1)
        x = net.acts[i - 1][0]
        scale = float(np.abs(res["products"]).max()) or 1.0
        sums = " + ".join("%.3f" % s for s in res["channel_sums"][:32])
        more = " + …" if len(res["channel_sums"]) > 32 else ""
        body = (
            '<div class="cs-grids"><div class="cs-grid"><div class="cs-grid-title">input: window red, image green'
            '</div><img src="%s" alt="the window on the input"></div>%s%s%s</div>'
            % (
                window_png(x[:, :, c], res["padding"], res["window"]),
                grid_html(res["patch"][:, :, c], res["pad_mask"], title="input patch"),
                grid_html(res["filter"][:, :, c], title="filter"),
                grid_html(res["products"][:, :, c], res["pad_mask"], scale=scale, title="products"),
            )
        )
        text = (
            "<p>%s</p><p class='cs-sum'>per input channel: %s%s<br>= <b>%.4f</b> + bias %.4f = <b>%.4f</b>"
            " &nbsp; the net computed <b>%.4f</b> (%s)</p><p>Grids show input channel %d of %d.</p>"
            % (
                e(convarith.explain(res)),
                sums,
                more,
                res["sum"],
                res["bias"],
                res["total"],
                res["net_value"],
                "✓ equal" if res["matches"] else "✗ differs",
                c,
                res["patch"].shape[2],
            )
        )
        values = {"layer": layer, "row": row, "col": col, "channel": channel, "in_channel": in_channel}
        return {"layers": names, "limits": limits, "values": values, "html": body + text, "total": res["total"]}

    # -- the case studies (as CaseStudyView) ------------------------------------------------------
    def _case(self, net=None, row=None, changes=None, reset=False):
        c = self.case
        if c is None or reset or (net and net != c["net"]):
            name = net or (c["net"] if c else "vgg16")
            base = casestudies.case_table(name)
            c = self.case = {
                "net": name,
                "spec": base["spec"],
                "changed": None,
                "base": base,
                "claims": casestudies.check_claims(name),
            }
        error = None
        table = c["base"] if c["changed"] is None else casestudies.case_table(c["spec"])
        if changes:
            layer = next(x for x in c["spec"] if x["name"] == row)
            kind = changes.pop("type", layer["type"])
            if kind == "input":
                changes = {"shape": [int(changes[k]) for k in ("height", "width", "channels")]}
            else:
                changes = {k: int(changes[k]) for k in _FIELDS.get(kind, ()) if k in changes}
                if kind != layer["type"]:
                    changes["type"] = kind
            try:
                table = casestudies.case_table(casestudies.switch_layer(c["spec"], row, **changes))
                c["spec"], c["changed"] = table["spec"], row
            except ValueError as err:  # SpecError is a ValueError
                error = "Not a valid net: %s" % err
        delta = ""
        if c["changed"] is not None:
            a, b = c["base"]["totals"], table["totals"]
            delta = (
                "<p>Changed from the slide's net: params {:,} → <b>{:,}</b>; memory {:,} → <b>{:,}</b> values per "
                "image.</p>".format(a["params"], b["params"], a["memory"], b["memory"])
            )
        rows = []
        for layer in c["spec"]:
            values = dict(layer)
            if layer["type"] == "input":
                values.update(zip(("height", "width", "channels"), layer["shape"]))
            rows.append(
                {
                    "name": layer["name"],
                    "type": layer["type"],
                    "values": {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)},
                }
            )
        claims = c["claims"] if c["changed"] is None else ()
        return {
            "net": c["net"],
            "rows": rows,
            "error": error,
            "html": "%s<h3>%s</h3>%s<h3>Where the slides' arithmetic is off</h3>%s"
            % (
                delta,
                e(casestudies.CASE_STUDIES[c["net"]]),
                M.case_table_html(table, c["changed"], claims),
                M.corrections_html(c["claims"]),
            ),
        }


__all__ = ["COMMANDS", "Sections"]
