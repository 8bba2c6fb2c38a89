// The project page: add color references with their source, and pick a color from a reference
// image (a new upload or an existing attachment).

import { api } from "./http.js";
import { isHex, rgbToHex } from "./color.js";

const $ = (id) => document.getElementById(id);
const form = $("reference-form");

function setColor(hex) {
  if (!form) return;
  $("color-hex").value = hex;
  $("color-input").value = hex;
}

// Show an image in the picker canvas; clicking takes the mean color of a 5x5 patch.
function showInPicker(source) {
  if (!form) return;
  const image = new Image();
  image.onload = () => {
    const canvas = $("picker-canvas");
    const scale = Math.min(1, 560 / image.naturalWidth);
    canvas.width = Math.round(image.naturalWidth * scale);
    canvas.height = Math.round(image.naturalHeight * scale);
    canvas.getContext("2d", { willReadFrequently: true }).drawImage(image, 0, 0, canvas.width, canvas.height);
    $("picker").hidden = false;
  };
  image.src = source;
}

if (form) {
  $("color-input").oninput = (e) => ($("color-hex").value = e.target.value);
  $("color-hex").oninput = (e) => { if (isHex(e.target.value)) $("color-input").value = e.target.value; };
  $("attachment").onchange = (e) => {
    const file = e.target.files[0];
    if (file && file.type.startsWith("image/")) showInPicker(URL.createObjectURL(file));
  };
  $("picker-canvas").onclick = (e) => {
    const canvas = e.target;
    const x = Math.round(e.offsetX * canvas.width / canvas.clientWidth), y = Math.round(e.offsetY * canvas.height / canvas.clientHeight);
    const patch = canvas.getContext("2d").getImageData(Math.max(0, x - 2), Math.max(0, y - 2), 5, 5).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < patch.length; i += 4) { sum[0] += patch[i]; sum[1] += patch[i + 1]; sum[2] += patch[i + 2]; }
    setColor(rgbToHex(sum.map((v) => v / (patch.length / 4))));
  };
  form.onsubmit = async (e) => {
    e.preventDefault();
    const fields = Object.fromEntries(new FormData(form).entries());
    $("form-status").textContent = "Saving…";
    try {
      const reference = await api(form.dataset.api, { method: "POST", json: fields });
      const file = $("attachment").files[0];
      if (file) {
        const upload = new FormData();
        upload.append("file", file);
        await api(`/api/references/${reference.id}/attachments/`, { method: "POST", form: upload });
      }
      location.reload();
    } catch (error) {
      $("form-status").textContent = error.message;
      $("form-status").className = "small error";
    }
  };
}

document.querySelectorAll("img[data-pick]").forEach((img) => (img.onclick = () => showInPicker(img.dataset.pick)));
