"""The running net, exported for the snapshot card's Export menu: ONNX or a PyTorch .zip.

    export_file(runner, "onnx")     -> ("convnet-playground.onnx", bytes)
    export_file(runner, "pytorch")  -> ("convnet-playground-pytorch.zip", bytes): model.py,
                                       weights.safetensors and train_ddp.py in one folder

The net is taken between two steps (Runner.snapshot_bytes, as "Save snapshot" does) and the
export is built in the caller's thread, so training waits only for the copy, not for the
export. The formats are engine/export's (see README, "Going further"); a missing onnx or
safetensors package is an engine.export.ExportError whose message says what to install.
"""

from __future__ import annotations

import engine

NAME = "convnet-playground"  # the net's name in the exported files
FORMATS = {
    "onnx": ("ONNX (.onnx)", NAME + ".onnx"),
    "pytorch": ("PyTorch (.zip)", NAME + "-pytorch.zip"),
}


def export_file(runner, fmt):
    """(filename, bytes) of the running net in format `fmt` ("onnx" or "pytorch")."""
    from engine.export import ExportError, onnx_bytes, pytorch_zip

    if fmt not in FORMATS:
        raise ValueError("unknown export format %r — use one of %s" % (fmt, ", ".join(FORMATS)))
    snap = engine.read_snapshot(runner.snapshot_bytes())
    try:
        data = onnx_bytes(snap, NAME) if fmt == "onnx" else pytorch_zip(snap, NAME)
    except ImportError as e:  # pytorch_zip imports safetensors itself: say what to install
        raise ExportError("exporting to %s needs a package that is not installed (%s)" % (FORMATS[fmt][0], e)) from None
    return FORMATS[fmt][1], data
