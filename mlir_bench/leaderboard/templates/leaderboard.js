// mlir-bench leaderboard: views, sortable tables (keyboard too), filters, CSV downloads, manifest dialogs.
// No dependencies, no network: CSV files are built from the tables in the page.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.body.classList.add("js");
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // ---------------------------------------------------------------------------------------------- Cross maps
  // The Cross view's per-model heatmaps come as data (a JSON block) and are drawn here, in svg.heatmap's layout,
  // the first time the view opens: as inline SVG they would be most of the page's weight.
  var SVGNS = "http://www.w3.org/2000/svg", CELL = 34;
  var VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
    "#7ad151", "#bddf26", "#fde725"];
  function rgb(h) { return [1, 3, 5].map(function (i) { return parseInt(h.slice(i, i + 2), 16); }); }
  function colour(t) {
    t = Math.min(1, Math.max(0, t)) * 10;
    var i = Math.min(Math.floor(t), 9), f = t - i, a = rgb(VIRIDIS[i]), b = rgb(VIRIDIS[i + 1]);
    return "#" + a.map(function (x, k) { return ("0" + Math.round(x + (b[k] - x) * f).toString(16)).slice(-2); }).join("");
  }
  function dark(fill) { var c = rgb(fill); return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140; }
  function short(v) {
    var s = v.toFixed(3);
    return Math.abs(v) < 1 && (s.indexOf("0.") === 0 || s.indexOf("-0.") === 0) ? s.replace("0.", ".") : s;
  }
  function el(parent, name, attrs, text) {
    var e = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function crossMap(model, d) {
    var langs = d.langs, n = langs.length, title = model.name, top = 56;
    var labelW = Math.max(2, Math.max.apply(null, langs.map(function (l) { return l.length; }))) * 8 + 28;
    var w = Math.max(labelW + CELL * n + 10, title.length * 7 + 10), h = top + CELL * n + 26;
    var span = (d.vmax - d.vmin) || 1;
    var svg = el(null, "svg", { "class": "heatmap", width: w, height: h, viewBox: "0 0 " + w + " " + h, role: "img",
      "aria-label": title });
    el(svg, "text", { x: 0, y: 14, "class": "fig-title" }, title);
    el(svg, "text", { x: Math.round(labelW + CELL * n / 2), y: 32, "class": "axis-title", "text-anchor": "middle" },
      "document language");
    el(svg, "text", { x: 2, y: top - 4, "class": "axis-title" }, "query \u2193");
    langs.forEach(function (c, j) {
      el(svg, "text", { x: Math.round(labelW + CELL * j + CELL / 2), y: top - 6, "text-anchor": "middle", "class": "tick" }, c);
    });
    langs.forEach(function (r, i) {
      var y = top + CELL * i;
      el(svg, "text", { x: labelW - 6, y: Math.round(y + CELL / 2 + 4), "text-anchor": "end", "class": "tick" }, r);
      var g = el(svg, "g", { transform: "translate(0 " + y + ")" });
      langs.forEach(function (c, j) {
        var v = model.m[i][j], x = labelW + CELL * j;
        if (v === null) {
          var empty = el(g, "rect", { x: x, width: CELL - 1, height: CELL - 1, fill: "#ddd" });
          el(empty, "title", {}, r + " \u2192 " + c + ": no value");
          return;
        }
        var fill = colour((v - d.vmin) / span);
        var rect = el(g, "rect", { "class": "hm-cell", x: x, width: CELL - 1, height: CELL - 1, fill: fill });
        el(rect, "title", {}, r + " \u2192 " + c + ": " + v.toFixed(4) + (i === j ? " (" + d.note + ")" : ""));
        el(g, "text", { x: (x + (CELL - 1) / 2).toFixed(1), y: Math.floor(CELL / 2) + 3, "class": "cl " + (dark(fill) ? "d" : "l") },
          short(v));
      });
    });
    return svg;
  }
  function drawCross(section) {
    $$("div[data-cross]", section).forEach(function (box) {
      if (box.getAttribute("data-drawn")) { return; }
      var src = document.getElementById(box.getAttribute("data-cross"));
      if (!src) { return; }
      var d = JSON.parse(src.textContent);
      d.models.forEach(function (m) {
        var fig = document.createElement("figure");
        fig.setAttribute("data-model", m.name);
        fig.appendChild(crossMap(m, d));
        box.appendChild(fig);
      });
      box.setAttribute("data-drawn", "1");
    });
    syncFigures(section);
  }

  // ---------------------------------------------------------------------------------------------- p-values
  // The pairwise p-value matrix of a view is data too; drawn as a table the first time its <details> opens.
  function fmtP(p) { return p === null ? "\u00b7" : (p >= 0.0001 || p === 0 ? p.toFixed(4) : p.toExponential(1)); }
  $$("details[data-pmatrix]").forEach(function (det) {
    det.addEventListener("toggle", function () {
      if (!det.open || det.getAttribute("data-drawn")) { return; }
      var src = document.getElementById(det.getAttribute("data-pmatrix"));
      if (!src) { return; }
      var d = JSON.parse(src.textContent);
      var table = document.createElement("table");
      table.className = "pmatrix";
      var head = table.createTHead().insertRow();
      head.appendChild(document.createElement("th"));
      d.labels.forEach(function (l) {
        var th = document.createElement("th");
        th.setAttribute("scope", "col");
        th.textContent = l;
        head.appendChild(th);
      });
      var body = table.createTBody();
      d.p.forEach(function (row, i) {
        var tr = body.insertRow();
        var th = document.createElement("th");
        th.setAttribute("scope", "row");
        th.textContent = d.labels[i];
        tr.appendChild(th);
        row.forEach(function (p, j) {
          var td = tr.insertCell();
          td.textContent = fmtP(p);
          if (d.sig[i].charAt(j) === "1") { td.className = "sig"; }
        });
      });
      det.querySelector(".table-wrap").appendChild(table);
      det.setAttribute("data-drawn", "1");
    });
  });

  // ---------------------------------------------------------------------------------------------- views
  var views = $$("section.view");
  var links = $$("a.nav-view");
  function show(id) {
    var found = views.some(function (v) { return v.id === id; });
    if (!found) {
      var main = document.querySelector("a.nav-view.default") || document.querySelector("a.nav-view.main");
      id = main ? main.getAttribute("data-view") : (views[0] && views[0].id);
    }
    views.forEach(function (v) {
      v.classList.toggle("active", v.id === id);
      if (v.id === id) { drawCross(v); }
    });
    links.forEach(function (a) {
      var on = a.getAttribute("data-view") === id;
      a.classList.toggle("active", on);
      if (on) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
    });
    return id;
  }
  links.forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      var id = show(a.getAttribute("data-view"));
      if (history.replaceState) { history.replaceState(null, "", "#" + id); }
    });
  });
  show(location.hash.slice(1));
  window.addEventListener("hashchange", function () {
    var h = location.hash.slice(1);
    if (views.some(function (v) { return v.id === h; })) { show(h); }
  });

  // ---------------------------------------------------------------------------------------------- sorting
  // A header's button sorts by data-sort (numbers; empty cells last); columns with a direction sort best first
  // on the first click, others descending (numbers) or ascending (text); a second click reverses.
  function key(td, numeric) {
    if (!td || td.hasAttribute("data-masked")) { return null; }
    var raw = td.getAttribute("data-sort");
    if (raw === null) { raw = td.textContent.trim(); }
    if (numeric) {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return raw === "" ? null : raw.toLowerCase();
  }
  function columnIndex(th) { return Array.prototype.indexOf.call(th.parentNode.children, th); }
  function sortTable(table, th) {
    var col = columnIndex(th);
    var numeric = th.getAttribute("data-kind") === "num";
    var better = th.getAttribute("data-better");
    var current = th.getAttribute("aria-sort");
    var first = better === "lower" ? "ascending" : better === "higher" ? "descending"
      : (numeric ? "descending" : "ascending");
    var dir = current === "none" || !current ? first : (current === "descending" ? "ascending" : "descending");
    $$("thead th", table).forEach(function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = dir === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var ka = key(a.cells[col], numeric), kb = key(b.cells[col], numeric);
      if (ka === null && kb === null) { return 0; }
      if (ka === null) { return 1; }
      if (kb === null) { return -1; }
      return ka < kb ? -sign : ka > kb ? sign : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  $$("table.sortable").forEach(function (table) {
    $$("thead th", table).forEach(function (th) {
      var b = th.querySelector("button.sort");
      if (b) { b.addEventListener("click", function () { sortTable(table, th); }); }
    });
  });

  // ---------------------------------------------------------------------------------------------- filters
  // One state for the page: zero-shot (all / hide-no / only-yes), reported / transformed / transductive rows,
  // and per task the query languages of the per-language tables (hidden columns, average recomputed).
  var state = { zs: "all", reported: true, transformed: true, transductive: true, seedruns: true, langs: {} };
  function hiddenRow(tr) {
    var kind = tr.getAttribute("data-kind");
    var zs = tr.getAttribute("data-zs") || "";
    if (kind === "reported" && !state.reported) { return true; }
    if (tr.hasAttribute("data-transformed") && !state.transformed) { return true; }
    if (tr.hasAttribute("data-transductive") && !state.transductive) { return true; }
    if (tr.hasAttribute("data-seedrun") && !state.seedruns) { return true; }
    if (state.zs === "hide-no" && zs === "no") { return true; }
    if (state.zs === "only-yes" && (zs === "no" || zs === "unknown")) { return true; }
    return false;
  }
  function maskedCell(td) {
    var zs = td.getAttribute("data-zs") || "";
    return (state.zs === "hide-no" && zs === "no") || (state.zs === "only-yes" && (zs === "no" || zs === "unknown"));
  }
  function fmt(x, decimals) { return x === null ? "—" : x.toFixed(decimals); }
  function applyLangs(section) {
    var task = section.getAttribute("data-task");
    var off = state.langs[task] || {};
    $$("table.lang-table", section).forEach(function (table) {
      var heads = $$("thead th", table);
      var avgCol = -1, decimals = 4;
      heads.forEach(function (th, i) {
        var lang = th.getAttribute("data-lang");
        if (lang) { th.classList.toggle("lang-hidden", !!off[lang]); }
        if (th.classList.contains("avg")) { avgCol = i; decimals = parseInt(th.getAttribute("data-decimals"), 10) || 4; }
      });
      Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
        var sum = 0, n = 0, missing = false;
        Array.prototype.forEach.call(tr.cells, function (td) {
          var lang = td.getAttribute("data-lang");
          if (!lang) { return; }
          td.classList.toggle("lang-hidden", !!off[lang]);
          if (off[lang]) { return; }
          var x = parseFloat(td.getAttribute("data-sort"));
          if (isNaN(x)) { missing = true; } else { sum += x; n += 1; }
        });
        if (avgCol >= 0) {
          var avg = (n && !missing) ? sum / n : null;
          var cell = tr.cells[avgCol];
          cell.setAttribute("data-sort", avg === null ? "" : String(avg));
          cell.textContent = fmt(avg, decimals);
        }
      });
    });
  }
  // a Cross map follows its model's row: hidden when the filters hide the row
  function syncFigures(section) {
    var hidden = {};
    $$("table.lb tbody tr.filtered", section).forEach(function (tr) { hidden[tr.getAttribute("data-model")] = true; });
    $$("div[data-cross] figure[data-model]", section).forEach(function (f) {
      f.classList.toggle("filtered", !!hidden[f.getAttribute("data-model")]);
    });
  }
  function apply() {
    $$("table tbody tr[data-kind]").forEach(function (tr) { tr.classList.toggle("filtered", hiddenRow(tr)); });
    $$("ul.scatter-legend li[data-kind]").forEach(function (li) { li.classList.toggle("filtered", hiddenRow(li)); });
    $$("table.overview tbody td[data-zs]").forEach(function (td) {
      if (maskedCell(td)) { td.setAttribute("data-masked", ""); } else { td.removeAttribute("data-masked"); }
    });
    views.forEach(applyLangs);
    views.forEach(syncFigures);
    $$("form.filters").forEach(function (f) {
      f.elements.zs.value = state.zs;
      ["reported", "transformed", "transductive", "seedruns"].forEach(function (n) { if (f.elements[n]) { f.elements[n].checked = state[n]; } });
      var off = state.langs[f.getAttribute("data-task")] || {};
      $$("input[name=lang]", f).forEach(function (box) { box.checked = !off[box.value]; });
      var section = f.closest("section");
      var hidden = section ? $$("table.lb tbody tr.filtered", section).length : 0;
      var note = f.querySelector(".filter-note");
      if (note) { note.textContent = hidden ? hidden + " row" + (hidden === 1 ? "" : "s") + " hidden" : ""; }
    });
  }
  $$("form.filters").forEach(function (f) {
    f.addEventListener("submit", function (ev) { ev.preventDefault(); });
    f.addEventListener("change", function (ev) {
      var t = ev.target;
      if (t.name === "zs") { state.zs = t.value; }
      else if (t.name === "lang") {
        var task = f.getAttribute("data-task");
        state.langs[task] = state.langs[task] || {};
        state.langs[task][t.value] = !t.checked;
      } else if (t.name in state) { state[t.name] = t.checked; }
      apply();
    });
    var all = f.querySelector("button.langs-all");
    if (all) { all.addEventListener("click", function () { state.langs[f.getAttribute("data-task")] = {}; apply(); }); }
  });
  apply();

  // ---------------------------------------------------------------------------------------------- CSV
  // The rows and columns shown (filters applied), numbers at full precision (data-sort), plus each row's kind and
  // zero-shot status. Built here, saved through a blob: link; nothing leaves the page.
  function csvField(s) {
    s = s === null || s === undefined ? "" : String(s);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function cellValue(td, th) {
    if (td.hasAttribute("data-masked")) { return ""; }
    if (td.hasAttribute("data-csv")) { return td.getAttribute("data-csv"); }
    if (td.hasAttribute("data-sort")) { return td.getAttribute("data-sort"); }
    return td.textContent.replace(/\s+/g, " ").trim();
  }
  function tableCsv(table) {
    var heads = $$("thead th", table);
    var keep = heads.map(function (th) { return !th.classList.contains("lang-hidden"); });
    var lines = [];
    var header = heads.filter(function (_, i) { return keep[i]; }).map(function (th) {
      return th.getAttribute("data-label") || th.textContent.trim();
    });
    var flags = table.tBodies[0].rows.length && table.tBodies[0].rows[0].hasAttribute("data-kind");
    if (flags) { header = header.concat(["row_type", "zero_shot", "transformed", "transductive"]); }
    lines.push(header.map(csvField).join(","));
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      if (tr.classList.contains("filtered")) { return; }
      var out = [];
      Array.prototype.forEach.call(tr.cells, function (td, i) { if (keep[i]) { out.push(cellValue(td, heads[i])); } });
      if (flags) {
        out = out.concat([tr.getAttribute("data-kind") || "", tr.getAttribute("data-zs") || "",
          tr.hasAttribute("data-transformed") ? "yes" : "", tr.hasAttribute("data-transductive") ? "yes" : ""]);
      }
      lines.push(out.map(csvField).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  window.mlirLeaderboard = { tableCsv: tableCsv, state: state, apply: apply };
  $$("button.csv").forEach(function (b) {
    b.addEventListener("click", function () {
      var table = document.getElementById(b.getAttribute("data-table"));
      if (!table) { return; }
      var blob = new Blob(["\ufeff" + tableCsv(table)], { type: "text/csv;charset=utf-8" });
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = b.getAttribute("data-file") || "table.csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
    });
  });

  // ---------------------------------------------------------------------------------------------- manifests
  // Every run's manifest is data (one JSON block); a model name fills the one dialog with its run's manifest,
  // model card and the command that reproduces it. Text goes in through textContent only.
  var manifestData = {};
  var mblock = document.getElementById("manifests");
  if (mblock) { manifestData = JSON.parse(mblock.textContent); }
  var dialog = document.getElementById("manifest-dialog");
  function add(parent, tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    parent.appendChild(e);
    return e;
  }
  function link(parent, href, text) {
    var a = add(parent, "a", text);
    a.setAttribute("href", href);
    return a;
  }
  function fillManifest(m) {
    document.getElementById("manifest-title").textContent = m.title;
    var body = dialog.querySelector(".manifest-body");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (m.card) {
      var p = add(body, "p", m.card.description, "card-desc");
      m.card.links.forEach(function (l) { p.appendChild(document.createTextNode(" · ")); link(p, l[1], l[0]); });
      p.appendChild(document.createTextNode(" · licence " + m.card.licence));
    }
    var files = add(body, "p");
    link(files, m.link, m.stem + ".json");
    m.figures.forEach(function (f) { files.appendChild(document.createTextNode(" · ")); link(files, f[1], f[0] + ".png"); });
    add(body, "h3", "reproduce");
    if (m.card && m.card.prerequisite) { add(body, "code", m.card.prerequisite, "cmd"); }
    add(body, "code", m.command, "cmd");
    m.sections.forEach(function (sec) {
      add(body, "h3", sec[0]);
      var table = add(body, "table", null, "kv");
      var tb = add(table, "tbody");
      sec[1].forEach(function (kv) {
        var tr = add(tb, "tr");
        var th = add(tr, "th", kv[0]);
        th.setAttribute("scope", "row");
        add(tr, "td", kv[1]);
      });
    });
  }
  $$("button.manifest-link").forEach(function (b) {
    b.addEventListener("click", function () {
      var m = manifestData[b.getAttribute("data-target")];
      if (!m || !dialog || typeof dialog.showModal !== "function") { return; }
      fillManifest(m);
      dialog.setAttribute("data-manifest", b.getAttribute("data-target"));
      dialog.showModal();
    });
  });
  if (dialog) {
    dialog.addEventListener("click", function (ev) { if (ev.target === dialog) { dialog.close(); } });
  }
})();
