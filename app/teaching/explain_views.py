"""Panel views that explain the numbers: the case-study tables and the convolution arithmetic.

    CaseStudyView()                           LeNet-5 / AlexNet / VGG-16 as the slides show them,
                                              any row switchable, the slides' errors corrected
    ConvArithmeticView(get_net, get_image)    one conv output of the live net, term by term

Both change nothing outside themselves (no runner state), so every session, a lecture's
viewers included, may use them freely. The numbers come from casestudies.py and
convarith.py (app/core/), the figures from teaching_plots.py.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param

from ..core import teaching_fragments as M
from ..core.casestudies import CASE_STUDIES, DEFAULTS, SWITCH_TYPES, case_table, check_claims, switch_layer
from ..core.convarith import conv_arithmetic, conv_layers, explain, layer_index
from . import teaching_plots as F

_FIELDS = {  # the widgets each row type shows
    "conv": ("out_channels", "kernel_size", "stride", "padding"),
    "pool": ("kernel_size", "stride"),
    "fc": ("out_features",),
    "input": ("height", "width", "channels"),
}


def _signed(n):
    return f"{n:+,}" if n else "±0"


class CaseStudyView(pn.viewable.Viewer):
    """A case study's table; pick a row, switch its layer, see every number change."""

    net = param.Selector(default="vgg16", objects=list(CASE_STUDIES))

    def __init__(self, **params):
        super().__init__(**params)
        self.spec = None  # the current (possibly switched) spec
        self.changed = None
        self.net_select = pn.widgets.Select(
            label="case study", options={v: k for k, v in CASE_STUDIES.items()}, value=self.net
        )
        self.row_select = pn.widgets.Select(label="row")
        self.type_select = pn.widgets.Select(label="layer type", options=list(SWITCH_TYPES))
        self.fields = {
            key: pn.widgets.IntInput(label=key.replace("_", " "), start=0, width=110)
            for key in sorted({k for keys in _FIELDS.values() for k in keys})
        }
        self.apply_button = pn.widgets.Button(label="Switch this row", color="primary")
        self.reset_button = pn.widgets.Button(label="Back to the slide's net")
        self.message = pn.pane.Alert("", alert_type="danger", visible=False)
        self.delta = pn.pane.HTML("")
        self.table_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.fixes_pane = pn.pane.HTML("", sizing_mode="stretch_width")
        self.net_select.param.watch(lambda e: setattr(self, "net", e.new), "value")
        self.row_select.param.watch(lambda e: self._load_row(), "value")
        self.type_select.param.watch(lambda e: self._on_type(), "value")
        self.apply_button.on_click(lambda e: self.apply())
        self.reset_button.on_click(lambda e: self.reset())
        self._reset()

    @param.depends("net", watch=True)
    def _reset(self):
        self.net_select.value = self.net
        self.spec = case_table(self.net)["spec"]
        self.changed = None
        self.base = case_table(self.net)
        self.claims = check_claims(self.net)
        self.fixes_pane.object = "<h3>Where the slides' arithmetic is off</h3>" + M.corrections_html(self.claims)
        self.row_select.options = [r["name"] for r in self.base["rows"]]
        self.row_select.value = self.base["rows"][1]["name"]
        self._render(self.base)
        self._load_row()

    def reset(self):
        self._reset()

    def _layer(self, name):
        return next(layer for layer in self.spec if layer["name"] == name)

    def _load_row(self):
        if not self.row_select.value:
            return
        layer = self._layer(self.row_select.value)
        is_input = layer["type"] == "input"
        self.type_select.disabled = is_input
        self.type_select.options = ["input"] if is_input else list(SWITCH_TYPES)
        self.type_select.value = layer["type"]
        values = dict(layer)
        if is_input:
            values.update(zip(("height", "width", "channels"), layer["shape"]))
        for key, widget in self.fields.items():
            if key in values:
                widget.value = int(values[key])
        self._show_fields()

    def _on_type(self):
        """A new type keeps what still applies (a conv's kernel for a pool), else defaults."""
        kind = self.type_select.value
        layer = self._layer(self.row_select.value)
        for key, value in DEFAULTS.get(kind, {}).items():
            if key in self.fields:
                self.fields[key].value = int(layer.get(key, value))
        self._show_fields()

    def _show_fields(self):
        shown = _FIELDS.get(self.type_select.value, ())
        for key, widget in self.fields.items():
            widget.visible = key in shown

    def apply(self, name=None, **changes):
        """Switch a row: by default the selected row with the widgets' values; or a given
        row with the given changes (type=..., kernel_size=...). Returns the error or None."""
        name = name or self.row_select.value
        if not changes:
            kind = self.type_select.value
            changes = {k: self.fields[k].value for k in _FIELDS.get(kind, ())}
            if kind == "input":
                changes = {"shape": [changes["height"], changes["width"], changes["channels"]]}
            elif kind != self._layer(name)["type"]:
                changes["type"] = kind
        try:
            spec = switch_layer(self.spec, name, **changes)
            table = case_table(spec)
        except ValueError as e:  # SpecError is a ValueError
            self.message.object = "Not a valid net: %s" % e
            self.message.visible = True
            return str(e)
        self.spec, self.changed = table["spec"], name
        self._render(table)
        return None

    def _render(self, table):
        self.table = table
        self.message.visible = False
        claims = self.claims if self.changed is None else ()
        self.table_pane.object = "<h3>%s</h3>%s" % (
            html.escape(CASE_STUDIES[self.net]),
            M.case_table_html(table, self.changed, claims),
        )
        if self.changed is None:
            self.delta.object = ""
            return
        a, b = self.base["totals"], table["totals"]
        self.delta.object = (
            "<p>Changed from the slide's net: params {:,} → <b>{:,}</b> ({}); memory {:,} → <b>{:,}</b> "
            "({}) values per image.</p>".format(
                a["params"],
                b["params"],
                _signed(b["params"] - a["params"]),
                a["memory"],
                b["memory"],
                _signed(b["memory"] - a["memory"]),
            )
        )

    def __panel__(self):
        # two short rows rather than one long one: a row of fixed-width widgets sets the page's
        # minimum width
        for widget, width in ((self.net_select, 220), (self.row_select, 260), (self.type_select, 160)):
            widget.width = width
        controls = pn.Column(
            pn.Row(self.net_select, self.row_select, self.type_select),
            pn.Row(*self.fields.values(), self.apply_button, self.reset_button),
        )
        return pn.Column(
            controls, self.message, self.delta, self.table_pane, self.fixes_pane, sizing_mode="stretch_width"
        )


class ConvArithmeticView(pn.viewable.Viewer):
    """Pick a conv layer, an output position and channel: see the window of the input, the
    filter, the products and the sum that make that one activation.

    get_net() gives the live net (the view works on a copy: it runs its own forward);
    get_image() gives one uint8 image (H, W, C) or None (a seeded random image is used).
    """

    def __init__(self, get_net, get_image=None, copy_net=True, **params):
        super().__init__(**params)
        self.get_net = get_net
        self.get_image = get_image
        self.copy_net = copy_net
        self.net = None
        self.result = None
        self.layer_select = pn.widgets.Select(label="conv layer")
        self.row = pn.widgets.IntSlider(label="output row", start=0, end=1, value=0)
        self.col = pn.widgets.IntSlider(label="output col", start=0, end=1, value=0)
        self.channel = pn.widgets.IntSlider(label="filter (output channel)", start=0, end=1, value=0)
        self.in_channel = pn.widgets.IntSlider(label="input channel shown", start=0, end=1, value=0)
        self.refresh_button = pn.widgets.Button(label="Take the live net now", color="primary")
        self.window_fig, self.window_img, self.window_boxes = F.window_figure()
        self.grids = {
            k: F.grid_figure(t) for k, t in (("patch", "input patch"), ("filter", "filter"), ("products", "products"))
        }
        self.text = pn.pane.HTML("", sizing_mode="stretch_width")
        self.layer_select.param.watch(lambda e: self._on_layer(), "value")
        for w in (self.row, self.col, self.channel, self.in_channel):
            w.param.watch(lambda e: self.compute(), "value")
        self.refresh_button.on_click(lambda e: self.refresh())
        self.refresh()

    def refresh(self):
        """Copy the live net, run the image through it, and recompute."""
        net = self.get_net()
        if net is None:
            self.text.object = "<p>No net yet.</p>"
            return
        self.net = net.copy() if self.copy_net else net
        image = self.get_image() if self.get_image is not None else None
        if image is None:
            image = np.random.RandomState(0).randint(0, 256, self.net.input_shape).astype(np.uint8)
        self.net.forward(self.net.prepare(image), pre_activations=True)
        names = conv_layers(self.net)
        if not names:
            self.text.object = "<p>This net has no conv layer.</p>"
            return
        current = self.layer_select.value
        self.layer_select.options = names
        if current in names:
            self._on_layer()
        else:
            self.layer_select.value = names[0]

    def _on_layer(self):
        if self.net is None or not self.layer_select.value:
            return
        i = layer_index(self.net, self.layer_select.value)
        F_, Ho, Wo = self.net.layers_spec[i]["out_shape"]
        C = self.net.layers_spec[i]["in_shape"][0]
        for w, end in ((self.row, Ho - 1), (self.col, Wo - 1), (self.channel, F_ - 1), (self.in_channel, C - 1)):
            w.value = min(w.value, end)
            w.end = max(end, 1)  # a slider needs start < end; a 1-wide range keeps value 0
            w.disabled = end == 0
        self.compute()

    def compute(self):
        if self.net is None or not self.layer_select.value:
            return None
        r = conv_arithmetic(self.net, self.layer_select.value, self.row.value, self.col.value, self.channel.value)
        self.result = r
        c = min(self.in_channel.value, r["patch"].shape[2] - 1)
        x = self.net.acts[layer_index(self.net, r["layer"]) - 1][0]
        img, boxes = F.window_data(x[:, :, c], r["padding"], r["window"])
        self.window_img.data, self.window_boxes.data = img, boxes
        scale = float(np.abs(r["products"]).max()) or 1.0
        self.grids["patch"][1].data = F.grid_data(r["patch"][:, :, c], r["pad_mask"])
        self.grids["filter"][1].data = F.grid_data(r["filter"][:, :, c])
        self.grids["products"][1].data = F.grid_data(r["products"][:, :, c], r["pad_mask"], scale=scale)
        sums = " + ".join("%.3f" % s for s in r["channel_sums"][:32])
        more = " + …" if len(r["channel_sums"]) > 32 else ""
        tick = "✓ equal" if r["matches"] else "✗ differs"
        self.text.object = (
            "<p>%s</p><p style='font-size:1.2em'>per input channel: %s%s<br>= <b>%.4f</b> + bias %.4f = <b>%.4f</b>"
            " &nbsp; the net computed <b>%.4f</b> (%s)</p><p>Grids show input channel %d of %d.</p>"
            % (
                html.escape(explain(r)),
                sums,
                more,
                r["sum"],
                r["bias"],
                r["total"],
                r["net_value"],
                tick,
                c,
                r["patch"].shape[2],
            )
        )
        return r

    def __panel__(self):
        self.layer_select.width = 180
        for slider in (self.row, self.col, self.channel, self.in_channel):
            slider.width = 220
        controls = pn.Column(
            pn.Row(self.layer_select, self.refresh_button),
            pn.Row(self.row, self.col, self.channel, self.in_channel),
        )
        grids = pn.Row(pn.pane.Bokeh(self.window_fig), *(pn.pane.Bokeh(f) for f, _ in self.grids.values()))
        return pn.Column(controls, grids, self.text, sizing_mode="stretch_width")
