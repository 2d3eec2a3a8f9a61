/* Refresh the dashboard's live figures every 30 s while the page is visible. Our own code;
   it only fills [data-live] elements with numbers from the site's JSON endpoint. */
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-url");
  if (!url) { return; }
  var PERIOD_MS = 30000;
  var timer = null;

  function set(name, text) {
    var nodes = document.querySelectorAll('[data-live="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = text; }
  }
  function fixed(value, digits) {
    return (value === null || value === undefined) ? "–" : Number(value).toFixed(digits);
  }
  function badge(name, on, onText, offText, onClass) {
    var nodes = document.querySelectorAll('[data-live="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].classList.contains("badge") && nodes[i].textContent.trim() !== "Off") {
        nodes[i].className = "badge " + (on ? onClass : "ok");
        nodes[i].textContent = on ? onText : offText;
      }
    }
  }

  function apply(data) {
    var live = data.live || {};
    if (live.available) {
      set("solar_kw", fixed(live.solar_kw, 2));
      set("home_kw", fixed(live.home_kw, 2));
      set("battery_kw", fixed(live.battery_kw, 2));
      set("grid_kw", fixed(live.grid_kw, 2));
      set("battery_direction", live.battery_direction);
      set("grid_direction", live.grid_direction);
      set("battery_percent", fixed(live.battery_percent, 0));
      set("sampled", "at " + live.sampled_at_local);
      var meter = document.querySelector('[data-live="battery_meter"]');
      if (meter) { meter.style.width = Math.max(0, Math.min(100, live.battery_percent)) + "%"; }
      var note = document.querySelector('[data-live="stale-note"]');
      if (note) { note.classList.toggle("hidden", !live.stale); }
    }
    var price = data.price || {};
    if (price.available) {
      set("buy", fixed(price.buy_c_per_kwh, 1));
      set("sell", fixed(price.export_earn_c_per_kwh, 1));
      set("rrp", fixed(price.rrp_dollars_per_mwh, 0));
      var spike = document.querySelector('[data-live="spike-badge"]');
      if (spike) {
        spike.className = "badge " + (price.is_spike ? "bad" : "ok");
        spike.textContent = price.is_spike
          ? (price.spike_status === "potential" ? "Potential spike" : "Spike")
          : "No spike";
      }
    }
    var auto = data.automation || {};
    if (auto.headline) { set("control-headline", auto.headline); }
    badge("spike_active", auto.spike_active, "Spike active", "Watching", "bad");
    badge("curtailment_active", auto.curtailment_active, "Curtailed", "Exporting allowed", "warn");
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* offline for a moment: try again next time */ });
  }

  function start() {
    if (timer === null) { timer = window.setInterval(refresh, PERIOD_MS); }
  }
  function stop() {
    if (timer !== null) { window.clearInterval(timer); timer = null; }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); } else { refresh(); start(); }
  });
  start();
})();
