// mlir-bench leaderboard: view switching, sortable tables, manifest dialogs. No dependencies, no network.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.body.classList.add("js");

  // Views: one visible at a time, chosen by the URL hash (default: the view marked .default).
  var views = Array.prototype.slice.call(document.querySelectorAll("section.view"));
  var links = Array.prototype.slice.call(document.querySelectorAll("a.nav-view"));
  function show(id) {
    var found = views.some(function (v) { return v.id === id; });
    if (!found) {
      var main = document.querySelector("a.nav-view.default") || document.querySelector("a.nav-view.main");
      id = main ? main.getAttribute("data-view") : (views[0] && views[0].id);
    }
    views.forEach(function (v) { v.classList.toggle("active", v.id === id); });
    links.forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-view") === id); });
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

  // Sorting: click a header; numbers sort by data-sort, empty cells last; click again to reverse.
  function key(td, numeric) {
    var raw = td ? td.getAttribute("data-sort") : null;
    if (raw === null) { raw = td ? td.textContent.trim() : ""; }
    if (numeric) {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return raw === "" ? null : raw.toLowerCase();
  }
  function sortTable(table, col, th) {
    var numeric = th.getAttribute("data-kind") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current === "descending" ? "ascending" : current === "ascending" ? "descending"
      : (numeric ? "descending" : "ascending");
    table.querySelectorAll("thead th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
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
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.addEventListener("click", function () { sortTable(table, col, th); });
    });
  });

  // Manifests: each model name opens its run's manifest in a modal dialog.
  document.querySelectorAll("button.manifest-link").forEach(function (b) {
    b.addEventListener("click", function () {
      var d = document.getElementById(b.getAttribute("data-target"));
      if (d && typeof d.showModal === "function") { d.showModal(); }
    });
  });
  document.querySelectorAll("dialog.manifest").forEach(function (d) {
    d.addEventListener("click", function (ev) { if (ev.target === d) { d.close(); } });
  });
})();
