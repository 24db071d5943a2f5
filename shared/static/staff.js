// Staff pages (shared/glossary.py, shared/static/staff.css). A static file: the
// Content-Security-Policy allows no inline script. Everything here is an enhancement: without
// it, glossary terms still open on hover and focus, and tables scroll inside their box.
(function () {
  "use strict";

  // --- glossary terms: tap to open and close (touch screens do not hover), Escape closes.
  function closeAll(except) {
    document.querySelectorAll(".term.open").forEach(function (term) {
      if (term !== except) {
        term.classList.remove("open");
        term.querySelector(".term-info").setAttribute("aria-expanded", "false");
      }
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".term-info") : null;
    if (!button) {
      closeAll(null);
      return;
    }
    event.preventDefault();
    var term = button.closest(".term");
    var open = !term.classList.contains("open");
    closeAll(term);
    term.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      closeAll(null);
    }
  });

  // --- tables as cards on a phone: every cell learns its column's heading (data-label),
  // which staff.css shows before the value below 40rem. Tables of figures (the dashboard's
  // "show the numbers") and any table marked data-keep-table stay tables and scroll.
  function cardify(table) {
    var heads = table.querySelectorAll("thead tr:first-child > th, thead tr:first-child > td");
    if (!heads.length) {
      return;
    }
    var labels = [];
    heads.forEach(function (head) {
      var span = parseInt(head.getAttribute("colspan") || "1", 10);
      for (var i = 0; i < span; i++) {
        labels.push(head.textContent.trim());
      }
    });
    table.querySelectorAll("tbody > tr").forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        if (!cell.hasAttribute("data-label") && labels[column] && !cell.hasAttribute("colspan")) {
          cell.setAttribute("data-label", labels[column]);
        }
        column += parseInt(cell.getAttribute("colspan") || "1", 10);
      });
    });
    table.classList.add("as-cards");
  }
  function cardifyAll() {
    document.querySelectorAll("main table.data").forEach(function (table) {
      if (!table.closest("details.numbers, [data-keep-table]")) {
        cardify(table);
      }
    });
  }
  // --- the call list: the page renders one "record a call" form (#record-form), not one per
  // card; opening a card's "Record a call" moves that form into the card and points it at
  // the card's alumnus. Without this, the card links to the alumnus's page, which has it.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches("details.record") || !details.open) {
      return;
    }
    var form = document.getElementById("record-form");
    if (!form) {
      return;
    }
    document.querySelectorAll("details.record[open]").forEach(function (other) {
      if (other !== details) {
        other.open = false;
      }
    });
    var fallback = details.querySelector(".record-fallback");
    if (fallback) {
      fallback.hidden = true;
    }
    form.reset();
    form.setAttribute("action", details.getAttribute("data-action"));
    details.appendChild(form);
  }, true);  // toggle does not bubble: caught on its way down

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", cardifyAll);
  } else {
    cardifyAll();
  }
})();
