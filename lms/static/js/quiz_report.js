// 纠错: "Report an error" buttons (data-report-url) open #report-modal; the text is sent as JSON.
(function () {
  "use strict";
  var modalElement = document.getElementById("report-modal");
  if (!modalElement || !window.Vanguard || !window.bootstrap) {
    return;
  }
  var form = document.getElementById("report-form");
  var text = document.getElementById("report-text");
  var error = modalElement.querySelector("[data-report-error]");
  var done = modalElement.querySelector("[data-report-done]");
  var url = null;

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-report-url]");
    if (!button) { return; }
    url = button.getAttribute("data-report-url");
    text.value = "";
    error.textContent = "";
    done.classList.add("d-none");
    form.querySelector("[type=submit]").disabled = false;
    window.bootstrap.Modal.getOrCreateInstance(modalElement).show();
  });
  modalElement.addEventListener("shown.bs.modal", function () { text.focus(); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!url) { return; }
    var submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    window.Vanguard.fetchJSON(url, { method: "POST", body: { text: text.value } }).then(function (body) {
      if (body.ok) {
        error.textContent = "";
        done.textContent = body.message;
        done.classList.remove("d-none");
        window.setTimeout(function () { window.bootstrap.Modal.getOrCreateInstance(modalElement).hide(); }, 1500);
      } else {
        error.textContent = body.error || "";
        submit.disabled = false;
      }
    }, function () {
      submit.disabled = false;
    });
  });
})();
