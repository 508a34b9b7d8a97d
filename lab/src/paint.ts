// Drawing for the ∇x lab: images (grayscale in [0, 1], diverging maps for gradients), probability bars, feature
// maps as tiles and small line plots, on canvases and plain DOM. No library: each picture is a few loops.

/** Classes' line colours in plots (ColorBrewer Paired, 10 classes). */
export const CLASS_COLORS = ['#1f78b4', '#33a02c', '#e31a1c', '#ff7f00', '#6a3d9a', '#b15928', '#a6cee3', '#b2df8a', '#fb9a99', '#cab2d6'];

/** One RGB pixel per value: how a value becomes a colour. */
type ColorOf = (v: number) => [number, number, number];

const grayOf: ColorOf = (v) => {
  const g = Math.round(255 * Math.min(1, Math.max(0, v)));
  return [g, g, g];
};

/** Diverging map for a value in [−1, 1]: blue (−), white (0), red (+). */
const divergingOf: ColorOf = (v) => {
  const a = Math.min(1, Math.abs(v));
  const k = Math.round(255 * (1 - a));
  return v >= 0 ? [255, k, k] : [k, k, 255];
};

function put(canvas: HTMLCanvasElement, w: number, h: number, value: (i: number) => number, color: ColorOf): void {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = color(value(i));
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Largest |v| of `data` (1 when all are 0, so a blank map stays white rather than dividing by 0). */
export function maxAbs(data: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]));
  return m === 0 ? 1 : m;
}

/**
 * A w×h grayscale image from values in [0, 1] (row-major), one canvas pixel per value (CSS scales it up).
 * @example
 *   paintGray(canvas, pixels, 28, 28);
 */
export function paintGray(canvas: HTMLCanvasElement, data: ArrayLike<number>, w: number, h: number): void {
  put(canvas, w, h, (i) => data[i], grayOf);
}

/**
 * A w×h diverging map of signed values scaled by `scale` (default max |v|): red +, white 0, blue −.
 * @example
 *   paintDiverging(canvas, dx.data, 28, 28);            // ∇x
 *   paintDiverging(canvas, delta, 28, 28, eps);          // a perturbation within ±ε
 */
export function paintDiverging(canvas: HTMLCanvasElement, data: ArrayLike<number>, w: number, h: number, scale = maxAbs(data)): void {
  put(canvas, w, h, (i) => data[i] / scale, divergingOf);
}

/**
 * A layer's tensor for one example, shape [C, H, W] (a grid of up to 16 channels, 1-pixel gaps) or [n] (a row-major
 * square of cells): grayscale min–max scaled, or diverging around 0 for gradients. The canvas is sized to `cssWidth`.
 * @example
 *   paintTiles(canvas, out.data, [16, 12, 12], false);
 */
export function paintTiles(canvas: HTMLCanvasElement, data: ArrayLike<number>, shape: number[], signed: boolean, cssWidth = 300): void {
  let C = 1, H: number, W: number;
  if (shape.length === 3) [C, H, W] = shape;
  else {
    const n = shape.reduce((a, b) => a * b, 1);
    W = Math.ceil(Math.sqrt(n));
    H = Math.ceil(n / W);
  }
  const shown = Math.min(C, 16);
  const cols = Math.ceil(Math.sqrt(shown)), rows = Math.ceil(shown / cols);
  const w = cols * (W + 1) - 1, h = rows * (H + 1) - 1;
  const plane = H * W, size = shape.length === 3 ? C * plane : shape.reduce((a, b) => a * b, 1);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < size; i++) {
    lo = Math.min(lo, data[i]);
    hi = Math.max(hi, data[i]);
  }
  const s = signed ? maxAbs(Array.from({ length: size }, (_, i) => data[i])) : hi - lo || 1;
  const gap = signed ? 0 : -1; // gaps: white between gradient tiles, black between activations
  put(canvas, w, h, (p) => {
    const px = p % w, py = Math.floor(p / w);
    const tc = Math.floor(px / (W + 1)), tr = Math.floor(py / (H + 1));
    const x = px % (W + 1), y = py % (H + 1), c = tr * cols + tc;
    if (x === W || y === H || c >= shown) return gap;
    const i = c * plane + y * W + x;
    if (i >= size) return gap;
    return signed ? data[i] / s : (data[i] - lo) / s;
  }, signed ? divergingOf : grayOf);
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${Math.round((cssWidth * h) / w)}px`;
}

/**
 * Probability bars for classes 0…C−1 into `el` (a 3-column grid: class, bar, value); the largest is highlighted.
 * @example
 *   paintBars(document.getElementById('bars')!, probs);
 */
export function paintBars(el: HTMLElement, probs: ArrayLike<number>): void {
  let top = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c] > probs[top]) top = c;
  if (el.childElementCount !== 3 * probs.length) {
    el.replaceChildren();
    for (let c = 0; c < probs.length; c++) {
      const k = document.createElement('span');
      k.textContent = String(c);
      const track = document.createElement('div');
      track.append(document.createElement('div'));
      track.firstElementChild!.className = 'b';
      const v = document.createElement('span');
      v.className = 'v';
      el.append(k, track, v);
    }
    el.setAttribute('role', 'list');
  }
  for (let c = 0; c < probs.length; c++) {
    const bar = el.children[3 * c + 1].firstElementChild as HTMLElement;
    bar.style.width = `${(100 * probs[c]).toFixed(2)}%`;
    bar.classList.toggle('top', c === top);
    el.children[3 * c + 2].textContent = `${(100 * probs[c]).toFixed(1)}%`;
  }
  el.setAttribute('aria-label', `predicted ${top} with probability ${(100 * probs[top]).toFixed(1)}%`);
}

export interface Series {
  ys: ArrayLike<number>;
  color: string;
  width?: number;
  dashed?: boolean;
  label?: string;
}

/**
 * A line plot of series over xs on a canvas, with axes, tick labels and an optional vertical marker at `mark`.
 * @example
 *   plotLines(canvas, eps, [{ ys: gain, color: '#0b6bcb' }], { mark: 0.1, xLabel: 'ε' });
 */
export function plotLines(canvas: HTMLCanvasElement, xs: ArrayLike<number>, series: Series[], opts: { mark?: number; xLabel?: string; yLabel?: string } = {}): void {
  const ctx = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  const L = 44, R = 10, T = 10, B = 30;
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (let i = 0; i < s.ys.length; i++) if (Number.isFinite(s.ys[i])) { lo = Math.min(lo, s.ys[i]); hi = Math.max(hi, s.ys[i]); }
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  const pad = 0.05 * (hi - lo);
  lo -= pad; hi += pad;
  const x0 = xs[0], x1 = xs[xs.length - 1];
  const X = (x: number) => L + ((x - x0) / (x1 - x0)) * (w - L - R);
  const Y = (y: number) => T + ((hi - y) / (hi - lo)) * (h - T - B);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#5b6570';
  ctx.strokeStyle = '#d0d7de';
  ctx.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const yv = lo + ((hi - lo) * k) / 4, xv = x0 + ((x1 - x0) * k) / 4;
    ctx.beginPath(); ctx.moveTo(L, Y(yv)); ctx.lineTo(w - R, Y(yv)); ctx.stroke();
    ctx.fillText(yv.toPrecision(3), 2, Y(yv) + 4);
    // centred under its tick, the last one ending at it (so it is not cut off at the canvas's edge)
    ctx.textAlign = k === 4 ? 'right' : 'center';
    ctx.fillText(xv.toFixed(2), X(xv) + (k === 4 ? 2 : 0), h - B + 14);
    ctx.textAlign = 'left';
  }
  if (opts.xLabel) ctx.fillText(opts.xLabel, w - R - 40, h - 4);
  if (opts.yLabel) ctx.fillText(opts.yLabel, L + 4, T + 10);
  if (lo < 0 && hi > 0) { ctx.strokeStyle = '#8c959f'; ctx.beginPath(); ctx.moveTo(L, Y(0)); ctx.lineTo(w - R, Y(0)); ctx.stroke(); }
  if (opts.mark !== undefined) {
    ctx.strokeStyle = '#1b1f24';
    ctx.setLineDash([2, 3]);
    ctx.beginPath(); ctx.moveTo(X(opts.mark), T); ctx.lineTo(X(opts.mark), h - B); ctx.stroke();
    ctx.setLineDash([]);
  }
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width ?? 1.5;
    ctx.setLineDash(s.dashed ? [6, 4] : []);
    ctx.beginPath();
    for (let i = 0; i < xs.length; i++) if (i === 0) ctx.moveTo(X(xs[i]), Y(s.ys[i]));
      else ctx.lineTo(X(xs[i]), Y(s.ys[i]));
    ctx.stroke();
    if (s.label) {
      ctx.fillStyle = s.color;
      ctx.textAlign = 'right';
      ctx.fillText(s.label, X(xs[xs.length - 1]) - 2, Y(s.ys[xs.length - 1]) - 3);
      ctx.textAlign = 'left';
    }
  }
  ctx.setLineDash([]);
}
