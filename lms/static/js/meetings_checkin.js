// The meeting sign-in screen: fetch a fresh QR code from the server every few seconds
// (the code itself rotates every MEETING_TOKEN_SECONDS on the server) and the count
// of members signed in. No inline script: the CSP allows scripts from our origin only.
(function () {
  "use strict";
  var screen = document.querySelector("[data-checkin-screen]");
  if (!screen) { return; }
  var image = screen.querySelector("[data-checkin-url]");
  var status = screen.querySelector("[data-testid=checkin-status]");
  var signed = screen.querySelector("[data-signed]");
  var listed = screen.querySelector("[data-listed]");
  var url = screen.getAttribute("data-code-url");
  var every = Math.max(parseInt(screen.getAttribute("data-refresh-seconds"), 10) || 5, 2) * 1000;
  var statusText = status ? status.textContent : "";
  var stopped = false;

  function refresh() {
    if (stopped || !image) { return; }
    window.Vanguard.fetchJSON(url, { method: "GET" }).then(function (body) {
      if (!body.ok) {
        if (status) { status.textContent = body.error || screen.getAttribute("data-error-text"); }
        if (body.status === 409) { stopped = true; image.classList.add("opacity-25"); }
        return;
      }
      if (image.getAttribute("data-checkin-url") !== body.url) {
        image.setAttribute("src", body.svg);
        image.setAttribute("data-checkin-url", body.url);
      }
      if (signed) { signed.textContent = body.signed; }
      if (listed) { listed.textContent = body.listed; }
      if (status) { status.textContent = statusText; }
    }).catch(function () {
      if (status) { status.textContent = screen.getAttribute("data-error-text"); }
    });
  }

  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
})();
