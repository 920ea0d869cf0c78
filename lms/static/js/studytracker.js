// Study-time tracker (DESIGN.md §3) for video lessons, micro-courses and articles.
//
// Reads its settings from the [data-study-tracker] element. For a video it
// listens to the native <video> events: the stretch of content played
// contiguously since the last beat is sent as a segment [from, to] every
// HEARTBEAT_SECONDS and on pause, seek, rate change, end and page hide (the
// latter with navigator.sendBeacon, which cannot set headers: the CSRF token
// travels in the body). The server decides what is credited; this page only
// reports what was played and shows the server's answer.
//
// Idleness: every beat carries how long ago the member last interacted with the
// page (idle_seconds). After IDLE_MINUTES without any interaction the video is
// paused (an article stops counting) and an in-page dialog asks "still studying?";
// the server refuses beats that report more. Presence checks: when the server's
// answer carries a check, a dialog asks the member to confirm, and sends the
// check's token back; unanswered in time, the video pauses until it is answered.
(function () {
  "use strict";
  var root = document.querySelector("[data-study-tracker]");
  if (!root || !window.Vanguard) { return; }

  var data = root.dataset;
  var kind = data.kind;
  var lessonId = parseInt(data.lessonId, 10);
  var beatMs = Math.max(0.5, parseFloat(data.heartbeatSeconds) || 15) * 1000;
  var lessonSeconds = parseFloat(data.duration) || 0;
  var secondsPerHour = parseFloat(data.secondsPerHour) || 2700;
  var idleMs = Math.max(0.05, parseFloat(data.idleMinutes) || 10) * 60 * 1000;
  var progressBox = document.querySelector("[data-testid=study-progress]");
  var idleDialog = document.querySelector("[data-idle-dialog]");
  var presenceDialog = document.querySelector("[data-presence-dialog]");

  var sessionId = null;
  var starting = null;
  var queue = [];          // closed segments (or reading stretches) waiting to be sent
  var inFlight = false;
  var finished = false;    // an article whose reading time is fully credited
  var answered = 0;        // beats the server has answered (exposed for tests and debugging)

  // --- interaction and idleness ----------------------------------------------
  var lastInteraction = Date.now();
  var idleShown = false;   // the "still studying?" dialog is open
  var onIdle = null;       // what the tracker does when the member goes idle (pause, stop counting)
  var onActive = null;     // and when they confirm they are back

  function interacted() { if (!idleShown) { lastInteraction = Date.now(); } }
  function idleSeconds() { return Math.max(0, (Date.now() - lastInteraction) / 1000); }
  function isIdle() { return idleShown || Date.now() - lastInteraction >= idleMs; }
  var lastMove = 0;
  ["pointerdown", "keydown", "wheel", "touchstart", "scroll", "input", "change"].forEach(function (type) {
    window.addEventListener(type, interacted, { passive: true, capture: true });
  });
  window.addEventListener("pointermove", function () {
    var now = Date.now();
    if (now - lastMove > 1000) { lastMove = now; interacted(); }
  }, { passive: true });

  function openDialog(dialog) {
    if (!dialog || dialog.open) { return; }
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
  }
  function closeDialog(dialog) {
    if (!dialog || !dialog.open) { return; }
    if (typeof dialog.close === "function") { dialog.close(); } else { dialog.removeAttribute("open"); }
  }

  function goIdle() {
    if (idleShown) { return; }
    if (onIdle) { onIdle(); }
    idleShown = true;
    status(data.msgIdle);
    openDialog(idleDialog);
  }
  if (idleDialog) {
    idleDialog.addEventListener("cancel", function (event) { event.preventDefault(); }); // Esc is not an answer
    idleDialog.querySelector("[data-idle-continue]").addEventListener("click", function () {
      idleShown = false;
      lastInteraction = Date.now();
      closeDialog(idleDialog);
      if (onActive) { onActive(); }
    });
  }

  // --- presence checks ---------------------------------------------------------
  var check = null;        // {token, deadline (ms), timer, pausedByUs}
  var onCheckOverdue = null, onCheckPassed = null;

  function presenceLeft() {
    var el = presenceDialog && presenceDialog.querySelector("[data-presence-left]");
    if (!check || !el) { return; }
    var left = Math.max(0, Math.ceil((check.deadline - Date.now()) / 1000));
    el.textContent = left > 0 ? data.msgPresenceLeft.replace("{n}", String(left)) : data.msgPresenceStopped;
    if (left <= 0 && !check.overdue) {
      check.overdue = true;
      if (onCheckOverdue) { onCheckOverdue(); }
      status(data.msgPresenceStopped);
    }
  }

  function showCheck(pending) {
    if (!pending || !pending.token || !presenceDialog) { return; }
    if (check && check.token === pending.token) { return; }
    if (check) { clearInterval(check.timer); }
    check = { token: pending.token, deadline: Date.now() + (pending.seconds_left || 0) * 1000, overdue: false };
    check.timer = setInterval(presenceLeft, 1000);
    presenceLeft();
    openDialog(presenceDialog);
  }

  if (presenceDialog) {
    presenceDialog.addEventListener("cancel", function (event) { event.preventDefault(); });
    var errorBox = presenceDialog.querySelector("[data-presence-error]");
    presenceDialog.querySelector("[data-presence-answer]").addEventListener("click", function () {
      if (!check) { closeDialog(presenceDialog); return; }
      var answered = check;
      window.Vanguard.fetchJSON(data.presenceUrl, { method: "POST", body: { token: answered.token } }).then(function (body) {
        if (!body.ok) {
          errorBox.textContent = body.error || data.msgError;
          errorBox.classList.remove("d-none");
          return;
        }
        clearInterval(answered.timer);
        errorBox.classList.add("d-none");
        closeDialog(presenceDialog);
        check = null;
        status(data.msgPresenceThanks);
        if (answered.overdue && onCheckPassed) { onCheckPassed(); }
      }, function () {
        errorBox.textContent = data.msgError;
        errorBox.classList.remove("d-none");
      });
    });
  }

  function mark() {
    root.setAttribute("data-beats-answered", String(answered));
    root.setAttribute("data-beats-pending", String(queue.length + (inFlight ? 1 : 0)));
  }

  // --- showing progress ------------------------------------------------------
  function part(name) { return progressBox ? progressBox.querySelector("[data-tracker-" + name + "]") : null; }

  function clock(seconds) {
    var total = Math.round(seconds || 0);
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(s).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function status(text) {
    var el = part("status");
    if (el && text) { el.textContent = text; }
  }

  // The lesson list beside the player: this lesson's percentage, then its tick, without a reload.
  function tick(percent, completed) {
    var item = document.getElementById("lesson-" + lessonId);
    if (!item) { return; }
    var badge = item.querySelector("[data-lesson-tick]");
    if (!badge) {
      badge = document.createElement("span");
      badge.setAttribute("data-lesson-tick", "");
      item.appendChild(badge);
    }
    if (completed) {
      badge.className = "badge text-bg-success";
      badge.textContent = "✓";
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " " + (data.msgDone || "");
      badge.appendChild(hidden);
    } else if (percent > 0 && !badge.classList.contains("text-bg-success")) {
      badge.className = "badge text-bg-light border";
      badge.textContent = Math.round(percent) + "%";
    }
  }

  function show(result) {
    if (!result || typeof result.watched_seconds !== "number") { return; }
    var length = result.duration_seconds || lessonSeconds;
    var percent = length ? Math.min(100, (result.watched_seconds / length) * 100) : 0;
    var watched = part("watched"), credited = part("credited"), hours = part("hours");
    var bar = part("bar"), complete = part("complete");
    if (watched) { watched.textContent = (Math.round(percent * 10) / 10) + "%"; }
    if (credited) { credited.textContent = clock(result.watched_seconds); }
    if (hours) {
      // The same rule as ledger.format_hours: a little study that rounds to 0.0 shows as "under 0.1".
      var text = (result.watched_seconds / secondsPerHour).toFixed(1);
      hours.textContent = (result.watched_seconds > 0 && text === "0.0" && data.msgUnderTenth) ? data.msgUnderTenth : text;
    }
    if (bar) {
      bar.setAttribute("aria-valuenow", String(Math.round(percent)));
      bar.firstElementChild.style.width = percent + "%";
    }
    tick(percent, result.completed);
    if (complete && result.completed) {
      if (complete.classList.contains("d-none")) { status(data.msgComplete); }
      complete.classList.remove("d-none");
    }
  }

  function handle(result) {
    if (!result) { return; }
    if (result.presence) { showCheck(result.presence); }
    if (result.reason === "session_not_active") { sessionId = null; }
    if (result.reason === "reading_complete") { finished = true; }
    show(result);
    // While a dialog waits for the member, its message stays (late answers do not overwrite it).
    if (result.message && result.reason !== "already_watched" && !idleShown && !(check && check.overdue)) {
      status(result.message);
    }
  }

  // --- talking to the server -------------------------------------------------
  function startSession() {
    if (sessionId) { return Promise.resolve(sessionId); }
    if (starting) { return starting; }
    starting = window.Vanguard.fetchJSON(data.sessionUrl, { method: "POST", body: {} }).then(function (body) {
      starting = null;
      if (!body.ok) { status(body.error || data.msgError); return null; }
      sessionId = body.session_id;
      show(body);
      if (body.presence) { showCheck(body.presence); }
      sendNext();
      return sessionId;
    }, function () {
      starting = null;
      status(data.msgError);
      return null;
    });
    return starting;
  }

  function payloadFor(item) {
    var body = { session_id: sessionId, lesson_id: lessonId, visible: item.visible, idle_seconds: Math.round(item.idleSeconds),
                 idle: item.idle, csrf_token: window.Vanguard.csrfToken() };
    if (kind === "article") {
      body.reading_seconds = Math.round(item.seconds * 1000) / 1000;
    } else {
      body.from = Math.round(item.from * 1000) / 1000;
      body.to = Math.round(item.to * 1000) / 1000;
      body.rate = item.rate;
    }
    return JSON.stringify(body);
  }

  // One beat at a time, in order; a failed beat is retried on the next tick
  // (credit is the union of watched content, so a repeat can never count twice).
  function sendNext() {
    mark();
    if (inFlight || !queue.length || !sessionId) { return; }
    var item = queue[0];
    inFlight = true;
    fetch(data.heartbeatUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": window.Vanguard.csrfToken() },
      body: payloadFor(item)
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      inFlight = false;
      if (answer.status >= 500 || answer.status === 429) { throw new Error("retry"); }
      queue.shift();
      answered += 1;
      handle(answer.body);
      sendNext();
      mark();
    }).catch(function () {
      inFlight = false;
      status(data.msgError);
      mark();
    });
    mark();
  }

  // Page hide: no time to wait for answers, so every queued beat goes by beacon.
  function sendAllByBeacon() {
    if (!sessionId) { return; }
    while (queue.length) {
      var text = payloadFor(queue.shift());
      var sent = navigator.sendBeacon && navigator.sendBeacon(data.heartbeatUrl, new Blob([text], { type: "text/plain;charset=UTF-8" }));
      if (!sent) {
        fetch(data.heartbeatUrl, { method: "POST", credentials: "same-origin", keepalive: true, headers: { "Content-Type": "application/json" }, body: text });
      }
    }
  }

  // --- video -----------------------------------------------------------------
  function trackVideo(video) {
    var playing = false;
    var seeking = false;
    var segStart = null;   // where the current contiguous stretch began (not yet sent)
    var lastPos = 0;       // the newest position known to have been played
    var maxRate = 1;
    var hiddenDuring = document.hidden;

    function closeSegment() {
      if (segStart !== null && lastPos - segStart > 0.05 && !idleShown) {
        queue.push({ from: segStart, to: lastPos, rate: maxRate, visible: !hiddenDuring, idleSeconds: idleSeconds(),
                     idle: idleShown });
      }
      segStart = playing && !seeking ? lastPos : null;
      maxRate = video.playbackRate || 1;
      hiddenDuring = document.hidden;
    }

    function flush() { closeSegment(); sendNext(); }

    // Idle: pause (the pause closes the stretch played so far, while it still counts).
    var pausedForCheck = false;
    onIdle = function () {
      // Close the stretch now, while it still counts: the pause event comes after the dialog opened.
      if (playing && !seeking) { lastPos = video.currentTime; closeSegment(); sendNext(); }
      if (!video.paused) { video.pause(); }
    };
    onActive = function () { if (video.paused && !video.ended) { video.play(); } };
    onCheckOverdue = function () {
      if (!video.paused) { pausedForCheck = true; video.pause(); }
    };
    onCheckPassed = function () {
      if (pausedForCheck && video.paused) { video.play(); }
      pausedForCheck = false;
    };
    ["play", "seeked", "ratechange", "volumechange"].forEach(function (type) { video.addEventListener(type, interacted); });
    window.setInterval(function () {
      if (playing && !idleShown && Date.now() - lastInteraction >= idleMs) { goIdle(); }
    }, 1000);

    video.addEventListener("play", function () {
      if (idleShown) { video.pause(); openDialog(idleDialog); return; }
      if (check && check.overdue) { video.pause(); openDialog(presenceDialog); return; }
      playing = true;
      if (segStart === null && !seeking) {
        lastPos = video.currentTime;
        segStart = lastPos;
        maxRate = video.playbackRate || 1;
        hiddenDuring = document.hidden;
      }
      startSession();
      status(data.msgCounting);
    });
    video.addEventListener("timeupdate", function () {
      if (!playing || seeking) { return; }
      var pos = video.currentTime;
      // A jump without seek events (e.g. a loop) must not join two stretches.
      if (pos < lastPos - 1 || pos > lastPos + 3 * Math.max(video.playbackRate || 1, 1)) {
        closeSegment();
        segStart = pos;
      }
      lastPos = pos;
    });
    video.addEventListener("seeking", function () {
      // currentTime is already the target: the stretch ends at the last played position.
      closeSegment();
      seeking = true;
      segStart = null;
      sendNext();
    });
    video.addEventListener("seeked", function () {
      seeking = false;
      lastPos = video.currentTime;
      segStart = playing && !video.paused ? lastPos : null;
    });
    video.addEventListener("ratechange", function () {
      if (playing) { flush(); }
      maxRate = Math.max(maxRate, video.playbackRate || 1);
    });
    video.addEventListener("pause", function () {
      if (!seeking) { lastPos = video.currentTime; }
      closeSegment();
      playing = false;
      segStart = null;
      sendNext();
      if (!video.ended) { status(data.msgPaused); }
    });
    video.addEventListener("ended", function () {
      lastPos = isFinite(video.duration) ? video.duration : video.currentTime;
      closeSegment();
      playing = false;
      segStart = null;
      sendNext();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        closeSegment();          // the stretch so far was visible
        hiddenDuring = true;
        sendAllByBeacon();
        if (playing) { status(data.msgHidden); }
      } else {
        closeSegment();          // the stretch while hidden is reported as hidden
        sendNext();
        if (playing) { status(data.msgCounting); }
      }
    });
    window.addEventListener("pagehide", function () { closeSegment(); sendAllByBeacon(); });
    window.setInterval(function () {
      if (playing && !seeking) { closeSegment(); }
      sendNext();
    }, beatMs);
  }

  // --- article ---------------------------------------------------------------
  function trackReading() {
    var visibleSince = document.hidden ? null : Date.now();
    var pending = 0;

    // Reading counts while the page is visible, the member interacted in the last
    // IDLE_MINUTES, and no presence check is overdue.
    function take() {
      var now = Date.now();
      var until = Math.min(now, lastInteraction + idleMs);
      if (visibleSince !== null && !idleShown && !(check && check.overdue) && until > visibleSince) {
        pending += (until - visibleSince) / 1000;
      }
      visibleSince = document.hidden ? null : now;
    }
    function close() {
      take();
      if (pending >= 0.5 && !finished) {
        // take() counted only up to IDLE_MINUTES after the last interaction, so the stretch ends no later.
        queue.push({ seconds: pending, visible: true, idleSeconds: Math.min(idleSeconds(), idleMs / 1000), idle: false });
      }
      pending = 0;
    }
    onIdle = function () { close(); sendNext(); };
    onActive = function () { visibleSince = document.hidden ? null : Date.now(); };
    onCheckOverdue = function () { close(); sendNext(); };
    onCheckPassed = function () { visibleSince = document.hidden ? null : Date.now(); };
    window.setInterval(function () {
      if (!finished && !document.hidden && !idleShown && Date.now() - lastInteraction >= idleMs) { goIdle(); }
    }, 1000);

    if (!document.hidden) { startSession(); }
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        close();
        sendAllByBeacon();
      } else {
        visibleSince = Date.now();
        if (!sessionId) { startSession(); }
      }
    });
    window.addEventListener("pagehide", function () { close(); sendAllByBeacon(); });
    window.setInterval(function () {
      if (finished) { return; }
      close();
      if (!sessionId && !document.hidden) { startSession(); }
      sendNext();
    }, beatMs);
  }

  if (kind === "article") {
    trackReading();
  } else {
    var video = root.querySelector("video");
    if (video) { trackVideo(video); }
  }
})();
