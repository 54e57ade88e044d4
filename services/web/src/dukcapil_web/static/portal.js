// The portal works without this file; with it: a print button, and an upload's progress (htmx's XHR progress).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    var summary = document.getElementById("ringkasan-kesalahan");
    if (summary) { summary.focus(); }
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target.closest ? event.target.closest("[data-progress]") : null;
    var bar = form ? form.querySelector(".upload-progress") : null;
    if (bar && event.detail.lengthComputable) {
      bar.hidden = false;
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var alert = event.detail.target && document.querySelector("#daftar-berkas [role=status], #daftar-berkas [role=alert]");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  });
})();
