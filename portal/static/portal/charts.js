// Draws every <canvas data-chart-url="..."> with the JSON a django-chartjs view returns.
(function () {
  "use strict";
  function draw(canvas) {
    fetch(canvas.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        new Chart(canvas, {
          type: canvas.dataset.chartType || "line",
          data: data,
          options: { responsive: true, maintainAspectRatio: false, animation: false,
                     interaction: { mode: "index", intersect: false },
                     scales: { y: { beginAtZero: true } } }
        });
        canvas.dataset.chartReady = "1";
      })
      .catch(function (err) { canvas.replaceWith(document.createTextNode("Chart unavailable (" + err.message + ")")); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart-url]").forEach(draw);
  });
})();
