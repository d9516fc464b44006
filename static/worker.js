// The static site's Web Worker: loads Pyodide and NumPy, writes the engine and the data into
// Pyodide's file system, and runs cp_worker.py (the Python half) on the page's behalf.
//
// Pyodide has no threads, so training is a loop here: call the Python tick() (it trains for a
// time budget and returns what changed), post that to the page, yield so that the page's
// messages (pause, a new learning rate, an upload) get in, repeat.
//
// Works as a classic worker (Pyodide 0.17 .. 0.2x: importScripts(pyodide.js)) and as a module
// worker (current Pyodide ships ES modules only: import(pyodide.mjs)); page.js picks the kind.
// No import/export statements here, so the same file is valid as both.

"use strict";

const HOME = "/cp";                 // where the Python packages and data live in Pyodide's FS
const OUT = "/tmp/cp_out.bin";      // cp_worker.py writes large arrays here (see decode())
const BUDGET_MS = 250;              // training time per tick before the page hears from us

let pyodide = null;
let FS = null;
let looping = false;
let wake = false;

function post(msg, transfer) { self.postMessage(msg, transfer || []); }
function progress(fraction, text) { post({ type: "progress", fraction, text }); }

async function loadRuntime(indexURL, esm) {
  let load;
  if (esm) {
    load = (await import(indexURL + "pyodide.mjs")).loadPyodide;
  } else {
    self.importScripts(indexURL + "pyodide.js");
    load = self.loadPyodide;
  }
  const py = await load({ indexURL });
  return py;
}

// fetch() with byte progress; resolves to a Uint8Array.
async function fetchBytes(url, onBytes) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
  if (!r.body || !r.body.getReader) {
    const b = new Uint8Array(await r.arrayBuffer());
    onBytes(b.length);
    return b;
  }
  const reader = r.body.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
    onBytes(value.length);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function mkdirs(path) {
  let cur = "";
  for (const part of path.split("/").filter(Boolean)) {
    cur += "/" + part;
    try { FS.mkdir(cur); } catch (e) { /* exists */ }
  }
}

function writeFile(path, data) {
  mkdirs(path.slice(0, path.lastIndexOf("/")));
  FS.writeFile(path, data);
}

// Call Python; its JSON answer may refer to arrays in OUT: {"__blob__": [offset, n, dtype, shape]}.
function call(code) {
  const text = pyodide.runPython(code);
  const out = JSON.parse(text);
  const transfer = [];
  if (out && out.__has_blob__) {
    const bytes = FS.readFile(OUT);  // a copy, ours to transfer
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    transfer.push(buf);
    decode(out, buf);
    delete out.__has_blob__;
  }
  return [out, transfer];
}

const TYPES = { float64: Float64Array, float32: Float32Array, uint32: Uint32Array, uint8: Uint8Array, int32: Int32Array };

function decode(obj, buf) {
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v && typeof v === "object") {
      if (Array.isArray(v.__blob__)) {
        const [offset, n, dtype, shape] = v.__blob__;
        obj[k] = { __nd__: true, array: new TYPES[dtype](buf, offset, n), shape };
      } else {
        decode(v, buf);
      }
    }
  }
}

// NumPy is a package of the Pyodide distribution beside the runtime; a core-only Pyodide (npm's
// pyodide package) has none. Either way the page gets one line that names the URL tried: newer
// Pyodide fetch()es the package and reports no URL, so the fetches are watched meanwhile.
async function loadNumpy(indexURL, esm) {
  const tried = [];
  const onError = (m) => { if (/https?:/.test(m)) tried.push(String(m).split("\n")[0]); };
  const realFetch = self.fetch;
  self.fetch = async (resource, init) => {
    const url = String(resource && resource.url || resource);
    try {
      const r = await realFetch(resource, init);
      if (!r.ok) tried.push(`${url}: HTTP ${r.status}`);
      return r;
    } catch (e) {
      // A 404 fetched with an integrity hash fails as "Failed to fetch": ask again for the status.
      const status = await realFetch(url, { method: "HEAD" }).then((r) => `HTTP ${r.status}`, () => null);
      tried.push(`${url}: ${status || e && e.message || e}`);
      throw e;
    }
  };
  try {
    // The ES-module releases (Pyodide >= 0.24) take options; 0.17 takes positional callbacks.
    if (esm) await pyodide.loadPackage("numpy", { errorCallback: onError });
    else await pyodide.loadPackage("numpy", undefined, onError);
    pyodide.runPython("import numpy");  // newer Pyodide reports a failed load instead of throwing
  } catch (e) {
    onError(String(e && e.message || e));
    throw new Error(`NumPy did not load (${tried[0] || "from " + indexURL}): the Pyodide at ${indexURL} ` +
      "has no numpy package; build the site with --pyodide-url pointing at a full Pyodide distribution, " +
      "or with --bundle-pyodide DIR to ship one");
  } finally {
    self.fetch = realFetch;
  }
}

// Python source that compiles each of the bundle's files (SyntaxWarnings count: they are the
// next version's errors) and imports the standard-library modules they name; answers JSON.
function checkSources(paths) {
  return `
import ast, importlib, json, sys, warnings
paths = json.loads(${pyString(JSON.stringify(paths))})
own = {p.split("/")[0].split(".")[0] for p in paths}
errors, names = [], set()
for p in paths:
    with open(${pyString(HOME)} + "/" + p, encoding="utf-8") as f:
        source = f.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tree = compile(source, p, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            compile(tree, p, "exec", dont_inherit=True)
    except (SyntaxError, SyntaxWarning, DeprecationWarning) as e:
        errors.append("%s:%s: %s: %s" % (p, getattr(e, "lineno", "?"), type(e).__name__, getattr(e, "msg", e)))
        continue
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module.split(".")[0])
stdlib = getattr(sys, "stdlib_module_names", ())
failed = []
for n in sorted(names & set(stdlib)):
    try:
        importlib.import_module(n)
    except ImportError as e:
        failed.append("%s: %s" % (n, e))
json.dumps({"python": sys.version.split()[0], "files": len(paths), "errors": errors, "import_errors": failed,
            "other_imports": sorted(names - own - set(stdlib))})
`;
}

function pyString(s) { return JSON.stringify(s); }  // a JSON string is a valid Python str literal here

async function init(msg) {
  const { base, site, mode, esm } = msg;
  const indexURL = new URL(site.pyodide_url, base).href;
  const files = mode === "bench" ? {} : Object.assign({}, site.data);
  if (mode !== "bench" && site.snapshot) files["pretrained.npz"] = site.snapshot;
  const sizes = msg.sizes || {};
  const totalBytes = Object.values(sizes).reduce((a, b) => a + b, 0) || 1;
  let gotBytes = 0, pyStage = 0, pyText = "starting Python (Pyodide)";
  const report = () => progress(0.6 * pyStage + 0.35 * Math.min(1, gotBytes / totalBytes),
    `${pyText} · data ${(gotBytes / 1e6).toFixed(1)} of ${(totalBytes / 1e6).toFixed(1)} MB`);
  report();
  // Data and Python sources download while Pyodide starts.
  const downloads = Promise.all(
    [["bundle", "py/bundle.json"]].concat(Object.entries(files)).map(async ([name, path]) => {
      const counted = name in sizes;  // the progress counts the data (their sizes are in site.json)
      const bytes = await fetchBytes(new URL(path, base).href, (n) => { if (counted) { gotBytes += n; report(); } });
      return [name, bytes];
    }));
  downloads.catch(() => {});  // reported below, when awaited
  const t0 = performance.now();
  pyodide = await loadRuntime(indexURL, esm);
  FS = pyodide.FS || pyodide._module.FS;
  if (msg.check) {  // test hook (page.js ?check=compile): does this Python compile our sources?
    const bundle = JSON.parse(new TextDecoder().decode(Object.fromEntries(await downloads).bundle)).files;
    for (const [path, source] of Object.entries(bundle)) writeFile(`${HOME}/${path}`, source);
    post({ type: "check", result: JSON.parse(pyodide.runPython(checkSources(Object.keys(bundle)))) });
  }
  pyStage = 0.6; pyText = "loading NumPy"; report();
  await loadNumpy(indexURL, esm);
  pyStage = 1; pyText = `Python and NumPy ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  report();
  const got = Object.fromEntries(await downloads);
  const bundle = JSON.parse(new TextDecoder().decode(got.bundle)).files;
  for (const [path, source] of Object.entries(bundle)) writeFile(`${HOME}/${path}`, source);
  for (const name of Object.keys(files)) {
    if (name === "pretrained.npz") writeFile(`${HOME}/app/pretrained/cifar10.npz`, got[name]);
    else writeFile(`${HOME}/data/${name}`, got[name]);
  }
  progress(0.97, "building the net");
  pyodide.runPython(`import sys\nif ${pyString(HOME)} not in sys.path: sys.path.insert(0, ${pyString(HOME)})\nimport cp_worker`);
  if (mode === "bench") {
    post({ type: "ready", info: { python: pyodide.runPython("import sys; sys.version.split()[0]"),
                                  numpy: pyodide.runPython("import numpy; numpy.__version__") } });
    return;
  }
  const [info] = call(`cp_worker.start(${pyString(JSON.stringify({ home: HOME, site, options: msg.options || {} }))})`);
  progress(1, "ready");
  post({ type: "ready", info });
  loop();  // the first tick sends the initial state (and trains, unless autostart is off)
}

// Train and report until there is nothing to do; messages get in between two ticks.
async function loop() {
  if (looping) { wake = true; return; }
  looping = true;
  try {
    for (;;) {
      wake = false;
      const [out, transfer] = call(`cp_worker.tick(${BUDGET_MS})`);
      post({ type: "update", update: out }, transfer);
      if (!out.busy && !wake) break;
      await new Promise((r) => setTimeout(r, 0));
    }
  } catch (e) {
    post({ type: "fatal", message: String(e && e.message || e) });
  } finally {
    looping = false;
  }
}

function command(msg) {
  if (msg.upload) writeFile("/tmp/cp_upload.u8", msg.upload);
  const [out, transfer] = call(`cp_worker.command(${pyString(JSON.stringify({ cmd: msg.cmd, args: msg.args || {} }))})`);
  post({ type: "reply", id: msg.id, reply: out }, transfer);
  loop();
}

function bench(msg) {
  writeFile("/tmp/cp_bench_images.u8", msg.images);
  writeFile("/tmp/cp_bench_labels.u8", msg.labels);
  const [out] = call(`cp_worker.bench(${pyString(JSON.stringify(msg.options))})`);
  post({ type: "bench", result: out });
}

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.type === "init") await init(msg);
    else if (msg.type === "command") command(msg);
    else if (msg.type === "bench") bench(msg);
  } catch (err) {
    post({ type: msg.type === "command" ? "reply" : "fatal", id: msg.id,
           reply: { error: String(err && err.message || err) }, message: String(err && err.message || err) });
  }
};
