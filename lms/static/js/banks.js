// Question bank admin pages: show the option fields only for choice questions,
// and refuse an import file over the size limit before uploading it.
(function () {
  "use strict";
  var form = document.querySelector("[data-question-form]");
  if (form) {
    var type = form.querySelector("select[name=type]");
    var options = form.querySelector("[data-options]");
    var sync = function () {
      var choice = type.value === "single" || type.value === "multiple" || type.value === "indefinite";
      options.hidden = !choice;
    };
    type.addEventListener("change", sync);
    sync();
  }
  var upload = document.querySelector("input[type=file][data-max-bytes]");
  if (upload) {
    upload.addEventListener("change", function () {
      var file = upload.files && upload.files[0];
      var tooLarge = file && file.size > Number(upload.getAttribute("data-max-bytes"));
      upload.setCustomValidity(tooLarge ? upload.getAttribute("data-too-large") : "");
      upload.classList.toggle("is-invalid", Boolean(tooLarge));
      var feedback = document.getElementById(upload.id + "-size");
      if (feedback) { feedback.hidden = !tooLarge; }
      if (tooLarge) { upload.reportValidity(); }
    });
  }
})();
