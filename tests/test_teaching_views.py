"""The teaching views in plain pytest: build them, call __panel__(), drive their widgets.

No server and no browser: Panel objects and Bokeh sources are inspected directly.
"""

from __future__ import annotations

import numpy as np
import panel as pn
import pytest

from app.core import teaching_fragments as M
from app.core.casestudies import case_table, check_claims
from app.core.evaluation import RollingEvaluation
from app.core.health import HealthMonitor
from app.teaching import teaching_plots as F
from app.teaching.explain_views import CaseStudyView, ConvArithmeticView
from app.teaching.live_views import EvaluationView, HealthView, SaliencyView
from engine import Net, Optimizer

SPEC = [
    {"type": "input", "shape": [8, 8, 3]},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "softmax", "num_classes": 3},
]
NAMES = ["cat", "dog", "ship"]


@pytest.fixture
def net():
    return Net(SPEC, backend="numpy", seed=0)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, (30, 8, 8, 3)).astype(np.uint8), np.arange(30) % 3


def _objects(viewable):
    """Every Panel object in a layout tree."""
    out, todo = [], [viewable]
    while todo:
        obj = todo.pop()
        out.append(obj)
        todo.extend(getattr(obj, "objects", []) or [])
    return out


def test_case_study_view_shows_the_table_and_the_corrections():
    view = CaseStudyView()
    layout = view.__panel__()
    assert isinstance(layout, pn.Column)
    html = view.table_pane.object
    assert "VGG-16" in html and "15,238,608" in html and "138,357,544" in html and "1,728" in html
    assert "<del" in html  # the slide's 24M, struck through
    assert "24M" in view.fixes_pane.object and "93MB" in view.fixes_pane.object
    assert view.row_select.value == "conv1_1" and view.type_select.value == "conv"
    visible = {k for k, w in view.fields.items() if w.visible}
    assert visible == {"out_channels", "kernel_size", "stride", "padding"}
    assert view.fields["kernel_size"].value == 3


def test_case_study_view_switches_a_row_through_its_widgets():
    view = CaseStudyView(net="alexnet")
    view.row_select.value = "conv1"
    view.fields["stride"].value = 2
    assert view.apply() is None
    assert view.table["rows"][1]["output"] == "109x109x96"
    assert 'class="changed"' in view.table_pane.object and "Changed from the slide's net" in view.delta.object
    view.row_select.value = "pool3"
    view.type_select.value = "fc"
    assert {k for k, w in view.fields.items() if w.visible} == {"out_features"}
    assert view.fields["out_features"].value == 4096  # a new type starts from its defaults
    assert view.apply() is None
    assert [r["type"] for r in view.table["rows"] if r["name"] == "pool3"] == ["fc"]
    view.row_select.value = "pool1"
    view.type_select.value = "fc"  # an fc between convs leaves a 1x1 volume: pool2 cannot follow
    assert "does not fit a 1x1 input" in view.apply()
    err = view.apply("conv2", kernel_size=99)
    assert err and view.message.visible and "does not fit" in view.message.object
    view.reset()
    assert view.table["totals"]["params"] == 62378344 and view.delta.object == ""
    view.net_select.value = "lenet5"
    assert view.net == "lenet5" and "LeNet-5" in view.table_pane.object


def test_conv_arithmetic_view_agrees_with_the_net(net):
    image = np.full((8, 8, 3), 200, np.uint8)
    view = ConvArithmeticView(lambda: net, lambda: image)
    view.__panel__()
    assert view.layer_select.options == ["conv1"]
    view.row.value, view.col.value, view.channel.value = 7, 0, 3
    r = view.result
    assert (r["row"], r["col"], r["channel"]) == (7, 0, 3) and r["matches"]
    assert "the net computed" in view.text.object and "✓" in view.text.object
    grid = view.grids["patch"][1].data
    assert len(grid["x"]) == 9 and grid["hatch"].count("/") == 5  # bottom-left corner: 5 padded cells
    assert view.row.end == 7 and view.channel.end == 3
    assert net.acts == []  # the view worked on a copy


def test_evaluation_view_tap_shows_the_cell(net, data):
    x, y = data
    ev = RollingEvaluation(x, y, 3, NAMES)
    view = EvaluationView(lambda: ev, NAMES)
    view.__panel__()
    assert not view.refresh() and "Waiting" in view.status.object  # nothing evaluated yet
    ev.update(net, count=30, step=5)
    assert view.refresh()
    assert "on 30 of 30" in view.status.object and "step 5" in view.status.object
    assert sum(view.cm_source.data["count"]) == 30
    cm = view.snapshot["matrix"]
    i, j = np.unravel_index(np.argmax(cm - np.diag(np.diag(cm))), cm.shape)  # the fullest wrong cell
    view.cm_source.selected.indices = [int(i * 3 + j)]  # what a tap does in the browser
    assert (view.true_select.value, view.pred_select.value) == (i, j)
    if cm[i, j]:
        assert "misclassified as" in view.gallery.object and view.gallery.object.count("<img") == min(cm[i, j], 24)
    assert not view.refresh()  # unchanged data: nothing redrawn


def test_saliency_view(net, data):
    x, _ = data
    view = SaliencyView(lambda: net, lambda: x[0], NAMES)
    view.__panel__()
    assert view.map.shape == (8, 8) and np.all(view.map >= 0)
    assert view.image_source.data["image"][0].shape == (8, 8)
    view.class_select.value = 2
    assert "<b>ship</b>" in view.text.object
    empty = SaliencyView(lambda: net, lambda: None, NAMES)
    assert empty.map is None and "upload" in empty.text.object


def test_health_view_builds_curves_once_data_arrives(net, data):
    x, y = data
    mon = HealthMonitor(every=1)
    view = HealthView(lambda: mon)
    view.__panel__()
    assert view.source is None and not view.refresh()
    opt = Optimizer("sgd", lr=0.05)
    for step in range(1, 4):
        mon.before_step(net)
        net.loss(net.prepare(x[:8]), y[:8])
        opt.step(net.params(), net.grads(), net.decay_mults())
        mon.after_step(net, step)
    assert view.refresh()
    assert view.keys["dead"] == ["relu1"] and view.keys["grad"] == ["conv1.weight", "fc1.weight"]
    assert view.source.data["step"] == [1, 2, 3] and len(view.row.objects) == 3
    assert all(v > 0 for v in view.source.data["grad:conv1.weight"])


def test_figure_helpers_make_valid_bokeh():
    from bokeh.core.validation import check_integrity
    from bokeh.document import Document
    from bokeh.layouts import column

    figs = []
    f, s = F.confusion_figure(NAMES)
    s.data = F.confusion_data(np.array([[2, 1, 0], [0, 3, 0], [1, 0, 2]]), NAMES)
    assert s.data["text"][2] == "" and s.data["count"][1] == 1
    figs.append(f)
    g, s = F.per_class_figure(NAMES)
    s.data = F.per_class_data([0.5, np.nan, 1.0], NAMES)
    assert s.data["text"] == ["50%", "–", "100%"]
    figs.append(g)
    keys = {"grad": ["a"], "ratio": ["a"], "dead": ["r"]}
    hf, s = F.health_figures(keys)
    s.data = F.health_data(
        {"step": [1, 2], "grad:a": [1.0, 0.0], "ratio:a": [float("inf"), 1e-3], "dead:r": [0, 1]}, keys
    )
    assert np.isnan(s.data["grad:a"][1]) and np.isnan(s.data["ratio:a"][0]) and s.data["dead:r"] == [0, 1]
    figs += list(hf.values())
    doc = Document()
    doc.add_root(column(*figs))
    issues = check_integrity(doc.roots)
    assert not issues.error
    table_html = M.case_table_html(case_table("vgg16"), claims=check_claims("vgg16"))
    assert table_html.count("<tr") == 25  # header, 22 slide rows, the softmax row, total
