"""HTML for the teaching views: the case-study tables as the slides lay them out, the list of
the slides' corrections, and galleries of test images with their top-3.

Plain strings (no Panel, no Bokeh), like fragments.py. The numbers come from casestudies.py and
evaluation.py.
"""

from __future__ import annotations

import html

import numpy as np

from engine import human_count

from .fragments import png_data_uri

# -- case studies ----------------------------------------------------------------------------
CASE_CSS = """
<style>
.cs-table {border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 1em;}
.cs-table th, .cs-table td {padding: 0.15em 0.6em; border-bottom: 1px solid #ddd; text-align: right;}
.cs-table th:first-child, .cs-table td:first-child {text-align: left;}
.cs-table tr.changed td {background: #fff3c4;}
.cs-table tr.total td {font-weight: bold; border-top: 2px solid #444;}
.cs-table .expr {color: #777; font-size: 0.85em;}
.cs-table del.slide {color: #c0392b;}
.cs-fixes li {margin-bottom: 0.4em;}
</style>
"""


def _fmt(n):
    return f"{n:,}"


def case_table_html(table, changed=None, claims=()):
    """A case-study table (casestudies.case_table) as HTML, as the slides lay it out.

    changed: the name of a switched row to highlight. claims: checked claims
    (casestudies.check_claims); where one is off, its slide figure shows struck through
    beside the engine's."""
    wrong = {}
    for c in claims:
        if c["ok"]:
            continue
        kind, *rest = c["measure"].split(":")
        if kind == "total":
            wrong[("total", rest[0])] = c["claimed"]
        elif kind == "row":
            wrong[(rest[0], rest[1])] = c["claimed"]
        elif kind.startswith("index") and int(kind[5:]) < len(table["rows"]):
            wrong[(table["rows"][int(kind[5:])]["name"], rest[0])] = c["claimed"]

    def slide(key):
        return ' <del class="slide" title="the slide says">%s</del>' % html.escape(wrong[key]) if key in wrong else ""

    e = html.escape
    out = [
        CASE_CSS,
        '<table class="cs-table"><tr><th>layer</th><th>output volume</th><th>memory</th>'
        "<th>weights</th><th>+ biases</th><th>params</th></tr>",
    ]
    for r in table["rows"]:
        label = r["label"] + ("+" + r["activation"].upper() if r["activation"] else "")
        out.append(
            '<tr class="%s"><td><b>%s</b> <span class="expr">%s %s</span></td><td>[%s]%s</td>'
            '<td>%s <span class="expr">%s</span>%s</td><td>%s <span class="expr">%s</span>%s</td>'
            "<td>%s</td><td>%s%s</td></tr>"
            % (
                "changed" if r["name"] == changed else "",
                e(label),
                e(r["name"]),
                e(r["detail"]),
                e(r["output"]),
                slide((r["name"], "output")),
                _fmt(r["memory"]),
                e(r["memory_expr"]),
                slide((r["name"], "memory")),
                _fmt(r["weights"]),
                e(r["weights_expr"]) if r["weights"] else "",
                slide((r["name"], "weights")),
                _fmt(r["biases"]),
                _fmt(r["params"]),
                slide((r["name"], "params")),
            )
        )
    t = table["totals"]
    out.append(
        '<tr class="total"><td>TOTAL</td><td></td><td>%s (%s)%s<br><span class="expr">x 4 bytes = %.1f MB%s'
        "</span></td><td>%s</td><td>%s</td><td>%s (%s)%s</td></tr></table>"
        % (
            _fmt(t["memory"]),
            human_count(t["memory"]),
            slide(("total", "memory")),
            t["forward_bytes"] / 1e6,
            slide(("total", "forward_bytes")),
            _fmt(t["weights"]),
            _fmt(t["biases"]),
            _fmt(t["params"]),
            human_count(t["params"]),
            slide(("total", "params")),
        )
    )
    return "".join(out)


def corrections_html(claims):
    """'The slide says X, the correct figure is Y' for every claim that is off."""
    items = []
    for c in claims:
        if c["ok"]:
            continue
        if c.get("variant"):
            items.append(
                "<li>“%s” — right for the source's own net; this one has <b>%s</b>. <i>%s</i></li>"
                % (html.escape(c["slide"]), html.escape(c["correct"]), html.escape(c["note"]))
            )
            continue
        items.append(
            "<li>“%s” — the slide says <del>%s</del>; the correct figure is <b>%s</b>. <i>%s</i></li>"
            % (html.escape(c["slide"]), html.escape(c["claimed"]), html.escape(c["correct"]), html.escape(c["note"]))
        )
    ok = sum(1 for c in claims if c["ok"])
    tail = "<p>%d other figure%s on the slide check%s out.</p>" % (ok, "" if ok == 1 else "s", "s" if ok == 1 else "")
    if not items:
        return tail
    return '<ul class="cs-fixes">%s</ul>%s' % ("".join(items), tail)


def png_uri(image, scale=3):
    """A uint8 image (H, W, C) as a data: URI of a PNG, enlarged `scale` times (nearest)."""
    image = np.asarray(image, dtype=np.uint8)
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    return png_data_uri(image)


def gallery_html(items, images, class_names, scale=3):
    """Images of a confusion-matrix cell with their top-3 (items from RollingEvaluation.cell)."""
    if not items:
        return "<p>No images in this cell.</p>"
    cells = []
    for item, image in zip(items, images):
        top = "<br>".join("%s %.0f%%" % (html.escape(str(class_names[c])), 100 * p) for c, p in item["top"])
        cells.append(
            '<figure style="display:inline-block;margin:4px;text-align:center;font-size:0.85em">'
            '<img src="%s" style="image-rendering:pixelated" alt="test image %d">'
            "<figcaption>#%d %s<br>%s</figcaption></figure>"
            % (png_uri(image, scale), item["index"], item["index"], html.escape(str(class_names[item["label"]])), top)
        )
    return "".join(cells)
