// The render player of the render page (frames counted from 0, as everywhere in the studio): a finished render played frame by frame at the shot's
// rate, with a before/after wipe against the grayscale source or the shot's previous render, and
// the quality check's flagged frames as marks on its timeline.
//
// Each `[data-player-url]` element becomes a player once its data arrive (render/pages.py,
// render_player). The element's dataset tells its state: frame, wipe (0..1, the share of the
// frame showing the comparison), compare ("source" or "previous"), ready.

const PRELOAD = 12;     // frames fetched ahead of the playhead: playback waits, never skips
const CACHE_LIMIT = 300;

function element(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

function seconds(frames, rate) {
  const s = frames * rate[1] / rate[0];
  return s >= 60 ? `${Math.floor(s / 60)} min ${(s % 60).toFixed(0)} s` : `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

// [1, 2, 3, 7, 9, 10] -> "1–3, 7, 9–10"
function ranges(frames) {
  const parts = [];
  for (let i = 0; i < frames.length; i++) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
    parts.push(j > i ? `${frames[i]}–${frames[j]}` : `${frames[i]}`);
    i = j;
  }
  return parts.join(", ");
}

class Player {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    this.current = 0;
    this.wipe = 0.5;
    this.compare = "source";
    this.playing = false;
    this.images = new Map();  // url -> HTMLImageElement
    this.build();
    this.seek(0);
    root.dataset.ready = "1";
  }

  build() {
    const d = this.data;
    this.canvas = element("canvas", { className: "player-canvas", title: "Drag to move the wipe" });
    // As wide as the card allows while at most 70% of the window's height: no black bars.
    this.canvas.style.aspectRatio = `${d.width} / ${d.height}`;
    this.canvas.style.width = `min(100%, calc(70vh * ${d.width / d.height}))`;
    this.readout = element("span", { className: "readout" });
    this.readout.dataset.field = "player-readout";
    this.playButton = element("button", { type: "button", className: "small-button", textContent: "Play" });
    const button = (text, title, action) => {
      const b = element("button", { type: "button", className: "small-button", textContent: text, title });
      b.onclick = action;
      return b;
    };
    this.playButton.onclick = () => this.play();
    this.wipeInput = element("input", { type: "range", min: 0, max: 1000, value: 500, className: "wipe" });
    this.wipeInput.setAttribute("aria-label", "Wipe position");
    this.wipeInput.oninput = () => this.setWipe(this.wipeInput.value / 1000);
    this.compareSelect = element("select", { className: "compare" },
      element("option", { value: "source", textContent: "the grayscale source" }));
    if (d.previous) this.compareSelect.append(element("option", { value: "previous", textContent: d.previous.label }));
    this.compareSelect.setAttribute("aria-label", "Compare with");
    this.compareSelect.onchange = () => { this.compare = this.compareSelect.value; this.draw(); };

    this.marks = element("div", { className: "player-marks" });
    this.playhead = element("div", { className: "player-playhead" });
    this.timeline = element("div", { className: "player-timeline", title: "Click or drag to go to a frame" },
      this.marks, this.playhead);
    const scrub = (e) => {
      const rect = this.timeline.getBoundingClientRect();
      this.seek(Math.floor((e.clientX - rect.left) / rect.width * d.frames));
    };
    this.timeline.addEventListener("pointerdown", (e) => {
      this.timeline.setPointerCapture(e.pointerId); scrub(e); this.timeline.onpointermove = scrub;
    });
    this.timeline.addEventListener("pointerup", () => (this.timeline.onpointermove = null));
    this.renderMarks();

    // Dragging on the picture moves the wipe.
    const drag = (e) => {
      const rect = this.canvas.getBoundingClientRect();
      const frame = this.frameBox(rect.width, rect.height);
      this.setWipe((e.clientX - rect.left - frame.x) / frame.w);
    };
    this.canvas.addEventListener("pointerdown", (e) => {
      this.canvas.setPointerCapture(e.pointerId); drag(e); this.canvas.onpointermove = drag;
    });
    this.canvas.addEventListener("pointerup", () => (this.canvas.onpointermove = null));

    const flaggedText = d.flagged.length
      ? `Flagged by the quality check (red marks): ${d.flagged.length === 1 ? "frame" : "frames"} ${ranges(d.flagged.map((f) => f.frame))}.`
      : "No frame flagged by the quality check.";
    this.root.replaceChildren(
      this.canvas,
      element("div", { className: "player-controls" },
        button("|◀", "First frame (Home)", () => this.seek(0)),
        button("◀", "Previous frame (←)", () => this.seek(this.current - 1)),
        this.playButton,
        button("▶", "Next frame (→)", () => this.seek(this.current + 1)),
        button("▶|", "Last frame (End)", () => this.seek(d.frames - 1)),
        this.readout,
        element("label", { className: "inline" }, "Before: ", this.compareSelect),
        element("label", { className: "inline" }, "Wipe ", this.wipeInput)),
      this.timeline,
      element("p", { className: "small muted", textContent: `${flaggedText} Left of the line: before; right: this render. Drag on the picture to move the line; ←/→ step a frame when the player has focus.` }));
    this.root.tabIndex = 0;
    this.root.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 10 : 1;
      const keys = { ArrowLeft: () => this.seek(this.current - step), ArrowRight: () => this.seek(this.current + step),
                     Home: () => this.seek(0), End: () => this.seek(d.frames - 1), " ": () => this.play() };
      if (keys[e.key] && !e.target.closest("select, input")) { e.preventDefault(); keys[e.key](); }
    });
    window.addEventListener("resize", () => this.draw());
  }

  renderMarks() {
    const d = this.data;
    const at = (frame) => `${(frame + 0.5) / d.frames * 100}%`;
    const marks = d.keyframes.map((frame) => {
      const m = element("div", { className: "player-mark keyframe", title: `keyframe ${frame} · ${d.timecodes[frame]}` });
      m.style.left = at(frame);
      m.dataset.frame = frame;
      return m;
    });
    for (const f of d.flagged) {
      const why = f.reasons.length ? f.reasons.join(", ") : "flagged";
      const m = element("div", { className: "player-mark flagged", title: `frame ${f.frame} · ${d.timecodes[f.frame]} · ${why}` });
      m.style.left = at(f.frame);
      m.dataset.frame = f.frame;
      m.dataset.flagged = "1";
      m.addEventListener("pointerdown", (e) => { e.stopPropagation(); this.seek(f.frame); });
      marks.push(m);
    }
    this.marks.replaceChildren(...marks);
  }

  image(template, index) {
    const url = template.replace("{frame}", index);
    let image = this.images.get(url);
    if (!image) {
      image = new Image();
      image.onload = () => { if (index === this.current) this.draw(); };
      image.src = url;
      this.images.set(url, image);
      if (this.images.size > CACHE_LIMIT) this.images.delete(this.images.keys().next().value);
    }
    return image;
  }

  beforeTemplate() {
    return this.compare === "previous" && this.data.previous ? this.data.previous.frameUrl : this.data.sourceUrl;
  }

  frameBox(w, h) {
    const scale = Math.min(w / this.data.width, h / this.data.height);
    const fw = this.data.width * scale, fh = this.data.height * scale;
    return { x: (w - fw) / 2, y: (h - fh) / 2, w: fw, h: fh };
  }

  loaded(image) { return image.complete && image.naturalWidth > 0; }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    if (!w || !h) return;
    this.canvas.width = Math.round(w * dpr); this.canvas.height = Math.round(h * dpr);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, w, h);
    const box = this.frameBox(w, h);
    const before = this.image(this.beforeTemplate(), this.current);
    const after = this.image(this.data.frameUrl, this.current);
    if (this.loaded(before)) ctx.drawImage(before, box.x, box.y, box.w, box.h);
    const x = box.x + box.w * this.wipe;
    if (this.loaded(after)) {
      ctx.save(); ctx.beginPath(); ctx.rect(x, box.y, box.x + box.w - x, box.h); ctx.clip();
      ctx.drawImage(after, box.x, box.y, box.w, box.h); ctx.restore();
    }
    ctx.fillStyle = "#fff"; ctx.fillRect(x - 1, box.y, 2, box.h);
    const label = this.compare === "previous" && this.data.previous ? this.data.previous.label : "source";
    this.tag(ctx, `before · ${label}`, box.x + 8, box.y + 8, "left");
    this.tag(ctx, `after · render ${this.data.render}`, box.x + box.w - 8, box.y + 8, "right");
    this.root.dataset.drawn = `${this.current}:${this.loaded(before) && this.loaded(after) ? "both" : "partial"}`;
    for (let i = 1; i <= PRELOAD && this.current + i < this.data.frames; i++) {
      this.image(this.data.frameUrl, this.current + i);
      this.image(this.beforeTemplate(), this.current + i);
    }
  }

  tag(ctx, text, x, y, align) {
    ctx.font = "12px system-ui";
    const width = ctx.measureText(text).width + 12;
    const left = align === "right" ? x - width : x;
    ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(left, y, width, 20);
    ctx.fillStyle = "#eee"; ctx.fillText(text, left + 6, y + 14);
  }

  setWipe(value) {
    this.wipe = Math.max(0, Math.min(1, value));
    this.wipeInput.value = Math.round(this.wipe * 1000);
    this.root.dataset.wipe = this.wipe.toFixed(3);
    this.draw();
  }

  seek(index) {
    const d = this.data;
    this.current = Math.max(0, Math.min(d.frames - 1, Math.round(index)));
    const left = d.frames - 1 - this.current;
    this.readout.textContent = `frame ${this.current} of ${d.frames} · ${d.timecodes[this.current]} · ${seconds(left, d.rate)} left`;
    this.playhead.style.left = `${(this.current + 0.5) / d.frames * 100}%`;
    this.root.dataset.frame = this.current;
    this.root.dataset.wipe = this.wipe.toFixed(3);
    this.root.dataset.compare = this.compare;
    this.draw();
  }

  // Playback at the shot's frame rate; a frame whose pictures are not loaded yet is waited for.
  play() {
    this.playing = !this.playing;
    this.playButton.textContent = this.playing ? "Pause" : "Play";
    if (!this.playing) return;
    if (this.current >= this.data.frames - 1) this.seek(0);
    const period = 1000 * this.data.rate[1] / this.data.rate[0];
    let due = performance.now() + period;
    const tick = (now) => {
      if (!this.playing) return;
      if (now >= due) {
        if (this.current >= this.data.frames - 1) { this.playing = false; this.playButton.textContent = "Play"; return; }
        const next = this.current + 1;
        if (this.loaded(this.image(this.data.frameUrl, next)) && this.loaded(this.image(this.beforeTemplate(), next))) {
          this.seek(next); due += period; if (now - due > 250) due = now + period;
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
}

async function start(root) {
  if (root.dataset.started) return;
  root.dataset.started = "1";
  try {
    const response = await fetch(root.dataset.playerUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    root.player = new Player(root, await response.json());
  } catch (error) {
    root.textContent = `The player could not load: ${error.message}`;
    root.className = "error small";
  }
}

// The newest render's player starts at once; an older one when its <details> is opened.
document.querySelectorAll("[data-player-url]").forEach((root) => {
  const folded = root.closest("details");
  if (!folded) start(root);
  else folded.addEventListener("toggle", () => { if (folded.open) start(root); });
});
