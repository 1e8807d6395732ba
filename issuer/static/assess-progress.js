// Polls the bulk job's progress and updates the bar; without JavaScript the page offers a
// refresh link instead.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || box.dataset.done === "true") { return; }
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (p) {
        bar.value = p.percent;
        bar.textContent = p.percent + "%";
        text.textContent = p.processed + " of " + p.toIssue + " rows done: " + p.issued +
          " issued, " + p.duplicate + " duplicates, " + p.failed + " failed.";
        if (p.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
}());
