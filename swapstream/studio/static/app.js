// swapstream studio page: polls /api/state, sends control messages, shows the MJPEG previews.
// Every request carries the token from this page's own URL; nothing is loaded from elsewhere.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const withToken = (path) => `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;
const $ = (id) => document.getElementById(id);
const COLORS = ["#6ab0ff", "#ffb86b", "#7ee787", "#ff7b72", "#d2a8ff", "#f2cc60", "#56d4dd", "#aaaaaa"];
const LABELS = {
  target_delay_ms: "target delay (ms)",
  output_size: "output size",
  vcam: "virtual camera",
  governor: "quality governor",
  target_fps: "target fps (0 = source)",
  keep_mouth: "keep mouth",
};
const inputs = {}; // control key -> its input element
const history = []; // [{stage: ms}] for the chart
let lastEvent = 0;
let built = false;

function showMessage(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = kind || "";
}

async function sendControl(key, value) {
  try {
    const r = await fetch(withToken("api/control"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key, value }),
    });
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) {
      showMessage(`refused: ${body.error || r.status}`, "error");
    } else {
      showMessage(`${key} = ${JSON.stringify(value)}`, "ok");
      setValues(body.settings, true);
    }
  } catch (e) {
    showMessage(`cannot reach the studio: ${e}`, "error");
  }
}

function row(spec, input) {
  const label = document.createElement("label");
  label.className = "row";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = LABELS[spec.key] || spec.key;
  name.title = spec.help;
  label.append(name, input);
  return label;
}

function makeInput(spec, state) {
  let input;
  if (spec.kind === "bool") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.addEventListener("change", () => sendControl(spec.key, input.checked));
  } else if (spec.kind === "choice" || spec.kind === "model" || spec.kind === "source") {
    input = document.createElement("select");
    const names = { model: state.models, source: state.sources }[spec.kind] || spec.choices;
    const current = state.settings[spec.key];
    for (const c of names.includes(current) || !current ? names : [current, ...names]) input.add(new Option(c, c));
    input.addEventListener("change", () => sendControl(spec.key, input.value));
  } else {
    input = document.createElement("input");
    input.type = "number";
    input.step = String(spec.step || "any");
    input.min = String(spec.lo);
    input.addEventListener("change", () => {
      const v = input.value.trim() === "" ? input.value : Number(input.value);
      sendControl(spec.key, v);
    });
  }
  input.id = `control-${spec.key}`;
  input.name = spec.key;
  inputs[spec.key] = input;
  return input;
}

function buildControls(state) {
  const form = $("controls");
  form.addEventListener("submit", (e) => e.preventDefault());
  for (const spec of state.controls) {
    if (spec.kind === "model" && state.models.length === 0) continue;
    form.append(row(spec, makeInput(spec, state)));
  }
  built = true;
}

function setValues(settings, force) {
  for (const [key, input] of Object.entries(inputs)) {
    if (!force && document.activeElement === input) continue; // do not fight the user's typing
    const v = settings[key];
    if (input.type === "checkbox") input.checked = Boolean(v);
    else input.value = String(v);
  }
}

const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

function showNumbers(s) {
  const m = s.metrics;
  $("fps").textContent = fmt(m.fps);
  $("lat-p50").textContent = fmt(m.latency_ms.p50);
  $("lat-p95").textContent = fmt(m.latency_ms.p95);
  $("lat-p99").textContent = fmt(m.latency_ms.p99);
  $("frames").textContent = m.frames;
  $("drops").textContent = m.dropped;
  $("provider").textContent = m.provider;
  const p = s.pacing || {};
  $("delay-p50").textContent = fmt(p.p50_ms);
  $("delay-p99").textContent = fmt(p.p99_ms);
  $("delay-jitter").textContent = fmt(p.jitter_ms, 2);
  $("delay-late").textContent = p.late ?? "–";
  const r = s.recording;
  $("recording").textContent = !r ? "–" : r.active ? `● ${r.path}` : r.error || (r.saved.length ? `saved ${r.saved.at(-1)}` : "off");
  const pv = s.preview;
  $("preview").textContent = pv.encode_ms === null ? "–" : `${fmt(pv.encode_ms)} ms per frame, ${pv.encoded} sent`;
  if (s.source) {
    $("source").textContent = `${s.source.name.split("/").pop()} ${s.source.width}×${s.source.height} @ ${fmt(s.source.fps, 0)} fps`;
    $("source").title = s.source.name;
  }
  const size = r && r.size;
  $("output").textContent = size ? `${size[0]}×${size[1]}` : "–";
  $("vcam").textContent = !r ? "–" : r.vcam.on ? `on${r.vcam.size ? ` (${r.vcam.size[0]}×${r.vcam.size[1]})` : ""}` : "off";
  showGovernor(s.governor);
  showRtc(s.rtc);
  $("status").textContent = s.running ? "running" : "stopped";
}

function showGovernor(g) {
  const box = $("governor");
  if (!g) {
    box.textContent = "–";
    return;
  }
  const head = document.createElement("div");
  head.textContent = `${g.status}` + (g.target_fps ? ` (target ${fmt(g.target_fps, 0)} fps, budget ${fmt(g.budget_ms, 0)} ms, now ${fmt(g.cycle_ms, 0)} ms per frame)` : "");
  const items = g.lowered.map((e) => {
    const li = document.createElement("li");
    const saved = e.saved_ms === null ? "" : `, saved ${fmt(e.saved_ms, 0)} ms`;
    li.textContent = `${e.key}: ${e.from} → ${e.to} (${fmt(e.age_s, 0)} s ago${saved}) because ${e.why}`;
    return li;
  });
  const list = document.createElement("ul");
  list.append(...items);
  box.replaceChildren(head, list);
}

function showEvents(events) {
  const list = $("events");
  for (const e of events) {
    lastEvent = Math.max(lastEvent, e.id);
    const li = document.createElement("li");
    li.className = e.level;
    li.textContent = `${new Date(e.t * 1000).toLocaleTimeString()} ${e.text}`;
    list.prepend(li);
    if (e.level === "error") showMessage(e.text, "error");
  }
  while (list.children.length > 50) list.lastChild.remove();
}

function drawChart(stageMs) {
  history.push(stageMs);
  if (history.length > 120) history.shift();
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const names = Object.keys(stageMs);
  const totals = history.map((h) => names.reduce((a, n) => a + (h[n] || 0), 0));
  const top = Math.max(10, ...totals) * 1.1;
  const w = canvas.width, h = canvas.height, step = w / 120;
  ctx.clearRect(0, 0, w, h);
  history.forEach((sample, i) => {
    let y = h;
    names.forEach((n, k) => {
      const bar = ((sample[n] || 0) / top) * h;
      ctx.fillStyle = COLORS[k % COLORS.length];
      ctx.fillRect(i * step, y - bar, Math.max(1, step - 1), bar);
      y -= bar;
    });
  });
  ctx.fillStyle = "#9aa0a6";
  ctx.fillText(`${top.toFixed(0)} ms`, 4, 12);
  $("legend").replaceChildren(
    ...names.map((n, k) => {
      const span = document.createElement("span");
      const dot = document.createElement("i");
      dot.style.background = COLORS[k % COLORS.length];
      span.append(dot, `${n} ${fmt(stageMs[n])}`);
      return span;
    }),
  );
}

async function poll() {
  try {
    const r = await fetch(withToken(`api/state?after=${lastEvent}`));
    if (r.ok) {
      const s = await r.json();
      if (!built) buildControls(s);
      setValues(s.settings, false);
      showNumbers(s);
      showEvents(s.events);
      drawChart(s.metrics.stage_ms);
    } else {
      showMessage(`state: HTTP ${r.status}`, "error");
    }
  } catch (e) {
    $("status").textContent = "disconnected";
  }
  setTimeout(poll, 500);
}

function showOriginal(on) {
  $("original-box").hidden = !on;
  // No viewer, no encoding: the original stream is only opened while it is shown.
  $("view-original").src = on ? withToken("stream/original") : "";
}

// -- WebRTC: the swapped stream as a video track, and this browser's camera as the source -----
// phase: how far the last call got ("camera", then StudioRtc.connect's), for a message and the tests
const rtc = { pc: null, meter: null, figures: null, camera: null, phase: null };

async function startRtc(sendCamera) {
  stopRtc();
  try {
    if (sendCamera) {
      rtc.phase = "camera";
      const video = { width: 1280, height: 720 };
      // with the microphone where there is one (it comes back delayed like the video)
      rtc.camera = await navigator.mediaDevices
        .getUserMedia({ video, audio: true })
        .catch(() => navigator.mediaDevices.getUserMedia({ video, audio: false }));
      $("view-camera").srcObject = rtc.camera;
      $("camera-box").hidden = false;
    }
    rtc.pc = await StudioRtc.connect({
      role: sendCamera ? "sender" : "viewer",
      camera: rtc.camera,
      takeOver: $("rtc-take-over").checked,
      video: $("view-rtc"),
      phase: (name) => (rtc.phase = name),
    });
    rtc.meter = StudioRtc.meter(rtc.pc);
    $("rtc-box").hidden = false;
    $("view-swapped").parentElement.hidden = true;
    $("view-swapped").src = ""; // no MJPEG viewer: nothing is JPEG-encoded for this page
    $("rtc-preview").checked = true;
    showMessage(sendCamera ? "sending this browser's camera" : "preview over WebRTC", "ok");
  } catch (e) {
    stopRtc();
    showMessage(`WebRTC refused: ${e.message || e}`, "error");
  }
}

function stopRtc() {
  if (rtc.pc) rtc.pc.close();
  if (rtc.camera) rtc.camera.getTracks().forEach((t) => t.stop());
  Object.assign(rtc, { pc: null, meter: null, figures: null, camera: null });
  $("rtc-box").hidden = true;
  $("camera-box").hidden = true;
  $("rtc-preview").checked = false;
  $("view-swapped").parentElement.hidden = false;
  $("view-swapped").src = withToken("stream/swapped");
}

async function measureRtc() {
  if (rtc.meter) rtc.figures = await rtc.meter().catch(() => null);
  setTimeout(measureRtc, 1000);
}

// Round trip = the browser's share (WebRTC stats) + the studio's per-frame share (decoded ->
// swapped -> handed to the encoder) at each percentile.
function showRtc(r) {
  $("rtc").hidden = !r || !r.available;
  const f = rtc.figures;
  const server = r && r.server_ms;
  for (const p of ["p50", "p95", "p99"]) {
    const v = f && server && server[p] !== null ? f.browser_ms + server[p] + (r.encode_ms || 0) : null;
    $(`rtt-${p}`).textContent = fmt(v);
  }
  $("rtc-fps").textContent = f ? fmt(f.fps) : "–";
  $("rtc-drops").textContent = f ? f.dropped : "–";
}

window.addEventListener("DOMContentLoaded", () => {
  $("view-swapped").src = withToken("stream/swapped");
  $("show-original").addEventListener("change", (e) => showOriginal(e.target.checked));
  $("rtc-preview").addEventListener("change", (e) => (e.target.checked ? startRtc(false) : stopRtc()));
  $("rtc-camera").addEventListener("click", () => startRtc(true));
  poll();
  measureRtc();
});
