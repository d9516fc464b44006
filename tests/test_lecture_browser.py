"""Lecture mode end to end: `python -m app --lecture` on the real CIFAR-10 copy, headless Chromium.

The server prints a presenter URL (secret token) and a viewer URL, on the viewers' own server
(app/relay.py); a viewer who opens the presenter's address without the token is sent there. A
viewer's page follows the presenter's section; it is read-only, and when its browser forges changes anyway (a re-enabled Start button clicked, a
menu's value set through Bokeh's document) the server refuses them: the run stays paused with
its settings. The presenter's keys work: arrows turn sections, space pauses and resumes, s
steps one batch — and a viewer sees the presenter's run, the moment of its timeline the
presenter scrubs to and its runs table. Screenshots: tests/artifacts/lecture_*.png.
"""

from __future__ import annotations

import re
import time

import pytest
from browser import (
    ARTIFACTS,
    DATA,
    drag_slider,
    examples,
    free_port,
    require_chromium,
    require_data,
    start_app,
    stop_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    require_data()
    require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "lecture_server.log"
    viewer_port = free_port()
    args = ["--data", str(DATA), "--backend", "numpy", "--lecture", "--paused", "--viewer-port", str(viewer_port)]
    proc, url = start_app(args, log, tmp_path_factory.mktemp("convnet-cache"))
    text = log.read_text()
    presenter = re.search(r"Presenter \(keep this one to yourself\): (\S+)", text)
    viewer = re.search(r"Viewers: (\S+)", text)
    assert presenter and viewer, text
    assert presenter.group(1).startswith(url + "?presenter=")
    assert viewer.group(1) == "http://127.0.0.1:%d/" % viewer_port
    yield {"presenter": presenter.group(1), "viewer": viewer.group(1), "url": url, "log": log}
    stop_app(proc)


def open_page(browser, url, width=1500, height=1000):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url, wait_until="load", timeout=120_000)
    return page


def status(page):
    return " ".join(page.locator(".cp-header .cp-pill").all_inner_texts())


def wait_for(predicate, timeout, what, page=None, name="failed"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    if page is not None:
        page.screenshot(path=str(ARTIFACTS / ("lecture_%s.png" % name)))
    pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))


# Set a Bokeh model's property from the page, as a tampered page could: found by a property value.
FORGE = """([key, value, prop, newValue]) => {
  const doc = Bokeh.documents[0];
  const hits = [...doc.all_models].filter((m) => m[key] === value);
  hits.forEach((m) => { m[prop] = newValue; });
  return hits.length;
}"""


def test_a_viewer_cannot_change_the_run_even_by_forging_its_page(lecture, browser):
    viewer = open_page(browser, lecture["viewer"] + "?layout=full")  # the whole dashboard, controls too
    viewer.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    wait_for(lambda: "paused" in status(viewer), 300, "the data to load (status paused)", viewer)
    start = viewer.locator("button", has_text="Start").first
    assert start.is_disabled()
    assert viewer.evaluate(FORGE, ["label", "Start", "disabled", False]) >= 1  # re-enable it...
    wait_for(lambda: start.is_enabled(), 10, "the forged button to be enabled", viewer)
    start.click()  # ...and click it
    assert viewer.evaluate(FORGE, ["title", "optimizer", "value", "sgd"]) == 1
    viewer.get_by_text("only the presenter can").first.wait_for(timeout=15_000)
    time.sleep(3)
    viewer.screenshot(path=str(ARTIFACTS / "lecture_viewer_refused.png"))
    # The server's word, from a fresh page: still paused, no example trained, adadelta as before.
    # (opened at the presenter's address without the token: the page moves to the viewers' server)
    check = open_page(browser, lecture["url"] + "?layout=full")
    check.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    assert check.url == lecture["viewer"] + "?layout=full"
    assert "paused" in status(check) and examples(check) == 0
    menu = check.evaluate("() => [...Bokeh.documents[0].all_models].filter((m) => m.title === 'optimizer')[0].value")
    assert menu == "adadelta"
    assert "Traceback" not in lecture["log"].read_text()
    import json
    import urllib.request

    numbers = json.loads(urllib.request.urlopen(lecture["url"] + "status.json", timeout=30).read())
    assert numbers["status"] == "paused" and numbers["examples"] == 0  # the same, for scripts
    check.context.close()
    viewer.context.close()


def test_presenter_keys_drive_the_run_and_viewers_follow(lecture, browser):
    presenter = open_page(browser, lecture["presenter"], width=1280, height=800)
    nav = presenter.locator(".cp-nav").first
    nav.get_by_text("Learning: loss and accuracy").wait_for(timeout=60_000)
    assert presenter.get_by_text("watching: read-only").count() == 0
    wait_for(lambda: "paused" in status(presenter), 300, "the data to load", presenter)
    presenter.keyboard.press("ArrowRight")
    nav.get_by_text("Network visualisation").wait_for(timeout=10_000)
    assert "2 / 10" in nav.inner_text()
    presenter.locator(".cp-vis-figure canvas").first.wait_for(timeout=60_000)
    presenter.keyboard.press("ArrowLeft")
    nav.get_by_text("Learning: loss and accuracy").wait_for(timeout=10_000)
    n0 = examples(presenter)
    presenter.keyboard.press("s")
    wait_for(lambda: examples(presenter) > n0, 60, "one step after 's'", presenter)
    n1 = examples(presenter)
    assert "paused" in status(presenter)
    presenter.keyboard.press(" ")
    wait_for(lambda: "running" in status(presenter), 10, "running after space", presenter)
    viewer = open_page(browser, lecture["viewer"])
    wait_for(lambda: examples(viewer) > n1, 60, "the viewer to see the run go on", viewer, "viewer")
    assert presenter.locator("button", has_text="Pause").count() >= 1
    time.sleep(4)
    presenter.screenshot(path=str(ARTIFACTS / "lecture_presenter.png"))
    for k in range(2, 11):  # every section, one at a time, while the net trains
        presenter.keyboard.press("ArrowRight")
        wait_for(lambda k=k: "%d / 10" % k in nav.inner_text(), 10, "section %d" % k, presenter)
        time.sleep(2.5)
        box = presenter.locator(".cp-slide").first.bounding_box()
        assert box["height"] > 200, "section %d renders blank" % k  # (it did: a widget's JS not loaded)
        presenter.screenshot(path=str(ARTIFACTS / ("lecture_presenter_%02d.png" % k)))
    # the viewer's page (the presenter layout, following) shows the presenter's section, and has no keys
    viewer_nav = viewer.locator(".cp-nav").first
    wait_for(lambda: "10 / 10" in viewer_nav.inner_text(), 15, "the viewer to follow to section 10", viewer, "viewer")
    assert viewer.get_by_text("following the presenter").count() == 1
    viewer.keyboard.press("ArrowLeft")
    time.sleep(2)
    assert "10 / 10" in viewer_nav.inner_text()
    viewer.screenshot(path=str(ARTIFACTS / "lecture_viewer_following.png"))
    presenter.keyboard.press(" ")
    wait_for(lambda: "paused" in status(presenter), 10, "paused after space", presenter)
    time.sleep(1.5)
    n2 = examples(presenter)
    time.sleep(2)
    assert examples(presenter) == n2  # paused means paused
    wait_for(lambda: "paused" in status(viewer), 10, "the viewer to see the pause", viewer, "viewer")
    viewer.context.close()
    presenter.context.close()


def test_viewers_see_the_moment_the_presenter_scrubs_to_and_the_runs(lecture, browser):
    """The presenter drags the timeline back: a viewer's page draws that checkpoint's filters
    (the hash /status.json gives for the stored weights), its slider follows and cannot be
    used; the presenter's branch shows in the viewer's runs table."""
    import json
    import urllib.request

    def numbers(url):
        return json.loads(urllib.request.urlopen(url + "status.json", timeout=30).read())

    presenter = open_page(browser, lecture["presenter"] + "&layout=full")
    presenter.locator(".cp-timeline").first.wait_for(timeout=60_000)
    wait_for(lambda: "paused" in status(presenter), 300, "the data to load", presenter, "timeline")
    presenter.locator("button", has_text="Start").first.click()
    wait_for(lambda: len(numbers(lecture["url"])["timeline"]["checkpoints"]) >= 8, 120, "checkpoints", presenter)
    drag_slider(presenter, ".cp-timeline", 0.3)
    wait_for(lambda: numbers(lecture["url"])["timeline"]["ready"], 60, "the moment computed", presenter, "timeline")
    tl = numbers(lecture["url"])["timeline"]
    assert tl["viewing"] is not None and tl["shown_sha"] == tl["filters_sha"] != tl["live_filters_sha"]
    viewer = open_page(browser, lecture["viewer"] + "?layout=full")
    viewer.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    assert numbers(lecture["viewer"])["timeline"]["viewing"] == tl["viewing"]  # the viewers' server's word
    viewer.get_by_text("Showing the net at").first.wait_for(timeout=30_000)
    viewer.locator(".cp-timeline .noUi-target[disabled], .cp-timeline .noUi-target.noUi-disabled").first.wait_for(
        timeout=10_000
    )  # the viewer's slider follows and is disabled
    viewer.get_by_text("Network visualisation", exact=True).first.scroll_into_view_if_needed()
    moment = viewer.locator(".cp-vis-example .cp-vis-moment").first
    drawn = lambda: moment.get_attribute("data-filters-sha") == tl["filters_sha"]  # noqa: E731
    wait_for(drawn, 30, "the presenter's moment drawn for the viewer", viewer, "viewer_timeline")
    viewer.screenshot(path=str(ARTIFACTS / "lecture_viewer_timeline.png"), full_page=True)
    run = numbers(lecture["url"])["run_id"]
    presenter.locator("button", has_text="Branch from here").first.click()
    table = viewer.locator("table.cp-runs").first
    viewer.get_by_text("Curves", exact=True).first.scroll_into_view_if_needed()
    wait_for(lambda: "branch of run %d" % run in table.inner_text(), 30, "the runs in the viewer's table", viewer)
    assert "%d (now)" % (run + 1) in table.inner_text()
    presenter.locator("button", has_text="Pause").first.dispatch_event("click")  # as the tests after this expect
    wait_for(lambda: "paused" in status(presenter), 10, "paused", presenter, "timeline")
    viewer.context.close()
    presenter.context.close()


def presenting(page):
    """A presenter's page: the navigation and no read-only badge."""
    page.locator(".cp-nav").first.wait_for(timeout=60_000)
    return page.get_by_text("watching: read-only").count() == 0


def test_the_token_leaves_the_address_bar_and_a_reload_keeps_the_role(lecture, browser):
    page = open_page(browser, lecture["presenter"], width=1280, height=800)
    assert presenting(page)
    wait_for(lambda: "presenter=" not in page.url, 30, "the token to leave the address bar", page, "token")
    assert page.url == lecture["url"]
    cookie = [c for c in page.context.cookies() if c["name"] == "cp_presenter"]
    assert cookie and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Strict"
    assert "cp_presenter" not in page.evaluate("document.cookie")  # page scripts cannot read it
    page.locator(".cp-join svg").first.wait_for(timeout=30_000)  # the viewers' URL as a QR code
    assert lecture["viewer"] in page.locator(".cp-join-url").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "lecture_presenter_bar.png"))
    page.reload(wait_until="load")
    assert presenting(page) and page.url == lecture["url"]
    page.context.close()


def test_a_wrong_token_is_a_viewer(lecture, browser):
    page = open_page(browser, lecture["url"] + "?presenter=not-the-token")
    page.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    assert page.url.startswith(lecture["viewer"])  # sent on to the viewers' server
    page.context.close()


# Elements (through every component's shadow root) that end right of the screen: the page
# may fit while a section's content scrolls inside its card. [description, left, width] each.
# (Not Bokeh's overlay divs of a figure's renderers, which draw nothing themselves: their box
# keeps the size of the figure before it fit.)
WIDER_THAN_SCREEN = """(w) => {
  const out = []
  const walk = (root, outside) => {
    for (const el of root.children) {
      const r = el.getBoundingClientRect()
      const overlay = el.classList.contains("bk-GlyphRenderer")
      const over = r.width > 0 && r.height > 0 && r.right > w + 1 && !overlay
      if (over && !outside) out.push([el.tagName + "." + String(el.className).slice(0, 50), Math.round(r.left), Math.round(r.width)])
      if (el.shadowRoot) walk(el.shadowRoot, outside || over)
      walk(el, outside || over)
    }
  }
  walk(document.body, false)
  return out
}"""


def test_a_viewer_on_a_phone_never_scrolls_sideways(lecture, browser):
    """390x844, a phone's viewport (meta viewport honoured): every section the presenter
    shows fits the screen's width, the page and everything in its cards (figures scaled to
    it, tables compressed, rows wrapped); screenshots tests/artifacts/lecture_phone_NN.png."""
    presenter = open_page(browser, lecture["presenter"], width=1280, height=800)
    assert presenting(presenter)
    nav = presenter.locator(".cp-nav").first
    # A new presenter's page does not announce its first section (the room stays where the
    # last one left it, the last section after the tests above): turned there and back, it does.
    presenter.keyboard.press("ArrowRight")
    wait_for(lambda: "2 / 10" in nav.inner_text(), 10, "section 2", presenter)
    presenter.keyboard.press("ArrowLeft")
    wait_for(lambda: "1 / 10" in nav.inner_text(), 10, "section 1", presenter)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    phone.goto(lecture["viewer"], wait_until="load", timeout=120_000)
    phone_nav = phone.locator(".cp-nav").first
    phone_nav.wait_for(timeout=60_000)
    for k in range(1, 11):
        if k > 1:
            presenter.keyboard.press("ArrowRight")
            wait_for(lambda k=k: "%d / 10" % k in nav.inner_text(), 10, "section %d" % k, presenter)
        wait_for(lambda k=k: "%d / 10" % k in phone_nav.inner_text(), 15, "the phone at section %d" % k, phone, "phone")
        time.sleep(2.5)  # the section's figures drawn
        width, inner = phone.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        phone.screenshot(path=str(ARTIFACTS / ("lecture_phone_%02d.png" % k)), full_page=True)
        assert inner == 390 and width <= inner, "section %d is %d px wide on a %d px screen" % (k, width, inner)
        wide = phone.evaluate(WIDER_THAN_SCREEN, inner)
        assert not wide, "section %d: wider than the screen inside its card: %s" % (k, wide[:5])
        if k == 2:  # the network visualisation's captions shrink with its pictures
            sizes = phone.evaluate(CAPTION_SIZES)
            assert sizes and max(sizes) < 12, "captions of %s px over pictures shrunk to a phone" % sizes
        titles = phone.evaluate(TITLES_PAST_THE_SCREEN, inner)
        assert not titles, "section %d: figure titles wider than the screen: %s" % (k, titles)
    presenter.keyboard.press("ArrowRight")  # back to the first section for the tests after this one
    phone.context.close()
    presenter.context.close()


CAPTION_SIZES = """(() => {
  const out = [];
  for (const d of Bokeh.documents)
    for (const m of d.all_models)
      if (m.constructor.__name__ === "GlyphRenderer" && m.glyph.constructor.__name__ === "Text"
          && "stats" in m.data_source.data) {  // the network visualisation's captions
        const size = m.glyph.text_font_size;
        const v = size.value !== undefined ? size.value : size;
        if (typeof v === "string" && v.endsWith("px")) out.push(parseFloat(v));
      }
  return out;
})()"""


# Titles of shown figures that end past the screen's right edge: [text, font size, right edge].
# A title's width is measured with the canvas's own font metrics at its size.
TITLES_PAST_THE_SCREEN = """((screen) => {
  const out = [], ctx = document.createElement("canvas").getContext("2d");
  for (const view of Object.values(Bokeh.index)) {
    const stack = [view];
    while (stack.length) {
      const v = stack.pop();
      if (v.child_views) stack.push(...v.child_views);
      if (v.renderer_views) stack.push(...v.renderer_views.values());
      const t = v.model && v.model.title;
      if (!t || !t.text || !v.el || !v.el.getBoundingClientRect) continue;
      const box = v.el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      ctx.font = `${t.text_font_style || "bold"} ${t.text_font_size} sans-serif`;
      const right = box.left + ctx.measureText(t.text).width;
      if (right > screen + 1) out.push([t.text, t.text_font_size, Math.round(right)]);
    }
  }
  return out;
})"""


def test_a_revoked_token_changes_nothing(lecture, browser):
    old = open_page(browser, lecture["presenter"], width=1280, height=800)
    assert presenting(old)
    wait_for(lambda: "paused" in status(old), 300, "the data to load", old, "revoke")
    wait_for(lambda: "presenter=" not in old.url, 30, "the token to leave the address bar", old, "revoke")
    other = open_page(browser, lecture["presenter"], width=1280, height=800)
    assert presenting(other)
    other.locator("button", has_text="Revoke presenter link").first.click()
    other.get_by_text("revoked: the new presenter link is in the terminal").first.wait_for(timeout=15_000)
    wait_for(lambda: "New presenter link" in lecture["log"].read_text(), 10, "the new link in the terminal")
    new = re.search(r"New presenter link \(the old one is revoked\): (\S+)", lecture["log"].read_text()).group(1)
    assert new != lecture["presenter"]
    n0 = examples(old)
    old.keyboard.press("s")  # the old page still shows its buttons, the server refuses
    old.get_by_text("presenter link was revoked").first.wait_for(timeout=15_000)
    time.sleep(2)
    assert examples(old) == n0
    old.reload(wait_until="load")  # its cookie holds the old token: a viewer now
    old.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    stale = open_page(browser, lecture["presenter"])  # the old link, in a fresh browser
    stale.get_by_text("watching: read-only").first.wait_for(timeout=60_000)
    other.keyboard.press("s")  # the page that revoked keeps presenting
    wait_for(lambda: examples(other) > n0, 60, "a step from the revoking page", other, "revoke")
    lecture["presenter"] = new
    for p in (old, stale, other):
        p.context.close()
