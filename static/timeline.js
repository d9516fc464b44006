// The run's timeline on the static site: a slider "examples seen" under the curves scrubs back
// through the checkpoints the Runner keeps (app/core/runner_timeline.py over app/core/timeline.py:
// log-even, bounded) while training goes on. Moving it asks for that moment (the worker's
// app/core/worker_feed.py TimelineFeed); its pictures (the filters, the fixed example's
// activations and gradients as that net computes them) and its test predictions come with the
// worker's updates once made, between two training steps. "Back to live" returns; "Branch from
// here" starts a new run from the checkpoint (a run of its own in the runs table). A part of
// static/page.js (window.cpParts).
//
// For tests: window.cp.timeline = {checkpoints, view (examples of the moment, or null), ready
// (its pictures made), filters_sha, shown_sha (the Runner's hashes of the stored and the drawn
// filters), nbytes, shown: {examples, weights, shape} the stored checkpoint's first conv filters,
// busy (a move not answered yet)}; window.cp.visMoment: the examples of the pictures on screen.

"use strict";

(function () {
  let api = null;
  let checkpoints = [];
  let view = null;  // examples of the moment viewed; null: live
  let busy = false, wanted;  // one request at a time; the latest position wins
  let dragging = false;  // the visitor holds the slider: updates do not move it under the pointer

  const fmt = (n) => Number(n).toLocaleString("en");

  function build(a) {
    api = a;
    a.cp.timeline = { checkpoints: [], view: null, ready: false, nbytes: 0, shown: null, busy: false };
    a.$("cp-timeline").innerHTML =
      `<div class="cp-timeline"><label for="cp-timeline-slider">examples seen</label>` +
      `<input id="cp-timeline-slider" type="range" min="0" max="0" step="1" value="0" disabled>` +
      `<span id="cp-timeline-label" class="cp-timeline-label">live</span>` +
      `<button id="cp-timeline-live" class="cp-btn" disabled>Back to live</button>` +
      `<button id="cp-timeline-branch" class="cp-btn" disabled>Branch from here</button></div>` +
      `<div class="cp-dim cp-small" id="cp-timeline-note">the net's weights are kept at checkpoints ` +
      `(spaced evenly in log(examples seen), the last few closer): move the slider to see the filters, the ` +
      `fixed example's activations and the test predictions of that moment while training goes on (its ` +
      `gradients are that example's own: no training batch belongs to a checkpoint)</div>`;
    a.$("cp-timeline-slider").addEventListener("input", (e) => {
      const i = Number(e.target.value);
      move(i >= checkpoints.length ? null : checkpoints[i]);
    });
    a.$("cp-timeline-slider").addEventListener("pointerdown", () => { dragging = true; });
    window.addEventListener("pointerup", () => { dragging = false; });
    a.$("cp-timeline-live").addEventListener("click", () => move(null));
    a.$("cp-timeline-branch").addEventListener("click", async () => {
      const r = await api.send("timeline_branch", {});
      api.show(api.$("cp-error"), r.error);
    });
  }

  // The slider's positions: each checkpoint, then "live" at the right end.
  function draw() {
    const slider = api.$("cp-timeline-slider");
    slider.max = String(checkpoints.length);
    slider.disabled = checkpoints.length === 0;
    let i = checkpoints.length;
    if (view != null) {
      i = 0;
      while (i + 1 < checkpoints.length && checkpoints[i + 1] <= view) i++;
    }
    if (!busy && !dragging) slider.value = String(i);
    const t = api.cp.timeline;
    api.$("cp-timeline-label").textContent = view == null ?
      `live (${checkpoints.length} checkpoints kept${t.too_large ? "; this net is too large to keep" : ""})` :
      `${fmt(view)} examples seen: checkpoint ${i + 1} of ${checkpoints.length}${t.ready ? "" : " (drawing…)"}`;
    api.$("cp-timeline-live").disabled = view == null;
    api.$("cp-timeline-branch").disabled = view == null;
    api.$("fig-network").classList.toggle("cp-past", view != null);
  }

  async function move(examples) {
    wanted = examples;
    if (busy) return;
    busy = api.cp.timeline.busy = true;
    try {
      while (wanted !== undefined) {
        const target = wanted;
        wanted = undefined;
        const r = await api.send("timeline_view", { examples: target });
        api.show(api.$("cp-error"), r.error);
      }
    } finally {
      busy = api.cp.timeline.busy = false;
    }
  }

  function update(u) {
    const t = u.timeline;
    // The test predictions shown are the moment's too (the worker sends them): say so.
    const moment = t ? t.view : view;
    if (moment != null) {
      api.$("cp-pred-head").innerHTML = `<span style="font-size:18px">the net at <b>${fmt(moment)}</b> examples seen` +
        `</span> <span class="cp-dim">its guesses for the first test images (a moment of the timeline)</span>`;
    }
    if (!t) return;
    checkpoints = t.checkpoints;
    view = t.view;
    const state = api.cp.timeline;
    Object.assign(state, { checkpoints, view, ready: t.ready, key: t.key, nbytes: t.nbytes, too_large: t.too_large,
                           filters_sha: t.filters_sha, shown_sha: t.shown_sha });
    if (t.weights) state.shown = { examples: t.view, weights: Array.from(t.weights.array), shape: t.weights.shape };
    if (view == null) state.shown = null;
    draw();
  }

  window.cpParts = (window.cpParts || []).concat([{ name: "timeline", figures: build, update }]);
})();
