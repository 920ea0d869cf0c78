// The Vanguard video player: hls.js on a plain <video>, native HLS where the
// browser has it (iOS Safari), the MP4 fallback where neither exists.
//
// hls.js (600 kB) is not loaded with the page: where Media Source Extensions exist
// the player stays empty (the poster shows) until the viewer means to play — a
// pointer or key on the player, or a "play" (a play() before the source is attached
// stays pending and goes on once hls.js has attached it). The script's URL is the
// data-hls-src of this script's tag. player.hls is null until then; player.start()
// does it now and returns a Promise that settles once the source is attached.
//
//   window.VanguardPlayer.mount(video, options?) -> {video, hls, mode, start(), destroy()}
//   window.VanguardPlayer.get(video)             -> the mounted player or null
//
// Every <video data-vanguard-player> is mounted on DOMContentLoaded; then a
// "vanguard:player-ready" CustomEvent (detail: {player}) is dispatched on the
// video element, after every DOMContentLoaded handler has run. The <video>'s
// native events (play, pause, seeking, seeked, timeupdate, ended, ratechange)
// are never stopped here: other scripts (the study-time tracker) listen to them.
// options: {src, fallback, startAt} override data-src, data-fallback, data-start-at.
(function () {
  "use strict";

  var SEEK_STEP = 5;
  var script = document.currentScript;
  var HLS_SRC = (script && script.getAttribute("data-hls-src")) || "";
  var hlsLoading = null;

  // The vendored hls.js, fetched once, on demand.
  function loadHls() {
    if (window.Hls) { return Promise.resolve(window.Hls); }
    if (!hlsLoading) {
      hlsLoading = new Promise(function (resolve, reject) {
        if (!HLS_SRC) { reject(new Error("no hls.js")); return; }
        var tag = document.createElement("script");
        tag.src = HLS_SRC;
        tag.async = true;
        tag.onload = function () { if (window.Hls) { resolve(window.Hls); } else { reject(new Error("no Hls")); } };
        tag.onerror = function () { hlsLoading = null; tag.remove(); reject(new Error("hls.js failed to load")); };
        document.head.appendChild(tag);
      });
    }
    return hlsLoading;
  }

  // What Hls.isSupported() asks, without hls.js: Media Source Extensions that take H.264 in MP4.
  function mseLikely() {
    var source = window.ManagedMediaSource || window.MediaSource || window.WebKitMediaSource;
    return !!(source && typeof source.isTypeSupported === "function" &&
      source.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'));
  }

  function byData(name, id) {
    return document.querySelector("[" + name + '="' + id + '"]');
  }

  function wrapperOf(video) {
    return video.closest("[data-vanguard-wrapper]") || video.parentElement;
  }

  function showError(video, text) {
    var box = video.id ? byData("data-vanguard-error", video.id) : null;
    if (box) {
      box.textContent = text || video.getAttribute("data-error-text") || "Playback failed";
      box.classList.remove("d-none");
    }
  }

  function levelLabel(level) {
    var side = Math.min(level.width || 0, level.height || 0) || level.height;
    if (!side) { return level.bitrate ? Math.round(level.bitrate / 1000) + " kbps" : "?"; }
    return side + "p";
  }

  function setupQuality(video, hls) {
    var select = video.id ? byData("data-vanguard-quality", video.id) : null;
    if (!select) { return function () {}; }
    var group = select.closest("[data-vanguard-quality-group]") || select;
    var autoText = select.options.length ? select.options[0].textContent : "Auto";

    function fill() {
      var levels = hls.levels || [];
      while (select.options.length > 1) { select.remove(1); }
      select.options[0].textContent = autoText;
      var withPicture = levels.filter(function (l) { return l.height; });
      if (withPicture.length < 2) { group.hidden = true; return; }
      levels.forEach(function (level, index) {
        var option = document.createElement("option");
        option.value = String(index);
        option.textContent = levelLabel(level);
        select.appendChild(option);
      });
      select.value = hls.autoLevelEnabled ? "-1" : String(hls.currentLevel);
      group.hidden = false;
    }

    function onSwitched(event, data) {
      // In "Auto", show which quality is playing now.
      var level = hls.levels[data.level];
      if (hls.autoLevelEnabled && level) {
        select.options[0].textContent = autoText + " (" + levelLabel(level) + ")";
      }
    }

    function onChange() {
      var value = parseInt(select.value, 10);
      hls.currentLevel = value; // -1: automatic
      if (value === -1) { select.options[0].textContent = autoText; }
    }

    hls.on(window.Hls.Events.MANIFEST_PARSED, fill);
    hls.on(window.Hls.Events.LEVEL_SWITCHED, onSwitched);
    select.addEventListener("change", onChange);
    return function () {
      select.removeEventListener("change", onChange);
      group.hidden = true;
    };
  }

  function toggleFullscreen(video) {
    var target = wrapperOf(video);
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (target.requestFullscreen) {
      target.requestFullscreen();
    } else if (video.webkitEnterFullscreen) {
      video.webkitEnterFullscreen(); // iOS
    }
  }

  // Shortcuts on top of the browser's own: a focused <video controls> already
  // answers Space and the arrow keys natively (and would answer them a second
  // time if we did too), so we add only keys browsers leave alone.
  function onKey(event) {
    var video = event.currentTarget._vanguardVideo;
    var target = event.target;
    if (!video || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (target !== video && /^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(target.tagName)) { return; }
    var handled = true;
    switch (event.key) {
      case "k":
      case "K":
        if (video.paused) { video.play(); } else { video.pause(); }
        break;
      case "j":
      case "J":
        video.currentTime = Math.max(0, video.currentTime - SEEK_STEP);
        break;
      case "l":
      case "L":
        video.currentTime = Math.min(video.duration || Infinity, video.currentTime + SEEK_STEP);
        break;
      case "m":
      case "M":
        video.muted = !video.muted;
        break;
      case "f":
      case "F":
        toggleFullscreen(video);
        break;
      default:
        handled = false;
    }
    if (handled) { event.preventDefault(); } // the event itself still propagates
  }

  // On a touch screen the native controls answer a tap on the picture by showing
  // themselves, so only their small play button starts the video. A short tap on
  // the picture (above the control bar) of a paused video plays it; a mouse click
  // keeps the browser's own behaviour, and a playing video's tap still shows the controls.
  var CONTROL_BAR_PX = 56;
  var TAP_MOVE_PX = 12;
  var TAP_MS = 600;

  function setupTapToPlay(video, listen) {
    var start = null;
    listen(video, "pointerdown", function (event) {
      start = event.pointerType === "mouse" ? null : { x: event.clientX, y: event.clientY, at: Date.now() };
    });
    listen(video, "pointercancel", function () { start = null; });
    listen(video, "pointerup", function (event) {
      var tap = start;
      start = null;
      if (!tap || event.pointerType === "mouse" || !video.paused) { return; }
      if (Date.now() - tap.at > TAP_MS) { return; }
      if (Math.abs(event.clientX - tap.x) > TAP_MOVE_PX || Math.abs(event.clientY - tap.y) > TAP_MOVE_PX) { return; }
      var box = video.getBoundingClientRect();
      if (event.clientY > box.bottom - CONTROL_BAR_PX) { return; } // the native control bar
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function () {}); }
    });
  }

  function mount(video, options) {
    if (video._vanguardPlayer) { return video._vanguardPlayer; }
    options = options || {};
    var src = options.src || video.getAttribute("data-src");
    var fallback = options.fallback || video.getAttribute("data-fallback");
    var startAt = parseFloat(options.startAt !== undefined ? options.startAt : video.getAttribute("data-start-at")) || 0;
    var cleanups = [];
    var player = { video: video, hls: null, mode: null, destroy: destroy };

    function listen(target, type, handler) {
      target.addEventListener(type, handler);
      cleanups.push(function () { target.removeEventListener(type, handler); });
    }

    function useFallback() {
      var position = video.currentTime;
      if (player.hls) { player.hls.destroy(); player.hls = null; }
      if (!fallback) { showError(video); return; }
      player.mode = "mp4";
      startAt = position || startAt;
      video.src = fallback;
      video.load();
    }

    // Resume where the viewer stopped: once, when the duration is known.
    var resumed = !(startAt > 0);
    listen(video, "loadedmetadata", function () {
      if (resumed) { return; }
      resumed = true;
      var target = isFinite(video.duration) && video.duration > 0 ? Math.min(startAt, video.duration - 1) : startAt;
      if (target > 0 && Math.abs(video.currentTime - target) > 0.5) { video.currentTime = target; }
    });

    function startHls(Hls) {
      if (destroyed || player.mode !== "hls.js") { return; }
      if (!Hls.isSupported()) { nativeOrMp4(); return; }
      var hls = new Hls({
        startPosition: startAt > 0 ? startAt : -1,
        capLevelToPlayerSize: true,
        maxBufferLength: 30,
        backBufferLength: 60,
      });
      player.hls = hls;
      var recoveries = 0;
      hls.on(Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) { return; }
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR && recoveries < 3) {
          recoveries += 1;
          hls.startLoad();
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && recoveries < 3) {
          recoveries += 1;
          hls.recoverMediaError();
        } else {
          useFallback();
        }
      });
      cleanups.push(setupQuality(video, hls));
      hls.loadSource(src);
      hls.attachMedia(video);
    }

    function nativeOrMp4() {
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        player.mode = "native";
        video.src = src;
      } else {
        player.mode = "mp4";
        video.src = fallback;
      }
    }

    // The first sign that the viewer means to play: fetch hls.js and attach the source.
    var started = null;
    function start() {
      if (!started) {
        disarm.forEach(function (fn) { fn(); });
        started = loadHls().then(startHls, function () { if (!destroyed) { useFallback(); } });
      }
      return started;
    }
    var disarm = [];
    function arm(target, type) {
      var handler = function () { start(); };
      target.addEventListener(type, handler, { passive: true });
      disarm.push(function () { target.removeEventListener(type, handler, { passive: true }); });
    }

    var destroyed = false;
    if (window.Hls ? window.Hls.isSupported() : mseLikely()) {
      player.mode = "hls.js";
      if (window.Hls) {
        started = Promise.resolve(window.Hls).then(startHls);
      } else {
        var box = wrapperOf(video);
        ["play", "pointerdown", "touchstart", "keydown", "focus"].forEach(function (type) { arm(video, type); });
        ["pointerdown", "keydown", "focusin"].forEach(function (type) { arm(box, type); });
        cleanups.push(function () { disarm.forEach(function (fn) { fn(); }); });
      }
    } else {
      nativeOrMp4();
    }
    player.start = function () { return started || (player.mode === "hls.js" ? start() : Promise.resolve()); };
    listen(video, "error", function () {
      if (player.mode === "native") { useFallback(); } else if (player.mode === "mp4") { showError(video); }
    });
    var wrapper = wrapperOf(video);
    wrapper._vanguardVideo = video;
    listen(wrapper, "keydown", onKey);
    setupTapToPlay(video, listen);

    function destroy() {
      destroyed = true;
      cleanups.forEach(function (fn) { fn(); });
      cleanups = [];
      if (player.hls) { player.hls.destroy(); player.hls = null; }
      video.removeAttribute("src");
      video.load();
      delete video._vanguardPlayer;
    }

    video._vanguardPlayer = player;
    return player;
  }

  function get(video) {
    return (video && video._vanguardPlayer) || null;
  }

  function mountAll() {
    var videos = document.querySelectorAll("video[data-vanguard-player]");
    Array.prototype.forEach.call(videos, function (video) {
      var player = mount(video);
      // After every DOMContentLoaded handler, so listeners added there hear it.
      setTimeout(function () {
        video.dispatchEvent(new CustomEvent("vanguard:player-ready", { bubbles: true, detail: { player: player } }));
      }, 0);
    });
  }

  window.VanguardPlayer = { mount: mount, get: get };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
})();
