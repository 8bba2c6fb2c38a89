// The keyframe editor: canvas with zoom/pan, point and boundary tools, colors, undo/redo,
// live preview (overlay, split, wipe), presence and cursors of the other editors.
//
// Hints shown = the server's newest revision + this editor's edits still in flight, so an edit
// shows at once and the server's answer (which includes everyone's edits) never loses it.
// Edits in flight are an outbox: kept while the connection is down (or the database is not
// reachable) and sent again when it is back; each carries an id, so the server applies it once.
// The outbox is also kept in localStorage, so a reload or a closed tab loses nothing: the next
// page of this keyframe sends it again with the same ids.
//
// Editing a submitted or approved keyframe withdraws the submission or approval: the editor asks
// first. Bursts of nudges and patch-size changes are one revision per gesture.

import { applyOps, clone, hitTest, inverseOps, newId, simplify, touchedIds } from "./hints.js";
import { drawGamut, gamutPick, hexToRgb, isHex, lumaToL, rgbToLab } from "./color.js";
import { Guidance } from "./guidance.js";
import { api } from "./http.js";
import { StudioSocket } from "./socket.js";
import { Viewport } from "./viewport.js";

const data = JSON.parse(document.getElementById("keyframe-data").textContent);
const $ = (id) => document.getElementById(id);
const canvas = $("stage");
const ctx = canvas.getContext("2d");
const view = new Viewport();
const RECENT_KEY = "colorproj.recentColors";
const OUTBOX_PREFIX = `colorproj.outbox.${data.id}.`; // + the page's client id
const ANSWERED_KEY = `colorproj.carried.${data.id}`; // carried points accepted or dropped here: not offered again
const GESTURE_MS = 700; // a pause this long ends a burst of nudges or patch-size steps
const REVIEWED = ["submitted", "approved"];
const STATUS_LABELS = { draft: "Draft", submitted: "Submitted", approved: "Approved", changes_requested: "Changes requested" };

const guidance = new Guidance();
const state = {
  server: { revision: 0, hints: { points: [], strokes: [] } },
  pending: [],              // outbox: {request, ops, sent, ackRevision?}; request is also the edit id
  hints: { points: [], strokes: [] },
  tool: data.canEdit ? "point" : "select",
  view: "overlay",
  selection: null,          // {kind, id, placed?}: placed = selected by placing it, not by the user
  proposals: [],            // carried points offered to this keyframe, not stored until accepted
  proposedFrom: null,       // the frame they were carried from
  proposalsDropped: 0,      // how many were not followed with confidence
  carryRequest: null,
  review: { status: data.reviewStatus, history: [], comments: [] },
  withdrawConfirmed: false, // the user agreed to withdraw the current submission or approval
  deletedBy: new Map(),     // hint id -> who deleted it (to tell someone whose drag lost)
  color: "#b04a30",
  reference: null,
  patch: 3,
  strokeWidth: 3,
  undo: [],
  redo: [],
  you: null,
  canEdit: data.canEdit,
  peers: new Map(),         // peer id -> {user, color, cursor}
  flashes: new Map(),       // hint id -> {color, until}
  preview: null,            // {revision, image, ms, method}
  previewFailed: 0,         // the last revision whose preview failed
  region: null,             // {revision, x, y, width, height, image}: what is shown, at full resolution
  regionAsked: "",          // the region last asked for, "revision:x,y,width,height"
  wipe: 0.5,
  drag: null,
  draft: null,              // boundary stroke being drawn (source pixels)
  suggestRequest: null,
  recent: JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"),
  fitted: false,
};
let requestSeq = 0;
let retryTimer = null; // resends edits the server could not store yet
const clientId = Math.random().toString(36).slice(2, 10); // edit ids are unique per editor page
let spaceHeld = false;
let gestureTimer = null;

// --- The frame (full resolution, for pixel-level zoom and the lightness of points) -----------------

const frame = new Image();
const lumaCanvas = document.createElement("canvas");
frame.onload = () => {
  lumaCanvas.width = frame.naturalWidth;
  lumaCanvas.height = frame.naturalHeight;
  lumaCanvas.getContext("2d", { willReadFrequently: true }).drawImage(frame, 0, 0);
  fit();
  updateColorPanel();
};
frame.src = data.frameUrl;

function lumaAt(x, y) {
  if (!lumaCanvas.width) return 128;
  const px = Math.max(0, Math.min(lumaCanvas.width - 1, Math.round(x * lumaCanvas.width / data.width)));
  const py = Math.max(0, Math.min(lumaCanvas.height - 1, Math.round(y * lumaCanvas.height / data.height)));
  return lumaCanvas.getContext("2d", { willReadFrequently: true }).getImageData(px, py, 1, 1).data[0];
}

// --- Socket ---------------------------------------------------------------------------------------

const socket = new StudioSocket(data.socketPath, {
  onStatus(status, code) {
    const el = $("connection");
    el.textContent = { live: "live", connecting: "connecting…", offline: "offline, reconnecting…", closed: code === 4410 ? "keyframe deleted" : "no access" }[status];
    el.className = `pill ${status}`;
  },
});

socket
  .on("welcome", (m) => {
    state.you = m.you;
    state.canEdit = m.you.can_edit;
    state.server = { revision: m.revision, hints: m.hints };
    state.regionAsked = "";  // an answer lost with the old socket is asked for again
    setReviewStatus(m.review_status);
    // (Re)connected: send every edit not yet confirmed; those that did land are answered with their revision.
    for (const entry of state.pending) entry.sent = false;
    if (state.pending.length) notice(`Reconnected: sending ${state.pending.length} edit${state.pending.length > 1 ? "s" : ""} made meanwhile.`);
    flushOutbox();
    state.peers.clear();
    recompute();
    renderPresence();
    socket.send({ type: "history" });
    askCarried();
  })
  .on("ack", (m) => {
    const entry = state.pending.find((p) => p.request === m.request);
    if (entry) entry.ackRevision = m.revision;
    dropConfirmed();
  })
  .on("hints", (m) => {
    const mine = m.actor === data.user;
    if (!mine) announceForeignEdit(m);
    state.server = { revision: m.revision, hints: m.hints };
    if (m.review_status) setReviewStatus(m.review_status);
    dropConfirmed();
    scheduleHistory();
  })
  .on("event", (m) => {
    // Review steps (submitted, approved, changes requested, commented) of this keyframe.
    if (!m.event.startsWith("keyframe.")) return;
    if (m.data?.review_status) setReviewStatus(m.data.review_status);
    loadReview();
  })
  .on("unavailable", (m) => {
    // The server could not store the edit just now: keep it and send it again shortly.
    const entry = state.pending.find((p) => p.request === m.request);
    if (!entry) { notice(m.message, "bad"); return; }
    entry.sent = false;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flushOutbox, 2000);
    recompute();
  })
  .on("conflict", (m) => failed(m, "Conflict"))
  .on("error", (m) => failed(m, "Error"))
  .on("preview", (m) => showPreview(m))
  .on("preview_failed", (m) => {
    state.previewFailed = m.revision;
    notice(m.message, "bad");
    updatePreviewStatus();
  })
  .on("region_preview", (m) => showRegion(m))
  .on("suggestions", (m) => renderSuggestions(m))
  .on("carried", (m) => showCarried(m))
  .on("history", (m) => renderHistory(m.revisions))
  .on("presence", (m) => {
    if (m.action === "leave") state.peers.delete(m.peer.id);
    else state.peers.set(m.peer.id, { ...m.peer, cursor: state.peers.get(m.peer.id)?.cursor || null });
    renderPresence();
    invalidate();
  })
  .on("cursor", (m) => {
    const peer = state.peers.get(m.peer);
    if (peer) { peer.cursor = m.x === null ? null : [m.x, m.y]; peer.tool = m.tool; invalidate(); }
  })
  .on("deleted", () => { notice("This keyframe was deleted.", "bad"); state.canEdit = false; });

function flushOutbox() {
  for (const entry of state.pending) {
    if (entry.held) break; // a gesture still going on: it and everything after it wait, in order
    if (!entry.sent) entry.sent = socket.send({ type: "edit", ops: entry.ops, request: entry.request, edit_id: entry.request });
  }
  recompute();
}

function dropConfirmed() {
  state.pending = state.pending.filter((p) => p.ackRevision === undefined || p.ackRevision > state.server.revision);
  recompute();
}

function failed(message, title) {
  const index = state.pending.findIndex((p) => p.request === message.request);
  if (index >= 0) state.pending.splice(index, 1);
  notice(`${title}: ${message.message}`, "bad");
  recompute();
}

function recompute() {
  let hints = clone(state.server.hints); // a copy: dragging moves hints in place
  for (const entry of state.pending) {
    try { hints = applyOps(hints, entry.ops); } catch { /* the server will answer with a conflict */ }
  }
  state.hints = hints;
  if (state.selection && !findHint(state.selection)) state.selection = null;
  saveOutbox();
  const unsent = state.pending.filter((p) => !p.sent && !p.held).length;
  $("revision").textContent = `revision ${state.server.revision}${unsent ? ` · ${unsent} unsent` : state.pending.length ? " · saving…" : ""}`;
  $("editor").dataset.revision = state.server.revision;
  $("editor").dataset.pending = state.pending.length;
  updatePreviewStatus();
  updateSubmitButton();
  renderSelection();
  invalidate();
}

// Someone else's revision: tell the user when it touched a hint they are working on, and flash it.
function announceForeignEdit(m) {
  const ids = touchedIds(m.ops);
  for (const op of m.ops) if (op.op?.startsWith("delete_")) state.deletedBy.set(op.id, m.actor);
  const peerColor = [...state.peers.values()].find((p) => p.user === m.actor)?.color || "#fff";
  for (const id of ids) state.flashes.set(id, { color: peerColor, until: performance.now() + 1500 });
  const mineInFlight = new Set(state.pending.flatMap((p) => [...touchedIds(p.ops)]));
  const contested = [...ids].filter((id) => mineInFlight.has(id) || state.selection?.id === id);
  if (contested.length) notice(`${m.actor} changed ${contested.length === 1 ? "a hint you are editing" : contested.length + " hints you are editing"}; the latest change wins (revision ${m.revision}).`);
  setTimeout(invalidate, 1600);
}

// --- Edits, undo, redo ---------------------------------------------------------------------------------

// `gesture` (e.g. "nudge:<point id>"): edits of one gesture that follow each other within
// GESTURE_MS are merged into one outbox entry, one revision and one undo step.
function edit(ops, { undoable = true, gesture = null } = {}) {
  if (!state.canEdit) { notice("Your role lets you watch this keyframe, not edit it."); return false; }
  if (!deliberate(() => edit(ops, { undoable, gesture }))) { recompute(); return false; }
  let inverse;
  try {
    inverse = inverseOps(state.hints, ops);
    applyOps(state.hints, ops);
  } catch (error) { notice(error.message, "bad"); return false; }
  const last = state.pending[state.pending.length - 1];
  if (gesture && last?.held && last.gesture === gesture) {
    last.ops = mergeUpdates(last.ops, ops);
    if (undoable && state.undo.length) state.undo[state.undo.length - 1].ops = last.ops;
    holdGesture();
    recompute();
    return true;
  }
  releaseGesture();
  const entry = { request: `${clientId}-e${++requestSeq}`, ops, sent: false, held: Boolean(gesture), gesture };
  state.pending.push(entry);
  if (gesture) holdGesture();
  flushOutbox(); // in order: behind any edit still waiting to be sent
  if (!entry.sent && !entry.held) notice("Offline: the edit is kept and will be sent when the connection is back.");
  if (undoable) { state.undo.push({ ops, inverse }); state.redo = []; }
  updateUndoButtons();
  recompute();
  return true;
}

// One update op per hint: the later changes win (the ops of one gesture address one hint).
function mergeUpdates(earlier, later) {
  const merged = earlier.map((op) => ({ ...op, changes: { ...op.changes } }));
  for (const op of later) {
    const same = merged.find((o) => o.op === op.op && o.id === op.id);
    if (same) Object.assign(same.changes, op.changes); else merged.push(op);
  }
  return merged;
}

function holdGesture() {
  clearTimeout(gestureTimer);
  gestureTimer = setTimeout(releaseGesture, GESTURE_MS);
}

function releaseGesture() {
  clearTimeout(gestureTimer);
  const held = state.pending.filter((p) => p.held);
  if (!held.length) return;
  for (const entry of held) entry.held = false;
  flushOutbox();
  if (held.some((p) => !p.sent)) notice("Offline: the edit is kept and will be sent when the connection is back.");
}

// --- The outbox in the browser's storage -------------------------------------------------------------

function saveOutbox() {
  const key = OUTBOX_PREFIX + clientId;
  try {
    if (state.pending.length) localStorage.setItem(key, JSON.stringify(state.pending.map(({ request, ops }) => ({ request, ops }))));
    else localStorage.removeItem(key);
  } catch (error) { notice(`Unsent edits cannot be kept in this browser (${error.message}); keep the page open until they are sent.`, "bad"); }
}

// Edits a closed or reloaded page of this keyframe did not get confirmed: adopted, and sent again
// with their ids on connect (the server applies an edit id once).
function adoptOutbox() {
  const keys = Object.keys(localStorage).filter((k) => k.startsWith(OUTBOX_PREFIX));
  for (const key of keys) {
    try { for (const { request, ops } of JSON.parse(localStorage.getItem(key))) state.pending.push({ request, ops, sent: false }); }
    catch { /* unreadable: nothing to send */ }
    localStorage.removeItem(key);
  }
  if (state.pending.length) notice(`${state.pending.length} edit${state.pending.length > 1 ? "s" : ""} not sent before the page was closed will be sent now.`);
}

window.addEventListener("beforeunload", (event) => {
  releaseGesture();
  saveOutbox();
  if (state.pending.some((p) => p.ackRevision === undefined)) { event.preventDefault(); event.returnValue = ""; }
});

// --- Review status -------------------------------------------------------------------------------------

function setReviewStatus(status) {
  if (!status || status === state.review.status) return;
  state.review.status = status;
  if (REVIEWED.includes(status)) state.withdrawConfirmed = false;
  renderReview();
}

// Run `action` now, unless it would withdraw a submission or approval the user has not agreed to
// withdraw: then ask, and run it only if they agree. True if it ran now.
function deliberate(action) {
  if (!REVIEWED.includes(state.review.status) || state.withdrawConfirmed) return true;
  const dialog = $("withdraw-dialog");
  if (dialog.open) return false;
  const approval = state.review.history.filter((r) => r.kind === "approved").at(-1);
  $("withdraw-text").textContent = state.review.status === "approved"
    ? `This keyframe is approved${approval ? ` by ${approval.actor} (revision ${approval.revision})` : ""}. Editing it withdraws the approval: it goes back to draft, the shot cannot be rendered until it is approved again, and ${approval?.actor || "the reviewer"} is notified.`
    : "This keyframe is submitted for review. Editing it withdraws the submission: it goes back to draft and the reviewers are notified.";
  dialog.onclose = () => {
    if (dialog.returnValue !== "edit") { notice("Nothing changed."); recompute(); return; }
    state.withdrawConfirmed = true;
    action();
  };
  dialog.returnValue = "";
  dialog.showModal();
  return false;
}

async function loadReview() {
  try {
    const [reviews, comments] = await Promise.all([api(data.reviewsUrl), api(data.commentsUrl)]);
    state.review.history = reviews.history;
    state.review.comments = comments;
    setReviewStatus(reviews.review_status);
  } catch (error) { notice(`Could not load the review: ${error.message}`, "bad"); }
  renderReview();
}

function renderReview() {
  const { status, history, comments } = state.review;
  const pill = $("review-status");
  pill.textContent = STATUS_LABELS[status] || status;
  pill.dataset.status = status;
  $("editor").dataset.reviewStatus = status;
  const last = history.at(-1);
  const note = $("review-note");
  note.replaceChildren();
  if (last && last.kind !== "submitted" && status !== "draft") {
    note.append(text("div", `${last.kind === "approved" ? "Approved" : "Changes requested"} by ${last.actor} at revision ${last.revision}`));
    if (last.comment) note.append(text("blockquote", last.comment));
  } else if (status === "draft" && last && last.kind !== "submitted") {
    note.append(text("div", `Was ${last.kind === "approved" ? "approved" : "sent back"} by ${last.actor} at revision ${last.revision}; edited since.`, "muted"));
  } else if (status === "submitted") {
    note.append(text("div", `Submitted by ${last?.actor || "–"} at revision ${last?.revision ?? "–"}; waiting for a reviewer.`, "muted"));
  }
  $("review-comments").replaceChildren(...comments.map((c, i) => {
    const li = text("li", "");
    li.append(text("strong", c.x === null ? "" : `${i + 1} `), text("span", `${c.author} (r${c.revision}): `, "muted"), text("span", c.text));
    return li;
  }));
  updateSubmitButton();
  invalidate();
}

function updateSubmitButton() {
  const submit = $("submit-review");
  if (!submit) return;
  const status = state.review.status;
  submit.disabled = status !== "draft" || state.pending.length > 0;
  submit.title = status !== "draft" ? `This keyframe is ${(STATUS_LABELS[status] || status).toLowerCase()}`
    : state.pending.length ? "Your edits are being saved" : "Hand the current hints to the reviewers";
}

function text(tag, content, className = "") {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

async function submitForReview() {
  if (state.pending.length) { notice("Wait until your edits are saved, then submit."); return; }
  try {
    const answer = await api(data.submitUrl, { method: "POST", json: {} });
    setReviewStatus(answer.review_status);
    notice("Submitted for review: the reviewers are notified.");
    loadReview();
  } catch (error) { notice(`Could not submit: ${error.message}`, "bad"); }
}

function undo() {
  if (!deliberate(undo)) return;
  const entry = state.undo.pop();
  if (!entry) return;
  if (edit(entry.inverse, { undoable: false })) state.redo.push(entry); else state.undo.push(entry);
  updateUndoButtons();
}

function redo() {
  if (!deliberate(redo)) return;
  const entry = state.redo.pop();
  if (!entry) return;
  if (edit(entry.ops, { undoable: false })) state.undo.push(entry); else state.redo.push(entry);
  updateUndoButtons();
}

function updateUndoButtons() {
  $("undo").disabled = !state.undo.length;
  $("redo").disabled = !state.redo.length;
}

const findHint = (sel) => sel && state.hints[sel.kind + "s"].find((h) => h.id === sel.id);

function select(selection) {
  state.selection = selection;
  const hint = findHint(selection);
  if (hint && selection.kind === "point") {
    state.color = hint.color;
    state.reference = hint.reference ?? null;
    state.patch = hint.radius;
    $("patch").value = hint.radius;
    $("patch-value").textContent = hint.radius;
    suggestAt(hint.x, hint.y);
  }
  updateColorPanel();
  renderSelection();
  invalidate();
}

function deleteSelection() {
  const hint = findHint(state.selection);
  if (!hint) return;
  edit([{ op: `delete_${state.selection.kind}`, id: hint.id }]);
  state.selection = null;
  renderSelection();
}

// --- Colors -------------------------------------------------------------------------------------------

// The rule for colors: a color typed, picked on the gamut or chosen from the references or the
// recent ones recolors the selected point only when the user selected it (clicked it, Tab);
// right after placing a point it sets the color of the next points. A suggestion applies to the
// point it was computed for.
function applyColor(hex, reference = null, { toPoint = false } = {}) {
  if (!isHex(hex)) { notice(`${hex} is not a #rrggbb color`, "bad"); return; }
  state.color = hex.toLowerCase();
  state.reference = reference;
  state.recent = [state.color, ...state.recent.filter((c) => c !== state.color)].slice(0, 14);
  localStorage.setItem(RECENT_KEY, JSON.stringify(state.recent));
  const chosen = state.selection && (toPoint || !state.selection.placed);
  const hint = chosen && state.selection.kind === "point" && findHint(state.selection);
  if (hint && (hint.color !== state.color || (hint.reference ?? null) !== reference)) {
    edit([{ op: "update_point", id: hint.id, changes: { color: state.color, reference } }]);
  }
  updateColorPanel();
}

function currentL() {
  const hint = state.selection?.kind === "point" && findHint(state.selection);
  return hint ? lumaToL(lumaAt(hint.x, hint.y)) : rgbToLab(hexToRgb(state.color))[0];
}

function updateColorPanel() {
  $("current-swatch").style.background = state.color;
  if (document.activeElement !== $("hex")) $("hex").value = state.color;
  const ref = data.references.find((r) => r.id === state.reference);
  $("current-ref").textContent = ref ? `· ${ref.name}` : "";
  const L = currentL();
  drawGamut($("gamut"), L, rgbToLab(hexToRgb(state.color)));
  const hint = state.selection?.kind === "point" && findHint(state.selection);
  $("gamut-caption").textContent = `a/b at L = ${L.toFixed(0)}${hint ? " (the point's own lightness)" : ""}`;
  renderChips($("recent"), state.recent.map((c) => ({ color: c, title: c })), (item) => applyColor(item.color));
}

function renderChips(list, items, onPick) {
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "chip";
    button.title = item.title;
    button.innerHTML = `<span class="swatch" style="background:${item.color}"></span>${item.label ? `<span>${escapeHtml(item.label)}</span>` : ""}`;
    button.onclick = () => onPick(item);
    li.append(button);
    return li;
  }));
  if (!items.length) list.innerHTML = `<li class="muted small">None yet.</li>`;
}

renderChips($("references"), data.references.map((r) => ({
  color: r.color, label: r.name, id: r.id, title: `${r.name} ${r.color}\n${r.source}: ${r.citation || r.url || ""}`,
})), (item) => applyColor(item.color, item.id));

function suggestAt(x, y) {
  state.suggestRequest = `s${++requestSeq}`;
  $("suggest-where").textContent = `at (${Math.round(x)}, ${Math.round(y)})`;
  $("suggestions").innerHTML = `<li class="muted small">Asking the network…</li>`;
  socket.send({ type: "suggest", x, y, request: state.suggestRequest });
}

function renderSuggestions(m, place = null) {
  if (m.request !== state.suggestRequest) return; // an answer to an older question
  const list = $("suggestions");
  if (m.error) { list.innerHTML = `<li class="muted small">${escapeHtml(m.error)}</li>`; return; }
  list.replaceChildren(...m.colors.map(({ color, probability }) => {
    const li = document.createElement("li");
    li.innerHTML = `<button type="button" class="suggestion" data-color="${color}" title="Use ${color}">
      <span class="swatch" style="background:${color}"></span><code>${color}</code>
      <span class="bar"><span style="width:${(probability * 100).toFixed(1)}%"></span></span>
      <span class="prob">${(probability * 100).toFixed(0)}%</span></button>`;
    li.querySelector("button").onclick = place ? () => place(color) : () => applyColor(color, null, { toPoint: true });
    return li;
  }));
}

// --- Carried points -----------------------------------------------------------------------------------
// Each time a keyframe is opened it is offered the nearest keyframe's points, followed to this frame
// by the propagation's motion, less those already here (the server leaves out any that land on a
// point of this keyframe) and those answered before in this browser: so a keyframe reopened after
// its neighbour got more points is offered just those. Accepted or dropped one by one, or all at
// once (A), as one revision.

function askCarried() {
  if (!state.canEdit || state.carryRequest) return;
  state.carryRequest = `carry${++requestSeq}`;
  socket.send({ type: "carry", request: state.carryRequest });
}

function answeredCarried() {
  try { return new Set(JSON.parse(localStorage.getItem(ANSWERED_KEY) || "[]")); } catch { return new Set(); }
}

function rememberAnswered(chosen) {
  const answered = answeredCarried();
  for (const p of chosen) answered.add(p.origin);
  localStorage.setItem(ANSWERED_KEY, JSON.stringify([...answered]));
}

// Whether two points' patches touch (the server's test for a carried point already here).
function touching(p, q) {
  return Math.max(Math.abs(q.x - p.x), Math.abs(q.y - p.y)) <= q.radius + p.radius + 1;
}

function showCarried(m) {
  if (m.request !== state.carryRequest) return;
  if (m.error) { notice(m.error, "bad"); return; }
  const answered = answeredCarried();
  const here = state.hints.points;
  if (!m.points.length && m.dropped && !here.length) {
    notice(`The ${m.dropped} points of frame ${m.from_frame} could not be followed here with confidence.`);
  }
  state.proposals = m.points
    .map((p) => ({ ...p, origin: `${m.from_frame}:${p.id}`, id: newId() }))
    // Points placed while the proposals were computed count as here too.
    .filter((p) => !answered.has(p.origin) && !here.some((q) => touching(p, q)));
  state.proposedFrom = m.from_frame;
  state.proposalsDropped = m.dropped;
  renderProposals();
  invalidate();
}

function renderProposals() {
  const panel = $("carried-panel");
  panel.hidden = !state.proposals.length;
  $("editor").dataset.proposals = state.proposals.length;
  if (!state.proposals.length) return;
  const unsure = state.proposalsDropped ? ` (${state.proposalsDropped} not followed with confidence: left out)` : "";
  $("carried-from").textContent = `from frame ${state.proposedFrom}${unsure}`;
  $("carried-list").replaceChildren(...state.proposals.map((p) => {
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${p.color}"></span><code>${p.color}</code>
      <span class="muted small">(${Math.round(p.x)}, ${Math.round(p.y)}) · ${Math.round(p.confidence * 100)}%</span>
      <button type="button" data-accept title="Add this point">✓</button>
      <button type="button" data-drop title="Drop it">✕</button>`;
    li.querySelector("[data-accept]").onclick = () => acceptProposals([p]);
    li.querySelector("[data-drop]").onclick = () => dropProposals([p]);
    return li;
  }));
}

function acceptProposals(chosen) {
  if (!state.canEdit || !chosen.length) return;
  const ops = chosen.map(({ x, y, color, radius, reference }) => ({
    op: "add_point",
    point: { id: newId(), x: snap(clampX(x)), y: snap(clampY(y)), color, radius, ...(reference ? { reference } : {}) },
  }));
  if (edit(ops)) dropProposals(chosen);
}

function dropProposals(chosen) {
  rememberAnswered(chosen);
  const ids = new Set(chosen.map((p) => p.id));
  state.proposals = state.proposals.filter((p) => !ids.has(p.id));
  renderProposals();
  invalidate();
}

function proposalAt(x, y) {
  return state.proposals.find((p) => Math.abs(p.x - x) <= Math.max(p.radius, 4 / view.scale) + 1
    && Math.abs(p.y - y) <= Math.max(p.radius, 4 / view.scale) + 1);
}

function drawProposals() {
  for (const p of state.proposals) {
    const [x, y] = view.toScreen(p.x, p.y);
    const size = Math.max(10, (2 * p.radius + 1) * view.scale);
    ctx.save();
    ctx.globalAlpha = 0.55; ctx.fillStyle = p.color; ctx.fillRect(x - size / 2, y - size / 2, size, size);
    ctx.globalAlpha = 1; ctx.setLineDash([4, 3]); ctx.lineWidth = 2; ctx.strokeStyle = "#fff";
    ctx.strokeRect(x - size / 2 - 2, y - size / 2 - 2, size + 4, size + 4);
    ctx.restore();
  }
}

// --- Where to click next ------------------------------------------------------------------------------

function toggleGuidance() {
  const shown = guidance.toggle();
  $("guidance-toggle")?.classList.toggle("active", shown);
  if (shown && !guidance.tinted) notice("Where to click next comes with the network's preview; it is not computed yet.");
  invalidate();
}

// Mark the least sure place away from every point, bring it into view and offer the network's
// colors there: choosing one places a point at the mark.
function nextPoint() {
  const at = guidance.mark();
  if (!at) { notice("No place to suggest yet: wait for the network's preview."); return; }
  const pane = panes()[0];
  const [sx, sy] = view.toScreen(at.x, at.y);
  if (sx < 0 || sy < 0 || sx > pane.w || sy > pane.h) {
    view.ox += pane.w / 2 - sx; view.oy += pane.h / 2 - sy; state.fitted = false;
  }
  state.suggestRequest = `next${++requestSeq}`;
  $("suggest-where").textContent = `next point, at (${Math.round(at.x)}, ${Math.round(at.y)})`;
  $("editor").dataset.nextPoint = `${at.x},${at.y}`;
  renderSuggestions({ request: state.suggestRequest, colors: guidance.colors }, (color) => placeAt(at, color));
  invalidate();
}

function placeAt(at, color) {
  if (!state.canEdit) return;
  const point = { id: newId(), x: snap(clampX(at.x)), y: snap(clampY(at.y)), color, radius: state.patch };
  if (edit([{ op: "add_point", point }])) {
    pushRecent(color);
    guidance.marked = null;
    delete $("editor").dataset.nextPoint;
    select({ kind: "point", id: point.id, placed: true });
  }
}

// --- Preview -------------------------------------------------------------------------------------------

function showPreview(m) {
  if (state.preview && m.revision < state.preview.revision) return;
  const image = new Image();
  image.src = m.image;
  image.decode().then(() => {
    if (state.preview && m.revision < state.preview.revision) return;
    state.preview = { revision: m.revision, image, ms: m.compute_ms, method: m.method };
    $("editor").dataset.previewRevision = m.revision;
    guidance.update(m.guidance, m.revision, () => {
      $("editor").dataset.guidanceRevision = guidance.tinted ? m.revision : "";
      invalidate();
    });
    updatePreviewStatus();
    invalidate();
  }).catch(() => {});
}

// --- Full-resolution region ---------------------------------------------------------------------------
// The live preview is computed at most 512 px across. Zoomed in (not at "fit") past its pixels, the editor asks
// for the part it shows at full resolution, colorized as the render will colorize it, and draws
// that over the preview. One request per settled view (a zoom or pan gesture asks once, at its end).

const REGION_MAX_PIXELS = 2048 * 2048;
const REGION_SETTLE_MS = 350;
let regionTimer = null;

function wantedRegion() {
  const p = state.preview;
  if (!p || state.fitted || state.view === "frame" || p.revision !== state.server?.revision) return null;
  const previewWidth = p.image.naturalWidth;
  // Screen pixels per preview pixel: past 1.5 the preview's own pixels show.
  if (previewWidth >= data.width || view.scale * data.width / previewWidth <= 1.5) return null;
  const pane = panes().find((q) => q.content !== "frame") || panes()[0];
  const [x0, y0] = view.toSource(0, 0), [x1, y1] = view.toSource(pane.w, pane.h);
  const x = Math.max(0, Math.floor(x0)), y = Math.max(0, Math.floor(y0));
  const width = Math.min(data.width, Math.ceil(x1)) - x, height = Math.min(data.height, Math.ceil(y1)) - y;
  if (width <= 0 || height <= 0 || width * height > REGION_MAX_PIXELS) return null;
  return { revision: p.revision, x, y, width, height };
}

function scheduleRegion() {
  const want = wantedRegion();
  const key = want ? `${want.revision}:${want.x},${want.y},${want.width},${want.height}` : "";
  if (key === state.regionAsked) { clearTimeout(regionTimer); return; }
  clearTimeout(regionTimer);
  regionTimer = setTimeout(() => {
    state.regionAsked = key;
    if (want) socket.send({ type: "region_preview", x: want.x, y: want.y, width: want.width, height: want.height,
                            request: `region-${++requestSeq}` });
  }, REGION_SETTLE_MS);
}

function showRegion(m) {
  if (m.error) { $("editor").dataset.region = "failed"; return; }
  const image = new Image();
  image.src = m.image;
  image.decode().then(() => {
    if (m.revision !== state.preview?.revision) return;  // the hints changed meanwhile
    state.region = { revision: m.revision, x: m.x, y: m.y, width: m.width, height: m.height, image };
    $("editor").dataset.region = `${m.revision}:${m.x},${m.y},${m.width},${m.height}`;
    invalidate();
  }).catch(() => {});
}

function updatePreviewStatus() {
  const p = state.preview;
  const el = $("preview-status");
  // The newest revision's preview failed (the notice says why): say so instead of "computing".
  const failed = state.previewFailed === state.server.revision && !state.pending.length;
  if (!p) { el.textContent = failed ? "preview failed" : "preview: computing…"; return; }
  const behind = !failed && (p.revision < state.server.revision || state.pending.length);
  el.textContent = `preview r${p.revision} · ${p.method} · ${Math.round(p.ms)} ms${behind ? " · updating…" : failed ? ` · r${state.server.revision} failed` : ""}`;
  el.classList.toggle("stale", Boolean(behind));
}

// --- History ------------------------------------------------------------------------------------------

let historyTimer = null;
function scheduleHistory() {
  clearTimeout(historyTimer);
  historyTimer = setTimeout(() => socket.send({ type: "history" }), 400);
}

function renderHistory(revisions) {
  $("history").replaceChildren(...revisions.map((r) => {
    const li = document.createElement("li");
    const when = new Date(r.created).toLocaleTimeString();
    const head = r.revision === state.server.revision;
    li.className = head ? "head" : "";
    li.innerHTML = `<div><strong>r${r.revision}</strong> <span class="muted">${escapeHtml(r.author || "—")} · ${when}</span></div>
      <div class="small muted">${r.points} point${r.points === 1 ? "" : "s"}, ${r.strokes} stroke${r.strokes === 1 ? "" : "s"}${r.message ? " · " + escapeHtml(r.message) : ""}</div>`;
    if (!head && state.canEdit) {
      const button = document.createElement("button");
      button.type = "button"; button.className = "small-button"; button.textContent = "Restore";
      button.title = `Make revision ${r.revision}'s hints the newest (history is kept)`;
      button.onclick = () => {
        const ops = [{ op: "replace_all", hints: r.hints }];
        edit(ops);
      };
      li.append(button);
    }
    return li;
  }));
}

// --- Presence -----------------------------------------------------------------------------------------

// "Ada Lind" -> "AL", "demo-reviewer" -> "DR", "ana" -> "AN": the first letters of the first and
// last words of a name, or its first two letters when it is one word.
function initials(name) {
  const words = name.trim().split(/[\s._-]+/u).filter(Boolean);
  if (words.length === 0) return "?";
  const letters = words.length > 1 ? [...words[0]][0] + [...words[words.length - 1]][0] : [...words[0]].slice(0, 2).join("");
  return letters.toUpperCase();
}

function renderPresence() {
  const people = [state.you, ...state.peers.values()].filter(Boolean);
  $("presence").replaceChildren(...people.map((p, i) => {
    const span = document.createElement("span");
    span.className = "avatar" + (i === 0 ? " me" : "");
    span.style.background = p.color;
    span.textContent = initials(p.name || p.user);
    span.title = `${p.name && p.name !== p.user ? `${p.name} (${p.user})` : p.user}${i === 0 ? " (you)" : ""}${p.can_edit ? "" : " · watching"}`;
    return span;
  }));
  $("presence").dataset.count = people.length;
}

// --- Selection panel ----------------------------------------------------------------------------------

function renderSelection() {
  const el = $("selection");
  const hint = findHint(state.selection);
  if (!hint) { el.textContent = "Nothing selected."; el.className = "muted small"; return; }
  el.className = "small";
  if (state.selection.kind === "point") {
    const ref = data.references.find((r) => r.id === hint.reference);
    el.innerHTML = `<div><span class="swatch" style="background:${hint.color}"></span> point <code>${hint.id}</code></div>
      <div>at (${hint.x.toFixed(0)}, ${hint.y.toFixed(0)}) · patch ${hint.radius} · ${hint.color}</div>
      ${ref ? `<div>reference: ${escapeHtml(ref.name)}</div>` : ""}`;
  } else {
    el.innerHTML = `<div>boundary <code>${hint.id}</code></div><div>${hint.points.length} vertices · width ${hint.width}</div>`;
  }
  if (state.canEdit) {
    const button = document.createElement("button");
    button.type = "button"; button.className = "small-button danger"; button.textContent = "Delete";
    button.onclick = deleteSelection;
    el.append(button);
  }
}

// --- Drawing --------------------------------------------------------------------------------------------

let frameRequested = false;
function invalidate() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => { frameRequested = false; draw(); });
}

function panes() {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  return state.view === "side"
    ? [{ x: 0, w: w / 2, h, content: "frame" }, { x: w / 2, w: w / 2, h, content: "preview" }]
    : [{ x: 0, w, h, content: state.view }];
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0d0e10";
  ctx.fillRect(0, 0, w, h);
  for (const pane of panes()) {
    ctx.save();
    ctx.beginPath(); ctx.rect(pane.x, 0, pane.w, pane.h); ctx.clip();
    ctx.translate(pane.x, 0);
    drawContent(pane);
    guidance.draw(ctx, view, data.width, data.height);
    drawHints();
    drawProposals();
    drawPins();
    drawPeers();
    ctx.restore();
  }
  if (state.view === "side") {
    ctx.fillStyle = "#33373e"; ctx.fillRect(w / 2 - 1, 0, 2, h);
    label("frame", 10, 10); label(previewLabel(), w / 2 + 10, 10);
  }
  scheduleRegion();
}

function previewLabel() {
  return state.preview ? `preview r${state.preview.revision}` : "preview: computing…";
}

function label(text, x, y) {
  ctx.font = "12px system-ui, sans-serif";
  const width = ctx.measureText(text).width + 12;
  ctx.fillStyle = "rgba(0,0,0,.6)"; ctx.fillRect(x, y, width, 20);
  ctx.fillStyle = "#e6e6e6"; ctx.fillText(text, x + 6, y + 14);
}

function drawImage(image) {
  if (!image || !image.complete || !image.naturalWidth) return;
  ctx.imageSmoothingEnabled = view.scale * image.naturalWidth / data.width < 2;
  ctx.drawImage(image, view.ox, view.oy, data.width * view.scale, data.height * view.scale);
}

// The preview, and over it the full-resolution region where one of the same revision is at hand.
function drawPreview(preview) {
  drawImage(preview || frame);
  const r = state.region;
  if (!preview || !r || r.revision !== state.preview.revision) return;
  ctx.imageSmoothingEnabled = view.scale < 2;
  const [sx, sy] = view.toScreen(r.x, r.y);
  ctx.drawImage(r.image, sx, sy, r.width * view.scale, r.height * view.scale);
}

function drawContent(pane) {
  const preview = state.preview?.image;
  if (pane.content === "frame") { drawImage(frame); return; }
  if (pane.content === "preview" || pane.content === "overlay") { drawPreview(preview); return; }
  // Wipe: before (gray) left of the divider, after (colorized) right of it.
  drawImage(frame);
  const x = pane.w * state.wipe;
  ctx.save(); ctx.beginPath(); ctx.rect(x, 0, pane.w - x, pane.h); ctx.clip(); drawPreview(preview); ctx.restore();
  ctx.fillStyle = "#fff"; ctx.fillRect(x - 1, 0, 2, pane.h);
  ctx.beginPath(); ctx.arc(x, pane.h / 2, 9, 0, 7); ctx.fill();
  ctx.fillStyle = "#111"; ctx.font = "11px system-ui"; ctx.fillText("⇔", x - 6, pane.h / 2 + 4);
  label("before", 10, 10); label("after", pane.w - 60, 10);
}

function drawHints() {
  const now = performance.now();
  const hints = state.hints;
  for (const stroke of [...hints.strokes, ...(state.draft ? [state.draft] : [])]) {
    const selected = state.selection?.id === stroke.id;
    const pts = stroke.points.map(([x, y]) => view.toScreen(x, y));
    if (pts.length < 2) continue;
    const width = Math.max(2, stroke.width * view.scale);
    ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.strokeStyle = "rgba(0,0,0,.75)"; ctx.lineWidth = width + 3; ctx.setLineDash([]); ctx.stroke();
    ctx.strokeStyle = selected ? "#d9a441" : flashColor(stroke.id, now) || "#ffffff";
    ctx.lineWidth = width; ctx.setLineDash(selected ? [] : [6, 4]); ctx.stroke();
    ctx.setLineDash([]);
    if (selected) for (const [x, y] of pts) { ctx.fillStyle = "#d9a441"; ctx.fillRect(x - 4, y - 4, 8, 8); ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.strokeRect(x - 4, y - 4, 8, 8); }
  }
  for (const point of hints.points) {
    const [x, y] = view.toScreen(point.x, point.y);
    const size = Math.max(10, (2 * point.radius + 1) * view.scale);
    const selected = state.selection?.id === point.id;
    ctx.fillStyle = point.color;
    ctx.fillRect(x - size / 2, y - size / 2, size, size);
    ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.strokeRect(x - size / 2 - 1, y - size / 2 - 1, size + 2, size + 2);
    ctx.lineWidth = 1; ctx.strokeStyle = "#fff"; ctx.strokeRect(x - size / 2 - 2.5, y - size / 2 - 2.5, size + 5, size + 5);
    if (point.reference) { ctx.fillStyle = "#d9a441"; ctx.beginPath(); ctx.arc(x + size / 2 + 1, y - size / 2 - 1, 3.5, 0, 7); ctx.fill(); }
    const flash = flashColor(point.id, now);
    if (selected || flash) {
      ctx.lineWidth = 2; ctx.strokeStyle = selected ? "#d9a441" : flash;
      ctx.setLineDash(selected ? [4, 3] : []);
      ctx.strokeRect(x - size / 2 - 6, y - size / 2 - 6, size + 12, size + 12);
      ctx.setLineDash([]);
    }
  }
}

// The reviewers' comments pinned to a point of the frame, numbered as in the review panel.
function drawPins() {
  state.review.comments.forEach((c, i) => {
    if (c.x === null) return;
    const [x, y] = view.toScreen(c.x, c.y);
    ctx.fillStyle = "#d9a441"; ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(x, y - 14, 9, 0, 7); ctx.moveTo(x - 4, y - 7); ctx.lineTo(x, y); ctx.lineTo(x + 4, y - 7); ctx.fill(); ctx.stroke();
    ctx.fillStyle = "#111"; ctx.font = "bold 11px system-ui"; ctx.textAlign = "center"; ctx.fillText(String(i + 1), x, y - 10); ctx.textAlign = "start";
  });
}

function flashColor(id, now) {
  const flash = state.flashes.get(id);
  if (!flash) return null;
  if (flash.until < now) { state.flashes.delete(id); return null; }
  return flash.color;
}

function drawPeers() {
  for (const peer of state.peers.values()) {
    if (!peer.cursor) continue;
    const [x, y] = view.toScreen(...peer.cursor);
    ctx.fillStyle = peer.color; ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 4, y + 14); ctx.lineTo(x + 7, y + 9); ctx.lineTo(x + 13, y + 8); ctx.closePath();
    ctx.fill(); ctx.stroke();
    ctx.font = "11px system-ui, sans-serif";
    const text = peer.user, width = ctx.measureText(text).width + 8;
    ctx.fillRect(x + 12, y + 12, width, 16);
    ctx.fillStyle = "#111"; ctx.fillText(text, x + 16, y + 24);
  }
}

function fit() {
  const pane = panes()[0];
  view.fit(data.width, data.height, pane.w, pane.h);
  state.fitted = true;
  updateZoomLabel();
  invalidate();
}

function updateZoomLabel() { $("zoom-level").textContent = `${Math.round(view.scale * 100)}%`; }

function zoom(factor, sx, sy) {
  const pane = panes()[0];
  view.zoomAt(factor, sx ?? pane.w / 2, sy ?? pane.h / 2);
  state.fitted = false;
  updateZoomLabel();
  invalidate();
}

// --- Pointer -------------------------------------------------------------------------------------------

// Screen point within its pane, and the source pixel under it.
function locate(event) {
  const rect = canvas.getBoundingClientRect();
  let sx = event.clientX - rect.left;
  const sy = event.clientY - rect.top;
  const pane = panes().find((p) => sx >= p.x && sx < p.x + p.w) || panes()[0];
  sx -= pane.x;
  const [x, y] = view.toSource(sx, sy);
  return { sx, sy, x, y, pane };
}

const clampX = (x) => Math.max(0, Math.min(data.width - 1, x));
const clampY = (y) => Math.max(0, Math.min(data.height - 1, y));
const inside = (x, y) => x >= 0 && y >= 0 && x <= data.width - 1 && y <= data.height - 1;
const snap = (v) => Math.round(v * 2) / 2; // half-pixel precision

canvas.addEventListener("pointerdown", (event) => {
  canvas.focus();
  canvas.setPointerCapture(event.pointerId);
  const at = locate(event);
  if (event.button === 1 || spaceHeld || state.tool === "pan") {
    state.drag = { kind: "pan", last: [event.clientX, event.clientY] };
    return;
  }
  if (event.button !== 0) return;
  if (state.view === "wipe" && Math.abs(at.sx - at.pane.w * state.wipe) < 10) {
    state.drag = { kind: "wipe", pane: at.pane };
    return;
  }
  const proposal = state.canEdit && proposalAt(at.x, at.y);
  if (proposal) { acceptProposals([proposal]); return; }
  const slack = 7 / view.scale;
  const hit = hitTest(state.hints, at.x, at.y, slack);
  if (state.tool === "stroke" && state.canEdit) {
    if (!inside(at.x, at.y)) return;
    state.draft = { id: newId(), width: state.strokeWidth, points: [[snap(at.x), snap(at.y)]] };
    state.drag = { kind: "draw" };
    return;
  }
  if (hit && (state.tool === "select" || (state.tool === "point" && hit.kind === "point"))) {
    select({ kind: hit.kind, id: hit.id });
    if (state.canEdit) {
      const hint = findHint(hit);
      state.drag = { kind: "move", hit, start: [at.x, at.y], original: clone(hint), moved: false };
    }
    return;
  }
  if (state.tool === "point" && state.canEdit && inside(at.x, at.y)) {
    const point = { id: newId(), x: snap(clampX(at.x)), y: snap(clampY(at.y)), color: state.color, radius: state.patch };
    if (state.reference) point.reference = state.reference;
    if (edit([{ op: "add_point", point }])) {
      pushRecent(state.color);
      select({ kind: "point", id: point.id, placed: true });
    }
    return;
  }
  select(null);
});

function pushRecent(color) {
  state.recent = [color, ...state.recent.filter((c) => c !== color)].slice(0, 14);
  localStorage.setItem(RECENT_KEY, JSON.stringify(state.recent));
  updateColorPanel();
}

let lastCursorSent = 0;
canvas.addEventListener("pointermove", (event) => {
  const at = locate(event);
  $("cursor-pos").textContent = inside(at.x, at.y)
    ? `x ${Math.floor(at.x)}  y ${Math.floor(at.y)}  luma ${lumaAt(at.x, at.y)}` : "–";
  const now = performance.now();
  if (now - lastCursorSent > 60) {
    lastCursorSent = now;
    if (state.canEdit) socket.send(inside(at.x, at.y) ? { type: "cursor", x: +at.x.toFixed(1), y: +at.y.toFixed(1), tool: state.tool } : { type: "cursor", x: null, y: null });
  }
  const drag = state.drag;
  if (!drag) return;
  if (drag.kind === "pan") {
    view.pan(event.clientX - drag.last[0], event.clientY - drag.last[1]);
    state.fitted = false;
    drag.last = [event.clientX, event.clientY];
  } else if (drag.kind === "wipe") {
    state.wipe = Math.max(0, Math.min(1, at.sx / drag.pane.w));
  } else if (drag.kind === "draw") {
    const last = state.draft.points[state.draft.points.length - 1];
    const [lx, ly] = view.toScreen(...last);
    if (Math.hypot(lx - at.sx, ly - at.sy) >= 3) state.draft.points.push([snap(clampX(at.x)), snap(clampY(at.y))]);
  } else if (drag.kind === "move") {
    const dx = at.x - drag.start[0], dy = at.y - drag.start[1];
    drag.moved = drag.moved || Math.hypot(dx * view.scale, dy * view.scale) > 2;
    if (drag.moved) moveLocally(drag, dx, dy);
  }
  invalidate();
});

// While dragging, the hint moves on screen only; one update op is sent on release.
function moveLocally(drag, dx, dy) {
  const hint = findHint(drag.hit);
  if (!hint) return;
  const o = drag.original;
  if (drag.hit.kind === "point") {
    hint.x = snap(clampX(o.x + dx)); hint.y = snap(clampY(o.y + dy));
  } else if (drag.hit.vertex !== undefined) {
    hint.points[drag.hit.vertex] = [snap(clampX(o.points[drag.hit.vertex][0] + dx)), snap(clampY(o.points[drag.hit.vertex][1] + dy))];
  } else {
    hint.points = o.points.map(([x, y]) => [snap(clampX(x + dx)), snap(clampY(y + dy))]);
  }
}

canvas.addEventListener("pointerup", () => {
  const drag = state.drag;
  state.drag = null;
  if (!drag) return;
  if (drag.kind === "draw") {
    const draft = state.draft;
    state.draft = null;
    const points = simplify(draft.points, 1 / view.scale);
    if (points.length >= 2) edit([{ op: "add_stroke", stroke: { ...draft, points } }]);
    else notice("A boundary needs at least two points: press and drag.");
  } else if (drag.kind === "move" && drag.moved) {
    const hint = findHint(drag.hit);
    // Send the move against the hint as it was before the drag (recompute restores it first).
    recompute();
    if (!hint || !findHint(drag.hit)) {
      // Someone deleted it while it was being dragged: their change won.
      const who = state.deletedBy.get(drag.hit.id) || "someone else";
      notice(`${who} deleted this ${drag.hit.kind} while you were moving it; your move was not applied.`, "bad");
    } else {
      const changes = drag.hit.kind === "point" ? { x: hint.x, y: hint.y } : { points: hint.points };
      edit([{ op: `update_${drag.hit.kind}`, id: drag.original.id, changes }]);
    }
  }
  invalidate();
});

canvas.addEventListener("pointerleave", () => state.canEdit && socket.send({ type: "cursor", x: null, y: null }));

canvas.addEventListener("wheel", (event) => {
  event.preventDefault();
  const at = locate(event);
  zoom(Math.exp(-event.deltaY * (event.deltaMode ? 0.05 : 0.0015)), at.sx, at.sy);
}, { passive: false });

canvas.addEventListener("dblclick", (event) => {
  const at = locate(event);
  const hit = hitTest(state.hints, at.x, at.y, 7 / view.scale);
  if (hit?.kind === "point") { const p = findHint(hit); suggestAt(p.x, p.y); }
});

// --- Controls and keyboard ------------------------------------------------------------------------------

function setTool(tool) {
  state.tool = tool;
  document.querySelectorAll("[data-tool]").forEach((b) => b.classList.toggle("active", b.dataset.tool === tool));
  canvas.dataset.tool = tool;
}

// A view change keeps the zoom, and the source pixel at the pane's center (the split view halves the pane).
function setView(mode) {
  const before = panes()[0];
  const center = view.toSource(before.w / 2, before.h / 2);
  state.view = mode;
  document.querySelectorAll("[data-view]").forEach((b) => b.classList.toggle("active", b.dataset.view === mode));
  if (state.fitted) { fit(); return; }
  const after = panes()[0];
  view.ox = after.w / 2 - center[0] * view.scale;
  view.oy = after.h / 2 - center[1] * view.scale;
  invalidate();
}

function setPatch(radius, commit) {
  state.patch = Math.max(0, Math.min(32, radius));
  $("patch").value = state.patch;
  $("patch-value").textContent = state.patch;
  const hint = state.selection?.kind === "point" && findHint(state.selection);
  if (commit && hint && hint.radius !== state.patch) {
    edit([{ op: "update_point", id: hint.id, changes: { radius: state.patch } }], { gesture: `patch:${hint.id}` });
  }
}

document.querySelectorAll("[data-tool]").forEach((b) => (b.onclick = () => setTool(b.dataset.tool)));
document.querySelectorAll("[data-view]").forEach((b) => (b.onclick = () => setView(b.dataset.view)));
$("patch").oninput = (e) => setPatch(+e.target.value, false);
$("patch").onchange = (e) => setPatch(+e.target.value, true);
$("stroke-width").oninput = (e) => { state.strokeWidth = +e.target.value; $("stroke-width-value").textContent = e.target.value; };
$("undo").onclick = undo;
$("redo").onclick = redo;
$("fit").onclick = fit;
$("zoom-in").onclick = () => zoom(1.25);
$("zoom-out").onclick = () => zoom(0.8);
$("zoom-level").onclick = () => zoom(1 / view.scale);
$("hex").onchange = (e) => applyColor(e.target.value.startsWith("#") ? e.target.value : "#" + e.target.value);
$("gamut").onclick = (e) => {
  const hex = gamutPick($("gamut"), currentL(), e.offsetX, e.offsetY);
  if (hex) applyColor(hex); else notice("That a/b is outside the displayable gamut at this lightness.");
};

function nudge(dx, dy) {
  const hint = state.selection?.kind === "point" && findHint(state.selection);
  if (hint) edit([{ op: "update_point", id: hint.id, changes: { x: clampX(hint.x + dx), y: clampY(hint.y + dy) } }], { gesture: `nudge:${hint.id}` });
}

function selectNext() {
  const all = [...state.hints.points.map((h) => ({ kind: "point", id: h.id })), ...state.hints.strokes.map((h) => ({ kind: "stroke", id: h.id }))];
  if (!all.length) return;
  const index = all.findIndex((h) => h.id === state.selection?.id);
  select(all[(index + 1) % all.length]);
}

window.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select, dialog")) return;
  const key = event.key, ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && key.toLowerCase() === "z") { event.preventDefault(); event.shiftKey ? redo() : undo(); return; }
  if (ctrl && key.toLowerCase() === "y") { event.preventDefault(); redo(); return; }
  if (ctrl || event.altKey) return;
  const step = event.shiftKey ? 10 : 1;
  const actions = {
    v: () => setTool("select"), p: () => setTool("point"), b: () => setTool("stroke"), h: () => setTool("pan"),
    "[": () => setPatch(state.patch - 1, true), "]": () => setPatch(state.patch + 1, true),
    Delete: deleteSelection, Backspace: deleteSelection,
    Escape: () => { state.draft = null; state.drag = null; select(null); },
    f: fit, "1": () => zoom(1 / view.scale), "+": () => zoom(1.25), "=": () => zoom(1.25), "-": () => zoom(0.8),
    o: () => setView("overlay"), s: () => setView("side"), w: () => setView("wipe"), g: () => setView("frame"),
    n: () => { const h = state.selection?.kind === "point" && findHint(state.selection); if (h) suggestAt(h.x, h.y); },
    u: toggleGuidance, j: nextPoint, a: () => acceptProposals(state.proposals),
    Tab: selectNext,
    ArrowLeft: () => nudge(-step, 0), ArrowRight: () => nudge(step, 0), ArrowUp: () => nudge(0, -step), ArrowDown: () => nudge(0, step),
  };
  const action = actions[key.length === 1 ? key.toLowerCase() : key] || actions[key];
  if (key === " ") { spaceHeld = true; canvas.dataset.tool = "pan"; event.preventDefault(); return; }
  if (action) { event.preventDefault(); action(); }
});
window.addEventListener("keyup", (event) => { if (event.key === " ") { spaceHeld = false; canvas.dataset.tool = state.tool; } });
window.addEventListener("resize", () => (state.fitted ? fit() : invalidate()));

// --- Notices ---------------------------------------------------------------------------------------------

function notice(text, kind = "info") {
  const el = document.createElement("div");
  el.className = `notice ${kind}`;
  el.textContent = text;
  $("notices").append(el);
  setTimeout(() => el.classList.add("gone"), 5000);
  setTimeout(() => el.remove(), 5600);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

setTool(state.tool);
setView("overlay");
updateUndoButtons();
updateColorPanel();
adoptOutbox();
recompute();
loadReview();
$("submit-review")?.addEventListener("click", submitForReview);
$("guidance-toggle")?.addEventListener("click", toggleGuidance);
$("next-point")?.addEventListener("click", nextPoint);
$("carried-accept")?.addEventListener("click", () => acceptProposals(state.proposals));
$("carried-drop")?.addEventListener("click", () => dropProposals(state.proposals));

// For scripted checks (browser tests) and the console: read-only views of the editor.
window.studio = {
  state,
  view,
  guidance,
  size: [data.width, data.height],
  toPage(x, y) {
    const rect = canvas.getBoundingClientRect();
    const [sx, sy] = view.toScreen(x, y);
    return [rect.left + sx, rect.top + sy];
  },
};
