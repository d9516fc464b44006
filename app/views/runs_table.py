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
from html import escape

import numpy as np
import panel as pn
from panel.viewable import Viewer

from ..core.runs import SETTINGS, differences, run_settings, runs_csv, runs_json
from .common import html

OVERLAY_POINTS = 400  # points per earlier run sent to the page: its shape, not every step
COLORS = ("#667085", "#9e77ed", "#f79009", "#2e90fa", "#ee46bc", "#15b79e", "#e04f16", "#475467")
TABLE_EVERY = 3.0  # seconds between two redraws of the run in progress's row
RUNS_CSS = """
.cp-runs { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
.cp-runs th, .cp-runs td { padding: 3px 8px; border-bottom: 1px solid #eaecf0; text-align: right; white-space: nowrap; }
.cp-runs th { color: #475467; font-weight: 600; }
.cp-run-live td { font-weight: 600; }
.cp-runs-empty { color: #667085; }
.cp-run-branch { color: #667085; font-weight: 400; font-size: 12px; }
"""


def _thin(values, idx):
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, float)[idx]]


def overlays(runs, now, column, hidden=()):
    """LineChart overlays of the earlier `runs` (records of runs.py) for one curve column, each
    labelled by what differed from the settings `now`."""
    out = []
    for i, r in enumerate(runs):
        if r["run"] in hidden:
            continue
        xs = r["curves"]["examples"]
        idx = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), OVERLAY_POINTS)).round().astype(int))
        if not len(xs):
            continue
        diff = differences(r["settings"], now) or "same settings"
        out.append(
            {
                "label": "run %d: %s" % (r["run"], diff),
                "color": COLORS[i % len(COLORS)],
                "x": _thin(xs, idx),
                "y": _thin(r["curves"][column], idx),
            }
        )
    return out


def _pct(v):
    return "–" if v is None or not np.isfinite(v) else "%.1f%%" % (100 * v)


def table_html(runs, now_run):
    """The runs table: one row per run, the one in progress marked."""
    head = "".join("<th>%s</th>" % escape(k.replace("_", " ")) for k in SETTINGS if k != "source")
    rows = []
    for r in runs:
        s = r["settings"]
        cells = "".join("<td>%s</td>" % escape(str(s.get(k, ""))) for k in SETTINGS if k != "source")
        live = r["run"] == now_run
        source = str(s.get("source") or "")
        branch = '<br><span class="cp-run-branch">%s</span>' % escape(source) if source.startswith("branch of") else ""
        rows.append(
            '<tr class="%s"><td>%d%s%s</td>%s<td>%s</td><td>%s</td><td>%s</td></tr>'
            % (
                "cp-run-live" if live else "cp-run",
                r["run"],
                " (now)" if live else "",
                branch,
                cells,
                "{:,}".format(r["examples"]),
                _pct(r["best_val_acc"]),
                _pct(r["best_test_acc"]),
            )
        )
    if not rows:
        return (
            '<p class="cp-runs-empty">No runs yet: each run (after Reset, a new net or a snapshot) is listed here.</p>'
        )
    return (
        '<table class="cp-runs"><tr><th>run</th>%s<th>examples</th><th>best validation</th><th>best test</th></tr>%s</table>'
        % (head, "".join(rows))
    )


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
