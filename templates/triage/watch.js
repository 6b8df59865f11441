(function () {
  "use strict";
  var box = document.getElementById("urgent-watch");
  if (!box) { return; }
  var ids = (box.getAttribute("data-ids") || "").split(" ").filter(Boolean);
  var store = window.sessionStorage;
  var base = document.title;
  function read(key, fallback) {
    try { var v = JSON.parse(store.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function write(key, value) { try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  var seen = read("tipline.urgent.seen", null);
  var fresh = seen === null ? [] : ids.filter(function (id) { return seen.indexOf(id) < 0; });
  var unseen = read("tipline.urgent.unseen", []).filter(function (id) { return ids.indexOf(id) >= 0; });
  fresh.forEach(function (id) { if (unseen.indexOf(id) < 0) { unseen.push(id); } });
  write("tipline.urgent.seen", ids);
  write("tipline.urgent.unseen", unseen);
  function mark(state) { document.documentElement.setAttribute("data-chime", state); }
  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { mark("unsupported"); return; }
    try {
      var ctx = new Context();
      var start = ctx.currentTime + 0.05;
      [880, 660, 880].forEach(function (hz, i) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        var t = start + i * 0.22;
        osc.type = "sine";
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.2);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(t);
        osc.stop(t + 0.21);
      });
      mark(ctx.state);
      if (ctx.state !== "running") {
        document.addEventListener("click", function () { ctx.resume(); }, { once: true });
      }
    } catch (e) { mark("blocked"); }
  }
  function show() {
    if (!unseen.length) { box.hidden = true; document.title = base; return; }
    var words = unseen.length === 1 ? "New urgent tip: #" + unseen[0] : unseen.length + " new urgent tips: #" + unseen.join(", #");
    box.querySelector("[data-what]").textContent = words;
    box.hidden = false;
    document.title = "(" + unseen.length + " new urgent) " + base;
  }
  function acknowledgeSeen() {
    unseen = [];
    write("tipline.urgent.unseen", unseen);
    show();
  }
  show();
  if (fresh.length) { chime(); }
  box.querySelector("button").addEventListener("click", acknowledgeSeen);
}());
