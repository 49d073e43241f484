// Rule builder: matcher rows with known label names/values, and a live preview chart.
// Progressive: without JS the form posts the matchers textarea as typed.
(function () {
  "use strict";
  var CONDITION = ["metric", "service", "matchers", "aggregation", "window", "horizon", "comparison", "threshold", "for_duration"];
  var OPS = ["=", "!=", "=~", "!~"];
  var form = document.getElementById("rule-form");
  if (!form) { return; }
  var textarea = form.elements.matchers;
  var rows = document.getElementById("matcher-rows");
  var canvas = document.getElementById("preview-chart");
  var verdict = document.getElementById("would-fire");
  var knownLabels = {};
  var chart = null;
  var sequence = 0;

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // ---- known label names and values (datalists) ----
  function fillDatalist(id, values) {
    var list = document.getElementById(id);
    if (!list) { list = el("datalist", { id: id }); document.body.appendChild(list); }
    list.replaceChildren.apply(list, values.map(function (v) { return el("option", { value: v }); }));
  }

  function valueListId(label) { return "label-values-" + encodeURIComponent(label).replace(/[^A-Za-z0-9_-]/g, "_"); }

  function loadLabels() {
    var metric = form.elements.metric.value.trim();
    if (!metric) { knownLabels = {}; fillDatalist("label-names", []); return; }
    fetch(form.dataset.labelsUrl + "?" + new URLSearchParams({ metric: metric }), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { labels: {} }; })
      .then(function (data) {
        knownLabels = data.labels || {};
        fillDatalist("label-names", Object.keys(knownLabels));
        Object.keys(knownLabels).forEach(function (name) { fillDatalist(valueListId(name), knownLabels[name]); });
        rows.querySelectorAll(".matcher-row").forEach(linkValues);
      })
      .catch(function () { /* suggestions only */ });
  }

  // ---- matcher rows, written back into the textarea as JSON ----
  function linkValues(row) {
    row.querySelector(".matcher-value").setAttribute("list", valueListId(row.querySelector(".matcher-label").value));
  }

  function writeMatchers() {
    var items = [];
    rows.querySelectorAll(".matcher-row").forEach(function (row) {
      var label = row.querySelector(".matcher-label").value.trim();
      if (label) {
        items.push({ label: label, op: row.querySelector(".matcher-op").value, value: row.querySelector(".matcher-value").value });
      }
    });
    textarea.value = JSON.stringify(items);
  }

  function addRow(matcher) {
    matcher = matcher || { label: "", op: "=", value: "" };
    var row = el("div", { "class": "matcher-row" });
    var label = el("input", { "class": "matcher-label", list: "label-names", placeholder: "label", "aria-label": "label" });
    var op = el("select", { "class": "matcher-op", "aria-label": "operator" });
    OPS.forEach(function (o) { op.appendChild(el("option", { value: o }, o)); });
    var value = el("input", { "class": "matcher-value", placeholder: "value", "aria-label": "value" });
    var remove = el("button", { type: "button", "class": "btn secondary", "aria-label": "remove matcher" }, "×");
    label.value = matcher.label || "";
    op.value = OPS.indexOf(matcher.op) >= 0 ? matcher.op : "=";
    value.value = matcher.value || "";
    label.addEventListener("input", function () { linkValues(row); });
    remove.addEventListener("click", function () { row.remove(); writeMatchers(); schedulePreview(); });
    row.append(label, op, value, remove);
    rows.appendChild(row);
    linkValues(row);
  }

  function startMatcherRows() {
    var initial;
    try { initial = JSON.parse(textarea.value || "[]"); } catch (e) { return; } // leave the raw JSON editable
    if (!Array.isArray(initial)) { return; }
    initial.forEach(addRow);
    textarea.hidden = true;
    rows.hidden = false;
    document.getElementById("add-matcher").hidden = false;
    document.getElementById("add-matcher").addEventListener("click", function () { addRow(); });
    rows.addEventListener("input", function () { writeMatchers(); schedulePreview(); });
    rows.addEventListener("change", function () { writeMatchers(); schedulePreview(); });
  }

  // ---- preview ----
  function showErrors(errors) {
    CONDITION.forEach(function (name) {
      var list = form.querySelector('.field-errors[data-field="' + name + '"]');
      if (!list) { return; }
      var messages = errors[name] || [];
      list.replaceChildren.apply(list, messages.map(function (m) { return el("li", {}, m); }));
      list.closest(".field").classList.toggle("invalid", messages.length > 0);
    });
  }

  function draw(data) {
    if (chart) {
      chart.data.labels = data.labels;
      chart.data.datasets = data.datasets;
      chart.update();
    } else {
      chart = new Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: data.datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false, spanGaps: true,
                   interaction: { mode: "index", intersect: false } }
      });
    }
    canvas.dataset.chartReady = "1";
    canvas.dataset.points = String(data.labels.length);
  }

  function preview() {
    var params = new URLSearchParams();
    CONDITION.forEach(function (name) {
      var field = form.elements[name];
      if (field) { params.append(name, field.value); }
    });
    var mine = ++sequence;
    verdict.classList.add("loading");
    fetch(form.dataset.previewUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) {
        if (mine !== sequence) { return; } // a newer preview is on its way
        verdict.classList.remove("loading", "fires", "quiet", "invalid");
        if (res.status === 400) {
          showErrors(res.body.errors || {});
          verdict.textContent = "Fix the fields marked above to see the preview.";
          verdict.classList.add("invalid");
          return;
        }
        if (res.status !== 200) { throw new Error(res.status); }
        showErrors({});
        verdict.textContent = res.body.text;
        verdict.classList.add(res.body.would_fire ? "fires" : "quiet");
        draw(res.body);
      })
      .catch(function (err) { if (mine === sequence) { verdict.textContent = "Preview unavailable (" + err.message + ")"; } });
  }

  var schedulePreview = debounce(preview, 400);
  var scheduleLabels = debounce(loadLabels, 300);

  form.addEventListener("input", function (event) {
    if (event.target.name === "metric") { scheduleLabels(); }
    if (CONDITION.indexOf(event.target.name) >= 0) { schedulePreview(); }
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "metric") { scheduleLabels(); }
    if (CONDITION.indexOf(event.target.name) >= 0) { schedulePreview(); }
  });

  startMatcherRows();
  loadLabels();
  if (form.elements.metric.value.trim()) { preview(); }
})();
