// Site-wide behaviour (no inline scripts: the CSP forbids them).
// - data-confirm="text" on a submit button asks before submitting, in the page's own dialog (#confirm-dialog).
// - A multi-select becomes a list of thumb-sized checkboxes (no Ctrl-click); data-keep-select opts out.
// - The service worker (installable app, offline page) is registered from body[data-service-worker].
// - window.Vanguard.fetchJSON(url, options) sends JSON with the CSRF token.
// - Tables (.table-responsive) and <pre> blocks that scroll sideways become focusable named regions;
//   a script that fills a table later calls window.Vanguard.markScrollRegions().
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print-page]")) { window.print(); }
  });

  var confirmed = null;  // the button whose confirmation was just given
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (!button) { return; }
    if (confirmed === button) { confirmed = null; return; }
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || !window.bootstrap) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
      return;
    }
    event.preventDefault();
    dialog.querySelector("#confirm-dialog-text").textContent = button.getAttribute("data-confirm");
    var modal = window.bootstrap.Modal.getOrCreateInstance(dialog);
    var ok = dialog.querySelector("[data-confirm-ok]");
    ok.onclick = function () {
      ok.onclick = null;
      modal.hide();
      confirmed = button;
      button.click();
    };
    modal.show();
  });

  // A <select multiple> needs Ctrl-click with a mouse and is awkward on a phone: show checkboxes
  // instead, kept in step with the (hidden) select that the form still submits.
  var pickerCount = 0;
  function thumbPickers() {
    document.querySelectorAll("select[multiple]:not([data-keep-select]):not([data-picker])").forEach(function (select) {
      pickerCount += 1;
      select.setAttribute("data-picker", "");
      var label = select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
      var box = document.createElement("div");
      box.className = "check-picker";
      box.setAttribute("role", "group");
      if (label) {
        if (!label.id) { label.id = "picker-label-" + pickerCount; }
        box.setAttribute("aria-labelledby", label.id);
        label.removeAttribute("for");
      }
      Array.prototype.forEach.call(select.options, function (option, index) {
        var row = document.createElement("div");
        row.className = "form-check";
        var input = document.createElement("input");
        input.type = "checkbox";
        input.className = "form-check-input";
        input.id = "picker-" + pickerCount + "-" + index;
        input.checked = option.selected;
        input.disabled = option.disabled || select.disabled;
        input.addEventListener("change", function () {
          option.selected = input.checked;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        });
        var text = document.createElement("label");
        text.className = "form-check-label";
        text.htmlFor = input.id;
        text.textContent = option.textContent;
        row.appendChild(input);
        row.appendChild(text);
        box.appendChild(row);
      });
      select.classList.add("d-none");
      select.setAttribute("aria-hidden", "true");
      select.tabIndex = -1;
      select.parentNode.insertBefore(box, select.nextSibling);
    });
  }

  function registerServiceWorker() {
    var url = document.body && document.body.getAttribute("data-service-worker");
    if (url && "serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register(url, { scope: "/" }).catch(function () { /* the site works without it */ });
    }
  }

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
  function ready() {
    thumbPickers();
    markScrollRegions();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  window.addEventListener("load", registerServiceWorker);

  window.Vanguard = { csrfToken: csrfToken, fetchJSON: fetchJSON, markScrollRegions: markScrollRegions,
    thumbPickers: thumbPickers };
})();
