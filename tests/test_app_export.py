"""The app's way out (issue 17, the app's half), in plain pytest as test_app_views.py: the
snapshot card's Export menu, the autosave and "Restore the last run".

Export: the ONNX download's bytes run in onnxruntime and give the running net's probabilities;
the PyTorch .zip holds model.py, train_ddp.py and weights that our importer reads back as the
running net's; a missing package is a message and no file; a lecture viewer's page has no menu.
Autosave: nothing before the interval (an injected clock), a readable snapshot of the running net
after it, a write that fails halfway leaves the previous file whole and the next round saves;
the page offers the file found at start and Restore makes it the running net with its settings.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import engine
import engine.atomic
from app.core import Runner, autosave
from app.dashboard import EVERY_TICK, Dashboard
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(160, 40, 10, seed=1)


@pytest.fixture
def runner(data):
    r = Runner(data, backend="numpy", batch_size=16, threaded=False, eval_interval=0.0, vis_interval=0.0)
    for _ in range(3):
        r.tick()
    return r


def click(button):
    button.clicks += 1


def params_equal(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


# -- Export ---------------------------------------------------------------------------------
def test_export_onnx_runs_in_onnxruntime_as_the_running_net(runner, data):
    ort = pytest.importorskip("onnxruntime")
    dash = Dashboard(runner, cadence=EVERY_TICK)
    export = dash.snapshots.export
    assert export.__panel__().visible
    blob = export._export("onnx").getvalue()
    assert export.message.alert_type == "success" and export.buttons["onnx"].filename.endswith(".onnx")
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    images = np.ascontiguousarray(data.test_x[:8])
    probs = session.run(["probabilities"], {"image": images})[0]
    np.testing.assert_allclose(probs, runner.net.predict(images), rtol=0, atol=1e-5)


def test_export_pytorch_zip_reads_back_as_the_running_net(runner):
    pytest.importorskip("safetensors")
    dash = Dashboard(runner, cadence=EVERY_TICK)
    blob = dash.snapshots.export._export("pytorch").getvalue()
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        names = {n.split("/", 1)[1]: n for n in z.namelist()}
        assert {"model.py", "weights.safetensors", "train_ddp.py"} <= set(names)
        weights = z.read(names["weights.safetensors"])
    snap = engine.read_snapshot(weights)  # our importer (import-torch's path)
    assert engine.normalize(snap.spec) == engine.normalize(runner.net.spec())
    params_equal(snap.build("numpy").params(), runner.net.params())


def test_a_failed_export_is_a_message_and_no_file(runner, monkeypatch):
    import engine.export.onnx_model as onnx_model

    def missing():
        raise engine.export.ExportError("exporting to ONNX needs the onnx package: pip install onnx")

    monkeypatch.setattr(onnx_model, "_onnx", missing)
    dash = Dashboard(runner, cadence=EVERY_TICK)
    before = {k: v.copy() for k, v in runner.net.params().items()}
    assert dash.snapshots.export._export("onnx") is None  # Download sends nothing for None
    msg = dash.snapshots.export.message
    assert msg.alert_type == "danger" and "pip install onnx" in msg.object
    assert runner.tick() is not None  # the run goes on
    assert before.keys() == runner.net.params().keys()


def test_a_viewer_page_has_no_export_menu_and_a_forged_click_is_refused(runner):
    dash = Dashboard(runner, cadence=EVERY_TICK, role="viewer")
    export = dash.snapshots.export
    assert not export.__panel__().visible
    assert export._export("onnx") is None and "only the presenter" in export.message.object


# -- Autosave and restore -------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_autosave_writes_the_running_net_after_the_interval(runner, tmp_path):
    clock = Clock()
    saver = autosave.Autosaver(runner, folder=tmp_path, every=60, clock=clock)
    assert saver.offer is None
    clock.t += 59
    assert not saver.maybe_save() and not saver.path.exists()
    clock.t += 2
    assert saver.maybe_save()
    snap = engine.read_snapshot(str(saver.path))
    params_equal(snap.build("numpy").params(), runner.net.params())
    info = snap.meta["info"]
    assert info["examples"] == runner.snapshot()["examples"] and info["autosave"]["hyper"]["batch_size"] == 16
    assert snap.meta["optimizer"]["name"] == runner.optimizer.name
    clock.t += 61
    assert not saver.maybe_save()  # nothing trained since: nothing written
    assert autosave.autosaves(tmp_path) == [saver.path]


def test_an_untrained_net_is_never_autosaved(data, tmp_path):
    fresh = Runner(data, backend="numpy", threaded=False)
    assert not autosave.Autosaver(fresh, folder=tmp_path, every=0).maybe_save()
    assert autosave.autosaves(tmp_path) == []


def test_autosave_survives_a_write_that_fails_midway(runner, tmp_path, monkeypatch, capsys):
    saver = autosave.Autosaver(runner, folder=tmp_path, every=0)
    assert saver.save()
    good = saver.path.read_bytes()
    runner.tick()

    def half(f, data):
        f.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.atomic, "_write_all", half)
    assert not saver.maybe_save()
    assert "No space left" in saver.error and "No space left" in capsys.readouterr().err
    assert saver.path.read_bytes() == good and engine.read_snapshot(good)  # the previous save, whole
    assert [p.name for p in tmp_path.iterdir()] == [saver.path.name]  # no temp file left
    monkeypatch.undo()
    assert saver.maybe_save() and saver.error == ""  # the next round saves
    params_equal(engine.read_snapshot(str(saver.path)).build("numpy").params(), runner.net.params())


def test_the_thread_saves_on_its_own(runner, tmp_path):
    saver = autosave.Autosaver(runner, folder=tmp_path, every=0.05).start()
    try:
        for _ in range(400):
            if saver.saves:
                break
            saver._stop.wait(0.05)
    finally:
        saver.stop()
    assert saver.saves >= 1 and engine.read_snapshot(str(saver.path))


def test_the_page_offers_the_last_run_and_restores_it(data, runner, tmp_path):
    runner.set_hyper(optimizer="adam", lr=0.003, batch_size=8)
    for _ in range(3):
        runner.tick()
    first = autosave.Autosaver(runner, folder=tmp_path, every=0)
    assert first.save()
    saved = {k: v.copy() for k, v in runner.net.params().items()}

    # The next start of the app: a fresh net, the last run offered, not loaded.
    fresh = Runner(data, backend="numpy", batch_size=16, threaded=False)
    second = autosave.Autosaver(fresh, folder=tmp_path, every=0)
    assert second.offer == first.path and second.path != first.path
    dash = Dashboard(fresh, cadence=EVERY_TICK, autosaver=second)
    snaps = dash.snapshots
    assert snaps.restore_button.visible and "examples" in snaps.restore_note.object
    fresh.tick()
    assert second.save() and first.path.exists()  # the new run's autosave leaves the offer alone
    click(snaps.restore_button)
    fresh.tick()
    assert snaps.message.alert_type == "success" and "the last run" in snaps.message.object
    assert fresh.optimizer.name == "adam" and fresh.hyper["lr"] == 0.003 and fresh.hyper["batch_size"] == 8
    # the step above trained the restored net once: compare with its saved optimizer state applied
    snap = engine.read_snapshot(str(first.path))
    assert fresh.optimizer.state_dict()[0]["name"] == snap.meta["optimizer"]["name"]
    fresh.pause()
    restored = Runner(data, backend="numpy", threaded=False, running=False)
    autosave.restore(restored, first.path)
    restored.tick()
    params_equal(restored.net.params(), saved)


def test_no_autosave_no_offer_and_a_bad_one_is_a_message(data, runner, tmp_path):
    dash = Dashboard(runner, cadence=EVERY_TICK, autosaver=autosave.Autosaver(runner, folder=tmp_path))
    assert not dash.snapshots.restore_button.visible
    bad = tmp_path / "autosave-20260101T000000000000Z-1.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    before = {k: v.copy() for k, v in runner.net.params().items()}
    dash = Dashboard(runner, cadence=EVERY_TICK, autosaver=autosave.Autosaver(runner, folder=tmp_path))
    assert dash.snapshots.restore_button.visible and "unreadable" in dash.snapshots.restore_note.object
    click(dash.snapshots.restore_button)
    assert dash.snapshots.message.alert_type == "danger" and "unchanged" in dash.snapshots.message.object
    runner.pause()
    runner.tick()
    params_equal(runner.net.params(), before)
    viewer = Dashboard(runner, cadence=EVERY_TICK, role="viewer", autosaver=autosave.Autosaver(runner, folder=tmp_path))
    assert viewer.snapshots.restore_button.disabled


def test_no_autosave_is_an_app_option():
    from app.__main__ import parse_args

    assert parse_args(["--no-autosave"]).no_autosave and not parse_args([]).no_autosave
