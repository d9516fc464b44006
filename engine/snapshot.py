"""Reading and writing snapshots: a net's spec, preprocessing, weights and optimizer state
in one .npz file (snapshot_format.py says what is in it).

Files are loaded with allow_pickle=False. ConvNetJS's `net.toJSON()` files are recognised and
imported by convnetjs.py, and .safetensors weights written by a PyTorch export (whose metadata
carries the spec) by engine/export/torch_import.py. A snapshot saved by `train` may carry the
state of the run it resumes from ("run", engine/checkpoint.py). Errors are SnapshotError (a
ValueError) with a message fit for a user.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from .atomic import write_atomic
from .convnetjs import convnetjs_to_snapshot
from .errors import SnapshotError
from .npz_limits import check_npz
from .snapshot_format import Snapshot, check_meta, make_meta


def snapshot_bytes(net, optimizer=None, classes=None, info=None, run=None):
    """The snapshot of a net (and optionally its optimizer) as bytes of an .npz file.

    run: the training run's state, to resume it from (engine/checkpoint.py), or None.
    """
    arrays = dict(net.params())
    opt_config = None
    if optimizer is not None:
        opt_config, opt_arrays = optimizer.state_dict()
        arrays.update(opt_arrays)
    meta = make_meta(net.spec(), net.preprocess, opt_config, classes, info)
    if run is not None:
        meta["run"] = run
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_snapshot(path, net, optimizer=None, classes=None, info=None, run=None):
    """Write the snapshot atomically: a temp file beside it, fsync, rename (engine/atomic.py)."""
    write_atomic(path, snapshot_bytes(net, optimizer, classes, info, run))


def read_snapshot(source):
    """A Snapshot from a path, bytes, or a file object: ours (.npz) or ConvNetJS's JSON."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SnapshotError("cannot read snapshot %s: %s" % (source, e.strerror)) from None
    if _is_safetensors(data):
        try:
            from .export.torch_import import safetensors_to_snapshot
        except ImportError:  # optional: the static site ships no exports (build.py leaves it out)
            raise SnapshotError(
                "this is a .safetensors file of PyTorch weights; read it with the server app or "
                "`python -m engine import-torch`, which turns it into a snapshot"
            ) from None
        return safetensors_to_snapshot(data)
    if data[:1] in (b"{", b"[") or data.lstrip()[:1] == b"{":
        return convnetjs_to_snapshot(data)
    if not data.startswith(b"PK"):
        raise SnapshotError(
            "not a snapshot: expected a .npz file saved by ConvNet Playground or a ConvNetJS toJSON() file"
        )
    check_npz(data)  # forged headers and zip bombs are refused before numpy allocates
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: np.array(z[k]) for k in z.files}
    # NotImplementedError: zipfile's answer to an unknown compression method (a damaged header)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError) as e:
        raise SnapshotError("the snapshot file is corrupt or truncated (%s)" % e) from None
    if "__meta__" not in arrays:
        raise SnapshotError("this .npz is not a ConvNet Playground snapshot (it has no __meta__ entry)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SnapshotError("the snapshot's metadata is corrupt") from None
    check_meta(meta)
    for k, v in arrays.items():
        if v.dtype.kind != "f":
            raise SnapshotError("the snapshot's array %s is not floating point" % k)
        if not np.isfinite(v).all():
            raise SnapshotError("the snapshot's array %s holds NaN or infinite values" % k)
    return Snapshot(meta, arrays)


def _is_safetensors(data):
    """A .safetensors file: an 8-byte little-endian header length, then that many bytes of JSON."""
    if len(data) < 10:
        return False
    n = int.from_bytes(data[:8], "little")
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{" and data[8 + n - 1 : 8 + n].strip() in (b"}", b"")


def load_snapshot(source, backend="numpy", optimizer=None, dtype=np.float32):
    """(net, snapshot) from a snapshot path, bytes or file object; see read_snapshot."""
    snap = read_snapshot(source)
    return snap.build(backend, optimizer, dtype), snap
