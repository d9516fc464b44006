"""Runs to compare: the session's earlier runs as faint lines on the curves, and a runs table.

The table lists every run (the earlier ones the Runner's RunLog keeps, app/core/runs.py, and the
one in progress): its settings, examples seen and best validation and test accuracy. A run's
checkbox shows or hides its line; the legend of each line names only what differed from the
run in progress ("lr 1 → 0.01"). The runs download as CSV (one row per curve point) and JSON.
A lecture viewer's page shows the presenter's runs (app/relay.py sends them). A branch from the
timeline (app/core/runner_timeline.py) says whose branch it is under its number.
"""

from __future__ import annotations

import io

import panel as pn
from panel.viewable import Viewer

# The lines and the table are drawn by the core, which the static site's worker shares; curves.py
# takes overlays from here.
from ..core.run_overlays import RUNS_CSS, TABLE_EVERY, overlays, table_html  # noqa: F401
from ..core.runs import run_settings, runs_csv, runs_json
from .common import html


class RunsTable(Viewer):
    """See the module docstring. refresh(runner, snap) -> True when the overlays changed."""

    def __init__(self, **params):
        super().__init__(**params)
        self.runner = None
        self.version = None
        self.runs = []  # the earlier runs, as the runner last gave them
        self.now = {}
        self.shown_at = 0.0
        self.table = html(css_classes=["cp-runs-table"], stylesheets=[RUNS_CSS], styles={"overflow-x": "auto"})
        self.show = pn.widgets.CheckBoxGroup(options={}, value=[], inline=True)
        self.csv = pn.widgets.FileDownload(
            callback=lambda: self._download("csv"), filename="runs.csv", label="Download runs (CSV)", embed=False
        )
        self.json = pn.widgets.FileDownload(
            callback=lambda: self._download("json"), filename="runs.json", label="Download runs (JSON)", embed=False
        )
        self._layout = pn.Column(
            self.table,
            pn.Row(self.show, self.csv, self.json),
            sizing_mode="stretch_width",
            css_classes=["cp-runs-card"],
        )

    def __panel__(self):
        return self._layout

    @property
    def hidden(self):
        return {r["run"] for r in self.runs} - set(self.show.value)

    def refresh(self, runner, snap, now_s):
        """Redraw the table when the runs changed (or every TABLE_EVERY seconds for the live
        row); True when the earlier runs or the settings in progress changed (overlays anew)."""
        if not hasattr(runner, "runs_view"):
            return False
        self.runner = runner
        now = run_settings(snap.get("hyper") or {}, snap.get("spec") or [], snap.get("net_source", ""))
        version, _ = runner.runs_view(with_current=False)  # cheap: the earlier runs are shared
        changed = version != self.version or now != self.now
        if not changed and now_s - self.shown_at < TABLE_EVERY:
            return False
        _, runs = runner.runs_view()
        earlier = [r for r in runs if r["run"] != snap.get("run_id")]
        if changed:
            old = {r["run"] for r in self.runs}
            self.version, self.now, self.runs = version, now, earlier
            options = {"run %d" % r["run"]: r["run"] for r in earlier}
            shown = [r["run"] for r in earlier if r["run"] not in old or r["run"] in self.show.value]
            self.show.param.update(options=options, value=shown)
        self.table.object = table_html(runs, snap.get("run_id"))
        self.shown_at = now_s
        return changed

    def _download(self, kind):
        _, runs = self.runner.runs_view() if self.runner is not None else (None, [])
        text = runs_csv(runs) if kind == "csv" else runs_json(runs)
        return io.BytesIO(text.encode("utf-8"))
