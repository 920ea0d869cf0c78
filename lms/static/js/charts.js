// Charts and print buttons of the assessment pages (Chart.js, vendored as window.Chart).
// A <canvas data-chart="bar|line|doughnut|hbar" data-chart-source="ID"> is drawn from the
// JSON in <script type="application/json" id="ID"> ({labels, datasets: [{label, data}]}).
// No inline scripts: the CSP forbids them, so the data travels as JSON in the page.
(function () {
  "use strict";
  var PALETTE = ["#c8102e", "#f5c400", "#0d6efd", "#198754", "#6f42c1", "#fd7e14", "#20c997", "#6c757d"];
  var GRADE_COLOURS = ["#198754", "#0d6efd", "#ffc107", "#dc3545"];

  function readData(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart-source"));
    if (!source) { return null; }
    try { return JSON.parse(source.textContent); } catch (error) { return null; }
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || !window.Chart) { return; }
    var data = readData(canvas);
    if (!data) { return; }
    var kind = canvas.getAttribute("data-chart");
    var type = kind === "hbar" ? "bar" : kind;
    var grades = canvas.hasAttribute("data-grade-colours");
    data.datasets.forEach(function (dataset, index) {
      if (type === "doughnut") {
        dataset.backgroundColor = grades ? GRADE_COLOURS : PALETTE;
      } else {
        dataset.backgroundColor = PALETTE[index % PALETTE.length];
        dataset.borderColor = PALETTE[index % PALETTE.length];
        dataset.borderRadius = 4;
        dataset.maxBarThickness = 36;
      }
    });
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: type === "doughnut" || data.datasets.length > 1, position: "bottom" } }
    };
    if (type !== "doughnut") {
      options.scales = { y: { beginAtZero: true }, x: { ticks: { autoSkip: true, maxRotation: 0 } } };
      if (kind === "hbar") { options.indexAxis = "y"; options.scales = { x: { beginAtZero: true } }; }
    }
    new window.Chart(canvas, { type: type, data: data, options: options });
    canvas.dataset.drawn = "1";
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  // Printable pages: a button with data-print opens the print dialog.
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
