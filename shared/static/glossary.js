// Glossary terms (shared/glossary.py): the explanation shows on hover and keyboard focus by
// CSS alone; this adds tap to open and close (touch screens do not hover) and Escape to
// close. A static file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
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
})();
