// The project page's footage card: upload with a progress bar (XHR: fetch cannot report upload
// progress), then follow the ingest live over the project socket until the new shots exist.

import { csrfToken, refusal } from "./http.js";
import { StudioSocket } from "./socket.js";

const $ = (id) => document.getElementById(id);
const card = $("footage");
const form = $("upload-form");
const status = $("upload-status");
const early = new Map(); // footage id -> its latest event, while its row is not on the page yet

function say(text, bad = false) {
  status.textContent = text;
  status.className = bad ? "small error" : "small";
}

function row(footageId) {
  return document.querySelector(`#footage-rows tr[data-footage="${footageId}"]`);
}

function showIngest(footageId, progress) {
  const tr = row(footageId);
  if (!tr) return;
  let bar = tr.querySelector("progress");
  if (!bar) { bar = document.createElement("progress"); bar.max = 1; tr.cells[1].append(bar); }
  bar.value = progress;
  tr.querySelector(".badge").textContent = `Ingesting ${Math.round(progress * 100)}%`;
}

function size(bytes) {
  const [unit, scale] = [["GB", 2 ** 30], ["MB", 2 ** 20], ["KB", 2 ** 10]].find(([, s]) => bytes >= s) || ["bytes", 1];
  return `${(bytes / scale).toFixed(scale > 1 ? 1 : 0)} ${unit}`;
}

function addRow(footage) {
  document.querySelector("#footage-rows tr.muted")?.remove();
  const tr = document.createElement("tr");
  tr.dataset.footage = footage.id;
  tr.dataset.status = footage.status;
  tr.dataset.mine = "1";
  const cells = [footage.name, "", "", size(footage.size_bytes), "0"];
  for (const text of cells) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
  const badge = document.createElement("span");
  badge.className = `badge ${footage.status}`;
  badge.textContent = "Queued";
  tr.cells[1].append(badge);
  $("footage-rows").prepend(tr);
  const event = early.get(footage.id); // the ingest may have moved on before the upload answered
  if (event) handle(event);
}

function upload(data) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.api);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      $("upload-progress").value = e.loaded / e.total;
      say(`Uploading ${Math.round((100 * e.loaded) / e.total)}%`);
    };
    xhr.onload = () => {
      if (xhr.status === 202) resolve(JSON.parse(xhr.responseText));
      else reject(new Error(refusal(xhr.status, xhr.statusText, xhr.responseText)));
    };
    xhr.onerror = () => reject(new Error("the upload was interrupted (network error); nothing was stored"));
    xhr.send(data);
  });
}

if (form) {
  form.onsubmit = async (e) => {
    e.preventDefault();
    const file = $("upload-file").files[0];
    if (!file) return;
    if (file.size > +form.dataset.maxBytes) { say(`${file.name} is larger than the upload limit.`, true); return; }
    const button = form.querySelector("button");
    button.disabled = true;
    $("upload-progress").hidden = false;
    try {
      const footage = await upload(new FormData(form));
      addRow(footage);
      form.reset();
      say(`Uploaded ${footage.name}; ingesting…`);
    } catch (error) {
      say(`Upload failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
      $("upload-progress").hidden = true;
    }
  };
}

// The outcome of an ingest: no automatic reload, which could throw away a half-filled form.
function showOutcome(footageId, verb, after) {
  const tr = row(footageId);
  if (!tr) return;
  tr.querySelector("progress")?.remove();
  const badge = tr.querySelector(".badge");
  badge.className = `badge ${verb === "footage.ingested" ? "ready" : "failed"}`;
  badge.textContent = verb === "footage.ingested" ? "Ready" : "Failed";
  tr.dataset.status = verb === "footage.ingested" ? "ready" : "failed";
  if (tr.dataset.mine) {
    const name = tr.cells[0].textContent;
    say(verb === "footage.ingested" ? `${name} is ready: ${after.shots.length} shot${after.shots.length === 1 ? "" : "s"}.` : `${name} could not be ingested.`, verb !== "footage.ingested");
  }
  if (verb === "footage.ingested") {
    tr.cells[2].textContent = after.frames;
    tr.cells[4].textContent = after.shots.length;
    const link = document.createElement("a");
    link.href = location.pathname;
    link.textContent = " reload to see the new shots";
    tr.cells[4].append(link);
  } else {
    const error = document.createElement("div");
    error.className = "small error";
    error.textContent = after.error;
    tr.cells[1].append(error);
  }
}

// Ingest progress and outcome, for anyone on the page (uploads by others included).
function handle({ event, data }) {
  const footageId = event === "footage.progress" ? data.footage : data.target_id;
  if (!row(footageId)) { early.set(footageId, { event, data }); return; }
  if (event === "footage.progress") showIngest(footageId, data.progress);
  else showOutcome(footageId, event, data.after);
}

new StudioSocket(`/ws/projects/${card.dataset.project}/`).on("event", (message) => {
  if (["footage.progress", "footage.ingested", "footage.failed"].includes(message.event)) handle(message);
});
