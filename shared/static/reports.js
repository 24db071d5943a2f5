// Reports page: poll each running export's small JSON status and reload when one is done.
// Without JavaScript the page refreshes itself (a <noscript> meta refresh) instead.
(function () {
  "use strict";
  var rows = document.querySelectorAll("tr[data-status-url]");
  if (!rows.length) { return; }
  function poll() {
    var pending = 0;
    var checks = Array.prototype.map.call(rows, function (row) {
      return fetch(row.getAttribute("data-status-url"), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (answer) { return answer.json(); }).then(function (body) {
        var bar = row.querySelector("progress");
        var pct = row.querySelector(".pct");
        if (bar) { bar.value = body.progress; }
        if (pct) { pct.textContent = body.progress + " %"; }
        if (body.status === "queued" || body.status === "running") { pending += 1; }
      }).catch(function () { pending += 1; });
    });
    Promise.all(checks).then(function () {
      if (pending < rows.length) { window.location.reload(); } else { window.setTimeout(poll, 1500); }
    });
  }
  window.setTimeout(poll, 1000);
})();
