// The static site's dashboard page: embeds the figures build.py made with app.plots, starts
// the worker (worker.js + cp_worker.py: Pyodide training the engine), and streams what the
// worker posts into the figures' data sources. The controls send commands to the worker.
// What the page shows and how it updates follows the server app's views (app/views/*.py).
//
// The page's main thread stays free while it trains: the worker starts before the figures are
// drawn, an update is applied in slices a frame apart (one figure each), and updates that arrive
// meanwhile are merged (see "updates from the worker" below).
//
// For tests and the curious: window.cp holds timings (ms since navigation: ready, firstStep),
// the first step's report (firstStep: loss, batch indices, seed) and counters. With
// ?check=compile the worker also compiles the site's Python in the runtime it loaded, before
// NumPy, and window.cp.check holds the answer (worker.js checkSources).

"use strict";

(function () {
  const ROLLOVER = 4000;  // curve points kept, as in app/views/curves.py
  const $ = (id) => document.getElementById(id);
  const site = JSON.parse($("cp-site").textContent);
  const figs = JSON.parse($("cp-figures").textContent);
  const cp = window.cp = { site, timings: {}, firstStep: null, updates: 0, curvePoints: 0, errors: [], worker: null };
  let sources = {};
  let worker = null;
  let nextId = 1;
  const pending = new Map();
  let examples = 0;
  // Sections in files of their own (runs.js, timeline.js, loaded before this file) register in
  // window.cpParts: {options(o), figures(api), ready(api, info), update(u, api)}, each optional.
  const parts = window.cpParts || [];
  const api = {
    cp, site, $, show, send, escapeHtml, pictureURL, applyVis,
    model: (name) => { for (const doc of Bokeh.documents) { const m = doc.get_model_by_name(name); if (m) return m; } return null; },
  };
  function eachPart(hook, ...args) {
    for (const p of parts) {
      if (!p[hook]) continue;
      try { p[hook](...args); } catch (e) { cp.errors.push(`${p.name || "part"}.${hook}: ${e.message || e}`); console.error(e); }
    }
  }

  // Long tasks (over 50 ms) on this page's main thread, from a PerformanceObserver (Chromium
  // reports them): all of them, and those after the first training step ("training").
  // bench.html opens this page and reports them.
  cp.longTasks = { count: 0, max: 0, training: { count: 0, max: 0, total: 0 } };
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const t = cp.longTasks;
        t.count += 1;
        t.max = Math.max(t.max, entry.duration);
        if (cp.timings.firstStep != null && entry.startTime >= cp.timings.firstStep) {
          t.training.count += 1;
          t.training.max = Math.max(t.training.max, entry.duration);
          t.training.total += entry.duration;
        }
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {
    cp.longTasks = null;  // this browser does not report long tasks
  }

  function show(el, text) { el.hidden = !text; el.textContent = text || ""; }
  function fatal(text) { show($("cp-fatal"), text); cp.errors.push(text); }
  function setProgress(fraction, text) {
    $("cp-progress-fill").style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
    $("cp-progress-text").textContent = `${(100 * fraction).toFixed(0)}% · ${text}`;
  }

  // -- Bokeh ----------------------------------------------------------------------------------
  async function embedFigures() {
    const ids = { curves: "fig-curves", predictions: "fig-predictions", network: "fig-network" };
    await Promise.all(Object.entries(ids).map(([k, id]) => Bokeh.embed.embed_item(figs[k], id)));
    for (const name of ["cp-curves", "cp-curves-acc", "cp-exact", "cp-pred-images", "cp-pred-bars", "cp-net-images", "cp-net-captions"]) {
      for (const doc of Bokeh.documents) {
        const m = doc.get_model_by_name(name);
        if (m) { sources[name] = m; break; }
      }
      if (!sources[name]) throw new Error(`the page's figures have no data source named ${name}`);
    }
  }

  const ndarray = (v) => Bokeh.require("core/util/ndarray").ndarray(v.array, { dtype: "uint32", shape: v.shape });
  const plain = (v) => (v && v.__nd__ ? Array.from(v.array) : v);
  function imageRows(rows) {
    const out = {};
    for (const [k, v] of Object.entries(rows)) out[k] = k === "image" ? v.map(ndarray) : v.map(plain);
    return out;
  }
  function empty(src) {
    const d = {};
    for (const k of Object.keys(src.data)) d[k] = [];
    src.data = d;
  }

  // -- updates from the worker ----------------------------------------------------------------
  // An update is applied in slices, one figure per slice, each slice a task of its own after a
  // frame: a Bokeh figure repaints in the frame after its data changed, and each repaint (and
  // the page's style and layout after the HTML parts) then lands in a frame of its own instead
  // of one long task for all (docs/BENCHMARKS.md, "The dashboard's updates in slices, a frame apart").
  // Updates that arrive while one is being applied wait, merged into one (mergeUpdates).
  // For tests: cp.apply = {updates, merged, slices, frames: slices that waited for a frame}.
  let queued = null;
  let applying = false;
  cp.apply = { updates: 0, merged: 0, slices: 0, frames: 0 };

  function receive(u) {
    if (u.first_step && !cp.firstStep) {  // timed on arrival: what follows is the page's drawing
      cp.firstStep = u.first_step;
      cp.firstStep.update = Object.keys(u);  // what came with it (for tests)
      cp.timings.firstStep = performance.now();
    }
    if (queued) cp.apply.merged += 1;
    queued = queued ? mergeUpdates(queued, u) : u;
    if (!applying) applyQueued();
  }

  async function applyQueued() {
    applying = true;
    try {
      while (queued) {
        const u = queued;
        queued = null;
        const slices = updateSlices(u);
        for (let i = 0; i < slices.length; i++) {
          if (i) { await nextFrame(); cp.apply.frames += 1; }
          cp.apply.slices += 1;
          try { slices[i](); } catch (e) { cp.errors.push(`update: ${e.message || e}`); console.error(e); }
        }
        cp.apply.updates += 1;
        if (queued) await nextFrame();
      }
    } finally {
      applying = false;
    }
  }

  // After the next frame's rendering (a task of its own); a page that draws no frames (hidden)
  // goes on after 200 ms.
  function nextFrame() {
    return new Promise((resolve) => {
      let done = false;
      const go = () => { if (!done) { done = true; setTimeout(resolve, 0); } };
      requestAnimationFrame(go);
      setTimeout(go, 200);
    });
  }

  // Two updates as one: the latest state wins, new curve points and predictions add up, and a
  // new run (reset) drops the points and predictions of the run before.
  function mergeUpdates(a, b) {
    const m = Object.assign({}, a, b);
    m.reset = a.reset || b.reset;
    m.first_step = a.first_step || b.first_step;
    m.predictions = (b.reset ? [] : listOf(a.predictions)).concat(listOf(b.predictions));
    if (!b.reset && a.curves && b.curves) {
      m.curves = {};
      for (const k of Object.keys(b.curves)) {
        const x = a.curves[k].array, y = b.curves[k].array;
        const both = new y.constructor(x.length + y.length);
        both.set(x); both.set(y, x.length);
        m.curves[k] = { __nd__: true, array: both, shape: [both.length] };
      }
    } else if (b.reset) {
      m.curves = b.curves;
    }
    for (const k of ["sections", "runs", "timeline"]) if (a[k] && b[k]) m[k] = Object.assign({}, a[k], b[k]);
    return m;
  }
  const listOf = (p) => (p == null ? [] : Array.isArray(p) ? p : [p]);
  cp.mergeUpdates = mergeUpdates;  // for tests

  // The slices of one update, in order: the HTML parts first, then one per figure changed.
  function updateSlices(u) {
    const out = [() => applyText(u)];
    if (u.reset || u.curves) out.push(() => applyCurves(u, "cp-curves"));
    if (u.reset || u.curves || exactChanged(u)) out.push(() => { applyCurves(u, "cp-curves-acc"); applyExact(u); });
    if (u.reset || listOf(u.predictions).length) out.push(() => applyPredictions(u));
    if (u.vis) out.push(() => applyVis(u.vis));
    if (u.sections && window.cpSections) out.push(() => window.cpSections.update(u.sections));  // static/sections.js
    return out;
  }

  function applyText(u) {
    const s = u.status;
    setHTML($("cp-stats"), u.stats_html);
    setHTML($("cp-status"), u.status_html);
    examples = s.examples || 0;
    $("cp-examples").textContent = `${examples.toLocaleString("en")} examples seen`;
    show($("cp-run-error"), s.error);  // e.g. "training diverged ...": the runner's own message
    syncControls(s.hyper);
    cp.status = s;
    const acc = s.test_acc;
    // (written every time: timeline.js writes it too, for a moment of the timeline)
    $("cp-pred-head").innerHTML = `<span style="font-size:18px">running test accuracy <b>${
      acc == null ? "–" : (100 * acc).toFixed(1) + "%"}</b></span> <span class="cp-dim">over the last ${
      s.test_seen || 0} test images</span>`;
    eachPart("update", u, api);
  }

  // New curve points into one curve source (the loss figure's, or the accuracy figure's: one
  // source each, so that each figure repaints in a frame of its own).
  function applyCurves(u, name) {
    const src = sources[name];
    if (!src) return;
    if (u.reset) empty(src);
    if (!u.curves) return;
    const cols = {};
    for (const [k, v] of Object.entries(u.curves)) cols[k] = Array.from(v.array);
    src.stream(cols, ROLLOVER);
    if (name === "cp-curves") cp.curvePoints += cols.examples.length;
  }

  // The whole-set points: a few, sent whole (in the status) when they change.
  const exactChanged = (u) => (u.status.exact_points || []).length !== sources["cp-exact"].data.examples.length;
  function applyExact(u) {
    const exact = u.status.exact_points || [];
    if (exactChanged(u) || u.reset) {
      sources["cp-exact"].data = { examples: exact.map((p) => p[0]), val: exact.map((p) => p[1]), test: exact.map((p) => p[2]) };
      cp.exactPoints = exact.length;
    }
  }

  function applyPredictions(u) {
    if (u.reset) { empty(sources["cp-pred-images"]); empty(sources["cp-pred-bars"]); }
    for (const p of listOf(u.predictions)) {
      if (p.clear) { empty(sources["cp-pred-images"]); empty(sources["cp-pred-bars"]); }
      sources["cp-pred-images"].stream(imageRows(p.images), p.slots);
      sources["cp-pred-bars"].stream(p.bars, 3 * p.slots);
    }
  }

  // innerHTML only when it changed (an unchanged write still costs the page a style and layout
  // pass), for an element only this file writes.
  function setHTML(el, html) {
    if (el.cpHTML === html) return;
    el.innerHTML = html;
    el.cpHTML = html;
  }

  // The network pictures of one probe (the live net's, or a checkpoint's: static/timeline.js).
  function applyVis(v) {
    cp.visMoment = v.moment == null ? null : v.moment;  // the examples of a moment's pictures
    if (v.size) fitNetFigure(v.size[0], v.size[1]);
    sources["cp-net-images"].data = imageRows(v.images);
    sources["cp-net-captions"].data = v.captions;
    setHTML($("cp-vis-example"), `<div class="cp-pred"><img class="cp-upload-img" src="${pictureURL(v.image)}" ` +
      `width="96" height="96" alt="example"><div class="cp-bars"><div class="cp-dim">${
      escapeHtml(v.caption)}</div>${v.bars_html}</div></div>`);
  }

  // The network figure sized to the pictures of the net drawn (data coordinates are pixels, as
  // app/plots.py's pixel_canvas): a smaller net would leave a blank band, a larger one be cut.
  function fitNetFigure(width, height) {
    const fig = api.model("cp-net-figure");
    if (!fig || (fig.frame_width === width && fig.frame_height === height)) return;
    fig.x_range.end = width;
    fig.y_range.end = height;
    fig.frame_width = width;
    fig.frame_height = height;
    const titles = api.model("cp-net-titles");
    if (titles) titles.data = { ...titles.data, y: titles.data.y.map(() => height) };
  }

  // uint8 (H, W, 3) from the worker -> a data: URL the page can show (drawn pixel-crisp by CSS).
  function pictureURL(v) {
    const [h, w] = v.shape;
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const img = new ImageData(w, h);
    for (let i = 0, j = 0; j < v.array.length; i += 4, j += 3) {
      img.data[i] = v.array[j]; img.data[i + 1] = v.array[j + 1]; img.data[i + 2] = v.array[j + 2]; img.data[i + 3] = 255;
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
    return canvas.toDataURL();
  }

  function escapeHtml(t) {
    return String(t).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  // -- commands -------------------------------------------------------------------------------
  function send(cmd, args, upload) {
    const id = nextId++;
    const msg = { type: "command", id, cmd, args: args || {} };
    if (upload) msg.upload = upload;
    worker.postMessage(msg);
    return new Promise((resolve) => pending.set(id, resolve));
  }

  const inputs = { lr: "cp-lr", momentum: "cp-momentum", weight_decay: "cp-weight-decay", batch_size: "cp-batch-size",
                   seed: "cp-seed", optimizer: "cp-optimizer" };
  function syncControls(hyper) {
    if (!hyper) return;
    for (const [k, id] of Object.entries(inputs)) {
      const el = $(id);
      if (document.activeElement !== el && String(el.value) !== String(hyper[k])) el.value = hyper[k];
    }
  }

  async function setHyper(changes) {
    const r = await send("hyper", changes);
    show($("cp-error"), r.error);
  }

  function wireControls() {
    for (const [cmd, id] of [["start", "cp-start"], ["pause", "cp-pause"], ["step", "cp-step"], ["reset", "cp-reset"]]) {
      $(id).addEventListener("click", () => send(cmd));
    }
    $("cp-optimizer").addEventListener("change", (e) => {
      // As the app: choosing an optimizer also sets its default learning rate (and momentum).
      const d = site.optimizers[e.target.value];
      const changes = { optimizer: e.target.value, lr: d.lr };
      if (d.momentum != null) changes.momentum = d.momentum;
      setHyper(changes);
    });
    for (const [k, id] of Object.entries(inputs)) {
      if (k === "optimizer") continue;
      $(id).addEventListener("change", (e) => {
        const v = Number(e.target.value);
        if (e.target.value === "" || !Number.isFinite(v)) { show($("cp-error"), `${k}: not a number`); return; }
        setHyper({ [k]: v });
      });
    }
    $("cp-pretrained").addEventListener("click", async () => {
      const r = await send("pretrained");
      show($("cp-error"), r.error);
    });
    $("cp-save-snapshot").addEventListener("click", saveSnapshot);
    $("cp-vis-fixed").addEventListener("click", () => send("vis_fixed"));
    $("cp-upload").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
    $("cp-test-pick").addEventListener("click", () => predictTest(Number($("cp-test-index").value)));
    $("cp-test-random").addEventListener("click", () => {
      const i = Math.floor(Math.random() * site.n_test);
      $("cp-test-index").value = i;
      predictTest(i);
    });
  }

  function enableControls() {
    for (const el of document.querySelectorAll("button, input, select")) el.disabled = false;
    if (!site.snapshot) $("cp-pretrained").disabled = true;
  }

  // The running net as convnet-snapshot.npz, the name the export command beside the button uses.
  async function saveSnapshot() {
    const r = await send("snapshot");
    show($("cp-error"), r.error);
    if (r.error) return;
    const url = URL.createObjectURL(new Blob([r.snapshot.array], { type: "application/octet-stream" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = "convnet-snapshot.npz";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    cp.savedSnapshotBytes = r.bytes;
  }

  // -- upload: the browser decodes the picture; the net sees it cropped and resized -------------
  const [H, W] = site.shape;
  async function upload(file) {
    show($("cp-upload-error"), "");
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (e) {
      show($("cp-upload-error"), `${file.name}: not an image this browser can decode (PNG, JPEG, GIF, BMP, WebP)`);
      $("cp-upload-result").innerHTML = "";
      return;
    }
    const side = Math.min(bitmap.width, bitmap.height);  // the largest centred square
    const canvas = document.createElement("canvas");
    canvas.width = W; canvas.height = H;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, W, H);
    const rgba = ctx.getImageData(0, 0, W, H).data;
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) { rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2]; }
    const caption = `${file.name} (${bitmap.width}x${bitmap.height})`;
    const r = await send("upload", { name: file.name }, rgb);
    showPrediction(r, canvas.toDataURL(), caption);
  }

  async function predictTest(index) {
    show($("cp-upload-error"), "");
    const r = await send("test_image", { index });
    if (r.error) { show($("cp-upload-error"), r.error); return; }
    showPrediction(r, pictureURL(r.image), `test image #${index}`);
  }

  function showPrediction(r, src, caption) {
    if (r.error) { show($("cp-upload-error"), r.error); return; }
    const live = `${escapeHtml(caption)} — live net (trained on ${(r.examples || 0).toLocaleString("en")} examples)`;
    let html = `<div class="cp-pred"><img class="cp-upload-img" src="${src}" width="128" height="128" alt="input image">` +
      `<div class="cp-bars"><div class="cp-dim">${live}</div>${r.live}</div></div>`;
    if (r.pretrained) {
      html += `<div class="cp-pred"><img class="cp-upload-img" src="${src}" width="64" height="64" alt="input image">` +
        `<div class="cp-bars"><div class="cp-dim">${escapeHtml(caption)} — pretrained snapshot</div>${r.pretrained}</div></div>`;
    }
    $("cp-upload-result").innerHTML = html;
    cp.lastPrediction = r;
  }

  // -- start ----------------------------------------------------------------------------------
  async function main() {
    if (location.protocol === "file:") {
      fatal("Browsers do not run Web Workers from file:// pages. Serve this folder instead, e.g. " +
            "`python -m http.server -d dist 8000`, and open http://127.0.0.1:8000/");
      return;
    }
    $("cp-pretrained-note").textContent = site.snapshot ? "A pretrained net ships with this site." :
      "no pretrained snapshot in this build";
    const d = site.defaults, o = site.optimizers[d.optimizer];
    syncControls(Object.assign({ lr: o.lr, momentum: o.momentum != null ? o.momentum : 0.9 }, d));
    setProgress(0.01, "drawing the figures");
    // The worker starts at once: Pyodide loads while the figures are drawn, and the worker's
    // messages (but its progress) wait for them.
    const figures = embedFigures().then(() => { eachPart("figures", api); wireControls(); });
    figures.catch(() => {});  // reported by the await below
    const base = new URL(".", location.href).href;
    const pyodideURL = new URL(site.pyodide_url, base).href;
    // Current Pyodide ships ES modules only (pyodide.mjs): that needs a module worker. Older
    // releases (0.17, as the tests use) have pyodide.js for importScripts in a classic worker.
    const esm = await fetch(pyodideURL + "pyodide.mjs", { method: "HEAD" }).then((r) => r.ok, () => false);
    cp.workerType = esm ? "module" : "classic";
    worker = cp.worker = new Worker("assets/worker.js", { type: cp.workerType });
    worker.onerror = (e) => fatal(`the worker failed: ${e.message || e}`);
    worker.onmessage = (e) => {
      if (e.data.type === "progress") setProgress(e.data.fraction, e.data.text);
      else figures.then(() => onMessage(e.data));
    };
    const params = new URLSearchParams(location.search);
    const options = { autostart: params.get("autostart") !== "0" };
    for (const k of ["seed", "batch_size", "optimizer"]) if (params.has(k)) options[k] = params.get(k);
    const sizes = {};
    for (const [name, bytes] of Object.entries(site.bytes || {})) sizes[name] = bytes;
    eachPart("options", options);
    const check = params.get("check") === "compile";
    worker.postMessage({ type: "init", base, site, esm, options, sizes, check });
    await figures;
  }

  function onMessage(m) {
    if (m.type === "ready") {
      cp.timings.ready = performance.now();
      cp.info = m.info;
      $("cp-loading").hidden = true;
      enableControls();
      if (window.cpSections) {  // the explaining sections (static/sections.js)
        window.cpSections.start(send).catch((e) => fatal(`the sections failed to start: ${e.message || e}`));
      }
      eachPart("ready", api, m.info || {});
    } else if (m.type === "check") cp.check = m.result;
    else if (m.type === "update") receive(m.update);
    else if (m.type === "reply") {
      const resolve = pending.get(m.id);
      pending.delete(m.id);
      if (resolve) resolve(m.reply || {});
    } else if (m.type === "fatal") fatal(`Python in the browser stopped: ${m.message}`);
  }

  main().catch((e) => fatal(`the page failed to start: ${e.message || e}`));
})();
