"""The timeline under the curves: a slider "examples seen" that scrubs back through the run's
checkpoints while training goes on, "Back to live" and "Branch from here".

The Runner keeps the checkpoints and computes the moment viewed in the background
(app/core/runner_timeline.py); the filters, activations, test predictions and confusion matrix
then show that moment, for every page of the run (a lecture's viewers see what the presenter
scrubs to; their slider follows and is disabled). Dragging to the right end is back to live.
"""

from __future__ import annotations

import panel as pn
from panel.viewable import Viewer

from ..core.timeline import MAX_BYTES
from .common import alert, html, show

TIMELINE_CSS = """
.cp-timeline-note { font-size: 14px; color: #344054; }
.cp-timeline-note b { font-variant-numeric: tabular-nums; }
.cp-timeline-past { color: #b54708; }
"""


class TimelineBar(Viewer):
    """See the module docstring; refresh(snap) follows the runner's published timeline."""

    def __init__(self, runner, read_only=False, **params):
        super().__init__(**params)
        self.runner = runner
        self.read_only = read_only
        self.slider = pn.widgets.IntSlider(
            label="examples seen", start=0, end=1, value=1, step=1, sizing_mode="stretch_width", disabled=read_only
        )
        self.live_button = pn.widgets.Button(label="Back to live", width=120, disabled=True)
        self.branch_button = pn.widgets.Button(label="Branch from here", width=150, disabled=True)
        self.note = html(css_classes=["cp-timeline-note"], stylesheets=[TIMELINE_CSS])
        self.error = alert("danger")
        self.checkpoints = []
        self.viewing = None
        self.too_large = None
        self._set = None  # the value this view last set (not a user's drag)
        self.slider.param.watch(self._dragged, "value_throttled")
        self.live_button.on_click(lambda e: self._command(self.runner.back_to_live))
        self.branch_button.on_click(lambda e: self._command(self.runner.branch_from))
        self._layout = pn.Column(
            pn.Row(self.slider, self.live_button, self.branch_button, sizing_mode="stretch_width"),
            self.note,
            self.error,
            sizing_mode="stretch_width",
            css_classes=["cp-timeline"],
        )
        self._note()

    def __panel__(self):
        return self._layout

    def _command(self, fn, *args):
        try:
            fn(*args)
            show(self.error, "")
        except (ValueError, PermissionError) as e:
            show(self.error, str(e))

    def _dragged(self, event):
        value = event.new
        if value is None or value == self._set or not self.checkpoints:
            return
        if value >= self.checkpoints[-1]:
            self._command(self.runner.back_to_live)
        else:
            self._command(self.runner.view_at, value)

    def refresh(self, snap):
        """Follow the checkpoints and the moment viewed; True when something changed."""
        tl = snap.get("timeline") or {}
        checkpoints = list(tl.get("examples") or [])
        view = snap.get("timeline_view")
        viewing = None if view is None else view["examples"]
        too_large = tl.get("too_large")
        if checkpoints == self.checkpoints and viewing == self.viewing and too_large == self.too_large:
            return False
        self.checkpoints, self.viewing, self.too_large = checkpoints, viewing, too_large
        end = max(1, checkpoints[-1] if checkpoints else 1)
        value = end if viewing is None else min(viewing, end)
        self._set = value
        self.slider.param.update(end=end, value=value)
        past = viewing is not None
        self.live_button.disabled = self.read_only or not past
        self.branch_button.disabled = self.read_only or not past
        self._note()
        return True

    def _note(self):
        n = len(self.checkpoints)
        if self.too_large:
            text = f"No timeline for this net: its weights ({self.too_large / 1e6:.0f} MB) are more than half of the {MAX_BYTES / 1e6:.0f} MB it may keep."
        elif self.viewing is None:
            text = (
                "Live: the net as it trains. Drag the slider back to see the net of an earlier moment (%d checkpoints)."
                % n
            )
        else:
            if self.viewing in self.checkpoints:
                which = f"checkpoint {self.checkpoints.index(self.viewing) + 1} of {n}"
            else:
                which = "a checkpoint the timeline has thinned out since"
            text = (
                f'<span class="cp-timeline-past">Showing the net at <b>{self.viewing:,}</b> examples seen</span> '
                f"({which}): the filters, activations, test predictions and confusion matrix "
                "are that moment's (the gradients: this example's own, since no training batch "
                "belongs to a checkpoint); training goes on."
            )
        self.note.object = text
