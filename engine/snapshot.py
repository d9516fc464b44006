"""Reading and writing snapshots: a net's spec, preprocessing, weights and optimizer state
in one .npz file (snapshot_format.py says what is in it).

Files are loaded with allow_pickle=False; ConvNetJS's `net.toJSON()` files are recognised and
imported by convnetjs.py. Errors are SnapshotError (a ValueError) with a message fit for a user.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .convnetjs import convnetjs_to_snapshot
from .errors import SnapshotError
from .npz_limits import check_npz
from .snapshot_format import Snapshot, check_meta, make_meta


def snapshot_bytes(net, optimizer=None, classes=None, info=None):
    """The snapshot of a net (and optionally its optimizer) as bytes of an .npz file."""
    arrays = dict(net.params())
    opt_config = None
    if optimizer is not None:
        opt_config, opt_arrays = optimizer.state_dict()
        arrays.update(opt_arrays)
    meta = make_meta(net.spec(), net.preprocess, opt_config, classes, info)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_snapshot(path, net, optimizer=None, classes=None, info=None):
    """Write the snapshot atomically (a temp file renamed into place)."""
    data = snapshot_bytes(net, optimizer, classes, info)
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


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


def load_snapshot(source, backend="numpy", optimizer=None, dtype=np.float32):
    """(net, snapshot) from a snapshot path, bytes or file object; see read_snapshot."""
    snap = read_snapshot(source)
    return snap.build(backend, optimizer, dtype), snap
