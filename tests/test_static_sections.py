"""The static site's explaining sections in headless Chromium with a real Pyodide (0.17.1).

One page load (each costs a Pyodide start) serves every section: the network editor previews
an edit as the text changes (its table changes, a broken spec says why) and applies a net,
the confusion matrix fills from the runner's rolling evaluation and a cell click lists that
cell's images, saliency draws for a picked test image, training health shows its lines and
numbers, the convolution arithmetic follows an output position and agrees with the net, and
a case study shows its table and recomputes a switched row. The worker answers with the
server's own app/core (static/cp_sections.py); static/sections.js draws. Screenshots of each
section go to tests/artifacts/static-section-*.png.
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
import pytest
from browser import ARTIFACTS, REPO
from static_site import cp, offsite
from test_static_browser import dashboard, site  # noqa: F401  (one build and one page, module-scoped)

WAIT = 120_000


@pytest.fixture(scope="module")
def sections():
    """cp_sections.Sections over an unthreaded Runner on synthetic data, in CPython."""
    from app.core import Runner
    from datasets.synthetic import synthetic_dataset

    sys.path.insert(0, str(REPO / "static"))
    try:
        import cp_sections
    finally:
        sys.path.remove(str(REPO / "static"))
    r = Runner(synthetic_dataset(200, 60), backend="numpy", batch_size=16, eval_interval=0.0, threaded=False)
    r.start()
    t0 = time.monotonic()
    while r.snapshot(watch_vis=False)["steps"] < 12 and time.monotonic() - t0 < 60:
        r.tick()
    return cp_sections.Sections(r)


def test_sections_answer_with_the_cores_numbers(sections):
    """The worker's side without a browser: what each section's request answers."""
    from app.core import convarith

    first = sections.update()
    assert set(first) == {"spec", "evaluation", "health"} and sections.update() == {}  # nothing new: nothing sent
    ev = sections.runner.evaluation()
    cm = ev.snapshot()["matrix"]
    html = first["evaluation"]["matrix"]
    for i, j in [(0, 0), (1, 0), (2, 1)]:  # each cell names its place and count
        assert (
            'data-true="%d" data-pred="%d" title="%s as %s: %d"'
            % (i, j, ev.class_names[i], ev.class_names[j], cm[i, j])
            in html
        )
    t, p = np.argwhere(cm)[0]
    assert sections.command("cell", {"true": int(t), "pred": int(p)})["count"] == min(cm[t, p], 24)
    text = sections.command("preset", {})["text"]
    assert "TOTAL" in sections.command("preview", {"text": text})["html"].upper()
    assert "not valid JSON" in sections.command("preview", {"text": text[:-2]})["error"]
    lenet = sections.command("preview", {"text": sections.command("preset", {"name": "lenet5"})["text"]})
    assert not lenet["trainable"] and "32x32x1" in lenet["note"]  # inspectable, not trainable on RGB data
    conv = sections.command("conv", {"row": 2, "col": 5, "channel": 1, "take": True})
    net = sections.conv
    assert conv["total"] == pytest.approx(convarith.conv_arithmetic(net, "conv1", 2, 5, 1)["total"])
    assert "✓ equal" in conv["html"] and conv["values"]["row"] == 2
    assert sections.command("conv", {"row": 10**6})["values"]["row"] == conv["limits"]["row"]  # clamped
    sal = sections.command("saliency", {"index": 3, "class_index": 1})
    assert sal["class"] == 1 and sal["html"].count("data:image/png;base64,") == 2
    case = sections.command("case", {"net": "vgg16"})
    assert "138,357,544" in case["html"] and case["rows"][1]["values"]["out_channels"] == 64
    bad = sections.command("case", {"row": "conv1_1", "changes": {"type": "conv", "kernel_size": 999}})
    assert "does not fit" in bad["error"] and "Changed" not in bad["html"]
    ok = sections.command("case", {"row": "conv1_1", "changes": {"type": "pool", "kernel_size": 2, "stride": 2}})
    assert ok["error"] is None and "Changed from the slide's net" in ok["html"]


def _wait_count(page, key, more_than):
    page.wait_for_function("(window.cp.sections || {})['%s'] > %d" % (key, more_than), timeout=WAIT)


def _shot(page, section):
    page.locator("#cs-" + section).screenshot(path=str(ARTIFACTS / ("static-section-%s.png" % section)))


@pytest.mark.browser
@pytest.mark.slow
def test_every_section_renders_and_reacts(dashboard):  # noqa: F811
    page, _, log = dashboard
    page.wait_for_function("window.cp.sections && window.cp.sections.conv >= 1", timeout=WAIT)
    seen = cp(page, "window.cp.sections")
    assert seen["previews"] >= 1 and seen["cases"] >= 1, seen

    # -- the editor: the running net's text, previewed; an edit changes the table --------------
    assert '"type": "conv"' in page.input_value("#cs-spec")
    table = page.inner_text("#cs-preview")
    assert "conv" in table and "TOTAL" in table.upper(), table
    text = page.input_value("#cs-spec")
    edited = text.replace('"out_channels": 16', '"out_channels": 8', 1)
    assert edited != text, text
    n = seen["previews"]
    page.fill("#cs-spec", edited)
    _wait_count(page, "previews", n)
    after = page.inner_text("#cs-preview")
    assert after != table and "32x32x8" in after and "32x32x8" not in table
    n = page.evaluate("window.cp.sections.previews")
    page.fill("#cs-spec", edited[:-3])  # broken JSON: the error in place, nothing to apply
    _wait_count(page, "previews", n)
    assert "not valid JSON" in page.inner_text("#cs-spec-error") and page.is_disabled("#cs-apply")
    page.fill("#cs-spec", edited)
    page.wait_for_function("!document.querySelector('#cs-apply').disabled", timeout=WAIT)
    _shot(page, "editor")

    # -- evaluation: the matrix fills, a cell click lists its images ---------------------------
    page.wait_for_function("(window.cp.sections.matrices || 0) >= 1", timeout=WAIT)
    page.click("#cp-pause")  # the matrix holds still (a click also redraws it as its images' source)
    page.wait_for_function("document.querySelector('#cp-status').innerText.trim() === 'paused'", timeout=WAIT)
    assert re.search(r"test accuracy <b>[\d.]+%</b> on \d+ of 100 test images", page.inner_html("#cs-eval-status"))
    cells = page.eval_on_selector_all(
        "#cs-matrix td.cs-cell", "tds => tds.map(t => [t.dataset.true, t.dataset.pred, t.textContent])"
    )
    assert len(cells) == 100 and sum(int(c[2] or 0) for c in cells) >= 1
    t, p, count = next(c for c in cells if c[2])
    assert page.locator("#cs-per-class .cs-acc").count() == 10
    page.click('#cs-matrix td[data-true="%s"][data-pred="%s"]' % (t, p))
    _wait_count(page, "cells", 0)
    count = page.inner_text('#cs-matrix td[data-true="%s"][data-pred="%s"]' % (t, p))
    shown = page.locator("#cs-gallery figure").count()
    assert shown == min(int(count), 24) == page.evaluate("window.cp.sections.cellCount"), (shown, count)
    assert "shown" in page.inner_text("#cs-gallery h4")
    _shot(page, "evaluation")
    page.click("#cp-start")

    # -- saliency for a picked test image ----------------------------------------------------------
    page.fill("#cs-sal-index", "7")
    page.click("#cs-sal-go")
    _wait_count(page, "saliency", 0)
    assert page.locator("#cs-sal-result img").count() == 2
    assert "test image #7" in page.inner_text("#cs-sal-result") and "Top-3" in page.inner_text("#cs-sal-result")
    page.fill("#cs-sal-index", "100000")
    page.click("#cs-sal-go")
    page.wait_for_function("!document.querySelector('#cs-sal-error').hidden", timeout=WAIT)
    assert "no test image 100000" in page.inner_text("#cs-sal-error")
    _shot(page, "saliency")

    # -- training health: lines and numbers ----------------------------------------------------------
    page.wait_for_function("(window.cp.sections.health || 0) >= 1", timeout=WAIT)
    assert page.locator("#cs-health-body svg polyline").count() >= 3
    latest = page.eval_on_selector_all("#cs-health-body td:nth-child(2)", "tds => tds.map(t => t.textContent)")
    assert latest and all(re.match(r"^[\d.e+-]+$", v) for v in latest), latest
    _shot(page, "health")

    # -- the convolution arithmetic follows an output position --------------------------------------
    assert "✓ equal" in page.inner_text("#cs-conv-result")
    n = page.evaluate("window.cp.sections.conv")
    page.fill("#cs-conv-row", "3")
    page.dispatch_event("#cs-conv-row", "change")
    _wait_count(page, "conv", n)
    text = page.inner_text("#cs-conv-result")
    assert "conv1[3, 0, 0]" in text and "✓ equal" in text, text
    assert page.locator("#cs-conv-result .cs-grid table").count() == 3
    _shot(page, "conv")

    # -- a case study: its table, another net, a switched row -------------------------------------
    assert "VGG-16" in page.inner_text("#cs-case-result") and "138,357,544" in page.inner_text("#cs-case-result")
    n = page.evaluate("window.cp.sections.cases")
    page.select_option("#cs-case-net", "lenet5")
    _wait_count(page, "cases", n)
    assert "LeNet-5" in page.inner_text("#cs-case-result")
    n = page.evaluate("window.cp.sections.cases")
    page.select_option("#cs-case-row", index=1)
    page.fill('#cs-case-fields input[data-key="out_channels"]', "12")
    page.click("#cs-case-apply")
    _wait_count(page, "cases", n)
    assert "Changed from the slide's net" in page.inner_text("#cs-case-result")
    _shot(page, "case")

    # -- applying the edited net rebuilds it: the layer table follows -----------------------------
    assert "32x32x16" in page.inner_text("#cp-layer-table")
    n = page.evaluate("window.cp.sections.specs")
    page.click("#cs-apply")
    page.wait_for_function("!document.querySelector('#cs-spec-done').hidden", timeout=WAIT)
    _wait_count(page, "specs", n)
    assert "32x32x8" in page.inner_text("#cp-layer-table")
    assert not cp(page, "window.cp.errors") and not offsite(log)
