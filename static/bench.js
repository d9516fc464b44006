// The benchmark page: the same training images to this engine in Pyodide (worker.js in bench
// mode, then cp_worker.bench) and to ConvNetJS (convnetjs-worker.js), one after the other;
// prints both images/s. window.cpBench holds the results (tests read it).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const site = JSON.parse($("cp-site").textContent);
  const state = window.cpBench = { done: false, engine: null, convnetjs: null, error: null };
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
    state.done = true;
    $("cp-bench-run").disabled = false;
  }

  $("cp-bench-run").addEventListener("click", () => run().catch(fail));
  function fail(err) {
    state.error = String(err && err.message || err);
    state.done = true;
    status(`failed: ${state.error}`);
    $("cp-bench-run").disabled = false;
  }
  const params = new URLSearchParams(location.search);
  if (params.has("n")) $("cp-bench-n").value = params.get("n");
  if (params.has("batch")) $("cp-bench-batch").value = params.get("batch");
  if (params.get("autorun") !== "0") run().catch(fail);
})();
