// Contest pages: the lobby's countdown (the page reloads when the contest opens), the live
// leaderboard (polled JSON from the server's cache, drawn without reloading) and the
// certificates' print button. Every text comes from data attributes (translated by the
// template); names are inserted as text, never as HTML.
(function () {
  "use strict";

  function format(seconds, daysLabel) {
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d ? (daysLabel || "{n}d").replace("{n}", d) + " " : "") + (d || h ? h + ":" + two(m) : m) + ":" + two(s);
  }

  // --- Lobby countdown -----------------------------------------------------------------
  var lobby = document.getElementById("contest-lobby");
  if (lobby) {
    var counter = lobby.querySelector("[data-countdown]");
    var seconds = parseInt(lobby.dataset.secondsToOpen || "0", 10);
    if (counter && lobby.dataset.phase === "upcoming") {
      // Measured with the monotonic clock from the server's figure, never the device's time.
      var openAt = performance.now() + seconds * 1000;
      var timer = window.setInterval(function () {
        var left = Math.max(0, Math.ceil((openAt - performance.now()) / 1000));
        counter.textContent = format(left, lobby.dataset.days);
        if (left <= 0) {
          window.clearInterval(timer);
          // A short random delay spreads thousands of members' reloads over a few seconds.
          window.setTimeout(function () { window.location.reload(); }, 500 + Math.random() * 2500);
        }
      }, 250);
    }
  }

  // --- Print button ----------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // --- Live board ------------------------------------------------------------------------
  var board = document.getElementById("contest-board");
  if (!board || !window.Vanguard) {
    return;
  }
  var data = board.dataset;
  var me = parseInt(data.me, 10);
  var rowsBody = board.querySelector("[data-board-rows]");
  var mineBody = board.querySelector("[data-board-mine]");
  var branchesBody = board.querySelector("[data-board-branches]");
  var statusNode = board.querySelector("[data-board-status]");
  var participantsNode = board.querySelector("[data-board-participants]");
  var refresh = Math.max(parseInt(data.refresh || "5", 10), 2) * 1000;
  var previous = {};
  var failures = 0;

  function points(value) {
    return (Math.round(value * 100) / 100).toString();
  }

  function cell(text, className, tag) {
    var td = document.createElement(tag || "td");
    td.textContent = text;
    if (className) { td.className = className; }
    return td;
  }

  function personRow(row) {
    var tr = document.createElement("tr");
    tr.dataset.user = row[1];
    if (row[1] === me) { tr.className = "table-warning"; }
    tr.appendChild(cell(String(row[0]), "text-end"));
    tr.appendChild(cell(row[2]));
    tr.appendChild(cell(row[3], "d-none d-sm-table-cell"));
    tr.appendChild(cell(points(row[4]), "text-end"));
    tr.appendChild(cell(format(row[5]), "text-end"));
    if (previous[row[1]] !== undefined && previous[row[1]] !== row[0]) {
      tr.classList.add("contest-moved");
    }
    return tr;
  }

  function draw(body) {
    if (!body.ok) { return; }
    var seen = {};
    rowsBody.textContent = "";
    if (!body.rows.length) {
      var empty = document.createElement("tr");
      var td = cell(data.msgEmpty, "text-center text-muted py-3");
      td.colSpan = 5;
      empty.appendChild(td);
      rowsBody.appendChild(empty);
    }
    body.rows.forEach(function (row) {
      rowsBody.appendChild(personRow(row));
      seen[row[1]] = row[0];
    });
    mineBody.textContent = "";
    if (body.mine && body.mine[0] > body.board_size) {
      var gap = document.createElement("tr");
      var dots = cell("⋯", "text-center text-muted");
      dots.colSpan = 5;
      gap.appendChild(dots);
      mineBody.appendChild(gap);
      mineBody.appendChild(personRow(body.mine));
      seen[body.mine[1]] = body.mine[0];
    }
    previous = seen;
    branchesBody.textContent = "";
    (body.branches || []).forEach(function (b) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(String(b[0]), "text-end"));
      tr.appendChild(cell(b[1]));
      // [rank, name, score per member, mean of participants, participation rate, participants, eligible]
      tr.appendChild(cell(points(b[2]), "text-end fw-semibold"));
      tr.appendChild(cell(points(b[3]), "text-end"));
      var rate = cell(points(b[4] * 100) + "% ", "text-end");
      rate.appendChild(cell("(" + b[5] + " / " + b[6] + ")", "text-muted small", "span"));
      tr.appendChild(rate);
      branchesBody.appendChild(tr);
    });
    if (participantsNode && typeof body.participants === "number") {
      participantsNode.textContent = participantsNode.textContent.replace(/\d+/, String(body.participants));
    }
    if (statusNode && body.generated_at) {
      statusNode.textContent = data.msgUpdated.replace("{time}", new Date(body.generated_at).toLocaleTimeString());
    }
    if (body.mode !== data.mode) {
      // Frozen, hidden or final now: the page itself says what the board means.
      window.location.reload();
    }
  }

  function poll() {
    if (document.visibilityState === "hidden") {
      window.setTimeout(poll, refresh);
      return;
    }
    window.Vanguard.fetchJSON(data.url, { method: "GET" }).then(function (body) {
      failures = 0;
      draw(body);
      // The final standings never change: stop polling.
      if (body.mode !== "final") { window.setTimeout(poll, refresh); }
    }, function () {
      failures += 1;
      if (statusNode) { statusNode.textContent = data.msgOffline; }
      window.setTimeout(poll, Math.min(refresh * Math.pow(2, failures), 60000));
    });
  }

  if (data.mode !== "final") {
    window.setTimeout(poll, refresh);
  }
})();
