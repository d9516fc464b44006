"""The snapshot card's Export menu: the running net as ONNX (.onnx) or PyTorch (.zip), downloaded.

One download button per format (app/core/exports.py builds the file, from the net taken between
two steps). A failure (the onnx or safetensors package missing, the training thread not
answering) is a message under the buttons and no file at all: Download, the FileDownload whose
callback may answer None, sends nothing then instead of an empty file. A lecture viewer's page
has no Export menu (the Dashboard hides it), and a click forged on one is refused here too.
"""

from __future__ import annotations

import io

import panel as pn
from panel.viewable import Viewer

import engine

from ..core.exports import FORMATS, export_file
from .common import alert, html, show


class Download(pn.widgets.FileDownload):
    """A FileDownload whose callback may return None: then nothing is sent to the browser."""

    def _sync_data(self, fileobj):
        if fileobj is not None:
            super()._sync_data(fileobj)


class Export(Viewer):
    """See the module docstring. read_only: a lecture viewer's page (refuses every export)."""

    def __init__(self, runner, read_only=False, **params):
        super().__init__(**params)
        self.runner, self.read_only = runner, read_only
        self.message = alert("success")
        self.buttons = {
            fmt: Download(
                callback=(lambda f=fmt: self._export(f)),
                filename=filename,
                label=label,
                color="light",
                sizing_mode="stretch_width",
                embed=False,
                css_classes=["cp-export-" + fmt],
            )
            for fmt, (label, filename) in FORMATS.items()
        }
        self._layout = pn.Column(
            html(
                "<span class='cp-dim'>Export the running net (Netron, onnxruntime, PyTorch; "
                "see README, “Going further”):</span>"
            ),
            pn.Row(*self.buttons.values(), sizing_mode="stretch_width"),
            self.message,
            sizing_mode="stretch_width",
            visible=not read_only,
            css_classes=["cp-export"],
        )

    def __panel__(self):
        return self._layout

    def _export(self, fmt):
        """The file's bytes for the browser, or None (nothing sent) with a message on failure."""
        label = FORMATS[fmt][0]
        if self.read_only:
            show(self.message, "This is a viewer's page: only the presenter can export the net.", "danger")
            return None
        try:
            filename, data = export_file(self.runner, fmt)
        except Exception as e:  # ExportError (a package missing), a timeout, a net that will not export
            show(self.message, "Could not export to %s: %s" % (label, e), "danger")
            return None
        self.buttons[fmt].filename = filename
        show(self.message, "Exported to %s: %s (%s)." % (label, filename, engine.human_bytes(len(data))), "success")
        return io.BytesIO(data)
