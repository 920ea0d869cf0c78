// Read an article aloud with the browser's speech synthesis (zh-CN), with pause, stop and speed.
// The text is spoken paragraph by paragraph so that a speed change applies from the next one and
// long articles are not cut off by engines that stop long utterances.
(function () {
  "use strict";
  var box = document.querySelector("[data-read-aloud]");
  if (!box) { return; }
  var synth = window.speechSynthesis;
  if (!synth || typeof window.SpeechSynthesisUtterance !== "function") { return; }
  box.classList.remove("d-none");
  var data = box.dataset;
  var target = document.querySelector(data.target);
  var toggle = box.querySelector("[data-read-aloud-toggle]");
  var label = toggle.querySelector("span");
  var stop = box.querySelector("[data-read-aloud-stop]");
  var rate = box.querySelector("[data-read-aloud-rate]");
  var parts = [];
  var index = 0;
  var state = "idle"; // idle, speaking, paused
  var generation = 0;  // cancel() may still fire "end": only the latest utterance moves on

  function paragraphs() {
    var blocks = target.querySelectorAll("p, li, h1, h2, h3, h4, h5, h6, blockquote");
    var texts = [];
    blocks.forEach(function (block) {
      var text = block.textContent.replace(/\s+/g, " ").trim();
      if (text) { texts.push(text); }
    });
    if (!texts.length) { texts.push(target.textContent.replace(/\s+/g, " ").trim()); }
    return texts;
  }

  function voice() {
    var voices = synth.getVoices();
    for (var i = 0; i < voices.length; i++) {
      if (voices[i].lang && voices[i].lang.replace("_", "-").toLowerCase().indexOf("zh-cn") === 0) { return voices[i]; }
    }
    return null;
  }

  function show(next) {
    state = next;
    label.textContent = state === "speaking" ? data.msgPause : (state === "paused" ? data.msgResume : data.msgPlay);
    toggle.setAttribute("aria-pressed", state === "speaking" ? "true" : "false");
  }

  function speakNext() {
    if (index >= parts.length) { show("idle"); index = 0; return; }
    var run = ++generation;
    var utterance = new SpeechSynthesisUtterance(parts[index]);
    utterance.lang = data.lang;
    utterance.rate = parseFloat(rate.value) || 1;
    var chosen = voice();
    if (chosen) { utterance.voice = chosen; }
    utterance.onend = function () {
      if (state !== "speaking" || run !== generation) { return; }
      index += 1;
      speakNext();
    };
    synth.speak(utterance);
  }

  toggle.addEventListener("click", function () {
    if (state === "speaking") { synth.pause(); show("paused"); return; }
    if (state === "paused") { synth.resume(); show("speaking"); return; }
    parts = paragraphs();
    index = 0;
    generation += 1;
    synth.cancel();
    show("speaking");
    speakNext();
  });
  stop.addEventListener("click", function () { generation += 1; synth.cancel(); index = 0; show("idle"); });
  rate.addEventListener("change", function () {
    // Applies from the current paragraph: start it again at the new speed.
    if (state === "speaking") { generation += 1; synth.cancel(); speakNext(); }
  });
  window.addEventListener("pagehide", function () { synth.cancel(); });
})();
