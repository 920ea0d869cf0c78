// Course editor helpers (admin pages): a small HTML toolbar for rich-text
// fields, article image upload, fields shown per lesson kind, and drag-and-drop
// lesson order. Everything it writes is sanitised again by the server.
(function () {
  "use strict";

  function insertAround(textarea, before, after) {
    var start = textarea.selectionStart, end = textarea.selectionEnd, value = textarea.value;
    var selected = value.slice(start, end);
    textarea.value = value.slice(0, start) + before + selected + after + value.slice(end);
    textarea.focus();
    textarea.selectionStart = start + before.length;
    textarea.selectionEnd = start + before.length + selected.length;
  }

  function escapeAttr(text) {
    return String(text).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  document.querySelectorAll("[data-rich-toolbar]").forEach(function (toolbar) {
    var textarea = document.getElementById(toolbar.getAttribute("data-rich-toolbar"));
    if (!textarea) { return; }
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      if (button.hasAttribute("data-wrap")) {
        var tag = button.getAttribute("data-wrap");
        insertAround(textarea, "<" + tag + ">", "</" + tag + ">");
      } else if (button.hasAttribute("data-list")) {
        var lines = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd).split("\n");
        var items = lines.map(function (line) { return "  <li>" + line + "</li>"; }).join("\n");
        insertAround(textarea, "<ul>\n" + items + "\n</ul>", "");
      } else if (button.hasAttribute("data-link")) {
        var href = window.prompt(button.getAttribute("data-prompt"), "https://");
        if (href && /^(https?:\/\/|\/)/.test(href)) { insertAround(textarea, '<a href="' + escapeAttr(href) + '">', "</a>"); }
      }
    });
    var upload = toolbar.querySelector("[data-image-upload]");
    var statusEl = toolbar.querySelector("[data-upload-status]");
    if (upload) {
      upload.addEventListener("change", function () {
        if (!upload.files.length) { return; }
        var form = new FormData();
        form.append("image", upload.files[0]);
        if (statusEl) { statusEl.textContent = upload.getAttribute("data-msg-uploading"); }
        window.Vanguard.fetchJSON(upload.getAttribute("data-image-upload"), { method: "POST", body: form }).then(function (body) {
          if (statusEl) { statusEl.textContent = body.ok ? "" : (body.error || ""); }
          if (body.ok) { insertAround(textarea, '<p><img src="' + escapeAttr(body.url) + '" alt=""></p>\n', ""); }
          upload.value = "";
        });
      });
    }
  });

  // Lesson form: show the video picker or the reading time according to the kind.
  var lessonForm = document.querySelector("[data-lesson-form]");
  if (lessonForm) {
    var kindSelect = lessonForm.querySelector("select[name=kind]");
    var update = function () {
      lessonForm.querySelectorAll("[data-show-for]").forEach(function (el) {
        el.hidden = el.getAttribute("data-show-for").split(" ").indexOf(kindSelect.value) < 0;
      });
    };
    kindSelect.addEventListener("change", update);
    update();
  }

  // Course page: drag a lesson to reorder; the new order is saved at once.
  var list = document.querySelector("[data-lesson-order]");
  if (list) {
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("[data-lesson-id]");
      if (dragged) { dragged.classList.add("opacity-50"); }
    });
    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("[data-lesson-id]");
      if (!dragged || !over || over === dragged) { return; }
      event.preventDefault();
      var box = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("opacity-50");
      dragged = null;
      var ids = Array.prototype.map.call(list.querySelectorAll("[data-lesson-id]"), function (el) {
        return parseInt(el.getAttribute("data-lesson-id"), 10);
      });
      window.Vanguard.fetchJSON(list.getAttribute("data-lesson-order"), { method: "POST", body: { lesson_ids: ids } }).then(function (body) {
        if (body.ok) { window.location.reload(); }
      });
    });
  }
})();
