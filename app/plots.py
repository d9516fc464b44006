"""Bokeh figures of the dashboard, built by plain functions; app/core/plot_data.py fills them.

Shared by the Panel app and the static build (build.py renders them into the page, whose worker
fills their sources): nothing here imports Panel or knows the runner. Each builder returns the
figure and the ColumnDataSource(s) it draws; the data those sources expect come from
app/core/plot_data.py (pure NumPy, which the browser's worker runs too), so a caller either
replaces `source.data` or streams rows into it.

Sources and the data they expect:
- curves:      curve_source(); columns examples, loss, loss_smooth, train_acc, val_acc, test_acc
               (floats; NaN where a value is not known yet). Stream new points with rollover.
               The static site's; the app draws its curves on LineCharts (app/views/chart.py).
- image:       image_source(); one row: image [(H, W) uint32 RGBA, bottom row first], x, y, dw, dh
               (plot_data.image_data() makes it from a uint8 picture).
- network:     network_figure() -> (figure, images, captions); plot_data.network_data() makes
               both from probe data.
- earlier runs: run_sources(n); one per earlier run, columns x, loss, acc (the run's smoothed
               loss and validation accuracy); add_run_lines() draws them as faint dashed lines
               with a legend item each, hidden until the page names the run (the static site's).
- predictions: prediction_figure() -> (figure, images, bars). images: image, x, y, dw, dh, label,
               index; bars: left, right, y, height, color, text, tx, ty (three rows per image).
               plot_data.prediction_data() makes both from prediction dicts; stream with rollover.
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem, Range1d
from bokeh.plotting import figure

from .core.history import CURVE_COLUMNS
from .core.plot_data import SLOT_H, SLOT_W

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


def exact_source():
    """The exact points (app/core/exact_eval.py): examples, whole-set validation and test accuracy."""
    return ColumnDataSource(data={"examples": [], "val": [], "test": []})


def accuracy_figure(source, width=560, height=300, exact=None):
    """Running train, validation and test accuracy against examples seen; with `exact` (an
    exact_source()), the whole-set points as dots."""
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
    if exact is not None:
        for col, key, name in (("val_acc", "val", "validation, whole set"), ("test_acc", "test", "test, whole set")):
            dots = fig.scatter("examples", key, source=exact, color=ACC_COLORS[col], size=9, line_color="white")
            items.append((name, [dots]))
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


def run_sources(n):
    """n sources for earlier runs' curves (see the module docstring), named cp-run-0 .. cp-run-{n-1}."""
    return [ColumnDataSource(data={"x": [], "loss": [], "acc": []}, name="cp-run-%d" % i) for i in range(n)]


def add_run_lines(fig, sources, column, colors):
    """Earlier runs as faint dashed lines of `column` (loss or acc) on a loss or accuracy figure;
    each line's legend item is hidden and unlabelled until the page names the run and shows it."""
    legend = fig.legend[0]
    for i, source in enumerate(sources):
        line = fig.line("x", column, source=source, color=colors[i % len(colors)], line_width=2, alpha=0.55)
        line.glyph.line_dash = "dashed"
        line.visible = False
        line.name = "cp-run-%s-%d" % (column, i)
        legend.items.append(LegendItem(label="", renderers=[line], visible=False, name=line.name + "-legend"))
    return fig


def image_source(data=None):
    return ColumnDataSource(data=data or {"image": [], "x": [], "y": [], "dw": [], "dh": []})


def image_figure(data, scale, title=None):
    """A figure sized to show a picture at `scale` screen pixels per image pixel, pixel-crisp.

    Returns (figure, source); update by assigning a same-sized plot_data.image_data() to source.data."""
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


# -- the network visualisation ----------------------------------------------------------------
def pixel_canvas(width, height, x_end=None, y_end=None, scale=1.0, min_border=4, title=None):
    """A bare figure whose data coordinates are pixels: fixed ranges (0..x_end, 0..y_end, by
    default the frame size), no tools, no axes, grid or outline. The image grids draw on it."""
    fig = figure(
        title=title,
        frame_width=int(width * scale),
        frame_height=int(height * scale),
        x_range=Range1d(0, width if x_end is None else x_end),
        y_range=Range1d(0, height if y_end is None else y_end),
        tools="",
        toolbar_location=None,
        min_border=min_border,
    )
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
    return fig


def network_figure(width, height, col_width=300):
    """The figure plot_data.network_data() fills: (figure, images source, captions source)."""
    images = ColumnDataSource(data={"image": [], "x": [], "y": [], "dw": [], "dh": [], "layer": [], "kind": []})
    captions = ColumnDataSource(data={"x": [], "y": [], "name": [], "stats": []})
    fig = pixel_canvas(width, height)
    img = fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=images)
    fig.text(
        x="x",
        y="y",
        text="name",
        source=captions,
        text_font_size="15px",
        text_font_style="bold",
        text_baseline="top",
        text_color="#101828",
    )
    fig.text(
        x=190, y="y", text="stats", source=captions, text_font_size="12px", text_baseline="top", text_color="#667085"
    )
    titles = ColumnDataSource(
        data={
            "x": [0, col_width + 10, 2 * col_width + 20],
            "y": [height] * 3,
            "text": ["activations", "activation gradients", "filters | their gradients"],
        }
    )
    fig.text(
        x="x",
        y="y",
        text="text",
        source=titles,
        text_font_size="13px",
        text_baseline="top",
        text_color="#1f4e8c",
        text_font_style="bold",
    )
    fig.add_tools(HoverTool(renderers=[img], tooltips=[("layer", "@layer"), ("", "@kind")]))
    fig.background_fill_alpha = 0
    fig.border_fill_alpha = 0
    return fig, images, captions
