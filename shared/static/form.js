// Refines, within one page, what the server decided from all stored answers.
// The server renders every question that applies and renders hidden (the `hidden`
// attribute, no layout shift) those that only an answer on this page can open; their
// `data-if` holds just the part of the condition left to decide on this page (answers from
// other pages are already decided). Without this script the server shows newly opened
// questions after "Lanjut", so both paths end with the same answers.
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
  function valuesOf(key) {
    var inputs = form.querySelectorAll('[name="' + key + '"]');
    var out = [];
    inputs.forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
      // An answer to a hidden question does not count (the server drops it too).
      if (input.closest(".question[hidden]")) return;
      if (input.value !== "") out.push(String(input.value));
    });
    return out;
  }
  function holds(c) {
    if (c.all) return c.all.every(holds);
    if (c.any) return c.any.some(holds);
    var got = valuesOf(c.key);
    if ("has" in c) return got.indexOf(String(c.has)) >= 0;
    if ("in" in c) return c["in"].some(function (v) { return got.indexOf(String(v)) >= 0; });
    if ("eq" in c) return got.indexOf(String(c.eq)) >= 0;
    if ("ne" in c) return got.indexOf(String(c.ne)) < 0;
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
  refresh();
})();
