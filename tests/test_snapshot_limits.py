"""Snapshots that declare more than they hold are refused before anything is allocated.

engine/npz_limits.py reads every .npy header inside the .npz first: a header that declares a
huge array (a MemoryError from numpy.load without the check), a zip bomb past the limit, and a
spec of a huge net beside small arrays all end in a SnapshotError, in the engine's loader, the
CLI (one line, exit 2) and the app's snapshot upload (the running net untouched).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from test_snapshot import SPEC, rewrite, trained

from engine import SnapshotError, read_snapshot, snapshot_bytes
from engine.npz_limits import check_npz, default_limit


def npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def forged(good, name="conv1.weight", shape=(10**6, 10**6)):
    """The good snapshot with one member's header declaring `shape`, and a few bytes of data."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == name + ".npy":
                body = npy_header(shape) + b"\0" * 64
            dst.writestr(info.filename, body)
    return out.getvalue()


@pytest.fixture(scope="module")
def good():
    net, opt = trained("adam")
    return snapshot_bytes(net, opt, classes=["cat", "dog", "bird"])


def test_a_header_declaring_a_huge_array_is_refused_before_loading(good):
    read_snapshot(good)  # the untouched file loads
    with pytest.raises(SnapshotError, match="conv1.weight.*declares"):
        read_snapshot(forged(good))


def test_a_zip_bomb_past_the_limit_is_refused(good):
    check_npz(good, limit=len(good) * 4)  # the real one is under a limit just above its size
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        arr = io.BytesIO()
        np.save(arr, np.zeros(len(good) * 8, np.uint8))
        z.writestr("zeros.npy", arr.getvalue())
    assert len(bomb.getvalue()) < len(good)  # small on disk, large unpacked
    with pytest.raises(SnapshotError, match="unpack to more than"):
        check_npz(bomb.getvalue(), limit=len(good) * 4)


def test_the_default_limit_takes_every_snapshot_we_write(good):
    check_npz(good)
    assert default_limit() > len(good)


def test_a_spec_of_a_huge_net_beside_small_arrays_is_refused_before_building(good):
    spec = json.loads(json.dumps(SPEC))
    spec[3]["out_features"] = 10**9  # fc1 of a billion outputs: 4 GB of weights if built
    with pytest.raises(SnapshotError, match="fc1.weight"):
        read_snapshot(rewrite(good, meta={"spec": spec})).build()


def test_the_cli_refuses_it_in_one_line(good, tmp_path, capsys):
    from engine import cli

    path = tmp_path / "huge.npz"
    path.write_bytes(forged(good))
    assert cli.main(["eval", str(path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "declares" in err[0], err


def test_the_apps_upload_refuses_it_and_keeps_the_net(good):
    from test_app_runner import TINY

    from app.core import Runner

    runner = Runner(None, spec=TINY, backend="numpy", threaded=False)
    before = {k: v.copy() for k, v in runner.net.params().items()}
    with pytest.raises(SnapshotError, match="declares"):
        runner.load_snapshot(forged(good), name="huge.npz")
    runner.tick()
    after = runner.net.params()
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
