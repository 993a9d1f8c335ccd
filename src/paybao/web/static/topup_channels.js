// Top-up channel pages: count a cash code's time down, and poll a pending status; when it
// changes the page reloads (the server renders the new state). No status is decided here.
(function () {
  "use strict";
  var box = document.querySelector("[data-poll]");
  var count = document.getElementById("countdown");
  if (count) {
    var left = parseInt(count.getAttribute("data-left-s"), 10) || 0;
    var tick = function () {
      if (left <= 0) { count.textContent = "0:00"; return; }
      left -= 1;
      var s = left % 60;
      count.textContent = Math.floor(left / 60) + ":" + (s < 10 ? "0" : "") + s;
      if (left === 0) { window.setTimeout(function () { window.location.reload(); }, 1500); }
    };
    window.setInterval(tick, 1000);
  }
  if (!box || !box.getAttribute("data-poll")) { return; }
  var url = box.getAttribute("data-poll");
  var shown = box.getAttribute("data-status");
  var tries = 0;
  var poll = function () {
    tries += 1;
    if (tries > 600) { return; }  // 30 minutes at most
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.status && body.status !== shown) { window.location.reload(); }
        else { window.setTimeout(poll, 3000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, 2000);
})();
