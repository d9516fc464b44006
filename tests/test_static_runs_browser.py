"""Issue 19 on the static site, in headless Chromium with the real Pyodide 0.17.1 (the site and
server of tests/test_static_browser.py): a #setup= link opens that setup, a malformed one shows
a one-line message and training goes on, a second run's faint lines carry a legend naming what
differed and the runs table lists both runs (hidden and shown again, downloaded as CSV), the
timeline's slider shows a stored checkpoint's filters pixel for pixel while training continues,
"Back to live" returns and "Branch from here" adds a run the table names. One page load for all
of it (Pyodide's start is the expensive part). Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import numpy as np
import pytest
from browser import ARTIFACTS
from conftest import TINY
from static_site import START_TIMEOUT_MS, cp, offsite, open_page
from test_static_browser import site  # noqa: F401 (the built site, served: a fixture)

from app.core.plot_data import layer_picture, to_rgba
from app.core.setup_link import decode_setup, encode_setup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LINK = encode_setup(TINY, {"optimizer": "sgd", "lr": 0.02, "momentum": 0.9, "batch_size": 8, "seed": 3})


def _wait(page, expr, log, what, timeout=120_000):
    try:
        page.wait_for_function(expr, timeout=timeout)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "static-runs-failed.png"), full_page=True)
        raise AssertionError("%s never happened (%s):\n%s" % (what, expr, "\n".join(log[-30:]))) from None


def _examples(page):
    return cp(page, "window.cp.status.examples")


FILTERS_DRAWN = """(() => {
  for (const doc of Bokeh.documents) {
    const src = doc.get_model_by_name("cp-net-images");
    if (!src) continue;
    const i = src.data.layer.findIndex((name, j) => name === "conv1" && src.data.kind[j] === "filters");
    const im = src.data.image[i];
    return { shape: Array.from(im.shape), rgba: Array.from(im) };
  }
})()"""


def _filters_drawn(page):
    """conv1's filter picture as the page's network figure holds it: uint8 RGBA (h, w, 4)."""
    d = page.evaluate(FILTERS_DRAWN)
    return np.array(d["rgba"], np.uint32).reshape(d["shape"]).view(np.uint8).reshape(tuple(d["shape"]) + (4,))


def _filters_of(weights):
    """The picture the core draws of conv filters (F, 3, K, K), as _filters_drawn returns it."""
    return to_rgba(layer_picture("filters", weights, max_width=190)[0]).view(np.uint8).reshape(-1)


def test_setup_link_runs_to_compare_and_the_timeline(site, browser):  # noqa: F811
    out, url = site
    log = []
    page = open_page(browser, url + "index.html#setup=" + LINK, log)
    try:
        _wait(page, "window.cp && window.cp.firstStep && window.cp.setup", log, "a first step", START_TIMEOUT_MS)
        # The link's setup is the run: its net (6 filters, not the default's 16) and settings.
        state = cp(page)
        assert state["status"]["hyper"]["lr"] == 0.02 and state["status"]["hyper"]["optimizer"] == "sgd"
        assert state["firstStep"]["seed"] == 3 and state["firstStep"]["batch_size"] == 8
        spec, settings = decode_setup(state["setup"])
        assert spec[1]["out_channels"] == 6 and settings["lr"] == 0.02 and settings["seed"] == 3
        assert page.evaluate("location.hash") == "#setup=" + state["setup"]
        assert page.input_value("#cp-link").endswith("#setup=" + state["setup"])
        assert state["linkError"] is None
        # The network figure fits this smaller net's pictures: no blank band above them.
        _wait(page, "window.cp.visMoment !== undefined", log, "the network pictures")
        fit = page.evaluate(
            "(() => { for (const d of Bokeh.documents) { const f = d.get_model_by_name('cp-net-figure');"
            " const s = d.get_model_by_name('cp-net-images'); if (!f) continue;"
            " const tops = s.data.y.map((y, i) => y + s.data.dh[i]);"
            " return [f.y_range.end, f.frame_height, Math.max(...tops)]; } })()"
        )
        assert fit[0] == fit[1] and 0 < fit[0] - fit[2] <= 80, fit  # the column titles and a caption

        # A second run: new learning rate, Reset. The first one's lines stay, named by the change.
        _wait(page, "window.cp.status.examples >= 200", log, "200 examples")
        page.fill("#cp-lr", "0.005")
        page.dispatch_event("#cp-lr", "change")
        _wait(page, "window.cp.status.hyper.lr === 0.005", log, "the new learning rate")
        assert decode_setup(cp(page, "window.cp.setup"))[1]["lr"] == 0.005  # the link follows the setup
        assert page.evaluate("location.hash") == "#setup=" + cp(page, "window.cp.setup")
        first_run = cp(page, "window.cp.status.run_id")
        page.click("#cp-reset")
        _wait(page, "window.cp.runs && window.cp.runs.legend.length === 1", log, "the earlier run's line")
        runs = cp(page, "window.cp.runs")
        assert runs["legend"] == ["run %d: lr 0.02 → 0.005" % first_run], runs
        assert runs["earlier"] == [first_run]
        rows = page.locator("#cp-runs-table tr")
        assert rows.count() == 3  # the header and two runs
        assert "(now)" in rows.nth(2).inner_text()
        drawn = page.evaluate(
            "(() => { const m = (n) => { for (const d of Bokeh.documents) { const x = d.get_model_by_name(n);"
            " if (x) return x; } }; return [m('cp-run-0').data.x.length, m('cp-run-acc-0').visible,"
            " m('cp-run-acc-0-legend').label.value, m('cp-run-acc-1').visible]; })()"
        )
        assert drawn[0] > 0 and drawn[1] is True and drawn[2] == runs["legend"][0] and drawn[3] is False
        page.click("#cp-runs-show input")  # hide run 1's lines
        assert cp(page, "window.cp.runs.legend") == []
        page.click("#cp-runs-show input")
        assert cp(page, "window.cp.runs.legend") == runs["legend"]
        with page.expect_download() as download:
            page.click("#cp-runs-csv")
        assert download.value.suggested_filename == "runs.csv"
        _wait(page, "window.cp.runs.downloaded", log, "the CSV download")
        assert cp(page, "window.cp.runs.downloaded")["runs"] == 2

        # A malformed link pasted into the address bar: a one-line message, training goes on.
        run, seen = cp(page, "window.cp.status.run_id"), _examples(page)
        page.evaluate("location.hash = '#setup=eyJzcGVjIjpbey'")
        _wait(page, "window.cp.linkError", log, "the bad link's message")
        message = page.inner_text("#cp-link-error")
        assert "not readable" in message and "\n" not in message.strip()
        _wait(page, "window.cp.status.examples > %d" % (seen + 50), log, "training after the bad link")
        assert cp(page, "window.cp.status.run_id") == run

        # The timeline: drag the slider back; the filters drawn are the stored checkpoint's, and
        # stay so while training goes on; "Back to live" returns.
        _wait(page, "window.cp.timeline.checkpoints.length >= 6", log, "six checkpoints")
        # The slider rests on the last checkpoint at or before the moment viewed (timeline.js's
        # draw): the moment's own, or, once the store (full at 64) has thinned that one out
        # while training went on, the one before it; the moment stays on screen either way.
        moment = (
            "(() => { const t = window.cp.timeline;"
            " const i = Number(document.getElementById('cp-timeline-slider').value);"
            " return !t.busy && t.view !== null && t.ready && window.cp.visMoment === t.view && t.shown"
            " && t.shown.examples === t.view && t.checkpoints[i] <= t.view"
            " && !(t.checkpoints[i + 1] <= t.view); })()"  # the moment where the slider was let go
        )
        live_filters = _filters_drawn(page)
        box = page.locator("#cp-timeline-slider").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] - 4, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
        page.mouse.up()
        _wait(page, moment, log, "a moment of the timeline drawn")
        shown, timeline = cp(page, "window.cp.timeline.shown"), cp(page, "window.cp.timeline")
        assert shown["examples"] == timeline["view"] < timeline["checkpoints"][-1], (shown, timeline)
        # the stored checkpoint's filters are the ones drawn: the Runner's own check agrees
        assert timeline["filters_sha"] == timeline["shown_sha"]
        seen = _examples(page)
        assert shown["examples"] < seen
        weights = np.array(shown["weights"], np.float32).reshape(shown["shape"])
        expected = _filters_of(weights)
        drawn = _filters_drawn(page)
        # Pixel for pixel: the same float32 weights make the same picture in Pyodide's NumPy 1.17
        # and here (neighbouring checkpoints differ by a few levels: no tolerance).
        np.testing.assert_array_equal(drawn.reshape(-1), expected)
        assert not np.array_equal(drawn, live_filters)  # the past, not the net of a moment ago
        assert "examples seen: checkpoint" in page.inner_text("#cp-timeline-label")
        page.screenshot(path=str(ARTIFACTS / "static-timeline.png"), full_page=True)
        _wait(page, "window.cp.status.examples > %d" % (seen + 100), log, "training while scrubbed back")
        again = _filters_drawn(page)
        np.testing.assert_array_equal(again.reshape(-1), expected)  # still that moment
        page.click("#cp-timeline-live")
        _wait(page, "window.cp.timeline.view === null && window.cp.visMoment === null", log, "back to live")
        assert "live" in page.inner_text("#cp-timeline-label")

        # Branch from a moment: a run of its own, named in the table.
        page.mouse.move(box["x"] + box["width"] - 4, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=3)
        page.mouse.up()
        _wait(page, moment, log, "a second moment drawn")
        at = cp(page, "window.cp.timeline.view")
        page.click("#cp-timeline-branch")
        _wait(page, "window.cp.runs.count === 3 && window.cp.timeline.view === null", log, "the branch's run")
        assert "branch of run %d at %s examples" % (run, format(at, ",")) in page.inner_text("#cp-runs-table")

        page.screenshot(path=str(ARTIFACTS / "static-runs.png"), full_page=True)
        assert not cp(page, "window.cp.errors"), cp(page, "window.cp.errors")
        assert not [line for line in log if line.startswith("pageerror")], log
    finally:
        assert not offsite(log), log
        page.close()
