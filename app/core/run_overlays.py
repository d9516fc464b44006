"""Runs to compare, as both front ends draw them: the earlier runs' faint lines (their legend
naming only what differed from the run in progress, "lr 1 → 0.01") and the runs table's HTML.

The server's RunsTable (app/views/runs_table.py) and the static site's worker
(app/core/worker_feed.py) both call these; the records come from the Runner's RunLog
(app/core/runs.py). Plain Python and NumPy: no Panel here.
"""

from __future__ import annotations

from html import escape

import numpy as np

from .runs import SETTINGS, differences

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
