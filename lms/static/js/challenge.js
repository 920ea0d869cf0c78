// Challenge mode (挑战答题): one question at a time against the server's timer.
//
// The page never holds an answer key: a question arrives without it, the member's
// answer is posted, and the server's judgement brings the key and explanation of that
// question only. Texts arrive twice: as plain text and as HTML the server cleaned (a
// question written in HTML) or escaped (a plain one), which the page shows as the quiz
// pages do (``*_html`` fields and each option's ``html``). The countdown starts from the seconds left the server sent (measured
// with performance.now()); at zero the page posts an empty answer, which the server
// judges as a timeout from its own clock whatever the page does.
(function () {
  "use strict";
  var root = document.getElementById("challenge");
  if (!root || !window.Vanguard) {
    return;
  }
  var data = root.dataset;
  var idle = root.querySelector("[data-idle]");
  var playing = root.querySelector("[data-playing]");
  var feedback = root.querySelector("[data-feedback]");
  var overBox = root.querySelector("[data-over]");
  var startButton = root.querySelector("[data-start]");
  var stemNode = root.querySelector("[data-stem]");
  var choicesNode = root.querySelector("[data-choices]");
  var secondsNode = root.querySelector("[data-seconds]");
  var bar = root.querySelector("[data-bar]");
  var flash = root.querySelector("[data-flash]");
  var titleNode = root.querySelector("[data-question-title]");
  var streakNode = root.querySelector("[data-streak]");
  var bestNode = root.querySelector("[data-best]");
  var runId = null;
  var question = null;
  var endAt = 0;
  var ticker = null;
  var sending = false;
  var letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

  function show(node, visible) { node.classList.toggle("d-none", !visible); }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // --- Drawing a question -----------------------------------------------------------------

  // Safe HTML from the server (cleaned or escaped there), in a span.
  function htmlSpan(html, className) {
    var node = element("span", className || "quiz-option-text");
    node.innerHTML = html;
    return node;
  }

  function optionText(option) {
    return option.html !== undefined ? htmlSpan(option.html) : element("span", "quiz-option-text", option.text);
  }

  function optionButton(label, onClick) {
    var button = element("button", "quiz-option btn");
    button.type = "button";
    button.appendChild(element("span", "quiz-letter", label.letter));
    button.appendChild(optionText(label));
    button.addEventListener("click", onClick);
    return button;
  }

  function drawQuestion(q) {
    question = q;
    titleNode.textContent = data.msgQuestion.replace("{n}", q.number) + " · " + q.type_label;
    stemNode.textContent = "";
    choicesNode.textContent = "";
    if (q.stem_parts) {
      // The pieces are one HTML text cut at its blanks: joined with the inputs in place, then parsed once.
      stemNode.innerHTML = q.stem_parts.map(function (part) {
        return typeof part === "number" ? '<input type="text" data-blank="' + part + '">' : part;
      }).join("");
      Array.prototype.forEach.call(stemNode.querySelectorAll("input[data-blank]"), function (input) {
        input.className = "form-control d-inline-block quiz-blank";
        input.autocomplete = "off";
        input.setAttribute("aria-label", data.msgBlank.replace("{n}", Number(input.dataset.blank) + 1));
      });
    } else {
      stemNode.innerHTML = q.stem_html;
    }
    if (q.type === "single") {
      q.options.forEach(function (option) {
        choicesNode.appendChild(optionButton(option, function () { send({ choice: option.index }); }));
      });
    } else if (q.type === "true_false") {
      [[true, data.msgTrue], [false, data.msgFalse]].forEach(function (pair, i) {
        choicesNode.appendChild(optionButton({ letter: letters[i], text: pair[1] }, function () { send({ value: pair[0] }); }));
      });
    } else if (q.type === "multiple") {
      q.options.forEach(function (option) {
        var label = element("label", "quiz-option");
        var box = element("input", "form-check-input");
        box.type = "checkbox";
        box.value = option.index;
        label.appendChild(box);
        label.appendChild(element("span", "quiz-letter", option.letter));
        label.appendChild(optionText(option));
        choicesNode.appendChild(label);
      });
      choicesNode.appendChild(submitButton(function () {
        var picked = Array.prototype.map.call(choicesNode.querySelectorAll("input:checked"), function (box) {
          return parseInt(box.value, 10);
        });
        send(picked.length ? { choices: picked } : null);
      }));
    } else {
      if (!q.stem_parts) {
        for (var i = 0; i < q.blanks; i += 1) {
          var input = element("input", "form-control mb-2 quiz-blank");
          input.dataset.blank = i;
          input.setAttribute("aria-label", data.msgBlank.replace("{n}", i + 1));
          choicesNode.appendChild(input);
        }
      }
      choicesNode.appendChild(submitButton(function () {
        var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-blank]"));
        inputs.sort(function (a, b) { return a.dataset.blank - b.dataset.blank; });
        var texts = inputs.map(function (input) { return input.value; });
        send(texts.some(function (t) { return t.trim(); }) ? { blanks: texts } : null);
      }));
    }
    startTimer(q.seconds_left, q.seconds_total);
    show(idle, false);
    show(playing, true);
    var first = choicesNode.querySelector("button, input") || stemNode.querySelector("input");
    if (first && first.tagName === "INPUT") { first.focus(); }
  }

  function submitButton(onClick) {
    var button = element("button", "btn btn-party mt-2", data.msgSubmit);
    button.type = "button";
    button.dataset.testid = "challenge-submit";
    button.addEventListener("click", onClick);
    return button;
  }

  // --- Timer ---------------------------------------------------------------------------------

  function startTimer(left, total) {
    window.clearInterval(ticker);
    endAt = performance.now() + left * 1000;
    function tick() {
      var remaining = Math.max(0, (endAt - performance.now()) / 1000);
      secondsNode.textContent = Math.ceil(remaining);
      bar.style.width = Math.max(0, Math.min(100, (remaining / total) * 100)) + "%";
      if (remaining <= 0) {
        window.clearInterval(ticker);
        send(null);
      }
    }
    tick();
    ticker = window.setInterval(tick, 200);
  }

  // --- Talking to the server ---------------------------------------------------------------

  function setButtonsDisabled(disabled) {
    Array.prototype.forEach.call(choicesNode.querySelectorAll("button, input"), function (node) { node.disabled = disabled; });
  }

  function send(response) {
    if (sending || !question) { return; }
    sending = true;
    setButtonsDisabled(true);
    window.Vanguard.fetchJSON(data.answerUrl, {
      method: "POST",
      body: { run_id: runId, number: question.number, response: response },
    }).then(function (body) {
      sending = false;
      if (!body.ok) {
        resync();
        return;
      }
      judged(body);
    }, function () {
      sending = false;
      setButtonsDisabled(false);
    });
  }

  function describeAnswer(answer) {
    if (!answer) { return ""; }
    if (typeof answer.choice === "number") { return letters[answer.choice]; }
    if (answer.choices) { return answer.choices.map(function (c) { return letters[c]; }).join(""); }
    if (typeof answer.value === "boolean") { return answer.value ? data.msgTrue : data.msgFalse; }
    if (answer.blanks) { return answer.blanks.map(function (accepted) { return accepted.join(" / "); }).join("；"); }
    return "";
  }

  function judged(body) {
    streakNode.textContent = body.streak;
    bestNode.textContent = body.best;
    if (body.correct && body.next_question) {
      flash.textContent = data.msgCorrect.replace("{n}", body.streak);
      show(flash, true);
      window.setTimeout(function () { show(flash, false); }, 1500);
      drawQuestion(body.next_question);
      return;
    }
    window.clearInterval(ticker);
    root.querySelector("[data-missed]").innerHTML = body.correct || !question ? "" : question.stem_html;
    question = null;
    runId = null;
    show(playing, false);
    var verdict = body.correct ? data.msgCleared : (body.timed_out ? data.msgTimeout : data.msgWrong);
    root.querySelector("[data-verdict]").textContent = verdict;
    var revealed = root.querySelector("[data-revealed]");
    revealed.textContent = "";
    if (body.answer && body.answer.options && body.answer.options.length) {
      // Each right option with its text: letters alone mean nothing once the question is gone.
      revealed.appendChild(document.createTextNode(data.msgAnswer));
      var list = element("ul", "mb-0 ps-3");
      list.dataset.testid = "challenge-answer-options";
      body.answer.options.forEach(function (option) {
        var item = element("li", "", option.letter + ". ");
        item.appendChild(optionText(option));
        list.appendChild(item);
      });
      revealed.appendChild(list);
    } else if (body.answer) {
      revealed.textContent = data.msgAnswer + " " + describeAnswer(body.answer);
    }
    var explanation = root.querySelector("[data-explanation]");
    explanation.innerHTML = body.explanation_html || "";
    show(explanation, !!body.explanation);
    show(feedback, !body.correct);
    overBox.className = "alert " + (body.new_best ? "alert-success" : "alert-light border");
    overBox.textContent = data.msgResult.replace("{n}", body.streak) + (body.new_best ? " " + data.msgNewBest : "");
    show(overBox, true);
    show(idle, true);
    refreshBoard();
  }

  function refreshBoard() {
    window.Vanguard.fetchJSON(data.boardUrl, { method: "GET" }).then(function (body) {
      if (!body.ok) { return; }
      var tbody = root.querySelector("[data-board-rows]");
      if (!body.rows.length) { return; }
      tbody.textContent = "";
      body.rows.forEach(function (row) {
        var tr = document.createElement("tr");
        [String(row.rank), row.name, String(row.streak), String(row.seconds)].forEach(function (text, i) {
          tr.appendChild(element("td", i === 1 ? "" : "text-end", text));
        });
        tbody.appendChild(tr);
      });
    });
  }

  function playState(body) {
    if (!body.ok) { return; }
    bestNode.textContent = body.best;
    streakNode.textContent = body.streak;
    if (body.question) {
      runId = body.run_id;
      show(feedback, false);
      drawQuestion(body.question);
    } else {
      show(playing, false);
      show(idle, true);
    }
  }

  function resync() {
    window.Vanguard.fetchJSON(data.stateUrl, { method: "GET" }).then(playState);
  }

  startButton.addEventListener("click", function () {
    startButton.disabled = true;
    window.Vanguard.fetchJSON(data.startUrl, { method: "POST", body: {} }).then(function (body) {
      startButton.disabled = false;
      if (!body.ok) {
        overBox.className = "alert alert-danger";
        overBox.textContent = body.error || data.msgError;
        show(overBox, true);
        return;
      }
      show(overBox, false);
      playState(body);
    }, function () { startButton.disabled = false; });
  });

  // A game already under way (another tab, a reload) continues with the time it has left.
  resync();
})();
