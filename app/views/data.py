"""The "Data" card: what the net trains on (name, path, classes with their counts as bars,
sample images per class, a warning for a class with far fewer images), and, on a page that may
change the run, switching to other data without restarting: a folder path on the server's
machine, or an uploaded .zip of train/<class>/... (and optionally test/<class>/...).

A lecture viewer's page (read_only) gets the summary only: no path box, no upload (the server's
files are not the room's to browse). A path that is not a readable image folder, or a refused
zip (datasets/zipfolder.py), gets a message and changes nothing. A good one pauses the run and
queues the load (Runner.load_data): the previous net and data keep serving until the new data
have loaded, then the Runner sizes the net's classifier to the new classes (app/core/data_fit.py).
The numbers and the HTML are app/core/data_card.py's.
"""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from datasets import DataError

from ..core.data_card import ZipArea, data_card_html, data_summary, open_folder
from ..images import megabytes
from .common import alert, html, show
from .dropzone import FileDrop

MAX_ZIP_UPLOAD = 200 * 1000 * 1000  # the browser refuses larger files before sending a byte
_ZIPS = ZipArea()  # one per server: the last uploaded folder


class DataCard(Viewer):
    """See the module docstring. refresh() redraws when the runner's dataset changed."""

    def __init__(self, state, runner, read_only=False, source=None, **params):
        """runner: where commands go; source: what is read (the runner itself, or the lecture
        mirror a viewer's page reads from; default: runner)."""
        super().__init__(**params)
        self.state, self.runner, self.read_only = state, runner, read_only
        self.source = source if source is not None else runner
        self.body = html("<p class='cp-dim'>loading the data…</p>", css_classes=["cp-data-body"])
        self.message = alert("success")
        self._shown = None
        parts = [self.body]
        if not read_only:
            self.path = pn.widgets.TextInput(
                placeholder="/path/to/folder with train/<class>/",
                sizing_mode="stretch_width",
                css_classes=["cp-data-path"],
            )
            self.load_button = pn.widgets.Button(label="Train on this folder", sizing_mode="stretch_width")
            self.zip = FileDrop(
                accept=".zip", max_bytes=MAX_ZIP_UPLOAD, sizing_mode="stretch_width", css_classes=["cp-data-zip"]
            )
            self.load_button.on_click(lambda e: self.load_folder(self.path.value))
            self.zip.param.watch(lambda e: self.load_zip(self.zip.value, self.zip.filename), "value", onlychanged=False)
            self.zip.param.watch(lambda e: show(self.message, "%s." % e.new, "danger"), "refused", onlychanged=False)
            parts += [
                html("<span class='cp-dim'>Train on other images: a folder on the server's machine</span>"),
                self.path,
                self.load_button,
                html(
                    "<span class='cp-dim'>or a .zip of train/&lt;class&gt;/… (test/&lt;class&gt;/… optional; "
                    "up to %s)</span>" % megabytes(MAX_ZIP_UPLOAD)
                ),
                self.zip,
            ]
        parts.append(self.message)
        state.param.watch(self._on_data_error, "data_error")
        self._layout = pn.Column(*parts, sizing_mode="stretch_width")
        self.refresh()

    def __panel__(self):
        return self._layout

    def refresh(self):
        ds = getattr(self.source, "dataset", None)
        if ds is None or ds is self._shown:
            return False
        self._shown = ds
        self.body.object = data_card_html(data_summary(ds))
        return True

    def _on_data_error(self, event):
        if event.new and getattr(self.source, "dataset", None) is not None:  # a switch that failed to decode
            show(
                self.message, "Not loaded: %s The current data and net are unchanged." % _sentence(event.new), "danger"
            )

    def _image_size(self):
        """New data come in at the current data's resolution (the app's --image-size)."""
        ds = getattr(self.source, "dataset", None)
        h, w = (ds.test_x.shape[1:3]) if ds is not None else (32, 32)
        return int(h) if h == w and 16 <= h <= 128 else 32

    # -- switching data (never on a viewer's page: there are no widgets to do it) ----------------
    def load_folder(self, path):
        try:
            loader = open_folder(path, self._image_size())
        except DataError as e:
            show(self.message, "Not loaded: %s The current data and net are unchanged." % _sentence(e), "danger")
            return False
        return self._switch(loader, str(path))

    def load_zip(self, data, name):
        if data is None:
            return False
        try:
            loader, skipped = _ZIPS.open_zip(data, self._image_size())
        except DataError as e:
            show(
                self.message,
                "Not loaded: %s: %s The current data and net are unchanged." % (name, _sentence(e)),
                "danger",
            )
            return False
        note = " (skipped %d files that are not .png/.jpg/.jpeg images)" % skipped if skipped else ""
        return self._switch(loader, "%s%s" % (name, note))

    def _switch(self, loader, what):
        try:
            self.runner.pause()
            self.runner.load_data(loader)
        except PermissionError as e:  # a viewer's page, should widgets ever reach one
            show(self.message, "%s." % e, "danger")
            return False
        show(self.message, "Loading %s… training is paused; press Start when it has loaded." % what, "success")
        return True


def _sentence(message):
    """A message as one sentence ending in a full stop (DataErrors sometimes carry their own)."""
    text = str(message).strip()
    return text if text.endswith((".", "!", "?")) else text + "."
