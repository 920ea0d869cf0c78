// Taking a quiz: autosave with sequence numbers, the server's countdown, navigation,
// submit with a list of unanswered questions, and error reports (纠错).
//
// - Every change of a question's inputs is saved as JSON (CSRF header via
//   Vanguard.fetchJSON) with a per-question sequence number that only grows: the
//   server keeps the newest save and ignores replays and late arrivals.
// - Answers not yet acknowledged are kept in localStorage, so a reload or a dropped
//   connection loses nothing; they are re-sent when the page or the network returns.
// - The countdown runs from the remaining seconds the server sent, measured with the
//   monotonic performance.now() (never the device clock), and is re-synchronised
//   on every save and every minute.
(function () {
  "use strict";
  var root = document.getElementById("quiz-attempt");
  if (!root || !window.Vanguard) {
    return;
  }
  var data = root.dataset;
  var storageKey = "vanguard-quiz-" + data.attempt;
  var positionKey = storageKey + "-at";
  var sections = Array.prototype.slice.call(root.querySelectorAll(".quiz-question"));
  var byPosition = {};
  var seqs = {};
  var pending = {}; // position -> {response, seq}: not yet acknowledged
  var inflight = {}; // position -> true while a save is on the wire
  var locked = data.acceptsSaves !== "true";
  var submitting = false;
  var timeUpHandled = false;
  var retryDelay = 0;
  var retryTimer = null;
  var endAt = null;
  var current = 0;
  var typingTimers = {}; // position -> debounce timer of a blank being typed

  var saveState = root.querySelector("[data-testid=save-state]");
  var timerBox = root.querySelector("[data-testid=timer]");
  var timerText = root.querySelector("[data-timer-text]");
  var alertBox = root.querySelector("[data-quiz-alert]");
  var submitForm = document.getElementById("quiz-submit-form");

  sections.forEach(function (section) {
    byPosition[section.dataset.position] = section;
    seqs[section.dataset.position] = parseInt(section.dataset.seq || "0", 10);
  });

  // --- Reading and writing a question's inputs -------------------------------------

  function responseOf(section) {
    var type = section.dataset.type;
    if (type === "single") {
      var picked = section.querySelector("input[type=radio]:checked");
      return picked ? { choice: parseInt(picked.value, 10) } : null;
    }
    if (type === "multiple") {
      var choices = Array.prototype.map.call(section.querySelectorAll("input[type=checkbox]:checked"), function (box) {
        return parseInt(box.value, 10);
      });
      return choices.length ? { choices: choices } : null;
    }
    if (type === "true_false") {
      var value = section.querySelector("input[type=radio]:checked");
      return value ? { value: value.value === "true" } : null;
    }
    var inputs = Array.prototype.slice.call(section.querySelectorAll("[data-blank]"));
    inputs.sort(function (a, b) { return a.dataset.blank - b.dataset.blank; });
    var texts = inputs.map(function (input) { return input.value; });
    return texts.some(function (text) { return text.trim() !== ""; }) ? { blanks: texts } : null;
  }

  function applyResponse(section, response) {
    var type = section.dataset.type;
    response = response || {};
    Array.prototype.forEach.call(section.querySelectorAll("input[type=radio], input[type=checkbox]"), function (input) {
      if (type === "single") {
        input.checked = response.choice === parseInt(input.value, 10);
      } else if (type === "multiple") {
        input.checked = (response.choices || []).indexOf(parseInt(input.value, 10)) !== -1;
      } else {
        input.checked = typeof response.value === "boolean" && String(response.value) === input.value;
      }
    });
    Array.prototype.forEach.call(section.querySelectorAll("[data-blank]"), function (input) {
      var texts = response.blanks || [];
      input.value = texts[parseInt(input.dataset.blank, 10)] || "";
    });
  }

  function markAnswered(position, answered) {
    var item = root.querySelector('[data-goto="' + position + '"]');
    if (item) {
      item.classList.toggle("answered", !!answered);
    }
  }

  function setInputsDisabled(disabled) {
    sections.forEach(function (section) {
      Array.prototype.forEach.call(section.querySelectorAll("input"), function (input) {
        input.disabled = disabled;
      });
    });
  }

  // --- Saving --------------------------------------------------------------------------

  function persist() {
    try {
      if (Object.keys(pending).length) {
        window.localStorage.setItem(storageKey, JSON.stringify(pending));
      } else {
        window.localStorage.removeItem(storageKey);
      }
    } catch (error) { /* private mode: the server still has every acknowledged answer */ }
  }

  function busy() {
    return Object.keys(pending).length > 0 || Object.keys(inflight).some(function (k) { return inflight[k]; });
  }

  function showStatus(text, kind) {
    if (!saveState) { return; }
    saveState.textContent = text;
    saveState.className = "quiz-save-state small " + (kind === "error" ? "text-danger" : kind === "busy" ? "text-warning-emphasis" : "text-success");
  }

  function refreshStatus() {
    if (retryTimer) {
      showStatus(data.msgOffline, "error");
    } else if (busy()) {
      showStatus(data.msgSaving, "busy");
    } else {
      showStatus(data.msgSaved, "ok");
    }
  }

  function showAlert(text) {
    if (!alertBox) { return; }
    alertBox.textContent = text;
    alertBox.classList.toggle("d-none", !text);
  }

  function queue(position) {
    if (locked) { return; }
    seqs[position] = (seqs[position] || 0) + 1;
    var response = responseOf(byPosition[position]);
    pending[position] = { response: response, seq: seqs[position] };
    markAnswered(position, response !== null);
    persist();
    flush();
  }

  function flush() {
    Object.keys(pending).forEach(function (position) {
      if (!inflight[position] && !retryTimer) {
        send(position);
      }
    });
    refreshStatus();
  }

  function scheduleRetry() {
    if (retryTimer) { return; }
    retryDelay = Math.min(retryDelay ? retryDelay * 2 : 2000, 30000);
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      flush();
    }, retryDelay);
    refreshStatus();
  }

  function lockAndShowResult(message) {
    locked = true;
    setInputsDisabled(true);
    pending = {};
    persist();
    showAlert(message);
    window.setTimeout(function () { window.location.assign(data.resultUrl); }, 2500);
  }

  function send(position) {
    var item = pending[position];
    inflight[position] = true;
    window.Vanguard.fetchJSON(data.saveUrl, {
      method: "POST",
      body: { position: parseInt(position, 10), response: item.response, seq: item.seq },
    }).then(function (body) {
      inflight[position] = false;
      if (body.ok) {
        retryDelay = 0;
        seqs[position] = Math.max(seqs[position] || 0, body.seq);
        var newer = pending[position] && pending[position].seq > item.seq;
        if (!newer) {
          delete pending[position];
          if (!body.applied && JSON.stringify(body.response) !== JSON.stringify(item.response)) {
            // Another tab saved under the same or a later number: this tab's choice is the
            // member's latest action here, so send it again above the server's number.
            queue(position);
            return;
          }
        }
        if (typeof body.remaining_seconds === "number") { syncTimer(body.remaining_seconds); }
      } else if (body.status === 409 && body.final) {
        lockAndShowResult(body.error);
        return;
      } else if (body.status === 422) {
        delete pending[position];
        showAlert(body.error);
      } else if (body.status === 400 || body.status === 401 || body.status === 403) {
        // Logged out or the form expired: keep the answer for after a reload.
        showAlert(body.error);
        persist();
        refreshStatus();
        return;
      } else {
        scheduleRetry();
        return;
      }
      persist();
      flush();
    }, function () {
      inflight[position] = false;
      scheduleRetry();
    });
  }

  function whenSettled(timeoutMs) {
    var started = performance.now();
    return new Promise(function (resolve) {
      (function check() {
        if (!busy() || performance.now() - started > timeoutMs) {
          resolve();
        } else {
          if (retryTimer) {
            window.clearTimeout(retryTimer);
            retryTimer = null;
            flush();
          }
          window.setTimeout(check, 150);
        }
      })();
    });
  }

  // --- Countdown -----------------------------------------------------------------------

  function format(seconds) {
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function syncTimer(remaining) {
    if (!timerBox) { return; }
    endAt = performance.now() + remaining * 1000;
    tick();
  }

  function tick() {
    if (endAt === null) { return; }
    var left = Math.max(0, Math.round((endAt - performance.now()) / 1000));
    timerText.textContent = format(left);
    timerBox.classList.toggle("text-bg-danger", left <= 60);
    timerBox.classList.toggle("text-bg-warning", left > 60 && left <= 300);
    timerBox.classList.toggle("text-bg-secondary", left > 300);
    if (left <= 0) { timeUp(); }
  }

  function timeUp() {
    if (timeUpHandled) { return; }
    timeUpHandled = true;
    flushTyping();
    setInputsDisabled(true);
    if (data.overdue === "grace_period") {
      // Saves in flight at the deadline are still accepted for a few seconds.
      whenSettled(8000).then(function () { locked = true; });
      showAlert(data.msgTimeUpGrace);
      return;
    }
    showAlert(data.msgTimeUp);
    submitNow();
  }

  // --- Navigation ----------------------------------------------------------------------

  function show(index) {
    if (!sections.length) { return; }
    current = Math.max(0, Math.min(index, sections.length - 1));
    sections.forEach(function (section, i) {
      section.classList.toggle("d-none", i !== current);
    });
    Array.prototype.forEach.call(root.querySelectorAll("[data-goto]"), function (item, i) {
      item.classList.toggle("current", i === current);
      if (i === current) { item.setAttribute("aria-current", "step"); } else { item.removeAttribute("aria-current"); }
    });
    var prev = root.querySelector("[data-step='-1']");
    var next = root.querySelector("[data-step='1']");
    if (prev) { prev.disabled = current === 0; }
    if (next) { next.disabled = current === sections.length - 1; }
    try { window.sessionStorage.setItem(positionKey, String(current)); } catch (error) { /* ignore */ }
  }

  function goTo(position) {
    var index = sections.indexOf(byPosition[position]);
    if (index !== -1) {
      show(index);
      var bar = root.querySelector(".quiz-bar");
      window.scrollTo({ top: Math.max(0, sections[index].getBoundingClientRect().top + window.scrollY - (bar ? bar.offsetHeight + 8 : 0)) });
    }
  }

  // --- Submitting ----------------------------------------------------------------------

  function unanswered() {
    return sections.filter(function (section) {
      return responseOf(section) === null;
    }).map(function (section) { return section.dataset.position; });
  }

  // Text typed in the last moments waits in a debounce timer: save it now.
  function flushTyping() {
    Object.keys(typingTimers).forEach(function (position) {
      if (typingTimers[position]) {
        window.clearTimeout(typingTimers[position]);
        typingTimers[position] = null;
        queue(position);
      }
    });
  }

  function submitNow() {
    if (submitting) { return; }
    flushTyping();
    submitting = true;
    Array.prototype.forEach.call(document.querySelectorAll("[data-confirm-submit], [data-testid=submit-attempt]"), function (button) {
      button.disabled = true;
    });
    whenSettled(8000).then(function () {
      pending = {};
      persist();
      HTMLFormElement.prototype.submit.call(submitForm);
    });
  }

  function openSubmitDialog() {
    flushTyping();
    var missing = unanswered();
    var list = document.querySelector("[data-unanswered-list]");
    list.textContent = "";
    missing.forEach(function (position) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-danger";
      button.textContent = position;
      button.setAttribute("aria-label", data.msgQuestion.replace("{n}", position));
      button.addEventListener("click", function () {
        window.bootstrap.Modal.getOrCreateInstance(document.getElementById("submit-modal")).hide();
        goTo(position);
      });
      list.appendChild(button);
    });
    document.querySelector("[data-unanswered-block]").classList.toggle("d-none", missing.length === 0);
    document.querySelector("[data-all-answered]").classList.toggle("d-none", missing.length !== 0);
    window.bootstrap.Modal.getOrCreateInstance(document.getElementById("submit-modal")).show();
  }

  // --- Server state (after sleep, offline, or every minute) ---------------------------

  function resync() {
    window.Vanguard.fetchJSON(data.stateUrl, { method: "GET" }).then(function (body) {
      if (!body.ok) { return; }
      if (body.state !== "in_progress") {
        lockAndShowResult("");
        return;
      }
      if (typeof body.remaining_seconds === "number") { syncTimer(body.remaining_seconds); }
      Object.keys(body.answers || {}).forEach(function (position) {
        var server = body.answers[position];
        if (byPosition[position] && server.seq > (seqs[position] || 0) && !pending[position] && !inflight[position]) {
          seqs[position] = server.seq;
          applyResponse(byPosition[position], server.response);
          markAnswered(position, server.answered);
        }
      });
      flush();
    }, function () { /* offline: the retry loop handles saves */ });
  }

  // --- Wiring --------------------------------------------------------------------------

  root.addEventListener("change", function (event) {
    var section = event.target.closest(".quiz-question");
    if (section) {
      window.clearTimeout(typingTimers[section.dataset.position]);
      typingTimers[section.dataset.position] = null;
      queue(section.dataset.position);
    }
  });
  root.addEventListener("input", function (event) {
    var section = event.target.closest(".quiz-question");
    if (section && event.target.matches("[data-blank]")) {
      var position = section.dataset.position;
      markAnswered(position, responseOf(section) !== null);
      window.clearTimeout(typingTimers[position]);
      typingTimers[position] = window.setTimeout(function () {
        typingTimers[position] = null;
        queue(position);
      }, 800);
    }
  });
  root.addEventListener("click", function (event) {
    var target = event.target.closest("[data-goto], [data-step]");
    if (!target) { return; }
    if (target.dataset.goto) {
      goTo(target.dataset.goto);
    } else {
      show(current + parseInt(target.dataset.step, 10));
    }
  });
  submitForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!submitting) { openSubmitDialog(); }
  });
  document.querySelector("[data-confirm-submit]").addEventListener("click", submitNow);

  window.addEventListener("online", function () {
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    resync();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { resync(); }
  });
  window.addEventListener("beforeunload", function (event) {
    flushTyping();
    if (busy() && !submitting) {
      event.preventDefault();
      event.returnValue = data.msgLeave;
      return data.msgLeave;
    }
    return undefined;
  });

  // Answers a reload or a lost connection left unacknowledged are restored and re-sent.
  try {
    var saved = JSON.parse(window.localStorage.getItem(storageKey) || "{}");
    Object.keys(saved).forEach(function (position) {
      var item = saved[position];
      if (byPosition[position] && item && item.seq > (seqs[position] || 0)) {
        seqs[position] = item.seq;
        pending[position] = item;
        applyResponse(byPosition[position], item.response);
        markAnswered(position, item.response !== null);
      }
    });
  } catch (error) { /* unreadable storage: the server's answers stand */ }

  var start = 0;
  try { start = parseInt(window.sessionStorage.getItem(positionKey) || "0", 10) || 0; } catch (error) { /* ignore */ }
  if (window.location.hash && byPosition[window.location.hash.replace("#q", "")]) {
    start = sections.indexOf(byPosition[window.location.hash.replace("#q", "")]);
  }
  root.classList.add("quiz-paged");
  show(start);
  if (locked) { setInputsDisabled(true); }
  if (timerBox && data.remaining !== "") {
    syncTimer(parseInt(data.remaining, 10));
    window.setInterval(tick, 1000);
  }
  window.setInterval(resync, 60000);
  flush();
})();
