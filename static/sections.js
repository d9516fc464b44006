// The static site's explaining sections, page side: the network editor with its live preview,
// the confusion matrix (a cell click lists its images), saliency, training health, the
// convolution arithmetic and the case studies. Every number and every fragment of HTML comes
// from the worker (static/cp_sections.py, over the server's own app/core); this file only
// sends the controls' values and puts the answers in the page.
//
// page.js calls cpSections.start(send, site) once the worker is ready, and
// cpSections.update(u.sections) for each tick's answer that carries some. For tests:
// window.cp.sections counts what arrived (previews, matrices, health, ...).

"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let send = null;
  let info = null;
  const seen = { previews: 0, matrices: 0, health: 0, cells: 0, saliency: 0, conv: 0, cases: 0, specs: 0 };
  let shownSpec = null;  // the running net's text: the editor follows it until the user edits

  function show(el, text) { el.hidden = !text; el.textContent = text || ""; }
  function options(select, items, value) {
    select.innerHTML = "";
    for (const [v, label] of items) {
      const o = document.createElement("option");
      o.value = v; o.textContent = label;
      select.appendChild(o);
    }
    if (value != null) select.value = value;
  }
  function debounce(fn, ms) {
    let t = null;
    return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
  }

  // -- the network editor ---------------------------------------------------------------------
  let previewSeq = 0;
  async function preview() {
    const seq = ++previewSeq;
    const r = await send("preview", { text: $("cs-spec").value });
    if (seq !== previewSeq) return;  // a newer keystroke's preview is on its way
    show($("cs-spec-error"), r.error);
    show($("cs-spec-note"), r.note);
    $("cs-preview").innerHTML = r.html || "";
    $("cs-apply").disabled = !r.trainable;
    seen.previews += 1;
  }
  const previewSoon = debounce(preview, 150);

  async function loadPreset(name) {
    const r = await send("preset", { name });
    $("cs-spec").value = r.text;
    if (!name) shownSpec = r.text;
    show($("cs-spec-done"), "");
    preview();
  }

  async function apply() {
    const r = await send("apply_spec", { text: $("cs-spec").value });
    show($("cs-spec-error"), r.error);
    show($("cs-spec-done"), r.done);
    if (!r.error) { shownSpec = $("cs-spec").value; $("cs-preset").value = ""; }
  }

  // -- evaluation: a cell click lists its images -----------------------------------------------
  async function cell(t, p) {
    for (const td of document.querySelectorAll("#cs-matrix td.cs-selected")) td.classList.remove("cs-selected");
    const td = document.querySelector(`#cs-matrix td[data-true="${t}"][data-pred="${p}"]`);
    if (td) td.classList.add("cs-selected");
    const r = await send("cell", { true: t, pred: p });
    if (r.evaluation) update({ evaluation: r.evaluation });  // the matrix the images come from
    $("cs-gallery").innerHTML = r.error ? "" : r.html;
    seen.cells += 1;
    seen.cellCount = r.count;
  }
  let selected = null;

  // -- saliency ---------------------------------------------------------------------------------
  async function saliency(fromVis) {
    const args = { class_index: Number($("cs-sal-class").value) };
    if (!fromVis) args.index = Number($("cs-sal-index").value);
    const r = await send("saliency", args);
    show($("cs-sal-error"), r.error);
    if (!r.error) { $("cs-sal-result").innerHTML = r.html; seen.saliency += 1; }
  }

  // -- the convolution arithmetic ---------------------------------------------------------------
  const convInputs = { row: "cs-conv-row", col: "cs-conv-col", channel: "cs-conv-channel", in_channel: "cs-conv-in" };
  async function conv(take) {
    const args = { layer: $("cs-conv-layer").value || null, take: !!take };
    for (const [k, id] of Object.entries(convInputs)) args[k] = Number($(id).value) || 0;
    const r = await send("conv", args);
    if (r.error) { $("cs-conv-result").textContent = r.error; return; }
    if (r.layers.length) {
      options($("cs-conv-layer"), r.layers.map((n) => [n, n]), r.values.layer);
      for (const [k, id] of Object.entries(convInputs)) { $(id).max = r.limits[k]; $(id).value = r.values[k]; }
    }
    $("cs-conv-result").innerHTML = r.html;
    seen.conv += 1;
    seen.convTotal = r.total;
  }

  // -- the case studies -------------------------------------------------------------------------
  let caseRows = [];
  function caseFields() {
    const row = caseRows.find((x) => x.name === $("cs-case-row").value);
    if (!row) return;
    const kind = $("cs-case-type").value;
    const box = $("cs-case-fields");
    box.innerHTML = "";
    for (const key of info.fields[kind] || []) {
      const label = document.createElement("label");
      label.textContent = key.replace(/_/g, " ") + " ";
      const input = document.createElement("input");
      input.type = "number"; input.min = 0; input.dataset.key = key;
      input.value = row.values[key] != null ? row.values[key] : "";
      label.appendChild(input);
      box.appendChild(label);
    }
  }
  function caseRow() {
    const row = caseRows.find((x) => x.name === $("cs-case-row").value);
    if (!row) return;
    const input = row.type === "input";
    options($("cs-case-type"), (input ? ["input"] : info.switch_types).map((t) => [t, t]), row.type);
    $("cs-case-type").disabled = input;
    caseFields();
  }
  async function caseStudy(args) {
    const keep = $("cs-case-row").value;
    const r = await send("case", args);
    show($("cs-case-error"), r.error);
    if (r.error && !r.html) return;
    $("cs-case-net").value = r.net;
    caseRows = r.rows;
    options($("cs-case-row"), r.rows.map((x) => [x.name, `${x.name} (${x.type})`]),
      r.rows.some((x) => x.name === keep) ? keep : r.rows[1 % r.rows.length].name);
    caseRow();
    $("cs-case-result").innerHTML = r.html;
    seen.cases += 1;
  }
  function caseSwitch() {
    const changes = { type: $("cs-case-type").value };
    for (const input of $("cs-case-fields").querySelectorAll("input")) changes[input.dataset.key] = Number(input.value);
    caseStudy({ row: $("cs-case-row").value, changes });
  }

  // -- wiring -----------------------------------------------------------------------------------
  async function start(sendFn) {
    send = sendFn;
    window.cp.sections = seen;
    $("cs-spec").disabled = false;  // page.js enables the buttons, inputs and selects
    info = await send("sections");
    options($("cs-preset"), [["", "(the running net)"]].concat(info.presets.map((p) => [p, p])), "");
    options($("cs-sal-class"), [["-1", "the net's top guess"]].concat(info.classes.map((c, i) => [String(i), c])), "-1");
    options($("cs-case-net"), Object.entries(info.case_studies), "vgg16");
    $("cs-preset").addEventListener("change", (e) => loadPreset(e.target.value));
    $("cs-revert").addEventListener("click", () => { $("cs-preset").value = ""; loadPreset(""); });
    $("cs-spec").addEventListener("input", previewSoon);
    $("cs-apply").addEventListener("click", apply);
    $("cs-matrix").addEventListener("click", (e) => {
      const td = e.target.closest("td[data-true]");
      if (!td) return;
      selected = [Number(td.dataset.true), Number(td.dataset.pred)];
      cell(selected[0], selected[1]);
    });
    $("cs-sal-go").addEventListener("click", () => saliency(false));
    $("cs-sal-vis").addEventListener("click", () => saliency(true));
    $("cs-sal-class").addEventListener("change", () => saliency(false));
    $("cs-conv-layer").addEventListener("change", () => conv(false));
    for (const id of Object.values(convInputs)) $(id).addEventListener("change", () => conv(false));
    $("cs-conv-take").addEventListener("click", () => conv(true));
    $("cs-case-net").addEventListener("change", (e) => caseStudy({ net: e.target.value }));
    $("cs-case-row").addEventListener("change", caseRow);
    $("cs-case-type").addEventListener("change", caseFields);
    $("cs-case-apply").addEventListener("click", caseSwitch);
    $("cs-case-reset").addEventListener("click", () => caseStudy({ reset: true }));
    await loadPreset("");
    await caseStudy({ net: "vgg16" });
    await conv(true);
  }

  function update(s) {
    if (s.spec) {
      $("cp-layer-table").innerHTML = s.spec.table;
      $("cp-memory").innerHTML = s.spec.memory;
      // Not being edited: the editor follows the running net, as the server's editor does.
      if (send && $("cs-spec").value === shownSpec && $("cs-spec").value !== s.spec.text) {
        $("cs-spec").value = shownSpec = s.spec.text;
        preview();
      }
      seen.specs += 1;
    }
    if (s.evaluation) {
      $("cs-eval-status").innerHTML = s.evaluation.status;
      $("cs-matrix").innerHTML = s.evaluation.matrix;
      $("cs-per-class").innerHTML = s.evaluation.per_class;
      if (selected) {
        const td = document.querySelector(`#cs-matrix td[data-true="${selected[0]}"][data-pred="${selected[1]}"]`);
        if (td) td.classList.add("cs-selected");
      }
      seen.matrices += 1;
    }
    if (s.health) {
      $("cs-health-body").innerHTML = s.health;
      seen.health += 1;
    }
  }

  window.cpSections = { start, update };
})();
