// mlir-bench leaderboard: views, sortable tables (keyboard too), filters, CSV downloads, manifest dialogs.
// No dependencies, no network: CSV files are built from the tables in the page.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.body.classList.add("js");
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // ---------------------------------------------------------------------------------------------- views
  var views = $$("section.view");
  var links = $$("a.nav-view");
  function show(id) {
    var found = views.some(function (v) { return v.id === id; });
    if (!found) {
      var main = document.querySelector("a.nav-view.default") || document.querySelector("a.nav-view.main");
      id = main ? main.getAttribute("data-view") : (views[0] && views[0].id);
    }
    views.forEach(function (v) { v.classList.toggle("active", v.id === id); });
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
  var state = { zs: "all", reported: true, transformed: true, transductive: true, langs: {} };
  function hiddenRow(tr) {
    var kind = tr.getAttribute("data-kind");
    var zs = tr.getAttribute("data-zs") || "";
    if (kind === "reported" && !state.reported) { return true; }
    if (tr.hasAttribute("data-transformed") && !state.transformed) { return true; }
    if (tr.hasAttribute("data-transductive") && !state.transductive) { return true; }
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
  function apply() {
    $$("table tbody tr[data-kind]").forEach(function (tr) { tr.classList.toggle("filtered", hiddenRow(tr)); });
    $$("ul.scatter-legend li[data-kind]").forEach(function (li) { li.classList.toggle("filtered", hiddenRow(li)); });
    $$("table.overview tbody td[data-zs]").forEach(function (td) {
      if (maskedCell(td)) { td.setAttribute("data-masked", ""); } else { td.removeAttribute("data-masked"); }
    });
    views.forEach(applyLangs);
    $$("form.filters").forEach(function (f) {
      f.elements.zs.value = state.zs;
      ["reported", "transformed", "transductive"].forEach(function (n) { if (f.elements[n]) { f.elements[n].checked = state[n]; } });
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
    if (th && th.getAttribute("data-kind") === "num" && td.hasAttribute("data-sort")) {
      var raw = td.getAttribute("data-sort");
      return raw === "" ? "" : raw;
    }
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
  $$("button.manifest-link").forEach(function (b) {
    b.addEventListener("click", function () {
      var d = document.getElementById(b.getAttribute("data-target"));
      if (d && typeof d.showModal === "function") { d.showModal(); }
    });
  });
  $$("dialog.manifest").forEach(function (d) {
    d.addEventListener("click", function (ev) { if (ev.target === d) { d.close(); } });
  });
})();
