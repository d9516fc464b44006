// Runs to compare and the setup in the link, on the static site (the server app's
// app/views/runs_table.py and app/views/share_link.py). A part of static/page.js (see its
// window.cpParts): the worker's Python (app/core/worker_feed.py) sends the runs table as HTML and
// the earlier runs' lines, each labelled by what differed from the run in progress ("run 2: lr
// 1 → 0.01"); this file puts the lines into the faint dashed renderers build.py made (sources
// cp-run-0..7, app/plots.py add_run_lines), shows or hides them per run, downloads the runs, and
// keeps the page's hash (#setup=..., app/core/setup_link.py's encoding) in step with the setup.
//
// For tests: window.cp.runs = {count, earlier, legend: the labels the charts' legends show},
// window.cp.setup (the link's parameter for the setup in progress), window.cp.linkError.

"use strict";

(function () {
  const HASH = "#setup=";
  const hidden = new Set();  // run numbers whose lines the visitor hid
  let slots = [];  // per slot i: {source, lines: [loss, acc], items: [legend items]}
  let earlier = [];  // the earlier runs' numbers, slot by slot
  let labels = [];
  let api = null;

  const nan = (v) => (v == null ? NaN : v);

  function figures(a) {
    api = a;
    a.cp.runs = { count: 0, earlier: [], legend: [] };
    a.cp.linkError = null;
    for (let i = 0; ; i++) {
      const source = a.model(`cp-run-${i}`);
      if (!source) break;
      const lines = ["loss", "acc"].map((c) => a.model(`cp-run-${c}-${i}`));
      const items = ["loss", "acc"].map((c) => a.model(`cp-run-${c}-${i}-legend`));
      slots.push({ source, lines, items });
    }
  }

  function draw() {
    slots.forEach((s, i) => {
      const run = earlier[i];
      const on = run != null && !hidden.has(run);
      for (const line of s.lines) if (line) line.visible = on;
      for (const item of s.items) {
        if (!item) continue;
        if (on) item.label = { value: labels[i] };
        item.visible = on;
      }
    });
    api.cp.runs.legend = slots.flatMap((s) => s.items.slice(0, 1))
      .filter((item) => item && item.visible).map((item) => item.label.value);
  }

  function showBoxes() {
    const box = api.$("cp-runs-show");
    box.innerHTML = earlier.map((run) => `<label class="cp-run-box"><input type="checkbox" data-run="${run}"${
      hidden.has(run) ? "" : " checked"}> run ${run}</label>`).join("");
    for (const el of box.querySelectorAll("input")) {
      el.addEventListener("change", () => {
        const run = Number(el.dataset.run);
        if (el.checked) hidden.delete(run); else hidden.add(run);
        draw();
      });
    }
  }

  function update(u, a) {
    if (u.setup != null) setupChanged(u.setup);
    const r = u.runs;
    if (!r) return;
    a.$("cp-runs-table").innerHTML = r.table_html;
    a.cp.runs.count = r.count;
    if (!r.earlier) return;
    earlier = r.earlier.slice(0, slots.length);
    labels = r.loss.map((o) => o.label);
    slots.forEach((s, i) => {
      const lo = r.loss[i], ac = r.acc[i];
      s.source.data = lo ? { x: lo.x.map(nan), loss: lo.y.map(nan), acc: ac.y.map(nan) } : { x: [], loss: [], acc: [] };
    });
    a.cp.runs.earlier = earlier;
    showBoxes();
    draw();
  }

  async function download(kind) {
    const r = await api.send("runs_download", { kind });
    api.show(api.$("cp-error"), r.error);
    if (r.error) return;
    const url = URL.createObjectURL(new Blob([r.text], { type: kind === "csv" ? "text/csv" : "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `runs.${kind}`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    api.cp.runs.downloaded = { kind, runs: r.runs, chars: r.text.length };
  }

  // -- the setup in the link ------------------------------------------------------------------
  function linkFromHash() {
    return location.hash.startsWith(HASH) ? location.hash.slice(HASH.length) : null;
  }

  function linkMessage(text) {
    api.cp.linkError = text || null;
    api.show(api.$("cp-link-error"), text);
  }

  function setupChanged(setup) {
    api.cp.setup = setup;
    const url = new URL(location.href);
    url.hash = HASH.slice(1) + setup;
    api.$("cp-link").value = url.href;
    // replaceState: no hashchange event (that is for links pasted by the visitor) and no history
    if (location.hash !== HASH + setup) history.replaceState(null, "", url.href);
  }

  async function openLink() {
    const setup = linkFromHash();
    if (setup == null || setup === api.cp.setup) return;
    const r = await api.send("setup", { setup });
    linkMessage(r.error);
  }

  async function copyLink() {
    const el = api.$("cp-link");
    el.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(el.value);
      ok = true;
    } catch (e) {
      ok = document.execCommand && document.execCommand("copy");
    }
    api.$("cp-link-note").textContent = ok ? "copied" : "select the link and copy it";
    api.cp.linkCopied = el.value;
  }

  window.cpParts = (window.cpParts || []).concat([{
    name: "runs",
    options(options) {
      const setup = linkFromHash();
      if (setup != null) options.setup = setup;
    },
    figures,
    ready(a, info) {
      if (info.setup && info.setup.error) linkMessage(info.setup.error);
      a.$("cp-runs-csv").addEventListener("click", () => download("csv"));
      a.$("cp-runs-json").addEventListener("click", () => download("json"));
      a.$("cp-copy-link").addEventListener("click", copyLink);
      window.addEventListener("hashchange", openLink);
    },
    update,
  }]);
})();
