"""Out of the playground: a snapshot exported to ONNX or to PyTorch, and PyTorch weights back.

    python -m engine export SNAPSHOT --to onnx [--out net.onnx]
    python -m engine export SNAPSHOT --to pytorch [--out folder/]   model.py, weights.safetensors,
                                                                    train_ddp.py
    python -m engine import-torch WEIGHTS.safetensors [--spec SPEC | --like SNAPSHOT] [--out FILE]

SNAPSHOT is ours (.npz) or ConvNetJS's toJSON() file. Where things live: layout.py (the NCHW
steps and the fc weights' column order both exports share), onnx_model.py, torch_module.py
(model.py, the weights, train_ddp.py from ddp_template.py), torch_import.py. Needs the onnx
and safetensors packages (imported when used); PyTorch only to run what it writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import write_atomic
from ..errors import ExportError


def export_name(snap, source):
    """The net's name in exported files: the preset it was trained as, else the file's stem."""
    info = snap.meta.get("info") or {}
    net = info.get("net")
    if isinstance(net, str) and net and os.sep not in net and "/" not in net:
        return net
    return Path(str(source)).stem or "net"


def export_onnx(snap, out, name="net"):
    """Write the ONNX model of a Snapshot to the file `out`; returns its path."""
    from .onnx_model import onnx_bytes

    data = onnx_bytes(snap, name)
    write_atomic(out, data)
    return Path(out)


def export_pytorch(snap, out, name="net"):
    """Write model.py, weights.safetensors and train_ddp.py into the folder `out`; returns
    their paths. Each file is written atomically; other files in the folder stay."""
    from .torch_module import pytorch_files

    try:
        files = pytorch_files(snap, name)
    except ImportError as e:
        raise ExportError(
            "exporting to PyTorch needs the safetensors package (%s): pip install safetensors" % e
        ) from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, data in files.items():
        write_atomic(out / filename, data)
        paths.append(out / filename)
    return paths


def onnx_bytes(snap, name="net"):
    """The checked ONNX model of a Snapshot as bytes (for a download: the app's Export menu)."""
    from .onnx_model import onnx_bytes as make

    return make(snap, name)


def pytorch_zip(snap, name="net"):
    """model.py, weights.safetensors and train_ddp.py in a folder NAME-pytorch/ of a .zip, as bytes."""
    import io
    import zipfile

    from .torch_module import pytorch_files

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for filename, data in pytorch_files(snap, name).items():
            z.writestr("%s-pytorch/%s" % (name, filename), data)
    return buf.getvalue()


__all__ = ["ExportError", "export_name", "export_onnx", "export_pytorch", "onnx_bytes", "pytorch_zip"]
