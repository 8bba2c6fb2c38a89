// Zoom and pan: screen = source * scale + offset (CSS pixels). Pixel-level zoom up to 64x.

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 64;

export class Viewport {
  constructor() { this.scale = 1; this.ox = 0; this.oy = 0; }

  toSource(sx, sy) { return [(sx - this.ox) / this.scale, (sy - this.oy) / this.scale]; }
  toScreen(x, y) { return [x * this.scale + this.ox, y * this.scale + this.oy]; }

  fit(width, height, viewWidth, viewHeight, margin = 16) {
    this.scale = Math.max(MIN_SCALE, Math.min((viewWidth - 2 * margin) / width, (viewHeight - 2 * margin) / height));
    this.ox = (viewWidth - width * this.scale) / 2;
    this.oy = (viewHeight - height * this.scale) / 2;
  }

  // Zoom by `factor` keeping the source pixel under (sx, sy) in place.
  zoomAt(factor, sx, sy) {
    const scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, this.scale * factor));
    const [x, y] = this.toSource(sx, sy);
    this.scale = scale;
    this.ox = sx - x * scale;
    this.oy = sy - y * scale;
  }

  pan(dx, dy) { this.ox += dx; this.oy += dy; }
}
