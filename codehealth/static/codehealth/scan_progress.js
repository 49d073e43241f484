// While a scan is queued or running, the overview polls its status JSON, says where it is,
// and reloads itself once the scan has finished so the new figures show.
(function () {
  "use strict";
  var box = document.querySelector("[data-scan-status-url]");
  if (!box) { return; }
  var text = box.querySelector(".progress-text");
  var every = parseInt(box.dataset.pollMs || "2000", 10);
  function say(s) {
    if (s.status === "running") {
      return "Scan #" + s.id + " is running" + (s.seconds !== null ? " (" + Math.round(s.seconds) + " s so far)" : "") + "…";
    }
    return "Scan #" + s.id + " is queued, waiting for a worker…";
  }
  function tick() {
    fetch(box.dataset.scanStatusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        if (s.done) {
          text.textContent = "Scan #" + s.id + " " + s.status + "; loading the results…";
          box.dataset.scanDone = s.status;
          window.location.reload();
          return;
        }
        text.textContent = say(s);
        window.setTimeout(tick, every);
      })
      .catch(function (err) {
        text.textContent = "Could not read the scan's status (" + err.message + "); refresh the page to try again.";
      });
  }
  window.setTimeout(tick, every);
})();
