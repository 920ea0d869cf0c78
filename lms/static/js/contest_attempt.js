// During a contest attempt: every time the page is hidden (tab switched, app left,
// screen locked) the server is told, and counts it for the admin's results table.
// It is only a count shown next to the result: honest members lose nothing.
(function () {
  "use strict";
  var node = document.getElementById("contest-attempt");
  if (!node || !window.Vanguard) {
    return;
  }
  var url = node.dataset.hiddenUrl;
  var last = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "hidden") { return; }
    var now = Date.now();
    if (now - last < 1000) { return; } // one switch fires once, even if the browser repeats the event
    last = now;
    // keepalive lets the request finish while the page is being hidden or closed.
    window.Vanguard.fetchJSON(url, { method: "POST", body: {}, keepalive: true }).catch(function () { /* offline */ });
  });
})();
