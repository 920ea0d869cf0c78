// Media admin pages: the resumable chunked upload, and live status of assets.
//
// Upload protocol (see lms/media/__init__.py): POST start -> {upload: {id, offset,
// chunk_size, url}}; PUT each chunk in order with "Content-Range: bytes S-E/T" and
// "X-Chunk-SHA256"; 409 answers carry the offset to continue from; POST complete
// with the SHA-256 over the chunks' digests. The upload id is kept in localStorage
// under the file's name, size and modification time, so choosing the same file
// after a reload continues where it stopped without sending finished chunks again.
(function () {
  "use strict";

  var STORE_PREFIX = "vanguard-upload:";

  // ---- SHA-256 -------------------------------------------------------------
  // crypto.subtle exists only on HTTPS or localhost; intranet servers often run
  // plain HTTP, so a small pure-JS implementation stands in there.
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256Js(buffer) {
    var bytes = new Uint8Array(buffer);
    var bitLength = bytes.length * 8;
    var padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(padded.length - 4, bitLength >>> 0);
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var w = new Uint32Array(64);
    for (var offset = 0; offset < padded.length; offset += 64) {
      for (var i = 0; i < 16; i++) { w[i] = view.getUint32(offset + i * 4); }
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    var out = new Uint8Array(32);
    var outView = new DataView(out.buffer);
    for (i = 0; i < 8; i++) { outView.setUint32(i * 4, h[i]); }
    return out;
  }

  function sha256(buffer) {
    if (window.crypto && window.crypto.subtle) {
      return window.crypto.subtle.digest("SHA-256", buffer).then(function (d) { return new Uint8Array(d); });
    }
    return Promise.resolve(sha256Js(buffer));
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function readSlice(file, start, end) {
    var blob = file.slice(start, end);
    if (blob.arrayBuffer) { return blob.arrayBuffer(); }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsArrayBuffer(blob);
    });
  }

  // ---- formatting -------------------------------------------------------------
  function formatBytes(n) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  function formatDuration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var pad = function (v) { return (v < 10 ? "0" : "") + v; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] !== undefined ? values[key] : all;
    });
  }

  // ---- the upload page --------------------------------------------------------
  function setupUpload(form) {
    var panel = document.querySelector("[data-upload-panel]");
    var fileInput = form.querySelector("input[type=file]");
    var titleInput = form.querySelector("input[name=title]");
    var fileError = form.querySelector("[data-upload-file-error]");
    var bar = panel.querySelector("[data-upload-bar]");
    var progress = panel.querySelector("[data-upload-progress]");
    var percentText = panel.querySelector("[data-upload-percent]");
    var speedText = panel.querySelector("[data-upload-speed]");
    var etaText = panel.querySelector("[data-upload-eta]");
    var message = panel.querySelector("[data-upload-message]");
    var pauseButton = panel.querySelector("[data-upload-pause]");
    var resumeButton = panel.querySelector("[data-upload-resume]");
    var cancelButton = panel.querySelector("[data-upload-cancel]");
    var assetLink = panel.querySelector("[data-upload-asset-link]");
    var msg = function (name) { return form.getAttribute("data-msg-" + name) || ""; };
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || Infinity;

    var state = null; // {file, key, upload, digests[], offset, xhr, paused, cancelled, samples[]}

    function storeKey(file) {
      return STORE_PREFIX + file.name + ":" + file.size + ":" + file.lastModified;
    }

    function remembered() {
      var list = [];
      for (var i = 0; i < window.localStorage.length; i++) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf(STORE_PREFIX) === 0) {
          try { list.push(JSON.parse(window.localStorage.getItem(key))); } catch (e) { /* ignore */ }
        }
      }
      return list;
    }

    function showPending() {
      var box = document.querySelector("[data-upload-pending]");
      var pending = remembered();
      if (!box || !pending.length) { return; }
      box.textContent = pending.map(function (p) {
        var percent = p.size ? Math.floor(100 * (p.offset || 0) / p.size) + "%" : "?";
        return fill(msg("pending"), { name: p.name, percent: percent });
      }).join(" ");
      box.classList.remove("d-none");
    }

    function setMessage(text, kind) {
      message.textContent = text || "";
      message.className = "small mb-2" + (kind ? " text-" + kind : "");
    }

    function render(sentBytes) {
      var size = state.file.size;
      var percent = size ? Math.min(100, (100 * sentBytes) / size) : 100;
      var label = (percent >= 100 ? 100 : Math.floor(percent * 10) / 10) + "%";
      bar.style.width = percent + "%";
      bar.textContent = label;
      progress.setAttribute("aria-valuenow", String(Math.floor(percent)));
      percentText.textContent = label + " · " + formatBytes(sentBytes) + " / " + formatBytes(size);
      // Speed over the last ~5 seconds of samples.
      var now = Date.now();
      state.samples.push([now, sentBytes]);
      while (state.samples.length > 2 && now - state.samples[0][0] > 5000) { state.samples.shift(); }
      var first = state.samples[0];
      var seconds = (now - first[0]) / 1000;
      if (seconds > 0.5 && sentBytes > first[1]) {
        var speed = (sentBytes - first[1]) / seconds;
        speedText.textContent = formatBytes(speed) + "/s";
        etaText.textContent = fill(msg("left"), { time: formatDuration((size - sentBytes) / speed) });
      }
    }

    function remember() {
      window.localStorage.setItem(state.key, JSON.stringify({
        id: state.upload.id, name: state.file.name, size: state.file.size, offset: state.offset,
      }));
    }

    function forget() {
      if (state) { window.localStorage.removeItem(state.key); }
    }

    function urlFor(template, id) { return template.replace("UPLOAD_ID", id); }

    function begin(file) {
      var key = storeKey(file);
      var saved = null;
      try { saved = JSON.parse(window.localStorage.getItem(key)); } catch (e) { saved = null; }
      state = { file: file, key: key, upload: null, digests: [], offset: 0, xhr: null, paused: false, cancelled: false, samples: [], attempt: 0 };
      form.classList.add("d-none");
      panel.classList.remove("d-none");
      panel.querySelector("[data-upload-name]").textContent = file.name;
      assetLink.classList.add("d-none");
      pauseButton.classList.remove("d-none");
      cancelButton.classList.remove("d-none");
      var resume = saved && saved.id
        ? window.Vanguard.fetchJSON(urlFor(form.getAttribute("data-status-url"), saved.id)).then(function (body) {
            return body.ok ? body.upload : null;
          })
        : Promise.resolve(null);
      resume.then(function (upload) {
        if (upload) {
          setMessage(fill(msg("resuming"), { percent: Math.floor(100 * upload.offset / upload.size) + "%" }), "muted");
          return upload;
        }
        return window.Vanguard.fetchJSON(form.getAttribute("data-start-url"), {
          method: "POST", body: { filename: file.name, size: file.size, title: titleInput.value },
        }).then(function (body) {
          if (!body.ok) { throw new Error(body.error || "error"); }
          return body.upload;
        });
      }).then(function (upload) {
        state.upload = upload;
        state.offset = upload.offset;
        remember();
        render(state.offset);
        sendNext();
      }).catch(function (error) { fail(error.message); });
    }

    function sendNext() {
      if (!state || state.paused || state.cancelled) { return; }
      var upload = state.upload;
      if (state.offset >= state.file.size) { complete(); return; }
      var start = state.offset;
      var end = Math.min(start + upload.chunk_size, state.file.size);
      var index = Math.floor(start / upload.chunk_size);
      readSlice(state.file, start, end).then(function (buffer) {
        return sha256(buffer).then(function (digest) {
          state.digests[index] = digest;
          put(buffer, start, end, hex(digest));
        });
      }).catch(function (error) { fail(error.message); });
    }

    function retryLater() {
      state.attempt += 1;
      var wait = Math.min(30, Math.pow(2, Math.min(state.attempt, 5)));
      setMessage(fill(msg("retrying"), { seconds: wait }), "warning");
      state.retryTimer = setTimeout(function () {
        // Ask where the server stands before sending again.
        window.Vanguard.fetchJSON(urlFor(form.getAttribute("data-status-url"), state.upload.id)).then(function (body) {
          if (body.ok) { state.offset = body.upload.offset; sendNext(); }
          else if (body.status === 404) { forget(); fail(body.error); }
          else { retryLater(); }
        }).catch(retryLater);
      }, wait * 1000);
    }

    function put(buffer, start, end, digest) {
      var xhr = new XMLHttpRequest();
      state.xhr = xhr;
      xhr.open("PUT", state.upload.url);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Content-Range", "bytes " + start + "-" + (end - 1) + "/" + state.file.size);
      xhr.setRequestHeader("X-Chunk-SHA256", digest);
      xhr.setRequestHeader("X-CSRFToken", window.Vanguard.csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (event) { render(start + event.loaded); };
      xhr.onload = function () {
        state.xhr = null;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status === 200 && body.ok) {
          state.attempt = 0;
          state.offset = body.offset;
          setMessage("");
          remember();
          render(state.offset);
          sendNext();
        } else if (xhr.status === 409 && typeof body.offset === "number") {
          state.offset = body.offset; // the server is ahead (or behind): continue from there
          sendNext();
        } else if (xhr.status === 422 && state.attempt < 3) {
          state.attempt += 1; // damaged on the way: send the chunk again
          sendNext();
        } else if (xhr.status >= 500 || xhr.status === 0 || xhr.status === 429) {
          retryLater();
        } else {
          if (xhr.status === 404) { forget(); }
          fail(body.error || xhr.statusText);
        }
      };
      xhr.onerror = function () { state.xhr = null; if (!state.cancelled && !state.paused) { retryLater(); } };
      xhr.onabort = function () { state.xhr = null; };
      xhr.send(buffer);
    }

    function complete() {
      setMessage(msg("checking"), "muted");
      pauseButton.classList.add("d-none");
      var size = state.upload.chunk_size;
      var count = Math.ceil(state.file.size / size);
      // Chunks sent before a reload were hashed then; hash them again from the file.
      var missing = [];
      for (var i = 0; i < count; i++) { if (!state.digests[i]) { missing.push(i); } }
      var chain = Promise.resolve();
      missing.forEach(function (index) {
        chain = chain.then(function () {
          return readSlice(state.file, index * size, Math.min((index + 1) * size, state.file.size))
            .then(sha256).then(function (digest) { state.digests[index] = digest; });
        });
      });
      chain.then(function () {
        var joined = new Uint8Array(count * 32);
        state.digests.forEach(function (digest, index) { joined.set(digest, index * 32); });
        return sha256(joined.buffer);
      }).then(function (checksum) {
        return window.Vanguard.fetchJSON(urlFor(form.getAttribute("data-complete-url"), state.upload.id), {
          method: "POST", body: { checksum: hex(checksum) },
        });
      }).then(function (body) {
        if (!body.ok) { throw new Error(body.error || "error"); }
        forget();
        cancelButton.classList.add("d-none");
        bar.classList.remove("progress-bar-animated");
        assetLink.href = body.url;
        assetLink.classList.remove("d-none");
        etaText.textContent = "";
        if (body.status === "failed") {
          setMessage(msg("refused") + " " + body.error, "danger");
        } else {
          setMessage(msg("done"), "success");
        }
      }).catch(function (error) { fail(error.message); });
    }

    function fail(text) {
      setMessage(msg("failed") + " " + (text || ""), "danger");
      pauseButton.classList.add("d-none");
      resumeButton.classList.add("d-none");
      form.classList.remove("d-none");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = fileInput.files && fileInput.files[0];
      var problem = !file ? msg("choose") : file.size === 0 ? msg("empty") : file.size > maxBytes ? msg("too-large") : "";
      fileInput.classList.toggle("is-invalid", !!problem);
      fileError.textContent = problem;
      if (problem) { return; }
      begin(file);
    });

    pauseButton.addEventListener("click", function () {
      if (!state) { return; }
      state.paused = true;
      if (state.xhr) { state.xhr.abort(); }
      clearTimeout(state.retryTimer);
      pauseButton.classList.add("d-none");
      resumeButton.classList.remove("d-none");
      setMessage(msg("paused"), "muted");
      speedText.textContent = "";
      etaText.textContent = "";
    });

    resumeButton.addEventListener("click", function () {
      if (!state) { return; }
      state.paused = false;
      state.samples = [];
      resumeButton.classList.add("d-none");
      pauseButton.classList.remove("d-none");
      setMessage("");
      window.Vanguard.fetchJSON(urlFor(form.getAttribute("data-status-url"), state.upload.id)).then(function (body) {
        if (body.ok) { state.offset = body.upload.offset; sendNext(); } else { fail(body.error); }
      }).catch(retryLater);
    });

    cancelButton.addEventListener("click", function (event) {
      var question = cancelButton.getAttribute("data-cancel-confirm");
      if (!state || (question && !window.confirm(question))) { return; }
      state.cancelled = true;
      if (state.xhr) { state.xhr.abort(); }
      clearTimeout(state.retryTimer);
      forget();
      var done = function () {
        panel.classList.add("d-none");
        form.classList.remove("d-none");
        form.reset();
        var box = document.querySelector("[data-upload-pending]");
        if (box) { box.textContent = msg("cancelled"); box.classList.remove("d-none"); }
        state = null;
      };
      if (state.upload) {
        window.Vanguard.fetchJSON(state.upload.url, { method: "DELETE" }).then(done, done);
      } else {
        done();
      }
    });

    showPending();
  }

  // ---- live status of assets (list and detail pages) ---------------------------
  function setupStatus(container) {
    var url = container.getAttribute("data-media-status-url");
    var reloadWhenReady = container.hasAttribute("data-reload-when-ready");
    var badgeClasses = { ready: "text-bg-success", failed: "text-bg-danger", processing: "text-bg-primary", queued: "text-bg-secondary", uploading: "text-bg-warning" };
    var pendingStates = ["uploading", "queued", "processing"];

    function pendingIds() {
      var ids = [];
      container.querySelectorAll("[data-asset-state]").forEach(function (el) {
        if (pendingStates.indexOf(el.getAttribute("data-status")) >= 0) { ids.push(el.getAttribute("data-asset-state")); }
      });
      return ids;
    }

    function updateJob(job) {
      // The job table of the detail page: the latest job's row follows the badge.
      var row = job && container.querySelector('[data-job-row="' + job.id + '"]');
      if (!row) { return; }
      var cells = { "[data-job-status]": job.label, "[data-job-percent]": job.percent.toFixed(1) + "%",
        "[data-job-attempts]": String(job.attempts), "[data-job-started]": job.started_at,
        "[data-job-finished]": job.finished_at };
      Object.keys(cells).forEach(function (selector) {
        var cell = row.querySelector(selector);
        if (cell) { cell.textContent = cells[selector]; }
      });
    }

    function update(state) {
      updateJob(state.job);
      var el = container.querySelector('[data-asset-state="' + state.id + '"]');
      if (!el) { return; }
      var before = el.getAttribute("data-status");
      el.setAttribute("data-status", state.status);
      var label = el.querySelector("[data-asset-label]");
      label.textContent = state.label;
      label.className = "badge " + (badgeClasses[state.status] || "text-bg-secondary");
      var progress = el.querySelector(".progress");
      var pending = pendingStates.indexOf(state.status) >= 0;
      progress.classList.toggle("d-none", !pending);
      progress.setAttribute("aria-valuenow", String(Math.floor(state.percent)));
      el.querySelector("[data-asset-bar]").style.width = state.percent + "%";
      var error = el.querySelector("[data-asset-error]");
      error.textContent = state.error;
      error.classList.toggle("d-none", !state.error);
      if (reloadWhenReady && before !== state.status && !pending) { window.location.reload(); }
    }

    function poll() {
      var ids = pendingIds();
      if (!ids.length || document.hidden) {
        if (ids.length) { setTimeout(poll, 3000); }
        return;
      }
      window.Vanguard.fetchJSON(url + "?ids=" + ids.join(",")).then(function (body) {
        (body.assets || []).forEach(update);
      }).finally(function () { setTimeout(poll, 2000); });
    }

    setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-upload-form]");
    if (form) { setupUpload(form); }
    document.querySelectorAll("[data-media-status-url]").forEach(setupStatus);
  });
})();
