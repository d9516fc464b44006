"""The teaching views' figures as plain Bokeh (no Panel).

Each `*_figure` function builds a figure once and returns (figure, source); the matching
`*_data` function turns engine/teaching results into that source's `.data` (plain lists), so
the server assigns `source.data = ...`. Colours are computed here, in Python (from Bokeh's
palettes), so the browser needs no colour mapping.

What does not live here: the numbers (app/core/: casestudies, convarith, evaluation, health, saliency),
HTML tables and image galleries (app/core/teaching_fragments.py).
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, LinearColorMapper, TapTool
from bokeh.palettes import Blues256, Category10_10, RdBu11
from bokeh.plotting import figure

HEALTH_TITLES = {
    "grad": "gradient norm ||dW||",
    "ratio": "update / weight ||ΔW|| / ||W||",
    "dead": "dead ReLUs (fraction)",
}


def _hex_ramp(palette, t):
    """Colours for values t in [0, 1] (NaN -> light grey) from a light-to-dark palette."""
    t = np.asarray(t, dtype=np.float64)
    idx = np.clip(np.round(np.nan_to_num(t) * (len(palette) - 1)), 0, len(palette) - 1).astype(int)
    return ["#eeeeee" if np.isnan(v) else palette[i] for v, i in zip(t.ravel(), idx.ravel())]


# -- evaluation ------------------------------------------------------------------------------
def confusion_figure(class_names, size=520):
    """A K x K heatmap, true class down, predicted class across; tap a cell to select it."""
    names = [str(c) for c in class_names]
    source = ColumnDataSource(confusion_data(np.zeros((len(names), len(names)), int), names), name="confusion")
    fig = figure(
        x_range=FactorRange(*names),
        y_range=FactorRange(*names[::-1]),
        width=size,
        height=size,
        tools="tap",
        toolbar_location=None,
        title="confusion matrix (rows: true class, columns: predicted)",
        x_axis_label="predicted",
        y_axis_label="true",
    )
    fig.rect(
        "pred",
        "true",
        width=0.96,
        height=0.96,
        source=source,
        fill_color="color",
        line_color=None,
        selection_line_color="#d62728",
        selection_line_width=3,
        nonselection_fill_alpha=1.0,
    )
    fig.text(
        "pred",
        "true",
        text="text",
        source=source,
        text_align="center",
        text_baseline="middle",
        text_color="text_color",
        text_font_size="11pt",
    )
    fig.xaxis.major_label_orientation = 0.8
    fig.grid.visible = False
    fig.select_one(TapTool).mode = "replace"
    fig.add_tools(HoverTool(tooltips=[("true", "@true"), ("predicted", "@pred"), ("images", "@count")]))
    return fig, source


def confusion_data(cm, class_names):
    """Source data for confusion_figure: one entry per cell, row-major (true, predicted)."""
    cm = np.asarray(cm)
    K = cm.shape[0]
    names = [str(c) for c in class_names]
    rows = cm.sum(axis=1, keepdims=True)
    frac = cm / np.maximum(rows, 1)  # share of the true class that went to each column
    colors = _hex_ramp(Blues256[::-1], frac)  # Blues256 runs dark to light
    return {
        "true": [names[i] for i in range(K) for _ in range(K)],
        "pred": [names[j] for _ in range(K) for j in range(K)],
        "true_index": [i for i in range(K) for _ in range(K)],
        "pred_index": [j for _ in range(K) for j in range(K)],
        "count": [int(v) for v in cm.ravel()],
        "frac": [float(v) for v in frac.ravel()],
        "color": colors,
        "text": [str(int(v)) if v else "" for v in cm.ravel()],
        "text_color": ["white" if v > 0.5 else "#222222" for v in frac.ravel()],
    }


def per_class_figure(class_names, width=520, height=300):
    """Per-class accuracy as horizontal bars."""
    names = [str(c) for c in class_names]
    source = ColumnDataSource(per_class_data(np.full(len(names), np.nan), names), name="per_class")
    fig = figure(
        y_range=FactorRange(*names[::-1]),
        x_range=(0, 1),
        width=width,
        height=height,
        toolbar_location=None,
        title="accuracy per class (test set)",
    )
    fig.hbar(y="name", right="acc", height=0.8, source=source, color="color")
    fig.text(x="acc", y="name", text="text", source=source, x_offset=4, text_baseline="middle", text_font_size="10pt")
    fig.ygrid.visible = False
    return fig, source


def per_class_data(acc, class_names):
    acc = np.asarray(acc, dtype=np.float64)
    return {
        "name": [str(c) for c in class_names],
        "acc": [0.0 if np.isnan(a) else float(a) for a in acc],
        "text": ["–" if np.isnan(a) else "%.0f%%" % (100 * a) for a in acc],
        "color": _hex_ramp(Blues256[::-1][64:], acc),
    }


# -- health ----------------------------------------------------------------------------------
def health_figures(keys, width=420, height=220):
    """Three small figures (grad, ratio, dead) over one source; keys maps each metric to its
    series names, e.g. {"grad": ["conv1.weight", ...], "ratio": [...], "dead": ["relu1", ...]}.
    Returns ({metric: figure}, source)."""
    columns = {"step": []}
    for metric, names in keys.items():
        for name in names:
            columns["%s:%s" % (metric, name)] = []
    source = ColumnDataSource(columns, name="health")
    figs = {}
    x_range = None
    for metric in ("grad", "ratio", "dead"):
        log = metric != "dead"
        fig = figure(
            width=width,
            height=height,
            title=HEALTH_TITLES[metric],
            toolbar_location=None,
            y_axis_type="log" if log else "linear",
            x_axis_label="step",
            **({"x_range": x_range} if x_range is not None else {}),
        )
        x_range = fig.x_range
        for i, name in enumerate(keys.get(metric, [])):
            fig.line(
                "step",
                "%s:%s" % (metric, name),
                source=source,
                color=Category10_10[i % 10],
                line_width=2,
                legend_label=name,
            )
        if fig.legend:
            fig.legend.location = "top_left"
            fig.legend.label_text_font_size = "8pt"
            fig.legend.background_fill_alpha = 0.5
        figs[metric] = fig
    return figs, source


def health_data(history_data, keys):
    """Source data for health_figures from HealthHistory.data(): non-positive or non-finite
    values become NaN (gaps) so that the log axes stay drawable."""
    out = {"step": list(history_data.get("step", []))}
    n = len(out["step"])
    for metric, names in keys.items():
        for name in names:
            col = "%s:%s" % (metric, name)
            values = np.asarray(history_data.get(col, [np.nan] * n), dtype=np.float64)
            bad = ~np.isfinite(values) | ((values <= 0) if metric != "dead" else False)
            out[col] = np.where(bad, np.nan, values).tolist()
    return out


# -- convolution arithmetic ------------------------------------------------------------------
def grid_figure(title, size=260):
    """An HH x WW grid of numbers on coloured cells (row 0 at the top)."""
    source = ColumnDataSource({k: [] for k in ("x", "y", "y_label", "value", "text", "color", "hatch")}, name="grid")
    fig = figure(width=size, height=size, title=title, toolbar_location=None, match_aspect=True)
    fig.rect(
        "x",
        "y",
        width=0.96,
        height=0.96,
        source=source,
        fill_color="color",
        line_color="#999999",
        hatch_pattern="hatch",
        hatch_color="#888888",
        hatch_alpha=0.6,
    )
    fig.text("x", "y", text="text", source=source, text_align="center", text_baseline="middle", text_font_size="9pt")
    fig.axis.visible = False
    fig.grid.visible = False
    fig.add_tools(HoverTool(tooltips=[("row, col", "@y_label"), ("value", "@value")]))
    return fig, source


def grid_data(values, pad_mask=None, scale=None, digits=2):
    """Source data for grid_figure from a (HH, WW) array; pad_mask cells are hatched.
    Colours run blue (negative) to red (positive), symmetric around 0 up to `scale`."""
    v = np.asarray(values, dtype=np.float64)
    HH, WW = v.shape
    scale = float(scale or np.abs(v).max() or 1.0)
    t = np.clip((v / scale + 1) / 2, 0, 1)  # 0 = most negative, 1 = most positive
    palette = RdBu11[::-1]  # blue .. white .. red
    colors = [palette[int(round(x * (len(palette) - 1)))] for x in t.ravel()]
    mask = np.zeros_like(v, dtype=bool) if pad_mask is None else np.asarray(pad_mask, bool)
    return {
        "x": [j for i in range(HH) for j in range(WW)],
        "y": [HH - 1 - i for i in range(HH) for _ in range(WW)],
        "y_label": ["%d, %d" % (i, j) for i in range(HH) for j in range(WW)],
        "value": [float(x) for x in v.ravel()],
        "text": ["%.*f" % (digits, x) for x in v.ravel()],
        "color": ["#f0f0f0" if m else c for c, m in zip(colors, mask.ravel())],
        "hatch": ["/" if m else " " for m in mask.ravel()],
    }


def window_figure(title="input: window red, image green", size=260):
    """A (padded) input channel as a grey image with the conv window drawn on it."""
    image = ColumnDataSource(
        {"image": [np.zeros((1, 1))], "x": [0], "y": [0], "dw": [1], "dh": [1]}, name="window_image"
    )
    boxes = ColumnDataSource(
        {"left": [], "right": [], "top": [], "bottom": [], "color": [], "dash": []}, name="window_boxes"
    )
    fig = figure(width=size, height=size, title=title, toolbar_location=None, match_aspect=True)
    fig.image(
        "image",
        x="x",
        y="y",
        dw="dw",
        dh="dh",
        source=image,
        color_mapper=LinearColorMapper(palette="Greys256", nan_color="#f0f0f0"),
    )
    fig.quad(
        left="left",
        right="right",
        top="top",
        bottom="bottom",
        source=boxes,
        fill_alpha=0,
        line_color="color",
        line_width=3,
    )
    fig.axis.visible = False
    fig.grid.visible = False
    return fig, image, boxes


def window_data(x_channel, padding, window):
    """(image data, box data) for window_figure: x_channel (H, W), the window (top, left,
    bottom, right) in unpadded coordinates. Padding shows as NaN (light grey)."""
    x = np.asarray(x_channel, dtype=np.float64)
    H, W = x.shape
    P = padding
    img = np.full((H + 2 * P, W + 2 * P), np.nan)
    img[P : P + H, P : P + W] = x
    Hp, Wp = img.shape
    top, left, bottom, right = window
    boxes = {  # the real input (dashed when padded), then the window; y runs up in Bokeh
        "left": [P, left + P],
        "right": [P + W, right + P + 1],
        "top": [Hp - P, Hp - (top + P)],
        "bottom": [Hp - P - H, Hp - (bottom + P + 1)],
        "color": ["#2ca02c", "#d62728"],
        "dash": ["dashed", "solid"],
    }
    return {"image": [img[::-1]], "x": [0], "y": [0], "dw": [Wp], "dh": [Hp]}, boxes


# -- images ----------------------------------------------------------------------------------
def image_figure(title, size=256):
    """An RGBA image (from saliency.image_rgba / saliency_rgba)."""
    source = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "dw": [1], "dh": [1]}, name="image")
    fig = figure(
        width=size, height=size, title=title, toolbar_location=None, match_aspect=True, x_range=(0, 1), y_range=(0, 1)
    )
    fig.image_rgba("image", x=0, y=0, dw="dw", dh="dh", source=source)
    fig.axis.visible = False
    fig.grid.visible = False
    return fig, source


def image_data(rgba, fig=None):
    """Source data for image_figure; with fig, its ranges follow the image's size."""
    H, W = rgba.shape
    if fig is not None:
        fig.x_range.end, fig.y_range.end = W, H
    return {"image": [rgba], "dw": [W], "dh": [H]}
