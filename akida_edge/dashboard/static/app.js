// akida-edge dashboard: plain JS, no build step, nothing fetched but this server's /events.
// Data arrives as Server-Sent Events: one `snapshot`, then `device`, `detection`, `telemetry`,
// `anomaly` and `broker` events. Text from MQTT is only ever set with textContent (never HTML).
"use strict";

const MAX_DETECTIONS = 200;
const MAX_POINTS = 360;
const PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#4db6ac", "#f06292"];

const model = { prefix: "", broker: null, devices: new Map(), detections: [], seen: new Set(),
                telemetry: new Map(), anomaly: new Map() };
const colours = new Map();

function colourOf(key) {
  if (!colours.has(key)) colours.set(key, PALETTE[colours.size % PALETTE.length]);
  return colours.get(key);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmtTime(ms) {
  if (typeof ms !== "number") return "–";
  const d = new Date(ms);
  const p = (n, w) => String(n).padStart(w, "0");
  return `${p(d.getHours(), 2)}:${p(d.getMinutes(), 2)}:${p(d.getSeconds(), 2)}.${p(d.getMilliseconds(), 3)}`;
}

function fmtNum(v, digits) {
  if (typeof v !== "number" || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return v.toFixed(digits === undefined ? (a >= 100 ? 0 : a >= 10 ? 1 : 2) : digits);
}

// ---- devices ---------------------------------------------------------------------------------------
function statusClass(s) {
  return s === "online" ? "online" : s === "offline" ? "offline" : s === "disabled" ? "disabled" : "unknown";
}

function renderDevice(dev) {
  const card = el("div", "device");
  card.dataset.node = dev.node;
  card.id = "device-" + dev.node;
  const head = el("div", "device-head");
  head.append(el("span", "node", dev.node), el("span", "pill " + statusClass(dev.status), dev.status));
  card.append(head);
  const info = dev.info || {};
  const meta = el("div", "meta");
  meta.append(el("span", null, "chip " + (info.chip || "–")), el("span", null, "v" + (info.version || "?")));
  card.append(meta);
  const tel = dev.telemetry;
  if (tel) {
    const figs = el("div", "figures");
    const fig = (name, value, unit) => {
      const f = el("div", "figure");
      f.dataset.figure = name;
      f.append(el("span", "value", value), el("span", "label", `${name} ${unit}`));
      figs.append(f);
    };
    fig("power", fmtNum(tel.chip_power_mw), "mW");
    fig("p95", fmtNum(tel.inference_ms_p95), "ms");
    fig("rate", fmtNum(tel.inferences_per_s), "inf/s");
    fig("outbox", fmtNum(tel.outbox_pending, 0), "msgs");
    // the box's own load, where the daemon measures it: CPU share of one core, private memory
    // (`rss_anon_mb`; `rss_mb` also counts library pages, as many as the page cache holds)
    if (typeof tel.process_cpu_pct === "number") fig("cpu", fmtNum(tel.process_cpu_pct), "%");
    if (typeof tel.rss_anon_mb === "number") fig("memory", fmtNum(tel.rss_anon_mb, 0), "MB");
    card.append(figs);
  }
  const list = el("ul", "pipelines");
  for (const p of dev.pipelines || []) {
    const li = el("li");
    li.dataset.pipeline = p.name;
    li.append(el("span", "pname", p.name), el("span", "ptype", p.type || ""),
              el("span", "pill small " + statusClass(p.status), p.status || "no status"));
    const st = p.state || {};
    const score = typeof st.anomaly_score === "number" ? st.anomaly_score : st.score;
    if (typeof score === "number") li.append(el("span", "pstate", "score " + fmtNum(score)));
    if (st.anomaly === "ON") li.append(el("span", "pill small offline", "ANOMALY"));
    if (typeof st.error === "string") li.append(el("span", "perror", st.error));
    list.append(li);
  }
  card.append(list);
  return card;
}

function renderDevices() {
  const box = document.getElementById("devices");
  box.replaceChildren();
  const nodes = [...model.devices.keys()].sort();
  for (const n of nodes) box.append(renderDevice(model.devices.get(n)));
  if (!nodes.length) box.append(el("p", "empty", "No device has published yet."));
  const online = nodes.filter((n) => model.devices.get(n).status === "online").length;
  document.getElementById("device-count").textContent = nodes.length ? `${online}/${nodes.length} online` : "";
}

// ---- detections ------------------------------------------------------------------------------------
function detectionRow(d) {
  const tr = el("tr");
  if (d.id) tr.dataset.id = d.id;
  tr.className = d.kind === "anomaly" ? "anomaly" : "";
  const score = d.kind === "anomaly" && typeof d.anomaly_score === "number" ? d.anomaly_score : d.score;
  const idCell = el("td", "id", d.id ? d.id.slice(-12) : "–");
  if (d.id) idCell.title = d.id;
  const flag = el("td");
  if (d.replayed) flag.append(el("span", "replayed", "replayed"));
  // gestures (and other windowed detections) carry when they started and ended
  const timed = typeof d.t_start_ms === "number" && typeof d.t_end_ms === "number";
  const span = el("td", "num span", timed ? fmtNum((d.t_end_ms - d.t_start_ms) / 1000, 2) + " s" : "–");
  if (timed) span.title = `${fmtTime(d.t_start_ms)} – ${fmtTime(d.t_end_ms)}`;
  tr.append(el("td", "time", fmtTime(d.ts)), el("td", null, d.node), el("td", null, d.pipeline),
            el("td", "label", d.label), el("td", "num", fmtNum(score, 3)), span, el("td", "num", d.seq ?? "–"),
            idCell, flag);
  return tr;
}

function addDetection(d, render) {
  if (d.id) {
    if (model.seen.has(d.id)) return;
    model.seen.add(d.id);
  }
  model.detections.unshift(d);
  while (model.detections.length > MAX_DETECTIONS) {
    const old = model.detections.pop();
    if (old.id) model.seen.delete(old.id);
  }
  if (!render) return;
  const body = document.getElementById("detections");
  const row = detectionRow(d);
  row.classList.add("fresh");
  body.prepend(row);
  while (body.rows.length > MAX_DETECTIONS) body.deleteRow(-1);
  updateDetectionCount();
}

function renderDetections() {
  const body = document.getElementById("detections");
  body.replaceChildren(...model.detections.map(detectionRow));
  updateDetectionCount();
}

function updateDetectionCount() {
  const n = model.detections.length;
  document.getElementById("detection-count").textContent = n ? `last ${n}` : "";
  document.getElementById("no-detections").hidden = n > 0;
}

// ---- broker / stream badges ------------------------------------------------------------------------
function renderBroker() {
  const b = model.broker;
  const badge = document.getElementById("broker");
  if (!b) return;
  badge.className = "badge " + (b.connected ? "online" : "offline");
  badge.textContent = b.connected ? "broker online" : "broker offline";
  badge.title = b.connected ? "MQTT broker connected" : (b.error || "MQTT broker not connected");
  document.getElementById("broker-error").textContent = b.connected ? "" : (b.error || "");
  document.getElementById("prefix").textContent = model.prefix ? `topics ${model.prefix}/#` : "";
}

function setStream(ok) {
  const s = document.getElementById("stream");
  s.className = "badge " + (ok ? "online" : "offline");
  s.textContent = ok ? "live" : "page offline";
}

// ---- charts ----------------------------------------------------------------------------------------
function niceStep(range, ticks) {
  const raw = range / Math.max(1, ticks);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / mag;
  return (n >= 5 ? 10 : n >= 2 ? 5 : n >= 1 ? 2 : 1) * mag;
}

// series: [{name, colour, dash, points: [[t_ms, v], ...]}]
function drawChart(canvas, series, emptyText) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  const pts = series.flatMap((s) => s.points.filter((p) => typeof p[1] === "number"));
  if (!pts.length) {
    g.fillStyle = "#7d8799";
    g.textAlign = "center";
    g.fillText(emptyText, w / 2, h / 2);
    return;
  }
  let t1 = Math.max(...pts.map((p) => p[0]));
  let t0 = Math.min(...pts.map((p) => p[0]));
  if (t1 - t0 < 60000) t0 = t1 - 60000;
  let v0 = Math.min(0, ...pts.map((p) => p[1]));
  let v1 = Math.max(...pts.map((p) => p[1]));
  if (v1 - v0 < 1e-9) v1 = v0 + 1;
  const step = niceStep(v1 - v0, 4);
  v1 = Math.ceil(v1 / step) * step;
  v0 = Math.floor(v0 / step) * step;
  const L = 46, R = 8, T = 8, B = 34;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (w - L - R);
  const y = (v) => h - B - ((v - v0) / (v1 - v0)) * (h - T - B);
  g.strokeStyle = "#2a3140";
  g.fillStyle = "#9aa4b5";
  g.lineWidth = 1;
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let v = v0; v <= v1 + step / 2; v += step) {
    g.beginPath(); g.moveTo(L, y(v)); g.lineTo(w - R, y(v)); g.stroke();
    g.fillText(fmtNum(v), L - 5, y(v));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  const tStep = niceStep((t1 - t0) / 1000, 4) * 1000;
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
    g.fillText(fmtTime(t).slice(0, 8), x(t), h - B + 4);
  }
  let lx = L;
  for (const s of series) {
    const p = s.points.filter((q) => typeof q[1] === "number");
    g.strokeStyle = s.colour;
    g.setLineDash(s.dash ? [5, 4] : []);
    g.lineWidth = 1.6;
    g.beginPath();
    p.forEach((q, i) => (i ? g.lineTo(x(q[0]), y(q[1])) : g.moveTo(x(q[0]), y(q[1]))));
    g.stroke();
    if (p.length === 1) { g.fillStyle = s.colour; g.fillRect(x(p[0][0]) - 2, y(p[0][1]) - 2, 4, 4); }
    g.setLineDash([]);
    g.fillStyle = s.colour;
    g.textAlign = "left";
    g.fillRect(lx, h - 12, 10, 3);
    g.fillStyle = "#c9d1dd";
    g.fillText(s.name, lx + 14, h - 17);
    lx += 24 + g.measureText(s.name).width;
  }
}

function telemetrySeries(keys) {
  const out = [];
  for (const [node, pts] of [...model.telemetry.entries()].sort()) {
    for (const [key, suffix, dash] of keys) {
      const points = pts.map((p) => [p.ts, p[key]]);
      if (points.some((q) => typeof q[1] === "number")) {
        out.push({ name: node + suffix, colour: colourOf(node), dash, points });
      }
    }
  }
  return out;
}

function anomalySeries() {
  const out = [];
  for (const [key, pts] of [...model.anomaly.entries()].sort()) {
    out.push({ name: key, colour: colourOf(key), points: pts.map((p) => [p.ts, p.score]) });
    if (pts.some((p) => typeof p.threshold === "number")) {
      out.push({ name: key + " threshold", colour: colourOf(key), dash: true,
                 points: pts.map((p) => [p.ts, p.threshold]) });
    }
  }
  return out;
}

let chartsPending = false;
function scheduleCharts() {
  if (chartsPending) return;
  chartsPending = true;
  requestAnimationFrame(() => {
    chartsPending = false;
    drawChart(document.getElementById("chart-power"),
              telemetrySeries([["chip_power_mw", "", false]]), "waiting for telemetry");
    drawChart(document.getElementById("chart-latency"),
              telemetrySeries([["inference_ms_p50", " p50", false], ["inference_ms_p95", " p95", true]]),
              "waiting for telemetry");
    drawChart(document.getElementById("chart-anomaly"), anomalySeries(), "no anomaly score yet");
  });
}

function pushPoint(map, key, point) {
  if (!map.has(key)) map.set(key, []);
  const s = map.get(key);
  if (s.length && s[s.length - 1].ts === point.ts) s[s.length - 1] = point;
  else s.push(point);
  if (s.length > MAX_POINTS) s.splice(0, s.length - MAX_POINTS);
}

// ---- the event stream ------------------------------------------------------------------------------
function applySnapshot(snap) {
  model.prefix = snap.prefix;
  model.broker = snap.broker;
  model.devices = new Map(snap.devices.map((d) => [d.node, d]));
  model.detections = [];
  model.seen = new Set();
  for (const d of [...snap.detections].reverse()) addDetection(d, false);
  model.telemetry = new Map(Object.entries(snap.telemetry_history));
  model.anomaly = new Map(Object.entries(snap.anomaly_history));
  renderBroker();
  renderDevices();
  renderDetections();
  scheduleCharts();
}

const handlers = {
  snapshot: applySnapshot,
  broker: (e) => { model.broker = e.broker; renderBroker(); },
  device: (e) => { model.devices.set(e.device.node, e.device); renderDevices(); },
  detection: (e) => addDetection(e.detection, true),
  telemetry: (e) => {
    const dev = model.devices.get(e.node);
    if (dev) { dev.telemetry = e.telemetry; renderDevices(); }
    pushPoint(model.telemetry, e.node, e.point);
    scheduleCharts();
  },
  anomaly: (e) => { pushPoint(model.anomaly, e.key, e.point); scheduleCharts(); },
};

function connect() {
  const source = new EventSource("events");
  source.onopen = () => setStream(true);
  source.onerror = () => setStream(false);  // EventSource reconnects by itself (retry: 2000)
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (msg) => {
      try { fn(JSON.parse(msg.data)); } catch (err) { console.error("dashboard event", name, err); }
    });
  }
}

window.addEventListener("resize", scheduleCharts);
setInterval(scheduleCharts, 5000);
connect();
