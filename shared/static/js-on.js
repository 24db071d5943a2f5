// Runs in <head>, before the first paint: marks the page as scripted, so questions the
// server marked data-off stay hidden from the start (no layout shift). Once the deferred
// form.js has set each question's `hidden`, the marks go and form.js alone decides.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-off]").forEach(function (element) {
      element.removeAttribute("data-off");
    });
  });
})();
