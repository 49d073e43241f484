// Reports real users' page timings (web-vitals: TTFB, FCP, LCP, INP, CLS) to the portal.
// Include after web-vitals.iife.js:
//   <script src=".../monitoring/vitals.js" defer data-key="<browser key>"
//           data-endpoint="https://portal.example.com/api/v1/vitals/" data-route="/orders/<int:pk>/"></script>
// data-route is the page's URL *pattern*; without it the path is used with ids folded
// (/orders/42/ -> /orders/<int>/), so one route is one series whatever the ids.
(function () {
  "use strict";
  var script = document.currentScript;
  var vitals = window.webVitals;
  if (!script || !vitals || !navigator.sendBeacon) return;
  var data = script.dataset;
  if (!data.key) return;
  var MAX_PER_BEACON = 10; // the endpoint's limit
  var endpoint = (data.endpoint || "/api/v1/vitals/") + "?key=" + encodeURIComponent(data.key);

  function normalise(path) {
    return path.split("/").map(function (part) {
      if (/^\d+$/.test(part)) return "<int>";
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(part)) return "<uuid>";
      // Hashes, tokens and slugs with long digit runs: anything that varies per object.
      if (part.length >= 16 || /\d{4,}/.test(part)) return "<id>";
      return part;
    }).join("/").slice(0, 200) || "/";
  }

  var route = data.route || document.documentElement.getAttribute("data-route") || normalise(location.pathname);
  var queue = [];

  function add(metric) {
    queue.push({ name: metric.name, value: metric.value });
  }

  function flush() {
    while (queue.length) {
      // A string is sent as text/plain: a "simple" request, so no CORS preflight is needed.
      navigator.sendBeacon(endpoint, JSON.stringify({ route: route, vitals: queue.splice(0, MAX_PER_BEACON) }));
    }
  }

  vitals.onTTFB(add);
  vitals.onFCP(add);
  vitals.onLCP(add);
  vitals.onINP(add);
  vitals.onCLS(add);
  // Added after web-vitals' own listeners (on document), so LCP, INP and CLS have reported
  // their final values when the page is hidden before this sends them (on window).
  addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  addEventListener("pagehide", flush);
})();
