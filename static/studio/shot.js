// The shot page: frame-accurate scrubbing and playback over the proxies, keyframe marks,
// add/remove keyframes, suggested keyframes, and a before/after wipe where a preview exists.

import { api } from "./http.js";

const data = JSON.parse(document.getElementById("shot-data").textContent);
const $ = (id) => document.getElementById(id);
const canvas = $("viewer-canvas");
const ctx = canvas.getContext("2d");
const cache = new Map();          // frame -> HTMLImageElement (proxies)
const previews = new Map();       // keyframe id -> HTMLImageElement (colorized preview)
let current = 0, playing = false, wipe = 0.5, suggestions = [], plan = null;

function frameImage(index) {
  let image = cache.get(index);
  if (!image) {
    image = new Image();
    image.src = data.frameUrl.replace("{frame}", index);
    image.onload = () => { if (index === current) draw(); };
    cache.set(index, image);
    if (cache.size > 400) cache.delete(cache.keys().next().value);
  }
  return image;
}

const keyframeAt = (index) => data.keyframes.find((k) => k.frame === index);
const rendered = new Map();       // frame -> HTMLImageElement (the newest finished render)

function renderedFrame(index) {
  if (!data.renderUrl) return null;
  let image = rendered.get(index);
  if (!image) {
    image = new Image();
    image.src = data.renderUrl.replace("{frame}", index);
    image.onload = () => { if (index === current) draw(); };
    rendered.set(index, image);
    if (rendered.size > 200) rendered.delete(rendered.keys().next().value);
  }
  return image.complete && image.naturalWidth ? image : null;
}

function previewFor(keyframe) {
  if (!keyframe?.has_preview) return null;
  let image = previews.get(keyframe.id);
  if (!image) {
    image = new Image();
    image.src = data.previewUrl.replace("{id}", keyframe.id) + `?r=${keyframe.revision}`;
    image.onload = draw;
    image.onerror = () => { keyframe.has_preview = false; };
    previews.set(keyframe.id, image);
  }
  return image.complete && image.naturalWidth ? image : null;
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const image = frameImage(current);
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, w, h);
  // Letterboxed: the frame keeps its aspect ratio whatever the viewer's size.
  const scale = Math.min(w / data.width, h / data.height);
  const [fw, fh] = [data.width * scale, data.height * scale];
  const [fx, fy] = [(w - fw) / 2, (h - fh) / 2];
  if (image.complete && image.naturalWidth) ctx.drawImage(image, fx, fy, fw, fh);
  // After: the finished render where there is one, else the keyframe's live preview.
  const renderImage = renderedFrame(current);
  const preview = renderImage || previewFor(keyframeAt(current));
  if (preview) {
    const x = fx + fw * wipe;
    ctx.save(); ctx.beginPath(); ctx.rect(x, fy, fx + fw - x, fh); ctx.clip(); ctx.drawImage(preview, fx, fy, fw, fh); ctx.restore();
    ctx.fillStyle = "#fff"; ctx.fillRect(x - 1, fy, 2, fh);
    tag("before", fx + 8, fy + 8); tag(renderImage ? "after · render" : "after · keyframe preview", fx + fw - (renderImage ? 110 : 170), fy + 8);
  }
  $("viewer").dataset.wipe = preview ? "on" : "off";
  // Preload the next frames so playback and stepping stay frame-accurate without stalls.
  for (let i = 1; i <= 12 && current + i < data.frameCount; i++) { frameImage(current + i); renderedFrame(current + i); }
}

function tag(text, x, y) {
  ctx.font = "12px system-ui"; ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(x, y, ctx.measureText(text).width + 12, 20);
  ctx.fillStyle = "#eee"; ctx.fillText(text, x + 6, y + 14);
}

function seek(index) {
  current = Math.max(0, Math.min(data.frameCount - 1, Math.round(index)));
  $("readout").textContent = `frame ${current} · ${data.timecodes[current]}`;
  $("playhead").style.left = `${(current + 0.5) / data.frameCount * 100}%`;
  const keyframe = keyframeAt(current);
  $("open-keyframe").hidden = !keyframe;
  if (keyframe) $("open-keyframe").href = keyframe.url;
  if ($("add-keyframe")) { $("add-keyframe").disabled = Boolean(keyframe); $("remove-keyframe").disabled = !keyframe; }
  document.querySelectorAll("#keyframe-list li").forEach((li) => li.classList.toggle("current", +li.dataset.frame === current));
  $("shot-page").dataset.frame = current;
  draw();
}

function renderMarks() {
  const marks = [
    ...suggestions.filter((s) => !keyframeAt(s.frame)).map((s) => ({ frame: s.frame, cls: "suggested", title: `suggested: ${s.reason}` })),
    ...data.keyframes.map((k) => ({ frame: k.frame, cls: k.review_status, title: `keyframe at ${k.frame} (${k.review_status})` })),
  ];
  $("marks").replaceChildren(...marks.map((m) => {
    const el = document.createElement("div");
    el.className = `mark ${m.cls}`;
    el.style.left = `${(m.frame + 0.5) / data.frameCount * 100}%`;
    el.title = `${m.title} · ${data.timecodes[m.frame]}`;
    el.onclick = (e) => { e.stopPropagation(); seek(m.frame); };
    return el;
  }));
  $("keyframe-list").replaceChildren(...data.keyframes.map((k) => {
    const li = document.createElement("li");
    li.dataset.frame = k.frame;
    li.innerHTML = `<a href="${k.url}">frame ${k.frame}</a><span class="tc small">${data.timecodes[k.frame]}</span>
      <span class="badge ${k.review_status}">${k.review_status.replace("_", " ")}</span>`;
    li.querySelector(".tc").onclick = () => seek(k.frame);
    return li;
  }));
  if (!data.keyframes.length) $("keyframe-list").innerHTML = `<li class="muted small">No keyframes yet.</li>`;
  $("suggested").replaceChildren(...suggestions.map((s) => {
    const li = document.createElement("li");
    const exists = keyframeAt(s.frame);
    li.innerHTML = `<a href="#" class="jump">frame ${s.frame}</a><span class="muted small">${s.reason}</span>`;
    li.querySelector(".jump").onclick = (e) => { e.preventDefault(); seek(s.frame); };
    if (data.canEdit && !exists) {
      const button = document.createElement("button");
      button.type = "button"; button.className = "small-button"; button.textContent = "Add";
      button.onclick = () => addKeyframe(s.frame);
      li.append(button);
    } else if (exists) li.insertAdjacentHTML("beforeend", `<span class="badge">keyframe</span>`);
    return li;
  }));
  if (!suggestions.length) $("suggested").innerHTML = `<li class="muted small">None.</li>`;
}

async function addKeyframe(frame) {
  try {
    const keyframe = await api(data.keyframesApi, { method: "POST", json: { frame } });
    data.keyframes.push({ id: keyframe.id, frame: keyframe.frame, review_status: keyframe.review_status, revision: keyframe.revision,
                          has_preview: false, url: data.editorUrl.replace("{id}", keyframe.id) });
    data.keyframes.sort((a, b) => a.frame - b.frame);
    renderMarks(); loadPlan(); seek(frame);
  } catch (error) { alert(`Could not add the keyframe: ${error.message}`); }
}

async function removeKeyframe(frame) {
  const keyframe = keyframeAt(frame);
  if (!keyframe || !confirm(`Remove the keyframe at frame ${frame} with all its hints? (The audit trail keeps a record.)`)) return;
  try {
    await api(`/api/keyframes/${keyframe.id}/`, { method: "DELETE" });
    data.keyframes = data.keyframes.filter((k) => k !== keyframe);
    renderMarks(); loadPlan(); seek(frame);
  } catch (error) { alert(`Could not remove the keyframe: ${error.message}`); }
}

// Playback at the shot's frame rate; a frame that is not loaded yet is waited for, never skipped.
function play() {
  playing = !playing;
  $("play").textContent = playing ? "Pause" : "Play";
  if (!playing) return;
  const period = 1000 * data.rate[1] / data.rate[0];
  let due = performance.now() + period;
  const tick = (now) => {
    if (!playing) return;
    if (now >= due) {
      if (current >= data.frameCount - 1) { playing = false; $("play").textContent = "Play"; return; }
      const next = frameImage(current + 1);
      if (next.complete) { seek(current + 1); due += period; if (now - due > 250) due = now + period; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// Scrubbing: the timeline maps x to a frame index exactly.
const timeline = $("timeline");
function scrub(event) {
  const rect = timeline.getBoundingClientRect();
  seek(Math.floor((event.clientX - rect.left) / rect.width * data.frameCount));
}
timeline.addEventListener("pointerdown", (e) => { timeline.setPointerCapture(e.pointerId); scrub(e); timeline.onpointermove = scrub; });
timeline.addEventListener("pointerup", () => (timeline.onpointermove = null));
canvas.addEventListener("pointermove", (e) => {
  if (e.buttons !== 1 || !(renderedFrame(current) || previewFor(keyframeAt(current)))) return;
  const rect = canvas.getBoundingClientRect();
  wipe = Math.max(0, Math.min(1, (e.clientX - rect.left) / rect.width));
  draw();
});

$("first").onclick = () => seek(0);
$("last").onclick = () => seek(data.frameCount - 1);
$("prev").onclick = () => seek(current - 1);
$("next").onclick = () => seek(current + 1);
$("play").onclick = play;
if ($("add-keyframe")) {
  $("add-keyframe").onclick = () => addKeyframe(current);
  $("remove-keyframe").onclick = () => removeKeyframe(current);
}
window.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey) return;
  const step = e.shiftKey ? 10 : 1;
  const actions = {
    ArrowLeft: () => seek(current - step), ArrowRight: () => seek(current + step), Home: () => seek(0),
    End: () => seek(data.frameCount - 1), " ": play,
    k: () => data.canEdit && !keyframeAt(current) && addKeyframe(current),
    Enter: () => { const k = keyframeAt(current); if (k) location.href = k.url; },
  };
  const action = actions[e.key] || actions[e.key.toLowerCase()];
  if (action) { e.preventDefault(); action(); }
});
window.addEventListener("resize", draw);

// Where to key: the fewest keyframes that hold every frame at the chosen confidence level, and the
// expected confidence per frame drawn under the timeline (annotations.keyframes.plan).
function loadPlan() {
  const level = $("confidence-level").value;
  $("confidence-level-value").textContent = `${Math.round(level * 100)}%`;
  api(`${data.suggestionsUrl}?level=${level}`).then((r) => {
    plan = r; suggestions = r.suggestions;
    $("shot-page").dataset.planLevel = r.level;
    renderMarks(); drawConfidence();
  }).catch((error) => { $("suggested").innerHTML = `<li class="muted small">Could not compute suggestions: ${error.message}</li>`; });
}

function drawConfidence() {
  const canvas = $("confidence-strip");
  if (!plan) return;
  const width = canvas.clientWidth, dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr); canvas.height = Math.round(14 * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const rows = plan.rendered ? [[plan.confidence, 0, 9], [plan.rendered, 10, 4]] : [[plan.confidence, 0, 14]];
  const cell = width / data.frameCount;
  for (const [values, top, height] of rows) {
    values.forEach((c, frame) => {
      // Red (color lost) through amber to green (held).
      ctx.fillStyle = `hsl(${Math.round(120 * c)}, 70%, ${20 + 25 * c}%)`;
      ctx.fillRect(frame * cell, top, Math.ceil(cell), height);
    });
  }
  // The confidence once the suggestions are added: a line over the strip.
  ctx.strokeStyle = "rgba(255,255,255,.8)"; ctx.setLineDash([3, 2]); ctx.beginPath();
  plan.planned.forEach((c, frame) => ctx.lineTo((frame + 0.5) * cell, 1 + (1 - c) * (plan.rendered ? 7 : 12)));
  ctx.stroke();
}

$("confidence-level").addEventListener("change", loadPlan);
$("confidence-level").addEventListener("input", () => { $("confidence-level-value").textContent = `${Math.round($("confidence-level").value * 100)}%`; });
window.addEventListener("resize", drawConfidence);
loadPlan();
renderMarks();
seek(0);
