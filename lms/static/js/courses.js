// Small behaviours of the courses pages: selects that submit their form,
// the print button of the archive, and select all/none for attendee lists.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-check-all], [data-check-none]");
    if (!button) { return; }
    var all = button.hasAttribute("data-check-all");
    var name = button.getAttribute(all ? "data-check-all" : "data-check-none");
    button.form && button.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) { box.checked = all; });
  });
})();
