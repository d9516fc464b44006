"""Upload an image (or pick a test image): resized to the net's input, the top-3 prediction of
the live net (and of the pretrained snapshot, when one ships), and its activations shown in the
visualisation. Bad files (not an image, too large, a decompression bomb, corrupt) get a message;
the net is never touched — prediction runs on a copy of the published weights.

The file comes in through dropzone.FileDrop: a file of any size is safe to pick."""

from __future__ import annotations

import threading

import numpy as np
import panel as pn
from panel.viewable import Viewer

import engine

from ..core import paths
from ..core.fragments import prediction_html
from ..images import ImageError, decode_upload, megabytes
from .common import alert, html, show
from .dropzone import FileDrop

VIEWER_NOTE = "The prediction is yours; the network visualisation shows the presenter's example."
_pretrained = {}
_pretrained_lock = threading.Lock()


def pretrained_predict(image):
    """(probs, classes) of the shipped pretrained snapshot for one uint8 image, or None."""
    path = paths.pretrained_path()
    if path is None:
        return None
    with _pretrained_lock:
        if str(path) not in _pretrained:
            try:
                net, snap = engine.load_snapshot(path, backend="numpy")
            except engine.SnapshotError:
                return None
            _pretrained[str(path)] = (net, paths.class_names(net.num_classes, snap.classes))
        net, classes = _pretrained[str(path)]
        if tuple(image.shape) != tuple(net.input_shape):
            return None
        return net.predict(image[None])[0], classes


class Upload(Viewer):
    """See the module docstring."""

    def __init__(self, state, runner, **params):
        super().__init__(**params)
        self.state, self.runner = state, runner
        self.file = FileDrop(accept="image/*", sizing_mode="stretch_width", css_classes=["cp-upload-input"])
        self.index = pn.widgets.IntInput(label="or test image #", value=0, start=0, width=140)
        self.pick_button = pn.widgets.Button(label="Predict test image", width=160, align="end")
        self.random_button = pn.widgets.Button(label="Random", width=90, align="end")
        self.error = alert("danger")
        self.note = alert("info")
        self.result = html(css_classes=["cp-upload-result"])
        self.file.param.watch(self._on_upload, "value", onlychanged=False)  # the same file again: again
        self.file.param.watch(self._on_refused, "refused", onlychanged=False)
        self.pick_button.on_click(lambda e: self._on_test(self.index.value))
        self.random_button.on_click(lambda e: self._on_test(np.random.randint(max(1, self.state.n_test))))
        self._layout = pn.Column(
            html(
                "<span class='cp-dim'>Upload a photo (PNG, JPEG, ...; up to %s): it is cropped to a square and "
                "resized to the net's input, as the net sees it.</span>" % megabytes(self.file.max_bytes)
            ),
            self.file,
            pn.Row(self.index, self.pick_button, self.random_button),
            self.error,
            self.note,
            self.result,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _input_shape(self):
        return tuple(self.state.spec[0]["shape"])

    def _on_upload(self, event):
        data, name = self.file.value, self.file.filename or "the file"
        if data is None:
            return
        try:
            image, info = decode_upload(data, self._input_shape(), name=name)
        except ImageError as e:
            self.result.object = ""
            show(self.error, str(e))
            return
        caption = "%s (%dx%d %s)" % (name, info["width"], info["height"], info["format"])
        self._predict(image, None, caption)
        try:
            self.runner.set_vis_example(image, None, "uploaded " + name)
        except ValueError as e:
            show(self.error, str(e))
        except PermissionError:  # a lecture viewer: the prediction is theirs, the visualisation the room's
            show(self.note, VIEWER_NOTE)

    def _on_refused(self, event):
        self.result.object = ""
        show(self.error, "%s — use a smaller image" % event.new)

    def _on_test(self, index):
        viewer = False
        try:
            image, label = self.runner.test_image(index)
            self.runner.show_test_image(index)
        except ValueError as e:
            show(self.error, str(e))
            return
        except PermissionError:
            viewer = True
        self._predict(image, label, "test image #%d" % index)
        show(self.note, VIEWER_NOTE if viewer else "")

    def _predict(self, image, label, caption):
        show(self.error, "")
        classes = self.state.classes
        probs = self.runner.infer(image[None])[0]
        examples = int(self.state.stats.get("examples") or 0)
        parts = [
            prediction_html(image, classes, probs, label, f"%s — live net (trained on {examples:,} examples)" % caption)
        ]
        pre = pretrained_predict(image)
        if pre is not None:
            same = list(pre[1]) == list(classes)
            parts.append(
                prediction_html(
                    image, pre[1], pre[0], label if same else None, "%s — pretrained snapshot" % caption, size=64
                )
            )
        self.result.object = "".join(parts)
