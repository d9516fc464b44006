// The benchmark page: the same training images to this engine in Pyodide (worker.js in bench
// mode, then cp_worker.bench) and to ConvNetJS (convnetjs-worker.js), one after the other;
// prints both images/s; then opens the dashboard and reports the time to its first training step
// and the long tasks on the main thread while it trains (?dashboard=SECONDS, 0: skip). The
// dashboard is opened once before the speed runs too, for its first step on a cold start (when
// the browser has nothing cached yet, as in a new browser profile; ?cold=0: skip).
// window.cpBench holds the results (tests read it).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const site = JSON.parse($("cp-site").textContent);
  const state = window.cpBench = { done: false, engine: null, convnetjs: null, cold: null, dashboard: null, error: null };
  const status = (t) => { $("cp-bench-status").textContent = t; };

  function row(id, r, runtime) {
    const cells = $(id).children;
    cells[1].textContent = r.images_per_s.toFixed(1);
    cells[2].textContent = r.seconds.toFixed(2);
    cells[3].textContent = runtime;
  }

  function once(worker, msg, want) {
    return new Promise((resolve, reject) => {
      worker.onerror = (e) => reject(new Error(e.message || "worker error"));
      worker.onmessage = (e) => {
        const m = e.data;
        if (m.type === "progress") status(`starting Python: ${(100 * m.fraction).toFixed(0)}% · ${m.text}`);
        else if (m.type === "fatal") reject(new Error(m.message));
        else if (!want || m.type === want) resolve(m);
      };
      worker.postMessage(msg);
    });
  }

  async function bytes(path) {
    const r = await fetch(path);
    if (!r.ok) throw new Error(`cannot load ${path}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }

  async function run() {
    $("cp-bench-run").disabled = true;
    state.done = false;
    if (dashSeconds > 0 && coldFirst) {
      state.cold = await openDashboard("the dashboard on a cold start");
      closeDashboard();
      $("cp-bench-cold").textContent = `${state.cold.first_step_s.toFixed(1)} s (Python and data ready at ${
        state.cold.ready_s.toFixed(1)} s)`;
    }
    const n = Math.max(1, Math.min(site.n_train, Number($("cp-bench-n").value) || 512));
    const batch = Math.max(1, Number($("cp-bench-batch").value) || 16);
    status("loading the images");
    const images = (await bytes(site.data["train-images.u8"])).slice(0, n * 3072);
    const labels = (await bytes(site.data["train-labels.u8"])).slice(0, n);
    const base = new URL(".", location.href).href;
    const pyodideURL = new URL(site.pyodide_url, base).href;
    const esm = await fetch(pyodideURL + "pyodide.mjs", { method: "HEAD" }).then((r) => r.ok, () => false);
    const py = new Worker("assets/worker.js", { type: esm ? "module" : "classic" });
    const ready = await once(py, { type: "init", base, site, mode: "bench", esm });
    status(`training ${n} images with the engine (Python ${ready.info.python}, NumPy ${ready.info.numpy})`);
    const e = (await once(py, { type: "bench", images, labels, options: { n, batch, layer_defs: site.layer_defs } }, "bench")).result;
    py.terminate();
    if (e.error) throw new Error(e.error);
    state.engine = e;
    row("cp-bench-engine", e, `Pyodide: Python ${e.python}, NumPy ${e.numpy}`);
    if (!site.convnetjs) {
      status("ConvNetJS was not bundled (npm install, then build again)");
    } else {
      status(`training ${n} images with ConvNetJS`);
      const cj = new Worker("assets/convnetjs-worker.js");
      const r = await once(cj, { images, labels, n, batch, layer_defs: site.layer_defs });
      cj.terminate();
      if (r.error) throw new Error(r.error);
      state.convnetjs = r;
      row("cp-bench-convnetjs", r, navigator.userAgent.replace(/^.*?(Chrome|Firefox)\//, "$1 ").split(" ").slice(0, 2).join(" "));
      state.ratio = e.images_per_s / r.images_per_s;
      $("cp-bench-ratio").textContent = `the engine in Pyodide trains ${state.ratio.toFixed(2)}x as many images/s as ConvNetJS`;
      status(`done: ${n} images, batch ${batch}`);
    }
    if (dashSeconds > 0) await dashboard(dashSeconds);
    state.done = true;
    $("cp-bench-run").disabled = false;
  }

  // The dashboard while it trains: index.html in a frame (same origin: its main thread is this
  // page's), timed from the frame's opening to its first training step, then `seconds` of
  // training with the long tasks (over 50 ms) its PerformanceObserver saw (page.js, cp.longTasks).
  // The frame is scrolled into view first: Chromium does not render a frame that is off screen,
  // and what the page costs while it draws is the point.
  async function openDashboard(what) {
    status(`opening ${what}`);
    const box = $("cp-bench-dashboard");
    box.hidden = false;
    const frame = $("cp-bench-frame");
    frame.scrollIntoView({ block: "end" });
    frame.src = "index.html?bench=1";
    const t0 = performance.now();
    const cpOf = () => frame.contentWindow && frame.contentWindow.cp;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const c = cpOf();
      if (c && c.errors && c.errors.length) throw new Error(`the dashboard failed: ${c.errors[0]}`);
      if (c && c.firstStep) break;
      if (performance.now() - t0 > 600_000) throw new Error("the dashboard trained no step within 10 minutes");
    }
    const c = cpOf();
    return { cp: c, first_step_s: c.timings.firstStep / 1000, ready_s: c.timings.ready / 1000 };
  }
  function closeDashboard() { $("cp-bench-frame").src = "about:blank"; }  // stops its worker

  async function dashboard(seconds) {
    const { cp: c, first_step_s: first, ready_s: ready } = await openDashboard("the dashboard");
    status(`the dashboard trains: watching its main thread for ${seconds} s`);
    const examples0 = (c.status && c.status.examples) || 0;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const t = JSON.parse(JSON.stringify(c.longTasks));
    const examples = ((c.status && c.status.examples) || 0) - examples0;
    state.dashboard = { first_step_s: first, ready_s: ready, seconds, examples, long_tasks: t,
                        apply: JSON.parse(JSON.stringify(c.apply || null)) };
    const cells = $("cp-bench-dash-row").children;
    cells[0].textContent = `${first.toFixed(1)} s (Python and data ready at ${ready.toFixed(1)} s)`;
    cells[1].textContent = t ? `${t.training.count} in ${seconds} s` : "not reported by this browser";
    cells[2].textContent = t ? `${t.training.max.toFixed(0)} ms` : "–";
    cells[3].textContent = `${examples} (${(examples / seconds).toFixed(1)} images/s)`;
    closeDashboard();
    status("done");
  }

  $("cp-bench-run").addEventListener("click", () => run().catch(fail));
  function fail(err) {
    state.error = String(err && err.message || err);
    state.done = true;
    status(`failed: ${state.error}`);
    $("cp-bench-run").disabled = false;
  }
  const params = new URLSearchParams(location.search);
  const dashSeconds = params.has("dashboard") ? Number(params.get("dashboard")) : 20;
  const coldFirst = params.get("cold") !== "0";
  if (params.has("n")) $("cp-bench-n").value = params.get("n");
  if (params.has("batch")) $("cp-bench-batch").value = params.get("batch");
  if (params.get("autorun") !== "0") run().catch(fail);
})();
