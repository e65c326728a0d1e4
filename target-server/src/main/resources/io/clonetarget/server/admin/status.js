// The status page: reads the admin API with the token the user gave (kept in this tab only),
// refreshes every 2 s and plots each clone's hydration rate over the last 5 minutes.
"use strict";
const HISTORY_MS = 5 * 60 * 1000;
const COLORS = ["#3a7bd5", "#d5543a", "#3aa655", "#9b3ad5", "#d5a53a", "#3ab5d5"];
const rates = new Map(); // clone name -> [[time, bytes per second], ...]
let token = null;

function human(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function eta(s) {
  if (s < 0) return "-";
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  return h + ":" + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function fill(id, rows, render) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(tr, "none");
    td.colSpan = 9;
    td.className = "hint";
    body.appendChild(tr);
  }
  for (const r of rows) {
    const tr = document.createElement("tr");
    render(tr, r);
    body.appendChild(tr);
  }
}

async function api(path) {
  const r = await fetch(path, { headers: { "Authorization": "Bearer " + token }, cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error((body.error && body.error.message) || ("HTTP " + r.status));
  return body;
}

function plot() {
  const canvas = document.getElementById("plot");
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 70, bottom = 20;
  g.clearRect(0, 0, w, h);
  const now = Date.now();
  let max = 1;
  for (const points of rates.values()) for (const [, v] of points) max = Math.max(max, v);
  g.strokeStyle = "#ccc";
  g.fillStyle = "#777";
  g.font = "11px sans-serif";
  for (let i = 0; i <= 4; i++) {
    const y = (h - bottom) * (1 - i / 4);
    g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    g.fillText(human(max * i / 4) + "/s", 2, Math.max(10, y - 2));
  }
  g.fillText("-5 min", left, h - 4);
  g.fillText("now", w - 24, h - 4);
  const legend = [];
  let k = 0;
  for (const [name, points] of rates) {
    const color = COLORS[k++ % COLORS.length];
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach(([t, v], i) => {
      const x = left + (w - left) * (1 - (now - t) / HISTORY_MS);
      const y = (h - bottom) * (1 - v / max);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    legend.push(name);
  }
  document.getElementById("legend").textContent = legend.length ? "Lines: " + legend.join(", ") : "No clones.";
}

async function refresh() {
  try {
    const [status, clones, targets, sessions, volumes] = await Promise.all([
      api("/v1/status"), api("/v1/clones"), api("/v1/targets"), api("/v1/sessions"), api("/v1/volumes")]);
    document.getElementById("error").hidden = true;
    document.getElementById("login").hidden = true;
    document.getElementById("main").hidden = false;
    document.getElementById("server").textContent = "pid " + status.pid + " on " + status.listen.join(", ");
    const now = Date.now();
    fill("clones", clones, (tr, c) => {
      cell(tr, c.name);
      cell(tr, human(c.size));
      const frac = c.regions === 0 ? 1 : c.hydrated_regions / c.regions;
      const td = cell(tr, "");
      const bar = document.createElement("span");
      bar.className = "bar" + (c.complete ? " done" : "");
      const inner = document.createElement("span");
      inner.style.width = (100 * frac).toFixed(1) + "%";
      bar.appendChild(inner);
      td.appendChild(bar);
      td.appendChild(document.createTextNode((100 * frac).toFixed(1) + "%"));
      td.className = "hydrated";
      cell(tr, c.complete ? "-" : human(c.rate_bytes_per_second) + "/s");
      cell(tr, c.complete ? "done" : eta(c.eta_seconds));
      cell(tr, String(c.errors));
      cell(tr, c.state);
      const points = rates.get(c.name) || [];
      points.push([now, c.rate_bytes_per_second]);
      while (points.length && now - points[0][0] > HISTORY_MS) points.shift();
      rates.set(c.name, points);
    });
    fill("targets", targets, (tr, t) => {
      cell(tr, t.iqn);
      cell(tr, t.luns.map(l => l.lun + "=" + l.volume).join(" ") || "-");
      cell(tr, t.allowed_initiators.length ? t.allowed_initiators.join(", ") : "any");
      cell(tr, t.chap_user || "-");
      cell(tr, String(t.sessions));
    });
    fill("sessions", sessions, (tr, s) => {
      cell(tr, String(s.tsih)); cell(tr, s.initiator); cell(tr, s.target || "(discovery)");
      cell(tr, s.remote || "-"); cell(tr, s.created); cell(tr, String(s.active_tasks));
    });
    fill("volumes", volumes, (tr, v) => {
      cell(tr, v.name); cell(tr, v.type + (v.read_only ? " (ro)" : "")); cell(tr, human(v.size)); cell(tr, v.path);
    });
    plot();
    document.getElementById("updated").textContent = "Updated " + new Date(now).toLocaleTimeString() + "; every 2 s.";
  } catch (e) {
    const err = document.getElementById("error");
    err.textContent = "Cannot read the admin API: " + e.message;
    err.hidden = false;
    if (/token/i.test(e.message)) {
      token = null;
      sessionStorage.removeItem("clonetarget-token");
      document.getElementById("login").hidden = false;
      return;
    }
  }
  setTimeout(refresh, 2000);
}

function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("clonetarget-token", fromHash);
    history.replaceState(null, "", location.pathname); // the token leaves the address bar
  }
  token = sessionStorage.getItem("clonetarget-token");
  document.getElementById("login").addEventListener("submit", e => {
    e.preventDefault();
    token = document.getElementById("token").value.trim();
    sessionStorage.setItem("clonetarget-token", token);
    refresh();
  });
  if (token) refresh(); else document.getElementById("login").hidden = false;
}

start();
