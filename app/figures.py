"""Bokeh figures of the dashboard, built by plain functions from plain data (NumPy arrays, dicts).

Shared by the Panel app and the static site (build.py): nothing here imports Panel or knows the
runner. Each builder returns the figure and the ColumnDataSource(s) it draws; the *_data
functions turn plain arrays into the dicts those sources expect, so a caller either replaces
`source.data` or streams rows into it.

Sources and the data they expect:
- curves:      curve_source(); columns examples, loss, loss_smooth, train_acc, val_acc, test_acc
               (floats; NaN where a value is not known yet). Stream new points with rollover.
               The static site's; the app draws its curves on LineCharts (app/views/chart.py).
- image:       image_source(); one row: image [(H, W) uint32 RGBA, bottom row first], x, y, dw, dh
               (image_data() makes it from a uint8 picture).
- network:     network_figure() -> (figure, images, captions); network_data() makes both from
               probe data: every layer's activation maps (H, W, C), their gradients and the conv
               filters (F, C, K, K), as image_rgba mosaics placed in one figure.
- predictions: prediction_figure() -> (figure, images, bars). images: image, x, y, dw, dh, label,
               index; bars: left, right, y, height, color, text, tx, ty (three rows per image).
               prediction_data() makes both from prediction dicts; stream with rollover.
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, HoverTool, Legend, Range1d
from bokeh.plotting import figure

from .figures_network import (  # noqa: F401  (re-exported: the static build imports them from here)
    diverging,
    layer_picture,
    mosaic,
    network_data,
    network_figure,
    pixel_canvas,
    scale_grey,
    tile_scale,
    to_rgba,
)
from .history import CURVE_COLUMNS

GREEN, RED, BLUE = "#3c9d4e", "#c9453b", "#4a78b5"
LOSS_RAW, LOSS_SMOOTH = "#9ab3d5", "#1f4e8c"
ACC_COLORS = {"train_acc": "#1f4e8c", "val_acc": "#e08a1e", "test_acc": "#3c9d4e"}
FONT = "14px"


def _style(fig, title_size="15px"):
    fig.title.text_font_size = title_size
    fig.toolbar.logo = None
    fig.xaxis.axis_label_text_font_size = FONT
    fig.yaxis.axis_label_text_font_size = FONT
    fig.xaxis.major_label_text_font_size = "12px"
    fig.yaxis.major_label_text_font_size = "12px"
    fig.xaxis.axis_label_text_font_style = fig.yaxis.axis_label_text_font_style = "normal"
    fig.outline_line_color = None
    fig.background_fill_color = "#fbfbfd"
    return fig


# -- curves ----------------------------------------------------------------------------------
def curve_source():
    return ColumnDataSource(data={c: [] for c in CURVE_COLUMNS})


def loss_figure(source, width=560, height=300):
    """Training loss against examples seen: every recorded batch (light) and its moving average."""
    fig = _style(
        figure(
            title="Loss",
            width=width,
            height=height,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            x_axis_label="examples seen",
            y_axis_label="loss",
            sizing_mode="stretch_width",
        )
    )
    raw = fig.line("examples", "loss", source=source, color=LOSS_RAW, line_width=1, alpha=0.8)
    smooth = fig.line("examples", "loss_smooth", source=source, color=LOSS_SMOOTH, line_width=3)
    fig.add_layout(
        Legend(
            items=[("loss per batch", [raw]), ("smoothed", [smooth])],
            location="bottom_left",
            label_text_font_size="12px",
            background_fill_alpha=0.7,
        )
    )
    fig.add_tools(
        HoverTool(
            renderers=[smooth],
            mode="vline",
            tooltips=[("examples", "@examples{0,0}"), ("loss", "@loss{0.000}"), ("smoothed", "@loss_smooth{0.000}")],
        )
    )
    fig.y_range.start = 0
    return fig


def accuracy_figure(source, width=560, height=300):
    """Running train, validation and test accuracy against examples seen."""
    fig = _style(
        figure(
            title="Accuracy",
            width=width,
            height=height,
            tools="pan,wheel_zoom,box_zoom,reset,save",
            x_axis_label="examples seen",
            y_axis_label="accuracy",
            y_range=Range1d(0, 1),
            sizing_mode="stretch_width",
        )
    )
    items = []
    for col, name in (("train_acc", "train"), ("val_acc", "validation"), ("test_acc", "test")):
        r = fig.line("examples", col, source=source, color=ACC_COLORS[col], line_width=2.5)
        items.append((name, [r]))
    fig.add_layout(Legend(items=items, location="top_left", label_text_font_size="12px", background_fill_alpha=0.7))
    fig.add_tools(
        HoverTool(
            renderers=items[0][1],
            mode="vline",
            tooltips=[
                ("examples", "@examples{0,0}"),
                ("train", "@train_acc{0.0%}"),
                ("validation", "@val_acc{0.0%}"),
                ("test", "@test_acc{0.0%}"),
            ],
        )
    )
    fig.yaxis.formatter.use_scientific = False
    return fig


def image_data(picture):
    """uint8 (H, W, 3|4) or (H, W) picture -> one-row dict for image_source()."""
    h, w = picture.shape[:2]
    return {"image": [to_rgba(picture)], "x": [0], "y": [0], "dw": [w], "dh": [h]}


def image_source(data=None):
    return ColumnDataSource(data=data or {"image": [], "x": [], "y": [], "dw": [], "dh": []})


def image_figure(data, scale, title=None):
    """A figure sized to show a picture at `scale` screen pixels per image pixel, pixel-crisp.

    Returns (figure, source); update by assigning a same-sized image_data() to source.data."""
    w, h = data["dw"][0], data["dh"][0]
    source = image_source(data)
    fig = pixel_canvas(w, h, x_end=w, y_end=h, scale=scale, min_border=2, title=title)
    fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=source)
    fig.background_fill_alpha = 0
    fig.border_fill_alpha = 0
    if title:
        fig.title.text_font_size = "12px"
        fig.title.text_font_style = "normal"
        fig.title.text_color = "#555"
    return fig, source


# -- test predictions ------------------------------------------------------------------------
SLOT_W, SLOT_H, IMG = 230, 64, 56  # one prediction: a 56px image and three bars, in screen pixels
BAR_X, BAR_W, BAR_H = 64, 160, 15


def prediction_figure(slots=24, cols=3):
    """A grid of `slots` test predictions, each an image with its top-3 classes as bars.

    Returns (figure, images source, bars source); see the module docstring for columns."""
    rows = -(-slots // cols)
    w, h = cols * SLOT_W, rows * SLOT_H
    images = ColumnDataSource(data={"image": [], "x": [], "y": [], "dw": [], "dh": [], "label": [], "index": []})
    bars = ColumnDataSource(
        data={"left": [], "right": [], "y": [], "height": [], "color": [], "text": [], "tx": [], "ty": []}
    )
    fig = pixel_canvas(w, h)
    img = fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=images)
    fig.hbar(y="y", left="left", right="right", height="height", color="color", alpha=0.6, source=bars)
    fig.text(x="tx", y="ty", text="text", source=bars, text_font_size="12px", text_baseline="middle", text_color="#111")
    fig.add_tools(HoverTool(renderers=[img], tooltips=[("test image", "#@index"), ("true class", "@label")]))
    return fig, images, bars


def prediction_data(items, classes, slots=24, cols=3):
    """Prediction dicts (id, index, image uint8 (32, 32, 3), label, top [3 ints], probs [3 floats])
    -> (images rows, bars rows); item `id` goes to slot id % slots, so streaming with rollover
    `slots` (images) and 3 * slots (bars) refills the grid in place."""
    rows = -(-slots // cols)
    im = {"image": [], "x": [], "y": [], "dw": [], "dh": [], "label": [], "index": []}
    br = {"left": [], "right": [], "y": [], "height": [], "color": [], "text": [], "tx": [], "ty": []}
    for p in items:
        r, c = divmod(p["id"] % slots, cols)
        x0, y0 = c * SLOT_W, (rows - 1 - r) * SLOT_H
        im["image"].append(to_rgba(p["image"]))
        im["x"].append(x0 + 2)
        im["y"].append(y0 + 4)
        im["dw"].append(IMG)
        im["dh"].append(IMG)
        im["label"].append(classes[p["label"]] if p.get("label") is not None else "?")
        im["index"].append(p.get("index", -1))
        for j, (k, pr) in enumerate(zip(p["top"], p["probs"])):
            y = y0 + SLOT_H - 14 - j * (BAR_H + 3)
            br["left"].append(x0 + BAR_X)
            br["right"].append(x0 + BAR_X + max(1.0, pr * BAR_W))
            br["y"].append(y)
            br["height"].append(BAR_H)
            right = p.get("label") is not None and k == p["label"]
            br["color"].append(GREEN if right else (RED if p.get("label") is not None else BLUE))
            br["text"].append("%s %.0f%%" % (classes[k], 100 * pr))
            br["tx"].append(x0 + BAR_X + 4)
            br["ty"].append(y)
    return im, br
