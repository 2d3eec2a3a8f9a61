/* TOU plan builder: edits seasons → periods → windows and writes the plan's JSON form into the
   form's textarea (the server validates it with the tariff engine). Without JavaScript the
   textarea alone still works. Our own code, no library. */
(function () {
  "use strict";
  var textarea = document.getElementById("id_definition");
  var card = document.getElementById("builder");
  var root = document.getElementById("builder-root");
  if (!textarea || !card || !root) { return; }

  var state;
  try { state = JSON.parse(textarea.value); } catch (e) { return; }  // bad JSON: textarea only
  if (!state || typeof state !== "object" || !Array.isArray(state.seasons)) { return; }

  var DAY_OPTIONS = [
    ["mon-sun", "Every day"], ["mon-fri", "Weekdays"], ["sat-sun", "Weekends"],
    ["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"],
    ["sat", "Sat"], ["sun", "Sun"]
  ];
  var DAY_ALIASES = { all: "mon-sun", weekdays: "mon-fri", weekends: "sat-sun" };

  function cents(dollars) {
    var value = Math.round(parseFloat(dollars) * 100 * 10000) / 10000;
    return isFinite(value) ? String(value) : "";
  }

  // Normalise what the server stores ($/kWh, 24:00) into what the inputs show (c/kWh, 00:00).
  if (state.daily_supply_dollars !== undefined && state.daily_supply_c === undefined) {
    state.daily_supply_c = cents(state.daily_supply_dollars);
    delete state.daily_supply_dollars;
  }
  state.seasons.forEach(function (season) {
    (season.periods || []).forEach(function (period) {
      ["buy", "sell"].forEach(function (side) {
        var d = side + "_dollars_per_kwh", c = side + "_c_per_kwh";
        if (period[d] !== undefined && period[c] === undefined) { period[c] = cents(period[d]); }
        delete period[d];
      });
      (period.windows || []).forEach(function (w) {
        w.days = DAY_ALIASES[w.days] || w.days;
        if (w.to === "24:00") { w.to = "00:00"; }
      });
    });
  });

  function sync() { textarea.value = JSON.stringify(state, null, 2); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  var counter = 0;
  function input(label, obj, key, type, extra) {
    var id = "b" + (++counter);
    var field = el("input", Object.assign({ id: id, type: type || "text" }, extra || {}));
    field.value = obj[key] === undefined ? "" : obj[key];
    field.addEventListener("input", function () { obj[key] = field.value; sync(); });
    return el("div", { "class": "field" }, [el("label", { "for": id, text: label }), field]);
  }

  function select(label, obj, key, options) {
    var id = "b" + (++counter);
    var field = el("select", { id: id });
    var known = options.some(function (o) { return o[0] === obj[key]; });
    (known ? options : options.concat([[obj[key], obj[key]]])).forEach(function (o) {
      var option = el("option", { value: o[0], text: o[1] });
      if (o[0] === obj[key]) { option.selected = true; }
      field.appendChild(option);
    });
    field.addEventListener("change", function () { obj[key] = field.value; sync(); });
    return el("div", { "class": "field" }, [el("label", { "for": id, text: label }), field]);
  }

  function button(text, cls, onClick) {
    var b = el("button", { type: "button", "class": "btn small " + cls, text: text });
    b.addEventListener("click", function () { onClick(); sync(); render(); });
    return b;
  }

  function windowRow(period, w, index) {
    return el("div", { "class": "builder-window" }, [
      select("Days", w, "days", DAY_OPTIONS),
      input("From", w, "from", "time"),
      input("To", w, "to", "time"),
      button("✕", "secondary", function () { period.windows.splice(index, 1); })
    ]);
  }

  function periodBox(season, period, index) {
    period.windows = period.windows || [];
    var box = el("div", { "class": "builder-period" }, [
      el("div", { "class": "row row-3" }, [
        input("Period name", period, "name", "text", { placeholder: "PEAK" }),
        input("Buy c/kWh", period, "buy_c_per_kwh", "number", { step: "0.01", min: "0" }),
        input("Sell c/kWh", period, "sell_c_per_kwh", "number", { step: "0.01", min: "0" })
      ])
    ]);
    period.windows.forEach(function (w, i) { box.appendChild(windowRow(period, w, i)); });
    box.appendChild(el("div", { "class": "actions" }, [
      button("+ Time window", "secondary", function () {
        period.windows.push({ days: "mon-fri", from: "07:00", to: "22:00" });
      }),
      button("Remove period", "danger", function () { season.periods.splice(index, 1); })
    ]));
    return box;
  }

  function seasonBox(season, index) {
    season.periods = season.periods || [];
    var box = el("div", { "class": "builder-season" }, [
      el("div", { "class": "row row-3" }, [
        input("Season name", season, "name"),
        input("From (MM-DD)", season, "from", "text", { placeholder: "01-01", inputmode: "numeric" }),
        input("To (MM-DD)", season, "to", "text", { placeholder: "12-31", inputmode: "numeric" })
      ])
    ]);
    season.periods.forEach(function (p, i) { box.appendChild(periodBox(season, p, i)); });
    box.appendChild(el("div", { "class": "actions" }, [
      button("+ Period", "secondary", function () {
        season.periods.push({ name: "", buy_c_per_kwh: "", sell_c_per_kwh: "0", windows: [] });
      }),
      state.seasons.length > 1
        ? button("Remove season", "danger", function () { state.seasons.splice(index, 1); })
        : null
    ]));
    return box;
  }

  function render() {
    root.innerHTML = "";
    root.appendChild(el("div", { "class": "row row-3" }, [
      input("Plan name", state, "name"),
      input("Retailer", state, "utility"),
      input("Daily supply c/day", state, "daily_supply_c", "number", { step: "0.01", min: "0" })
    ]));
    state.seasons.forEach(function (s, i) { root.appendChild(seasonBox(s, i)); });
    root.appendChild(button("+ Season", "secondary", function () {
      state.seasons.push({ name: "Season " + (state.seasons.length + 1), from: "", to: "", periods: [] });
    }));
  }

  render();
  sync();
  card.hidden = false;
})();
