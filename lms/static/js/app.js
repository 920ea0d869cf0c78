// Site-wide behaviour (no inline scripts: the CSP forbids them).
// - data-confirm="text" on a submit button asks before submitting.
// - window.Vanguard.fetchJSON(url, options) sends JSON with the CSRF token.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function fetchJSON(url, options) {
    options = options || {};
    var headers = Object.assign({ "Accept": "application/json", "X-CSRFToken": csrfToken() }, options.headers || {});
    if (options.body !== undefined && typeof options.body !== "string" && !(options.body instanceof FormData) && !(options.body instanceof Blob)) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.body);
    }
    return fetch(url, Object.assign({ credentials: "same-origin" }, options, { headers: headers })).then(function (response) {
      return response.json().catch(function () { return { ok: false, error: response.statusText }; }).then(function (body) {
        body.status = response.status;
        return body;
      });
    });
  }

  window.Vanguard = { csrfToken: csrfToken, fetchJSON: fetchJSON };
})();
