"""The dashboard's views in plain pytest: state in, widgets out, the runner driven synchronously.

No browser and no server: a Dashboard is built on a Runner(threaded=False); the test ticks the
runner, calls dashboard.refresh() (what the periodic callback does) and reads widgets and
ColumnDataSources. Clicks are simulated by bumping a button's `clicks`.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import engine
from app.core import Runner
from app.dashboard import EVERY_TICK, Dashboard
from app.views.editor import spec_text
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(160, 40, 10, seed=1)


@pytest.fixture
def runner(data):
    return Runner(data, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0, vis_interval=0.0)


@pytest.fixture
def dash(runner):
    return Dashboard(runner, cadence=EVERY_TICK)


def click(button):
    button.clicks += 1


def png_bytes(size=(64, 48), mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128).save(buf, format="PNG")
    return buf.getvalue()


def test_refresh_streams_curves_predictions_and_visualisation(runner, dash):
    page = dash.layout()
    assert page is not None
    runner.tick()
    runner.tick()
    assert dash.refresh() == 2
    assert dash.curves.loss.columns["examples"] == [16, 32]
    runner.tick()
    assert dash.refresh() == 1  # only the new point is streamed
    assert len(dash.curves.loss.columns["examples"]) == 3 and dash.curves.accuracy.total == 3
    cells = dash.predictions.grid.cells
    assert 0 < len(cells) <= 24 and all(len(c["rgb"]) == 4 * 32 * 32 for c in cells.values())
    assert all(len(c["bars"]) == 3 for c in cells.values())
    vis = dash.visualisation
    assert vis.figure is not None and "conv1" in " ".join(vis.captions.data["name"])
    assert {"activations", "activation gradients", "filters", "filter gradients"} <= set(vis.images.data["kind"])
    assert "48" in dash.stats.cards.object and "examples seen" in dash.stats.cards.object
    assert "test image #" in vis.example.object


def inactive(button):
    """Greyed out and not clickable (by style: see app.views.common.dim)."""
    return button.styles.get("pointer-events") == "none" and not button.disabled


def test_pause_reacts_at_once_and_start_resumes(runner, dash):
    c = dash.controls
    assert inactive(c.start_button) and not inactive(c.pause_button)
    click(c.pause_button)
    assert dash.state.status == "paused" and "paused" in c.status.object
    assert inactive(c.pause_button) and not inactive(c.start_button)
    assert runner.tick() is None
    click(c.step_button)
    assert runner.tick()["step"] == 1 and runner.tick() is None
    click(c.start_button)
    assert dash.state.status == "running" and runner.tick() is not None


def test_settings_go_to_the_runner_and_to_other_sessions(runner, dash):
    other = Dashboard(runner, cadence=EVERY_TICK)
    dash.controls.widgets["lr"].value = 0.25
    dash.controls.widgets["batch_size"].value = 8
    assert runner.hyper["lr"] == 0.25 and runner.tick()["batch"] == 8
    other.refresh()
    assert other.controls.widgets["lr"].value == 0.25 and other.controls.widgets["batch_size"].value == 8
    dash.controls.widgets["optimizer"].value = "adam"  # brings Adam's default learning rate along
    assert dash.controls.widgets["lr"].value == engine.OPTIMIZER_DEFAULTS["adam"]["lr"]
    runner.tick()
    assert runner.optimizer.name == "adam" and runner.optimizer.lr == engine.OPTIMIZER_DEFAULTS["adam"]["lr"]
    assert "memory" in dash.layers.memory.object and "adam" in dash.layers.memory.object


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes it diverge
def test_divergence_shows_a_message(runner, dash):
    dash.controls.widgets["optimizer"].value = "sgd"
    dash.controls.widgets["lr"].value = 1e30
    for _ in range(20):
        runner.tick()
        dash.refresh()
        if dash.state.status == "paused":
            break
    assert dash.controls.error.visible and "diverged" in dash.controls.error.object
    assert all(np.isfinite(v).all() for v in runner.net.params().values())


def test_editor_previews_validates_and_applies(runner, dash):
    ed = dash.editor
    assert not ed.apply_button.disabled and "32x32x16" in ed.preview.object
    ed.text.value_input = ed.text.value.replace('"kernel_size": 5', '"kernel_size": 55', 1)
    assert ed.error.visible and "does not fit" in ed.error.object and ed.apply_button.disabled
    ed.text.value_input = "[{"
    assert ed.error.visible and "not valid JSON" in ed.error.object
    ed.preset.value = "alexnet"  # the slides' case study: previewed, but it does not fit CIFAR-10
    assert "55x55x96" in ed.preview.object and ed.note.visible and "227x227x3" in ed.note.object
    assert ed.apply_button.disabled
    before = {k: v.copy() for k, v in runner.net.params().items()}
    spec = [
        {"type": "input", "shape": [32, 32, 3]},
        {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1, "activation": "relu"},
        {"type": "pool", "kernel_size": 2},
        {"type": "softmax", "num_classes": 10},
    ]
    ed.text.value_input = spec_text(spec)
    assert "16x16x8" in ed.preview.object and not ed.apply_button.disabled
    assert all(np.array_equal(before[k], v) for k, v in runner.net.params().items())  # previews touch nothing
    click(ed.apply_button)
    assert ed.done.visible
    runner.tick()
    dash.refresh()
    assert dash.state.spec[1]["out_channels"] == 8 and "16x16x8" in dash.layers.table.object
    assert '"out_channels": 8' in ed.text.value  # follows the running net again


def test_layer_table_and_memory(dash):
    t = dash.layers.table.object
    for text in ("32x32x3", "32x32x16", "1x1x10", "params", "activations", "total", "1,216"):
        assert text in t
    m = dash.layers.memory.object
    assert "batch 64" not in m and "batch 16" in m and "optimizer state" in m
    dash.controls.widgets["batch_size"].value = 64
    assert "batch 64" in dash.layers.memory.object
    # the memory is the running backend's (the NumPy backend keeps im2col columns, Numba does not)
    for backend in dash.state.param.backend.objects:
        dash.state.backend = backend
        assert "(%s backend)" % backend in dash.layers.memory.object


def test_upload_predicts_and_feeds_the_visualisation(runner, dash):
    up = dash.upload
    up.file.param.update(filename="red.png", value=png_bytes())
    assert not up.error.visible
    assert "live net" in up.result.object and up.result.object.count('class="cp-bar"') >= 3
    runner.tick()
    dash.refresh()
    assert "uploaded red.png" in dash.visualisation.example.object


@pytest.mark.parametrize(
    "payload, name, match",
    [
        (b"%PDF-1.4 not an image", "paper.pdf", "not an image"),
        (b"", "empty.png", "empty"),
    ],
)
def test_bad_upload_shows_an_error_and_keeps_the_net(runner, dash, payload, name, match):
    before = {k: v.copy() for k, v in runner.net.params().items()}
    dash.upload.file.param.update(filename=name, value=payload or b"")
    if payload:
        assert dash.upload.error.visible and match in dash.upload.error.object
    assert all(np.array_equal(before[k], v) for k, v in runner.net.params().items())


def test_pick_a_test_image(runner, dash):
    dash.upload.index.value = 3
    click(dash.upload.pick_button)
    assert "test image #3" in dash.upload.result.object
    runner.tick()
    dash.refresh()
    assert "test image #3" in dash.visualisation.example.object
    dash.upload.index.value = 10_000
    click(dash.upload.pick_button)
    assert dash.upload.error.visible and "no test image 10000" in dash.upload.error.object


def test_snapshots_save_load_and_refuse_bad_files(runner, dash, tmp_path):
    runner.tick()
    blob = dash.snapshots._save().getvalue()
    assert blob[:2] == b"PK" and "saved" in dash.snapshots.message.object
    snap = engine.read_snapshot(blob)
    assert snap.classes == runner.classes and snap.spec == runner.net.spec()
    dash.snapshots.file.param.update(filename="junk.npz", value=b"PK\x03\x04 truncated")
    assert dash.snapshots.message.alert_type == "danger" and "unchanged" in dash.snapshots.message.object
    dash.snapshots.file.param.update(filename="net.json", value=json.dumps({"layers": "nope"}).encode())
    assert dash.snapshots.message.alert_type == "danger"
    dash.snapshots.file.param.update(filename="good.npz", value=blob)
    assert dash.snapshots.message.alert_type == "success"
    runner.tick()
    dash.refresh()
    assert dash.state.run_id >= 2
    assert (
        "no pretrained snapshot shipped" in dash.snapshots.note.object
        or dash.snapshots.pretrained_button.disabled is False
    )


def test_no_data_page_says_what_to_do():
    r = Runner(None, backend="numpy", threaded=False, data_error="No CIFAR-10 data found. Pass --data PATH.")
    d = Dashboard(r, cadence=EVERY_TICK)
    assert d.state.status == "no data"
    assert d.controls.data_note.visible and "--data PATH" in d.controls.data_note.object
    assert d.controls.step_button.disabled
    d.upload.file.param.update(filename="x.png", value=png_bytes(mode="L"))
    assert "live net" in d.upload.result.object  # inspection works without data


def test_pretrained_snapshot_predicts_before_any_training(runner, tmp_path, monkeypatch):
    import app.core.paths

    net = engine.Net(engine.get_preset("convnetjs-cifar10"), seed=3)
    path = tmp_path / "cifar10.npz"
    engine.save_snapshot(str(path), net, classes=runner.classes, info={"test_acc": 0.7})
    monkeypatch.setattr(app.core.paths, "PRETRAINED", path)
    runner.pause()
    d = Dashboard(runner, cadence=EVERY_TICK)
    assert not d.snapshots.pretrained_button.disabled and "cifar10.npz" in d.snapshots.note.object
    d.upload.file.param.update(filename="red.png", value=png_bytes())
    assert "pretrained snapshot" in d.upload.result.object and "live net" in d.upload.result.object
    click(d.snapshots.pretrained_button)
    assert d.snapshots.message.alert_type == "success"
    runner.tick()
    assert all(np.array_equal(v, runner.net.params()[k]) for k, v in net.params().items())


def test_conv_arithmetic_works_on_the_live_weights(runner, dash):
    runner.tick()
    dash.conv_arithmetic.refresh()  # "take the live net now"
    live = runner.inference_net()
    for name, w in live.params().items():
        np.testing.assert_array_equal(dash.conv_arithmetic.net.params()[name], w)
    assert dash.conv_arithmetic.layer_select.options == [s["name"] for s in live.layers_spec if s["type"] == "conv"]


def test_text_pane_updates_resend_no_unchanged_stylesheets():
    # On a server page a text pane's first update rebuilt its theme sheets as new objects with the
    # same URLs, and Bokeh re-walked every model of the page for it (see keep_stylesheets).
    from bokeh.document import Document
    from bokeh.document.models import DocumentModelManager
    from bokeh.models import ImportedStyleSheet

    from app.views.common import html, keep_stylesheets

    pane = html("<p>a</p>")
    doc = Document()
    model = pane.get_root(doc)
    doc.add_root(model)
    rebuilt = [ImportedStyleSheet(url=s.url) if isinstance(s, ImportedStyleSheet) else s for s in model.stylesheets]
    assert any(isinstance(s, ImportedStyleSheet) for s in rebuilt)
    model.stylesheets = rebuilt  # what the page has: the same sheets, other objects than a rebuild
    walks = []
    original = DocumentModelManager.invalidate
    DocumentModelManager.invalidate = lambda self: (walks.append(1), original(self))[1]
    try:
        pane.object = "<p>b</p>"
        assert model.text == "&lt;p&gt;b&lt;/p&gt;"
        assert all(a is b for a, b in zip(model.stylesheets, rebuilt)) and walks == []
    finally:
        DocumentModelManager.invalidate = original
    other = {"text": "x", "stylesheets": rebuilt[:-1]}  # a real change of sheets still goes out
    assert keep_stylesheets(model, dict(other)) == other
