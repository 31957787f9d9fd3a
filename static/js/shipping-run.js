// The shipping run's page: follow the background work, then show the report.
(function () {
  "use strict";
  var status = document.getElementById("shipping-run-status");
  if (!status || status.dataset.finished === "1") return;
  var bar = document.getElementById("shipping-run-progress");
  var url = status.dataset.progressUrl;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        bar.max = data.total;
        bar.value = data.done;
        if (data.finished) {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
