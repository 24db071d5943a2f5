// Shows and hides questions whose "if" depends on answers on the same page.
// The server enforces the same rules; without this script every question is shown.
(function () {
  "use strict";
  var form = document.querySelector("form[novalidate]");
  if (!form) return;
  function valuesOf(key) {
    var inputs = form.querySelectorAll('[name="' + key + '"]');
    var out = [];
    inputs.forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
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
    // Twice: a question shown by the first pass may open another one.
    for (var pass = 0; pass < 2; pass++) {
      form.querySelectorAll(".question[data-if]").forEach(function (q) {
        q.hidden = !holds(JSON.parse(q.getAttribute("data-if")));
      });
    }
  }
  form.addEventListener("change", refresh);
  refresh();
})();
