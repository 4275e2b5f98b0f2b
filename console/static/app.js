// Entravault console: small progressive enhancements. Every page works
// without this file; it only saves clicks and refreshes live parts.
(function () {
  "use strict";

  // Selects marked data-autosubmit apply at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Forms marked data-confirm ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });

  // A [data-live-active] region is redrawn from the same page every few
  // seconds while something runs (verification, a backup, a restore).
  function refresh() {
    var live = document.querySelector("[data-live][data-live-active]");
    if (!live) { return; }
    fetch(window.location.href, { headers: { "X-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.querySelector("[data-live]");
        var status = doc.querySelector("#status");
        // What was running is done and the page looks different: load it.
        if (!next) { window.location.reload(); return; }
        live.replaceWith(next);
        var cur = document.querySelector("#status");
        if (status && cur) { cur.replaceWith(status); }
        if (next && next.hasAttribute("data-live-active")) { setTimeout(refresh, 2000); }
      })
      .catch(function () { setTimeout(refresh, 5000); });
  }
  setTimeout(refresh, 2000);
})();
