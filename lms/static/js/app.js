// Site-wide behaviour (no inline scripts: the CSP forbids them).
// - data-confirm="text" on a submit button asks before submitting.
// - window.Vanguard.fetchJSON(url, options) sends JSON with the CSRF token.
// - Tables (.table-responsive) and <pre> blocks that scroll sideways become focusable named regions;
//   a script that fills a table later calls window.Vanguard.markScrollRegions().
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

  // A table or code block that scrolls sideways must be reachable by keyboard (WCAG 2.1.1): while it
  // overflows it is a focusable, named region, named after its caption or the heading before it.
  function regionName(box) {
    var caption = box.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    for (var node = box; node && node !== document.body; node = node.parentElement) {
      for (var sibling = node.previousElementSibling; sibling; sibling = sibling.previousElementSibling) {
        var heading = sibling.matches("h1, h2, h3, h4, h5, h6") ? sibling : sibling.querySelector("h1, h2, h3, h4, h5, h6");
        if (heading && heading.textContent.trim()) return heading.textContent.trim();
      }
    }
    return document.title;
  }

  function markScrollRegions() {
    document.querySelectorAll(".table-responsive, pre").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        var named = !box.hasAttribute("aria-label");
        if (named) box.setAttribute("aria-label", regionName(box));
        box.setAttribute("data-scroll-region", named ? "named" : "");
      } else if (!scrolls && box.hasAttribute("data-scroll-region")) {
        var added = ["tabindex", "role", "data-scroll-region"];
        if (box.getAttribute("data-scroll-region") === "named") added.push("aria-label");
        added.forEach(function (name) { box.removeAttribute(name); });
      }
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markScrollRegions, 200);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markScrollRegions);
  } else {
    markScrollRegions();
  }

  window.Vanguard = { csrfToken: csrfToken, fetchJSON: fetchJSON, markScrollRegions: markScrollRegions };
})();
