// Where to click next: the keyframe engine's uncertainty, sent with every network preview.
//
// The preview message's "guidance" carries a gray map (255: least sure) at the network's size,
// the centre of the least sure region away from every point ("next", source pixels) and the
// network's likely colors there. The overlay tints unsure regions; "next point" marks that
// place for the annotator and offers those colors.

const TINT = [236, 72, 153]; // magenta: reads on any picture, no hint uses it as a UI color

export class Guidance {
  constructor() {
    this.shown = false;
    this.revision = -1;
    this.next = null;    // {x, y} source pixels, or null
    this.colors = [];    // [{color, probability}]
    this.marked = null;  // the "next point" the annotator asked for: {x, y, revision}
    this.tinted = null;  // a canvas of the map as a translucent tint
  }

  /** A preview's guidance (or none: a classical-method preview has no uncertainty). */
  update(guidance, revision, onReady) {
    if (revision < this.revision) return;
    this.revision = revision;
    if (!guidance) { this.next = null; this.colors = []; this.tinted = null; onReady(); return; }
    this.next = guidance.next;
    this.colors = guidance.colors || [];
    const image = new Image();
    image.src = guidance.map;
    image.decode().then(() => {
      if (revision !== this.revision) return;
      this.tinted = tint(image);
      onReady();
    }).catch(() => {});
  }

  toggle() { this.shown = !this.shown; return this.shown; }

  /** Mark the least sure place away from every point; null when there is none yet. */
  mark() {
    this.marked = this.next ? { ...this.next, revision: this.revision } : null;
    return this.marked;
  }

  /** Draw the overlay (when shown) and the marked place onto ctx, in the view's transform. */
  draw(ctx, view, width, height) {
    if (this.shown && this.tinted) {
      ctx.save();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.tinted, view.ox, view.oy, width * view.scale, height * view.scale);
      ctx.restore();
    }
    if (this.marked) {
      const [x, y] = view.toScreen(this.marked.x, this.marked.y);
      ctx.save();
      ctx.lineWidth = 4; ctx.strokeStyle = "rgba(0,0,0,.7)";
      ctx.beginPath(); ctx.arc(x, y, 16, 0, 7); ctx.stroke();
      ctx.lineWidth = 2; ctx.strokeStyle = `rgb(${TINT.join(",")})`;
      ctx.beginPath(); ctx.arc(x, y, 16, 0, 7); ctx.stroke();
      ctx.restore();
    }
  }
}

function tint(image) {
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const c = canvas.getContext("2d");
  c.drawImage(image, 0, 0);
  const pixels = c.getImageData(0, 0, canvas.width, canvas.height);
  const d = pixels.data;
  for (let i = 0; i < d.length; i += 4) {
    const unsure = d[i] / 255;
    d[i] = TINT[0]; d[i + 1] = TINT[1]; d[i + 2] = TINT[2];
    d[i + 3] = Math.round(200 * unsure * unsure); // sure regions stay clear
  }
  c.putImageData(pixels, 0, 0);
  return canvas;
}
