// Refreshes the overview every N seconds (data-refresh-seconds): the tiles are fetched again as
// the page's own HTML and swapped in, the charts get their JSON again and are updated in place.
// Nothing is fetched while the tab is hidden or the box is unticked.
(function () {
  "use strict";
  var region = document.getElementById("dashboard");
  if (!region) { return; }
  var seconds = parseInt(region.dataset.refreshSeconds, 10) || 60;
  var box = document.getElementById("auto-refresh");
  var stamp = document.getElementById("refreshed-at");

  function refreshTiles() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        // An ended session answers with the login page (a redirect fetch follows): say so.
        if (!r.ok || r.redirected) { throw new Error(r.status); }
        return r.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("dashboard");
        var freshStamp = page.getElementById("refreshed-at");
        if (!fresh) { throw new Error("no dashboard in the answer"); }
        region.innerHTML = fresh.innerHTML;
        if (stamp && freshStamp) { stamp.textContent = freshStamp.textContent; stamp.title = freshStamp.title; }
      });
  }

  function refreshCharts() {
    document.querySelectorAll("canvas[data-chart-url]").forEach(function (canvas) {
      var chart = window.Chart && window.Chart.getChart(canvas);
      if (!chart) { return; }
      fetch(canvas.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) { chart.data = data; chart.update("none"); })
        .catch(function () { /* keep the last drawing; the next round tries again */ });
    });
  }

  function tick() {
    if (document.hidden || (box && !box.checked)) { return; }
    refreshTiles().catch(function () {
      if (stamp) { stamp.textContent = "refresh failed; retrying"; }
    });
    refreshCharts();
  }

  window.setInterval(tick, seconds * 1000);
})();
