// The run's timeline on the static site: a slider "examples seen" under the curves scrubs back
// through the checkpoints the worker keeps (app/core/worker_feed.py TimelineFeed, over
// app/core/timeline.py: log-even, bounded), while training goes on. Moving it asks the worker
// for the network pictures of that checkpoint (its filters, and the fixed example's activations
// and gradients as that net computes them); "Back to live" returns. A part of static/page.js
// (window.cpParts).
//
// For tests: window.cp.timeline = {checkpoints, view (examples shown, or null), nbytes,
// shown: {examples, weights: {name: [..]}, shape} of the last checkpoint drawn, busy (a move
// not drawn yet)}.

"use strict";

(function () {
  let api = null;
  let checkpoints = [];
  let view = null;  // examples of the checkpoint shown; null: live
  let busy = false, wanted;  // one request at a time; the latest position wins

  const fmt = (n) => Number(n).toLocaleString("en");

  function build(a) {
    api = a;
    a.cp.timeline = { checkpoints: [], view: null, nbytes: 0, shown: null, busy: false };
    a.$("cp-timeline").innerHTML =
      `<div class="cp-timeline"><label for="cp-timeline-slider">examples seen</label>` +
      `<input id="cp-timeline-slider" type="range" min="0" max="0" step="1" value="0" disabled>` +
      `<span id="cp-timeline-label" class="cp-timeline-label">live</span>` +
      `<button id="cp-timeline-live" class="cp-btn" disabled>Back to live</button></div>` +
      `<div class="cp-dim cp-small" id="cp-timeline-note">the net's weights are kept at checkpoints ` +
      `(spaced evenly in log(examples seen), the last few closer): move the slider to see the filters and the ` +
      `fixed example's activations of that moment while training goes on</div>`;
    a.$("cp-timeline-slider").addEventListener("input", (e) => {
      const i = Number(e.target.value);
      move(i >= checkpoints.length ? null : checkpoints[i]);
    });
    a.$("cp-timeline-live").addEventListener("click", () => move(null));
  }

  // The slider's positions: each checkpoint, then "live" at the right end.
  function draw() {
    const slider = api.$("cp-timeline-slider");
    slider.max = String(checkpoints.length);
    let i = checkpoints.length;
    if (view != null) {
      i = 0;
      while (i + 1 < checkpoints.length && checkpoints[i + 1] <= view) i++;
    }
    if (document.activeElement !== slider || view == null) slider.value = String(i);
    api.$("cp-timeline-label").textContent = view == null ?
      `live (${checkpoints.length} checkpoints kept)` :
      `${fmt(view)} examples seen: checkpoint ${i + 1} of ${checkpoints.length}`;
    api.$("cp-timeline-live").disabled = view == null;
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
        if (r.error) continue;
        view = r.live ? null : r.view;
        api.cp.timeline.view = view;
        if (r.vis) {
          api.applyVis(r.vis);
          const weights = {};
          let shape = null;
          for (const [k, v] of Object.entries(r.weights || {})) { weights[k] = Array.from(v.array); shape = v.shape; }
          api.cp.timeline.shown = { examples: r.view, weights, shape };
        }
        draw();
      }
    } finally {
      busy = api.cp.timeline.busy = false;
    }
  }

  function update(u) {
    const t = u.timeline;
    if (!t) return;
    checkpoints = t.checkpoints;
    view = t.view;
    Object.assign(api.cp.timeline, { checkpoints, view, nbytes: t.nbytes });
    api.$("cp-timeline-slider").disabled = checkpoints.length === 0;
    draw();
  }

  window.cpParts = (window.cpParts || []).concat([{ name: "timeline", figures: build, update }]);
})();
