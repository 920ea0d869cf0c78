// Question bank admin pages: show the option fields only for choice questions (their weights
// only when a multiple-choice question is scored by weights),
// and refuse an import file over the size limit before uploading it.
(function () {
  "use strict";
  var form = document.querySelector("[data-question-form]");
  if (form) {
    var type = form.querySelector("select[name=type]");
    var scoring = form.querySelector("select[name=scoring]");
    var options = form.querySelector("[data-options]");
    var scoringBox = form.querySelector("[data-scoring]");
    var answerBox = form.querySelector("[data-answer]");
    var answer = form.querySelector("input[name=answer]");
    var letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    var weightInputs = function () {
      return Array.prototype.slice.call(form.querySelectorAll("[data-weight] input"));
    };
    // Switching to weights: the letters already in the answer field become equal weights.
    var seedWeights = function () {
      var inputs = weightInputs();
      if (inputs.some(function (input) { return input.value.trim(); })) { return; }
      var picked = (answer.value.toUpperCase().match(/[A-Z]/g) || []).filter(function (letter, i, all) {
        return all.indexOf(letter) === i && letters.indexOf(letter) < inputs.length;
      });
      if (!picked.length) { return; }
      var share = Math.floor(10000 / picked.length) / 100;
      picked.forEach(function (letter, i) {
        var last = i === picked.length - 1;
        inputs[letters.indexOf(letter)].value = last ? String(Math.round((100 - share * i) * 100) / 100) : String(share);
      });
    };
    var sync = function () {
      var multiple = type.value === "multiple" || type.value === "indefinite";
      var weighted = multiple && scoring.value === "weighted";
      options.hidden = !(multiple || type.value === "single");
      scoringBox.hidden = !multiple;
      answerBox.hidden = weighted;
      form.querySelectorAll("[data-weight]").forEach(function (box) { box.hidden = !weighted; });
    };
    type.addEventListener("change", sync);
    scoring.addEventListener("change", function () {
      if (scoring.value === "weighted") { seedWeights(); }
      sync();
    });
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
