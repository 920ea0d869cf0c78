// Study-time tracker (DESIGN.md §3) for video lessons, micro-courses and articles.
//
// Reads its settings from the [data-study-tracker] element. For a video it
// listens to the native <video> events: the stretch of content played
// contiguously since the last beat is sent as a segment [from, to] every
// HEARTBEAT_SECONDS and on pause, seek, rate change, end and page hide (the
// latter with navigator.sendBeacon, which cannot set headers: the CSRF token
// travels in the body). The server decides what is credited; this page only
// reports what was played and shows the server's answer.
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
  var progressBox = document.querySelector("[data-testid=study-progress]");

  var sessionId = null;
  var starting = null;
  var queue = [];          // closed segments (or reading stretches) waiting to be sent
  var inFlight = false;
  var finished = false;    // an article whose reading time is fully credited
  var answered = 0;        // beats the server has answered (exposed for tests and debugging)

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
    if (complete && result.completed) {
      if (complete.classList.contains("d-none")) { status(data.msgComplete); }
      complete.classList.remove("d-none");
    }
  }

  function handle(result) {
    if (!result) { return; }
    if (result.reason === "session_not_active") { sessionId = null; }
    if (result.reason === "reading_complete") { finished = true; }
    show(result);
    if (result.message && result.reason !== "already_watched") { status(result.message); }
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
    var body = { session_id: sessionId, lesson_id: lessonId, visible: item.visible, csrf_token: window.Vanguard.csrfToken() };
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
      if (segStart !== null && lastPos - segStart > 0.05) {
        queue.push({ from: segStart, to: lastPos, rate: maxRate, visible: !hiddenDuring });
      }
      segStart = playing && !seeking ? lastPos : null;
      maxRate = video.playbackRate || 1;
      hiddenDuring = document.hidden;
    }

    function flush() { closeSegment(); sendNext(); }

    video.addEventListener("play", function () {
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

    function take() {
      var now = Date.now();
      if (visibleSince !== null) { pending += (now - visibleSince) / 1000; }
      visibleSince = document.hidden ? null : now;
    }
    function close() {
      take();
      if (pending >= 0.5 && !finished) { queue.push({ seconds: pending, visible: true }); }
      pending = 0;
    }

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
