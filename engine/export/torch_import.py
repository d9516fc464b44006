"""Back from PyTorch: .safetensors weights (of an exported model.py, trained on by train_ddp.py
or anything else with the same state-dict keys) into a Snapshot of ours.

The net comes from, first match wins: a spec given (`--spec`), a snapshot given (`--like`,
which also lends its preprocessing and class names), or the file's own metadata, which the
export and train_ddp.py write (so `python -m engine eval trained.safetensors` works alone).
Weights are in PyTorch's layout (layout.py): fc layers that take a volume get their columns
reordered back to our (H, W, C) order; a "module." prefix (a DistributedDataParallel's
state dict) is dropped. Errors are SnapshotError, with a message fit for a user.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import SnapshotError
from ..snapshot_format import FORMAT, VERSION, Snapshot
from .layout import arrays_from_torch


def read_safetensors(data):
    """(arrays {key: ndarray}, metadata {str: str}) of the bytes of a .safetensors file."""
    try:
        from safetensors.numpy import load
    except ImportError:
        raise SnapshotError(
            "reading .safetensors files needs the safetensors package: pip install safetensors"
        ) from None
    n = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
        arrays = load(bytes(data))
    except Exception as e:  # safetensors raises its own SafetensorError for a damaged file
        raise SnapshotError("the .safetensors file is corrupt or truncated (%s)" % e) from None
    metadata = header.get("__metadata__") or {}
    return arrays, {str(k): str(v) for k, v in metadata.items()}


def _json(metadata, key):
    try:
        return json.loads(metadata[key]) if key in metadata else None
    except json.JSONDecodeError:
        raise SnapshotError("the .safetensors metadata entry %r is not valid JSON" % key) from None


def safetensors_to_snapshot(data, spec=None, like=None):
    """A Snapshot from .safetensors bytes; spec (a spec list) or like (a Snapshot) name the net.

    Without either, the file's metadata must carry the spec (see the module docstring).
    """
    arrays, metadata = read_safetensors(data)
    if spec is None and like is not None:
        spec = like.spec
    if spec is None:
        spec = _json(metadata, "spec")
    if spec is None:
        raise SnapshotError(
            "these .safetensors weights do not say which net they belong to: give the net with "
            "--spec SPEC (a preset or spec file) or --like SNAPSHOT"
        )
    if arrays and all(k.startswith("module.") for k in arrays):
        arrays = {k[len("module.") :]: v for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype.kind != "f":
            raise SnapshotError("the array %s is %s, not floating point" % (k, v.dtype))
    try:
        ours = arrays_from_torch(spec, arrays, dtype=np.float32)
    except ValueError as e:  # SpecError included
        raise SnapshotError("the weights do not fit the net: %s" % e) from None
    if like is not None:
        preprocess, classes = like.meta.get("preprocess"), like.classes
    else:
        preprocess, classes = _json(metadata, "preprocess"), _json(metadata, "classes")
    if preprocess is not None and not (
        isinstance(preprocess, dict) and all(isinstance(preprocess.get(k), (int, float)) for k in ("scale", "shift"))
    ):
        raise SnapshotError("the .safetensors metadata's preprocess needs numeric 'scale' and 'shift'")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise SnapshotError("the .safetensors metadata's classes must be a list of names")
    info = {"imported_from": "PyTorch .safetensors"}
    for key in ("trained_by", "steps", "world_size"):
        if key in metadata:
            info[key] = metadata[key]
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec,
        "preprocess": preprocess,
        "optimizer": None,
        "classes": classes,
        "info": info,
    }
    snap = Snapshot(meta, ours)
    snap.build()  # refuse weights that do not fit now, with the SnapshotError that says why
    return snap
