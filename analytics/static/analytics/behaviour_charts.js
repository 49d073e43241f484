// Draws <canvas data-behaviour-chart="<id>"> from the Chart.js data in <script id="<id>"> (json_script):
// the page already has the numbers, so no second request computes them again.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-behaviour-chart]").forEach(function (canvas) {
      var data = JSON.parse(document.getElementById(canvas.dataset.behaviourChart).textContent);
      var colours = ["rgba(0, 114, 178, 0.8)", "rgba(213, 94, 0, 0.6)"];
      data.datasets.forEach(function (set, i) { set.backgroundColor = colours[i % colours.length]; });
      new Chart(canvas, {
        type: "bar",
        data: data,
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
      });
      canvas.dataset.chartReady = "1";
    });
  });
})();
