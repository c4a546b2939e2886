"use strict";
(function () {
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); document.body.dataset.errors = errors.join(" | "); });
  var PAGE = 100;
  var hash = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i <= 0) return;
    try {
      hash[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    } catch (e) {
      // A malformed hash selects nothing; the page still renders.
    }
  });
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function side(v, r) { return r ? v + " (" + r + ")" : v; }
  function heightTest(text) {
    text = text.trim();
    if (!text) return function () { return true; };
    var m = text.match(/^(\d+)\s*(?:-|\.\.=?)\s*(\d+)$/);
    if (m) { var a = +m[1], b = +m[2]; return function (h) { return h >= a && h <= b; }; }
    if (/^\d+$/.test(text)) { var n = +text; return function (h) { return h === n; }; }
    return function () { return false; };
  }
  document.querySelectorAll(".records").forEach(function (box) {
    var data = JSON.parse(box.querySelector("script.data").textContent);
    // Rows come with their repeated strings as indices into data.strings, a reproduce suffix as a
    // template with the height as \u0001 (model.rs, `table`): spelled out here once.
    var S = data.strings;
    data.rows = data.rows.map(function (r) {
      var suffix = typeof r[9] === "number" ? S[r[9]].split("\u0001").join(String(r[0])) : r[9];
      return [r[0], S[r[1]], r[2], S[r[3]], S[r[4]], S[r[5]], S[r[6]], S[r[7]], S[r[8]], suffix, r[10], r[11]];
    });
    var colours = {};
    box.closest(".run").querySelectorAll(".count").forEach(function (c) { colours[c.dataset.class] = c.querySelector("i").style.background; });
    var body = box.querySelector("tbody");
    var fClass = box.querySelector(".f-class"), fReason = box.querySelector(".f-reason"), fHeight = box.querySelector(".f-height");
    var sortBtn = box.querySelector(".sort"), info = box.querySelector(".page-info");
    var reasons = {};
    data.rows.forEach(function (r) { if (r[4] && r[3] !== "error") reasons[r[4]] = 1; if (r[6] && r[5] !== "error") reasons[r[6]] = 1; });
    Object.keys(reasons).sort().forEach(function (r) { fReason.appendChild(el("option", { value: r }, r)); });
    var state = { asc: true, page: 0 };
    var mine = hash.run === undefined || hash.run === box.dataset.run;
    function choose(s, v) { if (![].some.call(s.options, function (o) { return o.value === v; })) s.appendChild(el("option", { value: v }, v + " (0)")); s.value = v; }
    if (mine && hash["class"]) choose(fClass, hash["class"]);
    if (mine && hash.reason) choose(fReason, hash.reason);
    if (mine && hash.height) fHeight.value = hash.height;
    function detail(i, r) {
      var td = el("td", { colspan: "7" });
      var cmd = r[8] + r[9];
      var d = data.details[r[10] - 1];
      if (d) {
        td.appendChild(el("pre", {}, JSON.stringify({ legacy: d.legacy, candidate: d.candidate, authoritative: d.authoritative,
          differing_facts: d.differing_facts, stored_id: d.stored_id, second_answer: d.second_answer }, null, 2)));
        td.appendChild(el("div", {}, "env"));
        td.appendChild(el("pre", {}, JSON.stringify(d.env, null, 2)));
        td.appendChild(el("div", {}, "blob (" + d.blob.length / 2 + " bytes)"));
        td.appendChild(el("pre", { "class": "blob" }, d.blob));
      } else {
        td.appendChild(el("p", { "class": "muted" }, "Both sides, the env and the blob: divergences.jsonl line " + r[10] + "."));
      }
      var p = el("p");
      p.appendChild(el("span", {}, "reproduce: "));
      p.appendChild(el("code", { "class": "reproduce" }, cmd));
      var b = el("button", { type: "button" }, "copy");
      b.addEventListener("click", function (ev) {
        ev.stopPropagation();
        if (navigator.clipboard) navigator.clipboard.writeText(cmd).then(function () { b.textContent = "copied"; }, function () {});
      });
      p.appendChild(b);
      td.appendChild(p);
      var tr = el("tr", { "class": "detail" });
      tr.appendChild(td);
      return tr;
    }
    function render() {
      var cls = fClass.value, reason = fReason.value, h = heightTest(fHeight.value);
      var rows = data.rows.filter(function (r) {
        return (!cls || r[1] === cls) && (!reason || r[4] === reason || r[6] === reason) && h(r[0]);
      });
      rows.sort(function (a, b) { return state.asc ? a[0] - b[0] || a[10] - b[10] : b[0] - a[0] || a[10] - b[10]; });
      var pages = Math.max(1, Math.ceil(rows.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      body.textContent = "";
      var shown = {};
      rows.slice(state.page * PAGE, state.page * PAGE + PAGE).forEach(function (r, i) {
        var tr = el("tr", { "class": "row", "data-class": r[1], "data-height": String(r[0]) });
        shown[r[1]] = 1;
        tr.appendChild(el("td", { "class": "num" }, String(r[0])));
        var c = el("td");
        c.appendChild(el("span", { "class": "tag", style: "background:" + (colours[r[1]] || "#555") }, r[1]));
        if (r[11]) c.appendChild(el("span", { "class": "tag orphaned", title: "its block left the daemon's chain in a reorganization (reorgs.jsonl)" }, "orphaned"));
        tr.appendChild(c);
        tr.appendChild(el("td", {}, "")).appendChild(el("code", {}, r[2].slice(0, 16) + "…"));
        tr.appendChild(el("td", {}, side(r[3], r[4])));
        tr.appendChild(el("td", {}, side(r[5], r[6])));
        tr.appendChild(el("td", {}, r[7]));
        tr.appendChild(el("td", { "class": "muted" }, "▸"));
        var open = null;
        tr.addEventListener("click", function () {
          if (open) { open.remove(); open = null; } else { open = detail(i, r); tr.after(open); }
        });
        body.appendChild(tr);
      });
      info.textContent = rows.length + " record(s) · page " + (state.page + 1) + " of " + pages;
      box.dataset.filtered = String(rows.length);
      box.dataset.classesShown = Object.keys(shown).sort().join(",");
      sortBtn.textContent = state.asc ? "height ↑" : "height ↓";
    }
    [fClass, fReason].forEach(function (s) { s.addEventListener("change", function () { state.page = 0; render(); }); });
    fHeight.addEventListener("input", function () { state.page = 0; render(); });
    sortBtn.addEventListener("click", function () { state.asc = !state.asc; render(); });
    box.querySelector(".prev").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); render(); });
    box.querySelector(".next").addEventListener("click", function () { state.page += 1; render(); });
    render();
  });
  document.body.dataset.ready = "1";
})();
