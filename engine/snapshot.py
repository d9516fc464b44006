"""Snapshots: a net's spec, preprocessing, weights and optimizer state in one .npz file.

The file is a plain NumPy archive loaded with allow_pickle=False: every parameter under its
state-dict name ("conv1.weight"), optimizer slots under "optim.<param>.<slot>", and one
uint8 array "__meta__" holding UTF-8 JSON: {"format", "version", "spec", "preprocess",
"optimizer", "classes", "info"}, and "run" when `train` saved the state it resumes from
(engine/checkpoint.py). ConvNetJS's `net.toJSON()` files are imported by convnetjs.py, and
.safetensors weights written by a PyTorch export (whose metadata carries the spec) by
engine/export/torch_import.py. Errors are SnapshotError (a ValueError) with a message fit for
a user.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from .atomic import write_atomic
from .net import Net
from .spec import SpecError

FORMAT = "convnet-playground-snapshot"
VERSION = 1


class SnapshotError(ValueError):
    """A snapshot that cannot be read; the message says what is wrong and what to do."""


def snapshot_bytes(net, optimizer=None, classes=None, info=None, run=None):
    """The snapshot of a net (and optionally its optimizer) as bytes of an .npz file.

    run: the training run's state, to resume it from (engine/checkpoint.py), or None.
    """
    arrays = dict(net.params())
    opt_config = None
    if optimizer is not None:
        opt_config, opt_arrays = optimizer.state_dict()
        arrays.update(opt_arrays)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "spec": net.spec(),
        "preprocess": net.preprocess,
        "optimizer": opt_config,
        "classes": list(classes) if classes is not None else None,
        "info": info or {},
    }
    if run is not None:
        meta["run"] = run
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_snapshot(path, net, optimizer=None, classes=None, info=None, run=None):
    """Write the snapshot atomically: a temp file beside it, fsync, rename (engine/atomic.py)."""
    write_atomic(path, snapshot_bytes(net, optimizer, classes, info, run))


class Snapshot:
    """What a snapshot holds, before it is turned into a net."""

    def __init__(self, meta, arrays):
        self.meta = meta
        self.arrays = arrays

    @property
    def spec(self):
        return self.meta["spec"]

    @property
    def classes(self):
        return self.meta.get("classes")

    def build(self, backend="numpy", optimizer=None, dtype=np.float32):
        """A Net with these weights (and, if given and matching, the optimizer's state)."""
        try:
            net = Net(self.spec, backend=backend, dtype=dtype, preprocess=self.meta.get("preprocess"))
        except SpecError as e:
            raise SnapshotError("the snapshot's spec is invalid: %s" % e) from None
        params = {k: v for k, v in self.arrays.items() if not k.startswith("optim.")}
        try:
            net.load_params(params)
        except ValueError as e:
            raise SnapshotError("the snapshot's weights do not fit its spec: %s" % e) from None
        opt_config = self.meta.get("optimizer")
        if optimizer is not None and opt_config and opt_config.get("name") == optimizer.name:
            try:
                optimizer.load_state_dict(opt_config, self.arrays)
            except (ValueError, TypeError) as e:
                raise SnapshotError("the snapshot's optimizer state is unusable: %s" % e) from None
        return net


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
        from .export.torch_import import safetensors_to_snapshot

        return safetensors_to_snapshot(data)
    if data[:1] in (b"{", b"[") or data.lstrip()[:1] == b"{":
        from .convnetjs import convnetjs_to_snapshot

        return convnetjs_to_snapshot(data)
    if not data.startswith(b"PK"):
        raise SnapshotError(
            "not a snapshot: expected a .npz file saved by ConvNet Playground or a ConvNetJS toJSON() file"
        )
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
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "spec" not in meta:
        raise SnapshotError("this .npz is not a ConvNet Playground snapshot (unknown format)")
    _check_meta(meta)
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


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _check_meta(meta):
    """Refuse malformed metadata now, with a SnapshotError, rather than fail later."""
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError("the snapshot's metadata is corrupt: version %r is not a whole number" % (version,))
    if version > VERSION:
        raise SnapshotError("the snapshot is from a newer version (%s); upgrade ConvNet Playground" % version)
    if not isinstance(meta["spec"], list):
        raise SnapshotError("the snapshot's metadata is corrupt: its spec is not a list of layers")
    pre = meta.get("preprocess")
    if pre is not None and not (isinstance(pre, dict) and _number(pre.get("scale")) and _number(pre.get("shift"))):
        raise SnapshotError("the snapshot's metadata is corrupt: preprocess needs numeric 'scale' and 'shift'")
    opt = meta.get("optimizer")
    if opt is not None and not (isinstance(opt, dict) and isinstance(opt.get("name"), str)):
        raise SnapshotError("the snapshot's metadata is corrupt: optimizer state has no name")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise SnapshotError("the snapshot's metadata is corrupt: classes must be a list of names")
    run = meta.get("run")
    if run is not None and not isinstance(run, dict):
        raise SnapshotError("the snapshot's metadata is corrupt: its run state is not an object")


def load_snapshot(source, backend="numpy", optimizer=None, dtype=np.float32):
    """(net, snapshot) from a snapshot path, bytes or file object; see read_snapshot."""
    snap = read_snapshot(source)
    return snap.build(backend, optimizer, dtype), snap
