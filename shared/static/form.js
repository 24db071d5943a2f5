// Refines, within one page, what the server decided from all stored answers.
// The server renders every question that applies and renders hidden (the `hidden`
// attribute, no layout shift) those that only an answer on this page can open; their
// `data-if` holds just the part of the condition left to decide on this page (answers from
// other pages are already decided, and a ref to one is already its value). Without this
// script the server shows newly opened questions after "Lanjut", so both paths end with
// the same answers. The rules are the server's (services/survey/questionnaire/engine.py
// `_holds`, ODK/XPath for unanswered values); keep the two in step.
(function () {
  "use strict";
  var form = document.querySelector("form[novalidate]");
  if (!form) return;
  // Tells the server the alumnus already saw questions open as they answered.
  var flag = document.createElement("input");
  flag.type = "hidden";
  flag.name = "script";
  flag.value = "1";
  form.appendChild(flag);
  // An input's value as the server stores it (null for none it could store): numbers as
  // numbers ("2,5" is 2.5, "Rp 4.500.000" is 4500000), a date typed 31-12-2025 as
  // 2025-12-31, a browser time without its seconds; anything else as typed.
  function stored(input) {
    var v = String(input.value).trim();
    var kind = input.getAttribute("data-kind");
    if (v === "") return null;
    if (kind === "integer" || kind === "rupiah" || kind === "decimal") {
      if (kind === "rupiah") v = v.replace(/[^0-9]/g, "");
      var n = number(kind === "decimal" ? v.replace(",", ".") : v);
      return isNaN(n) ? null : n;
    }
    if (kind === "time") return v.slice(0, 5);
    if (kind === "datetime") return v.slice(0, 16);
    if (kind === "date") {
      var m = /^(\d{1,2})[-\/. ](\d{1,2})[-\/. ](\d{4})$/.exec(v);
      if (m) return m[3] + "-" + ("0" + m[2]).slice(-2) + "-" + ("0" + m[1]).slice(-2);
    }
    return v;
  }
  function valuesOf(key) {
    var inputs = form.querySelectorAll('[name="' + key + '"]');
    var out = [];
    inputs.forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
      // An answer to a hidden question does not count (the server drops it too).
      if (input.closest(".question[hidden]")) return;
      var v = stored(input);
      if (v !== null) out.push(v);
    });
    return out;
  }
  // One answer (null when unanswered); for a multi question, its first ticked option.
  function answerOf(key) {
    var got = valuesOf(key);
    return got.length ? got[0] : null;
  }
  function number(v) {
    if (typeof v === "number") return v;
    return /^[+-]?\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  }
  function same(a, b) {
    if (typeof a === "number" || typeof b === "number") return number(a) === number(b);
    return String(a) === String(b);
  }
  function ordered(a, op, b) {
    if (a === null || b === null) return false;
    var x = number(a), y = number(b);
    if (isNaN(x) || isNaN(y)) { x = String(a); y = String(b); }  // ISO dates and times
    if (op === "lt") return x < y;
    if (op === "le") return x <= y;
    if (op === "gt") return x > y;
    return x >= y;
  }
  var OPS = ["eq", "ne", "lt", "le", "gt", "ge"];
  function holds(c) {
    if (c.all) return c.all.every(holds);
    if (c.any) return c.any.some(holds);
    if (c.not) return !holds(c.not);
    var left;
    if ("count" in c) left = valuesOf(c.count).length;
    else if ("length" in c) {
      left = answerOf(c.length);
      left = left === null ? 0 : String(left).length;
    }
    else {
      var got = valuesOf(c.key);
      if ("answered" in c) return (got.length > 0) === c.answered;
      if ("has" in c) return got.indexOf(String(c.has)) >= 0;  // multi: strings
      if ("in" in c) return c["in"].some(function (v) { return got.some(function (g) { return same(g, v); }); });
      left = got.length ? got[0] : null;
    }
    for (var i = 0; i < OPS.length; i++) {
      var op = OPS[i];
      if (!(op in c)) continue;
      var right = c[op];
      if (right !== null && typeof right === "object") right = answerOf(right.ref);
      if (op === "eq" || op === "ne") {
        // Unanswered: equal only to unanswered (XPath), so ne is true against an answer.
        var equal = left === null || right === null ? left === right : same(left, right);
        return op === "eq" ? equal : !equal;
      }
      return ordered(left, op, right);
    }
    return true;
  }
  function refresh() {
    // Until nothing changes: a question shown (or hidden) may open (or close) another one.
    var questions = form.querySelectorAll(".question[data-if]");
    for (var pass = 0; pass <= questions.length; pass++) {
      var changed = false;
      questions.forEach(function (q) {
        var hide = !holds(JSON.parse(q.getAttribute("data-if")));
        if (q.hidden !== hide) { q.hidden = hide; changed = true; }
      });
      if (!changed) break;
    }
  }
  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  refresh();
})();
