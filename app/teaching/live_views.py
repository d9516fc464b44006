"""Panel views of the live run that explain it: evaluation, saliency and training health.

    EvaluationView(get_evaluation, class_names)   confusion matrix + per-class accuracy;
                                                  tap a cell: its images with their top-3
    SaliencyView(get_net, get_image, class_names) d(class score)/d(input) beside the input
    HealthView(get_history)                       per layer: gradient norm, update/weight
                                                  ratio, dead ReLUs, as small curves

Each takes callables that return the current objects, so the app can mount them over its
runner; refresh() pulls the latest and redraws only what changed (the app calls it from a
periodic callback). None of them changes the run.
"""

from __future__ import annotations

import html

import numpy as np
import panel as pn

from ..core import teaching_fragments as M
from ..core.health import METRICS, HealthMonitor
from ..core.saliency import image_rgba, saliency_map, saliency_rgba
from . import teaching_plots as F

HEALTH_WIDTH = 360  # three side by side fit beside the dashboard's sidebar on a 1500 px screen
HEALTH_NOTE = (
    "<p><b>Reading these:</b> gradient norms that shrink towards 0 layer by layer vanish, ones that "
    "grow explode; an update/weight ratio near 1e-3 is the usual sign of a good learning rate "
    "(much lower: too slow, much higher: too fast); a ReLU layer whose dead fraction climbs "
    "towards 1 has units that no longer learn.</p>"
)


class EvaluationView(pn.viewable.Viewer):
    """get_evaluation() -> evaluation.RollingEvaluation (or None before there is one)."""

    def __init__(self, get_evaluation, class_names, get_images=None, **params):
        super().__init__(**params)
        self.get_evaluation = get_evaluation
        self.get_images = get_images
        self.class_names = [str(c) for c in class_names]
        self.cm_fig, self.cm_source = F.confusion_figure(self.class_names)
        self.acc_fig, self.acc_source = F.per_class_figure(self.class_names)
        options = {name: i for i, name in enumerate(self.class_names)}
        self.true_select = pn.widgets.Select(label="true class", options=options, value=0)
        self.pred_select = pn.widgets.Select(label="predicted as", options=options, value=1 % len(options))
        self.status = pn.pane.HTML("<p>Waiting for the first evaluation…</p>")
        self.gallery = pn.pane.HTML("<p>Click a cell of the matrix to see its images.</p>", sizing_mode="stretch_width")
        self.snapshot = None
        self._version = None
        self.cm_source.selected.on_change("indices", self._on_tap)
        self.true_select.param.watch(lambda e: self.show_cell(), "value")
        self.pred_select.param.watch(lambda e: self.show_cell(), "value")
        self.refresh()

    def _evaluation(self):
        return self.get_evaluation() if callable(self.get_evaluation) else self.get_evaluation

    def set_class_names(self, class_names):
        """Show another set of classes (data loaded or switched after the page opened): the
        matrix's axes, the bars and the pickers follow the evaluation's own names."""
        names = [str(c) for c in class_names]
        if names == self.class_names or not names:
            return
        self.class_names = names
        self.cm_fig.x_range.factors = names
        self.cm_fig.y_range.factors = names[::-1]
        self.acc_fig.y_range.factors = names[::-1]
        self.cm_source.data = F.confusion_data(np.zeros((len(names), len(names)), int), names)
        self.acc_source.data = F.per_class_data(np.full(len(names), np.nan), names)
        options = {name: i for i, name in enumerate(names)}
        self.true_select.param.update(options=options, value=0)
        self.pred_select.param.update(options=options, value=1 % len(options))
        self._version = None

    def refresh(self):
        ev = self._evaluation()
        if ev is None:
            return False
        self.set_class_names(ev.class_names)
        snap = ev.snapshot()
        version = (id(ev), snap["version"])  # another evaluation (a moment of the timeline) redraws
        if version == self._version or not snap["evaluated"]:
            return False
        self._version = version
        self.snapshot = snap
        self.cm_source.data = F.confusion_data(snap["matrix"], self.class_names)
        self.acc_source.data = F.per_class_data(snap["per_class"], self.class_names)
        acc = snap["accuracy"]
        self.status.object = "<p style='font-size:1.2em'>test accuracy <b>%s</b> on %d of %d test images%s%s</p>" % (
            "–" if np.isnan(acc) else "%.1f%%" % (100 * acc),
            snap["evaluated"],
            snap["total"],
            " (pass %d)" % (snap["passes"] + 1),
            "" if snap["step"] is None else ", step %d" % snap["step"],
        )
        return True

    def _on_tap(self, attr, old, new):
        if not new:
            return
        k = len(self.class_names)
        i, j = divmod(int(new[0]), k)  # confusion_data is row-major: (true, predicted)
        self.true_select.value, self.pred_select.value = i, j
        self.show_cell()

    def show_cell(self, limit=24):
        """Show the images of cell (true_select, pred_select) with their top-3."""
        ev = self._evaluation()
        if ev is None:
            return []
        i, j = self.true_select.value, self.pred_select.value
        items = ev.cell(i, j, limit)
        idx = [it["index"] for it in items]
        images = self.get_images(idx) if self.get_images is not None else ev.images[idx]
        what = "misclassified as" if i != j else "correctly classified as"
        self.gallery.object = "<h4>%s %s %s: %d shown</h4>%s" % (
            html.escape(self.class_names[i]),
            what,
            html.escape(self.class_names[j]),
            len(items),
            M.gallery_html(items, images, self.class_names),
        )
        return items

    def __panel__(self):
        return pn.Column(
            self.status,
            pn.Row(pn.pane.Bokeh(self.cm_fig), pn.pane.Bokeh(self.acc_fig)),
            pn.Row(self.true_select, self.pred_select),
            self.gallery,
            sizing_mode="stretch_width",
        )


class SaliencyView(pn.viewable.Viewer):
    """get_net() gives the live net (copied before use); get_image() the uploaded or chosen
    uint8 image (H, W, C), or None."""

    def __init__(self, get_net, get_image, class_names, **params):
        super().__init__(**params)
        self.get_net = get_net
        self.get_image = get_image
        self.class_names = [str(c) for c in class_names]
        options = {"the net's top guess": -1}
        options.update({name: i for i, name in enumerate(self.class_names)})
        self.class_select = pn.widgets.Select(label="class whose score we differentiate", options=options, value=-1)
        self.button = pn.widgets.Button(label="Compute with the live net", color="primary")
        self.image_fig, self.image_source = F.image_figure("input")
        self.map_fig, self.map_source = F.image_figure("saliency |d score / d input|")
        self.text = pn.pane.HTML("")
        self.map = None
        self.class_select.param.watch(lambda e: self.refresh(), "value")
        self.button.on_click(lambda e: self.refresh())
        self.refresh()

    def set_class_names(self, class_names):
        """The picker's classes follow the running net's (data loaded or switched)."""
        names = [str(c) for c in class_names]
        if names == self.class_names or not names:
            return
        self.class_names = names
        options = {"the net's top guess": -1}
        options.update({name: i for i, name in enumerate(names)})
        self.class_select.param.update(options=options, value=-1)

    def refresh(self):
        net = self.get_net()
        image = self.get_image()
        if net is None or image is None:
            self.text.object = "<p>Choose or upload an image to see its saliency.</p>"
            return None
        wanted = self.class_select.value
        smap, k, probs = saliency_map(net, image, None if wanted < 0 else wanted)
        self.map = smap
        self.image_source.data = F.image_data(image_rgba(image), self.image_fig)
        self.map_source.data = F.image_data(saliency_rgba(smap), self.map_fig)
        top = np.argsort(-probs)[:3]
        guesses = ", ".join("%s %.0f%%" % (html.escape(self.class_names[c]), 100 * probs[c]) for c in top)
        self.text.object = (
            "<p>Gradient of the score of <b>%s</b> (p = %.0f%%) with respect to each input pixel "
            "(largest over the colour channels): bright pixels change that score most.<br>Top-3: %s</p>"
            % (html.escape(self.class_names[k]), 100 * probs[k], guesses)
        )
        return smap

    def __panel__(self):
        return pn.Column(
            pn.Row(self.class_select, self.button),
            pn.Row(pn.pane.Bokeh(self.image_fig), pn.pane.Bokeh(self.map_fig)),
            self.text,
        )


class HealthView(pn.viewable.Viewer):
    """get_history() -> health.HealthHistory or HealthMonitor (or None)."""

    def __init__(self, get_history, **params):
        super().__init__(**params)
        self.get_history = get_history
        self.keys = None
        self.source = None
        self.figures = {}
        self.row = pn.Row(pn.pane.HTML("<p>Health curves appear after the first training steps.</p>"))
        self._version = None
        self.refresh()

    def _history(self):
        h = self.get_history() if callable(self.get_history) else self.get_history
        return h.history if isinstance(h, HealthMonitor) else h

    def refresh(self):
        h = self._history()
        if h is None or h.version == self._version or not len(h):
            return False
        self._version = h.version
        keys = {m: h.keys(m) for m in METRICS}
        if keys != self.keys:  # new layers (first data, or a new net): rebuild the figures
            self.keys = keys
            self.figures, self.source = F.health_figures(keys, width=HEALTH_WIDTH)
            self.row.objects = [pn.pane.Bokeh(self.figures[m]) for m in METRICS]
        self.source.data = F.health_data(h.data(), self.keys)
        return True

    def __panel__(self):
        return pn.Column(self.row, pn.pane.HTML(HEALTH_NOTE), sizing_mode="stretch_width")
