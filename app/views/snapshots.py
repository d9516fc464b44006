"""Snapshots: save the running net (spec + weights + optimizer state) as a download, load one
by upload (ours, or a ConvNetJS net.toJSON() file), or load the pretrained snapshot that ships
with the project, or the last run's autosave ("Restore the last run", shown when the app found one
at its start: app/core/autosave.py). A corrupt, foreign or oversized file gets a message; the
running net stays as it was. The upload is dropzone.FileDrop: a file over the limit is refused in
the browser. Under them, the Export menu (export.py)."""

from __future__ import annotations

import io
from html import escape

import panel as pn
from panel.viewable import Viewer

import engine

from ..core import autosave, paths
from ..images import megabytes
from .common import alert, html, show
from .dropzone import FileDrop
from .export import Download, Export

MAX_SNAPSHOT_BYTES = 100 * 1000 * 1000  # decimal MB, as the browser counts: as for images


class Snapshots(Viewer):
    """See the module docstring. read_only: a lecture viewer's page; autosaver: the app's
    Autosaver (its `offer` is the run to restore), or None."""

    def __init__(self, state, runner, read_only=False, autosaver=None, **params):
        super().__init__(**params)
        self.state, self.runner = state, runner
        self.download = Download(
            callback=self._save,
            filename="convnet-snapshot.npz",
            label="Save snapshot (spec + weights)",
            color="primary",
            sizing_mode="stretch_width",
            embed=False,
        )
        # No type filter in the browser: Chromium gives .npz files no MIME type; _load() checks the bytes.
        self.file = FileDrop(
            max_bytes=MAX_SNAPSHOT_BYTES, sizing_mode="stretch_width", css_classes=["cp-snapshot-input"]
        )
        self.pretrained_button = pn.widgets.Button(label="Load the pretrained snapshot", sizing_mode="stretch_width")
        self.message = alert("success")
        self.note = html(css_classes=["cp-pretrained-note"])
        self.file.param.watch(self._on_upload, "value", onlychanged=False)
        self.file.param.watch(self._on_refused, "refused", onlychanged=False)
        self.pretrained_button.on_click(self._on_pretrained)
        self._pretrained_note()
        self.offer = autosaver.offer if autosaver is not None else None
        self.restore_button = pn.widgets.Button(
            label="Restore the last run",
            color="primary",
            sizing_mode="stretch_width",
            visible=self.offer is not None,
            css_classes=["cp-restore"],
        )
        self.restore_note = html(
            "<span class='cp-dim'>%s</span>" % escape(autosaver.offer_text) if self.offer else "",
            visible=self.offer is not None,
        )
        self.restore_button.on_click(self._on_restore)
        self.export = Export(runner, read_only=read_only)
        self._layout = pn.Column(
            self.download,
            html(
                "<span class='cp-dim'>Load a snapshot (.npz, or a ConvNetJS toJSON() .json; up to %s):</span>"
                % megabytes(MAX_SNAPSHOT_BYTES)
            ),
            self.file,
            self.pretrained_button,
            self.note,
            self.restore_button,
            self.restore_note,
            self.message,
            self.export,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _pretrained_note(self):
        path = paths.pretrained_path()
        self.pretrained_button.disabled = path is None
        if path is None:
            self.note.object = (
                "<span class='cp-dim'>no pretrained snapshot shipped (expected at app/pretrained/cifar10.npz)</span>"
            )
            return
        try:
            acc = (engine.read_snapshot(path).meta.get("info") or {}).get("test_acc")
        except engine.SnapshotError:
            acc = None
        extra = " — test accuracy %.1f%%" % (100 * acc) if isinstance(acc, float) else ""
        self.note.object = "<span class='cp-dim'>pretrained: %s%s</span>" % (path.name, extra)

    def _save(self):
        try:
            data = self.runner.snapshot_bytes()
        except Exception as e:  # a timeout or a failing net: say so instead of a broken download
            show(self.message, "Could not save the snapshot: %s" % e, "danger")
            return None  # no download at all rather than an empty file
        show(self.message, "Snapshot saved (%s)." % engine.human_bytes(len(data)), "success")
        return io.BytesIO(data)

    def _load(self, fn, what):
        try:
            fn()
        except PermissionError as e:  # a lecture viewer's page
            show(self.message, "%s. The running net is unchanged." % e, "danger")
            return False
        except engine.SnapshotError as e:
            show(self.message, "Could not load %s: %s. The running net is unchanged." % (what, e), "danger")
            return False
        show(self.message, "Loaded %s: it is now the running net." % what, "success")
        return True

    def _on_upload(self, event):
        data, name = self.file.value, self.file.filename or "the file"
        if data is None:
            return
        if len(data) > MAX_SNAPSHOT_BYTES:
            show(
                self.message,
                "%s is %s; snapshots up to %s are accepted. The running net is unchanged."
                % (name, megabytes(len(data)), megabytes(MAX_SNAPSHOT_BYTES)),
                "danger",
            )
            return
        self._load(lambda: self.runner.load_snapshot(data, name=name), name)

    def _on_refused(self, event):
        show(self.message, "%s. The running net is unchanged." % event.new, "danger")

    def _on_pretrained(self, event):
        self._load(self.runner.load_pretrained, "the pretrained snapshot")

    def _on_restore(self, event):
        self._load(lambda: autosave.restore(self.runner, self.offer), "the last run")
