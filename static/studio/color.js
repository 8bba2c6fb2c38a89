// sRGB <-> CIE Lab (D65), the a/b gamut picker, and the Rec. 709 luma -> Lab lightness mapping.

export const hexToRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
export const rgbToHex = (rgb) => "#" + rgb.map((v) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, "0")).join("");
export const isHex = (value) => /^#[0-9a-fA-F]{6}$/.test(value);

const toLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const toGamma = (c) => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const WHITE = [0.95047, 1.0, 1.08883];
const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const fInv = (t) => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));

export function rgbToLab([r, g, b]) {
  const [R, G, B] = [r, g, b].map((v) => toLinear(v / 255));
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / WHITE[0];
  const Y = (0.2126 * R + 0.7152 * G + 0.0722 * B) / WHITE[1];
  const Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / WHITE[2];
  return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
}

// Lab -> sRGB 0..255 floats, and whether the color is inside the sRGB gamut.
export function labToRgb([L, a, b]) {
  const fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;
  const X = fInv(fx) * WHITE[0], Y = fInv(fy) * WHITE[1], Z = fInv(fz) * WHITE[2];
  const lin = [3.2406 * X - 1.5372 * Y - 0.4986 * Z, -0.9689 * X + 1.8758 * Y + 0.0415 * Z, 0.0557 * X - 0.204 * Y + 1.057 * Z];
  const inGamut = lin.every((c) => c >= -0.001 && c <= 1.001);
  return { rgb: lin.map((c) => 255 * toGamma(Math.max(0, Math.min(1, c)))), inGamut };
}

// Lab lightness of a gray pixel with Rec. 709 luma Y' (0..255): what the engine keeps exactly.
export const lumaToL = (luma) => 116 * f(toLinear(luma / 255)) - 16;

const AB_RANGE = 110;

// Draw the a/b plane at lightness L; out-of-gamut colors are left dark.
export function drawGamut(canvas, L, marker) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const image = ctx.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (x / (width - 1) * 2 - 1) * AB_RANGE, b = (1 - y / (height - 1) * 2) * AB_RANGE;
      const { rgb, inGamut } = labToRgb([L, a, b]);
      const o = (y * width + x) * 4;
      if (inGamut) { image.data[o] = rgb[0]; image.data[o + 1] = rgb[1]; image.data[o + 2] = rgb[2]; }
      else { const v = ((x >> 3) + (y >> 3)) % 2 ? 30 : 38; image.data[o] = image.data[o + 1] = image.data[o + 2] = v; }
      image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  ctx.strokeStyle = "rgba(255,255,255,.25)";
  ctx.beginPath(); ctx.moveTo(width / 2, 0); ctx.lineTo(width / 2, height); ctx.moveTo(0, height / 2); ctx.lineTo(width, height / 2); ctx.stroke();
  if (marker) {
    const [, a, b] = marker;
    const mx = (a / AB_RANGE + 1) / 2 * (width - 1), my = (1 - b / AB_RANGE) / 2 * (height - 1);
    ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.arc(mx, my, 6, 0, 7); ctx.stroke();
    ctx.lineWidth = 1.5; ctx.strokeStyle = "#fff"; ctx.beginPath(); ctx.arc(mx, my, 6, 0, 7); ctx.stroke();
  }
}

// The sRGB color at a click on the gamut canvas (null outside the gamut).
export function gamutPick(canvas, L, offsetX, offsetY) {
  const a = (offsetX / (canvas.clientWidth - 1) * 2 - 1) * AB_RANGE;
  const b = (1 - offsetY / (canvas.clientHeight - 1) * 2) * AB_RANGE;
  const { rgb, inGamut } = labToRgb([L, a, b]);
  return inGamut ? rgbToHex(rgb) : null;
}
