// Polls a run's (or a launch's) JSON and updates the page; no inline script (CSP 'self').
(function () {
  "use strict";
  var box = document.querySelector("[data-poll]");
  if (!box) { return; }
  var url = box.getAttribute("data-poll");
  function setText(selector, value) {
    var el = box.querySelector(selector);
    if (el) { el.textContent = String(value); }
  }
  function showRun(data) {
    setText(".run-status", data.status_label || data.status);
    if (data.flow_state) { setText(".flow-state", data.flow_state); }
    setText(".run-done", data.done);
    setText(".run-to-make", data.to_make);
    var bar = box.querySelector(".progress span");
    if (bar) { bar.style.width = (data.to_make ? Math.round(100 * data.done / data.to_make) : 100) + "%"; }
    Object.keys(data.by_status).forEach(function (status) {
      var cell = box.querySelector('[data-status="' + status + '"]');
      if (cell) { cell.textContent = String(data.by_status[status]); }
    });
    return data.finished || data.status === "done" || data.status === "paused" || data.status === "deferred";
  }
  function showLaunch(data) {
    if (data.flow_state) { setText(".flow-state", data.flow_state); }
    if (data.error) {  // told once: the waiting line becomes the error
      var p = box.querySelector(".problem") || box.querySelector(".state") ||
        box.appendChild(document.createElement("p"));
      p.className = "problem";
      p.setAttribute("role", "alert");
      p.textContent = data.error;
      return true;
    }
    if (data.run_id && data.state !== "running") {
      window.location.assign("/runs/" + data.run_id);
      return true;
    }
    return false;
  }
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var finished = box.id === "run" ? showRun(data) : showLaunch(data);
        if (!finished) { window.setTimeout(poll, 1500); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, box.id === "run" ? 0 : 800);
}());
