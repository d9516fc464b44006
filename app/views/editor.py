"""Network editor: the spec as editable JSON, presets in a menu, and a live preview.

On every keystroke the text is validated and summarised (output volume, params and memory per
layer, as on the slides) or the validation error is shown in place. 'Apply' rebuilds the net
and restarts training; a spec that is invalid, or that does not fit the data, never reaches the
running net (the runner checks it again).
"""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

import engine

from ..core.fragments import layer_table_html, memory_html, spec_text
from .common import alert, html, show

RUNNING = "(the running net)"
MONO = (
    ".bk-input { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; "
    "line-height: 1.35; white-space: pre; overflow-x: auto; }"
)


class NetworkEditor(Viewer):
    """See the module docstring."""

    def __init__(self, state, runner, **params):
        super().__init__(**params)
        self.state, self.runner = state, runner
        self.preset = pn.widgets.Select(
            label="preset", options=[RUNNING] + sorted(engine.PRESETS), value=RUNNING, width=240
        )
        self.text = pn.widgets.TextAreaInput(
            value=spec_text(state.spec),
            height=330,
            sizing_mode="stretch_width",
            stylesheets=[MONO],
            css_classes=["cp-spec"],
        )
        self.apply_button = pn.widgets.Button(
            label="Apply: rebuild the net and restart training", color="primary", width=330
        )
        self.revert_button = pn.widgets.Button(label="Revert to the running net", width=220)
        self.error = alert("danger")
        self.note = alert("warning")
        self.done = alert("success")
        self.preview = html(css_classes=["cp-preview"])
        self.apply_button.on_click(self._apply)
        self.revert_button.on_click(lambda e: self._load(RUNNING))
        self.preset.param.watch(lambda e: self._load(e.new), "value")
        self._text = self.text.value  # the latest of value (on blur) and value_input (as typed)
        self.text.param.watch(self._typed, ["value_input", "value"])
        state.param.watch(self._on_running_spec, "spec_version")
        state.param.watch(lambda e: self._preview(), ["batch_size", "optimizer", "backend"])
        self._shown = self.text.value  # the running net's text, until the user edits it
        self._preview()
        self._layout = pn.Row(
            pn.Column(
                pn.Row(self.preset, self.revert_button),
                self.text,
                pn.Row(self.apply_button),
                self.error,
                self.note,
                self.done,
                sizing_mode="stretch_width",
            ),
            pn.Column(
                html("<b>Preview</b> <span class='cp-dim'>(updates as you type)</span>"),
                self.preview,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return self._layout

    def _current(self):
        return self._text

    def _typed(self, *events):
        self._text = events[-1].new if events[-1].new is not None else ""
        self._preview()

    def _load(self, preset):
        layers = self.state.spec if preset == RUNNING else engine.get_preset(preset)
        text = spec_text(layers)
        if preset == RUNNING:
            self._shown = text
            self.preset.value = RUNNING
        self._text = text
        self.text.param.update(value=text, value_input=text)
        self._preview()

    def _on_running_spec(self, *events):
        if self._current() == self._shown:  # not being edited: follow the running net
            self._load(RUNNING)

    def _preview(self, *events):
        if self._current() != self._shown:
            show(self.done, "")
        try:
            layers = engine.normalize(self._current())
            summary = engine.summarize(
                engine.to_json(layers),
                batch=self.state.batch_size,
                optimizer=self.state.optimizer,
                backend=self.state.backend,
            )
        except engine.SpecError as e:
            show(self.error, str(e))
            show(self.note, "")
            self.preview.object = ""
            self.apply_button.disabled = True
            return
        show(self.error, "")
        self.preview.object = layer_table_html(summary, compact=True) + memory_html(summary["memory"])
        try:
            self.runner.check_spec(engine.to_json(layers))
            show(self.note, "")
            self.apply_button.disabled = False
        except engine.SpecError as e:
            show(self.note, "This net can be inspected but not trained here: %s" % e)
            self.apply_button.disabled = True

    def _apply(self, *events):
        try:
            self.runner.apply_spec(self._current())
        except (engine.SpecError, PermissionError) as e:
            show(self.error, str(e))
            return
        self._shown = self._current()
        show(self.done, "Applied: the net is rebuilt and training restarts.")
