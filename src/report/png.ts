// PNG pictures for people: MNIST digits, adversarial perturbations and input-gradient (∇x) heat maps.
// A Canvas is a plain RGBA buffer with a few drawing calls (pixels, rectangles, scaled images, bitmap text);
// colormaps turn numbers into colours; renderGrid lays captioned images out in a table.
// Encoding goes through pngjs; files are written atomically.
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomic.js';
import { GLYPH_H, GLYPH_W, glyphMask, textWidth } from './font.js';

export { textWidth } from './font.js';
import { COLOR_BAR_H, drawColorBar } from './color-bar.js';
import { shown } from '../engine/shown.js';

/** An 8-bit colour: red, green, blue, each 0..255 (out-of-range values are clamped and rounded). */
export type RGB = [number, number, number];

const WHITE: RGB = [255, 255, 255];
const BLACK: RGB = [0, 0, 0];
/** Colour every colormap gives NaN, so that broken values stand out instead of passing for zero. */
const NAN_COLOR: RGB = [255, 0, 255];
/** Vertical gap in pixels between a grid cell's image and its caption. */
const CAPTION_GAP = 3;

function byte(v: number): number {
  return v >= 255 ? 255 : v > 0 ? Math.round(v) : 0; // NaN → 0
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * An RGBA 8-bit image, row-major, 4 bytes per pixel. Drawing calls clip at the edges.
 * @example
 *   const c = new Canvas(64, 32);                 // white
 *   c.fillRect(0, 0, 8, 8, [255, 0, 0]); c.save('/tmp/a.png');
 */
export class Canvas {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;

  constructor(width: number, height: number, background: RGB = WHITE) {
    if (!isPosInt(width)) throw new Error(`Canvas: width expected a positive integer, got ${shown(width)}`);
    if (!isPosInt(height)) throw new Error(`Canvas: height expected a positive integer, got ${shown(height)}`);
    this.width = width;
    this.height = height;
    this.rgba = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  /**
   * Set one pixel (opaque); coordinates are floored, pixels outside the canvas are ignored.
   * @example
   *   canvas.setPixel(3, 4, [0, 0, 0]);
   *   canvas.rgba[(4 * canvas.width + 3) * 4];  // 0
   */
  setPixel(x: number, y: number, c: RGB): void {
    x = Math.floor(x);
    y = Math.floor(y);
    if (!(x >= 0 && x < this.width && y >= 0 && y < this.height)) return;
    const o = (y * this.width + x) * 4;
    const px = this.rgba;
    px[o] = byte(c[0]);
    px[o + 1] = byte(c[1]);
    px[o + 2] = byte(c[2]);
    px[o + 3] = 255;
  }

  /**
   * Fill the rectangle [x, x+w) × [y, y+h) (clipped to the canvas) with one opaque colour.
   * @example
   *   canvas.fillRect(0, 0, canvas.width, 1, [0, 0, 0]);   // top border line
   *   canvas.fillRect(10, 10, 4, 4, [255, 0, 0]);
   */
  fillRect(x: number, y: number, w: number, h: number, c: RGB): void {
    x = Math.floor(x);
    y = Math.floor(y);
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + Math.floor(w));
    const y1 = Math.min(this.height, y + Math.floor(h));
    if (!(x1 > x0 && y1 > y0)) return;
    const r = byte(c[0]);
    const g = byte(c[1]);
    const b = byte(c[2]);
    const px = this.rgba;
    const W = this.width;
    for (let yy = y0; yy < y1; yy++) {
      let o = (yy * W + x0) * 4;
      for (let xx = x0; xx < x1; xx++, o += 4) {
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
        px[o + 3] = 255;
      }
    }
  }

  /**
   * Draw a single-channel image (`values` row-major, length h*w) with its top-left at (x, y),
   * each value a `scale`×`scale` block coloured by `colorize`.
   * @example
   *   canvas.drawImage(pixels28x28, 28, 28, 0, 0, 4, gray);       // 112×112 digit
   *   canvas.drawImage(grad, 28, 28, 120, 0, 4, diverging(maxAbs(grad)));
   */
  drawImage(
    values: ArrayLike<number>,
    h: number,
    w: number,
    x: number,
    y: number,
    scale: number,
    colorize: (v: number) => RGB,
  ): void {
    if (!isPosInt(h)) throw new Error(`Canvas.drawImage: h expected a positive integer, got ${shown(h)}`);
    if (!isPosInt(w)) throw new Error(`Canvas.drawImage: w expected a positive integer, got ${shown(w)}`);
    if (!isPosInt(scale)) throw new Error(`Canvas.drawImage: scale expected a positive integer, got ${shown(scale)}`);
    if (values == null || values.length !== h * w) {
      throw new Error(`Canvas.drawImage: values expected length h*w = ${h * w}, got ${values == null ? values : values.length}`);
    }
    if (typeof colorize !== 'function') throw new Error(`Canvas.drawImage: colorize expected a function, got ${typeof colorize}`);
    x = Math.floor(x);
    y = Math.floor(y);
    const px = this.rgba;
    const W = this.width;
    const H = this.height;
    for (let i = 0; i < h; i++) {
      const top = y + i * scale;
      const ya = Math.max(0, top);
      const yb = Math.min(H, top + scale);
      if (yb <= ya) continue;
      for (let j = 0; j < w; j++) {
        const left = x + j * scale;
        const xa = Math.max(0, left);
        const xb = Math.min(W, left + scale);
        if (xb <= xa) continue;
        const c = colorize(values[i * w + j]);
        const r = byte(c[0]);
        const g = byte(c[1]);
        const b = byte(c[2]);
        for (let yy = ya; yy < yb; yy++) {
          let o = (yy * W + xa) * 4;
          for (let xx = xa; xx < xb; xx++, o += 4) {
            px[o] = r;
            px[o + 1] = g;
            px[o + 2] = b;
            px[o + 3] = 255;
          }
        }
      }
    }
  }

  /**
   * Write `str` in the report font (DejaVu Sans Mono, anti-aliased; see font.ts), top-left of the first character
   * cell at (x, y). Each character takes GLYPH_W×GLYPH_H pixels times `scale`; '\n' starts a new line.
   * @example
   *   canvas.text('7 (0.99)', 4, 120);
   *   canvas.text('FGSM ε=0.1', 4, 2, [200, 0, 0], 2);
   */
  text(str: string, x: number, y: number, c: RGB = BLACK, scale = 1): void {
    if (typeof str !== 'string') throw new Error(`Canvas.text: str expected a string, got ${typeof str}`);
    if (!isPosInt(scale)) throw new Error(`Canvas.text: scale expected a positive integer, got ${shown(scale)}`);
    x = Math.floor(x);
    y = Math.floor(y);
    const r = byte(c[0]);
    const g = byte(c[1]);
    const b = byte(c[2]);
    const px = this.rgba;
    const W = this.width;
    const H = this.height;
    let cx = x;
    let cy = y;
    for (const ch of str) {
      if (ch === '\n') {
        cx = x;
        cy += GLYPH_H * scale;
        continue;
      }
      if (ch !== ' ') {
        const m = glyphMask(ch, scale);
        for (let i = 0; i < m.h; i++) {
          const yy = cy + i;
          if (yy < 0 || yy >= H) continue;
          for (let j = 0; j < m.w; j++) {
            const a = m.alpha[i * m.w + j];
            const xx = cx - m.left + j;
            if (a === 0 || xx < 0 || xx >= W) continue;
            const o = (yy * W + xx) * 4;
            // ink over what is there: out = a·ink + (1 − a)·under
            px[o] = Math.round(a * r + (1 - a) * px[o]);
            px[o + 1] = Math.round(a * g + (1 - a) * px[o + 1]);
            px[o + 2] = Math.round(a * b + (1 - a) * px[o + 2]);
            px[o + 3] = 255;
          }
        }
      }
      cx += GLYPH_W * scale;
    }
  }

  /**
   * Encode as an RGBA PNG (8 bits per channel).
   * @example
   *   const bytes = canvas.toPng();
   *   PNG.sync.read(Buffer.from(bytes)).width === canvas.width;
   */
  toPng(): Uint8Array {
    const png = new PNG({ width: this.width, height: this.height });
    png.data.set(this.rgba);
    const buf = PNG.sync.write(png, { colorType: 6 });
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /**
   * Encode as PNG and write it to `path` atomically (temporary file + rename; folders are created).
   * @example
   *   renderGrid([[cell]]).save('out/digits.png');
   *   canvas.save('/tmp/grad.png');
   */
  save(path: string): void {
    if (typeof path !== 'string' || path.length === 0) {
      throw new Error(`Canvas.save: path expected a non-empty string, got ${JSON.stringify(path)}`);
    }
    writeFileAtomic(path, this.toPng());
  }
}

/**
 * Grayscale colormap for pixel intensities in [0, 1]: 0 → black, 1 → white (MNIST convention), clamped; NaN → magenta.
 * @example
 *   gray(0);    // [0, 0, 0]
 *   gray(0.5);  // [128, 128, 128]
 */
export const gray = (v: number): RGB => {
  if (Number.isNaN(v)) return [...NAN_COLOR];
  const g = Math.round(clamp01(v) * 255);
  return [g, g, g];
};

const BLUE: RGB = [33, 90, 200];
const RED: RGB = [200, 30, 35];

function checkScale(fn: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${fn}: ${name} expected a finite number >= 0, got ${v}`);
  }
}

/**
 * Diverging colormap for signed values such as perturbations or ∇x: blue (−maxAbs) – white (0) – red (+maxAbs),
 * v/maxAbs clamped to [−1, 1]. With maxAbs = 0 everything is white; NaN → magenta.
 * @example
 *   const col = diverging(maxAbs(grad));
 *   col(0);  // [255, 255, 255]
 */
export function diverging(maxAbs: number): (v: number) => RGB {
  checkScale('diverging', 'maxAbs', maxAbs);
  const inv = maxAbs > 0 ? 1 / maxAbs : 0;
  return (v: number): RGB => {
    if (Number.isNaN(v)) return [...NAN_COLOR];
    let t = v * inv;
    if (Number.isNaN(t)) t = 0; // ±Infinity * 0
    const end = t < 0 ? BLUE : RED;
    const a = Math.min(1, Math.abs(t));
    return [
      Math.round(255 + (end[0] - 255) * a),
      Math.round(255 + (end[1] - 255) * a),
      Math.round(255 + (end[2] - 255) * a),
    ];
  };
}

/**
 * "Hot" colormap for magnitudes such as |∇x|: black → red → yellow → white as v/maxVal goes 0 → 1 (clamped).
 * With maxVal = 0 everything is black; NaN → magenta.
 * @example
 *   const col = heat(maxAbs(grad));
 *   col(Math.abs(grad[i]));
 */
export function heat(maxVal: number): (v: number) => RGB {
  checkScale('heat', 'maxVal', maxVal);
  const inv = maxVal > 0 ? 1 / maxVal : 0;
  return (v: number): RGB => {
    if (Number.isNaN(v)) return [...NAN_COLOR];
    let t = v * inv;
    if (Number.isNaN(t)) t = 0;
    t = clamp01(t) * 3;
    return [Math.round(clamp01(t) * 255), Math.round(clamp01(t - 1) * 255), Math.round(clamp01(t - 2) * 255)];
  };
}

function textHeight(str: string, scale = 1): number {
  let lines = 1;
  for (let i = 0; i < str.length; i++) if (str.charCodeAt(i) === 10) lines++;
  return lines * GLYPH_H * scale;
}

/** One image in a renderGrid table: h×w values row-major, coloured by `colorize`, with an optional caption below. */
export interface GridCell {
  values: ArrayLike<number>;
  h: number;
  w: number;
  colorize: (v: number) => RGB;
  caption?: string;
  /** A labelled colour bar of `colorize` from lo to hi under the image (heat maps): what a colour stands for. */
  colorBar?: { lo: number; hi: number };
}

/**
 * Lay captioned images out in a table on a white background: each cell is its image scaled by `scale`
 * (default 4) with its colour bar (if any) and caption centred below; an optional title (double size) on top, a title per column and
 * a title per row (right-aligned in a left margin, centred on the row's images).
 * Rows may have different lengths; a column is as wide as its widest image, caption or title; `pad` (default 8)
 * pixels separate cells and surround the table.
 * @example
 *   const grid = renderGrid([[{ values: x, h: 28, w: 28, colorize: gray, caption: '7 (0.99)' }]], { title: 'MNIST' });
 *   grid.save('out/digits.png');
 */
export function renderGrid(
  rows: GridCell[][],
  opts: { scale?: number; pad?: number; title?: string; columnTitles?: string[]; rowTitles?: string[] } = {},
): Canvas {
  const scale = opts.scale ?? 4;
  const pad = opts.pad ?? 8;
  const { title, columnTitles, rowTitles } = opts;
  if (!Array.isArray(rows)) throw new Error(`renderGrid: rows expected an array of arrays of cells, got ${typeof rows}`);
  if (!isPosInt(scale)) throw new Error(`renderGrid: opts.scale expected a positive integer, got ${shown(scale)}`);
  if (!(Number.isInteger(pad) && pad >= 0)) throw new Error(`renderGrid: opts.pad expected an integer >= 0, got ${pad}`);
  if (title !== undefined && typeof title !== 'string') {
    throw new Error(`renderGrid: opts.title expected a string, got ${typeof title}`);
  }
  if (columnTitles !== undefined && !(Array.isArray(columnTitles) && columnTitles.every((t) => typeof t === 'string'))) {
    throw new Error(`renderGrid: opts.columnTitles expected an array of strings, got ${JSON.stringify(columnTitles)}`);
  }
  if (rowTitles !== undefined && !(Array.isArray(rowTitles) && rowTitles.every((t) => typeof t === 'string'))) {
    throw new Error(`renderGrid: opts.rowTitles expected an array of strings, got ${JSON.stringify(rowTitles)}`);
  }
  if (rowTitles !== undefined && Array.isArray(rows) && rowTitles.length > rows.length) {
    throw new Error(`renderGrid: opts.rowTitles expected at most rows.length = ${rows.length} titles, got ${rowTitles.length}`);
  }

  let ncols = columnTitles?.length ?? 0;
  let ncells = 0;
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw new Error(`renderGrid: rows[${i}] expected an array of cells, got ${typeof row}`);
    row.forEach((cell, j) => {
      const at = `renderGrid: rows[${i}][${j}]`;
      if (cell == null || typeof cell !== 'object') throw new Error(`${at} expected a GridCell, got ${shown(cell)}`);
      if (!isPosInt(cell.h)) throw new Error(`${at}.h expected a positive integer, got ${shown(cell.h)}`);
      if (!isPosInt(cell.w)) throw new Error(`${at}.w expected a positive integer, got ${shown(cell.w)}`);
      if (cell.values == null || cell.values.length !== cell.h * cell.w) {
        throw new Error(`${at}.values expected length h*w = ${cell.h * cell.w}, got ${cell.values?.length}`);
      }
      if (typeof cell.colorize !== 'function') throw new Error(`${at}.colorize expected a function, got ${typeof cell.colorize}`);
      if (cell.caption !== undefined && typeof cell.caption !== 'string') {
        throw new Error(`${at}.caption expected a string, got ${typeof cell.caption}`);
      }
    });
    ncols = Math.max(ncols, row.length);
    ncells += row.length;
  });
  if (ncells === 0) throw new Error(`renderGrid: rows expected at least one cell, got ${rows.length} empty row(s)`);

  // Column widths and row heights.
  const colW = new Array<number>(ncols).fill(0);
  if (columnTitles) columnTitles.forEach((t, j) => (colW[j] = textWidth(t)));
  const imgH = rows.map((row) => Math.max(0, ...row.map((cell) => cell.h * scale)));
  const rowH = rows.map((row, i) => {
    let hmax = rowTitles?.[i] ? textHeight(rowTitles[i]) : 0;
    row.forEach((cell, j) => {
      const cap = cell.caption ? textWidth(cell.caption) : 0;
      colW[j] = Math.max(colW[j], cell.w * scale, cap);
      const hh = cell.h * scale + (cell.colorBar ? CAPTION_GAP + COLOR_BAR_H : 0) + (cell.caption ? CAPTION_GAP + textHeight(cell.caption) : 0);
      if (hh > hmax) hmax = hh;
    });
    return hmax;
  });
  const titleScale = 2;
  const titleH = title ? textHeight(title, titleScale) : 0;
  const colTitleH = columnTitles && columnTitles.some((t) => t.length > 0)
    ? Math.max(...columnTitles.map((t) => textHeight(t)))
    : 0;

  const rowTitleW = rowTitles ? Math.max(0, ...rowTitles.map((t) => textWidth(t))) : 0;
  const left = rowTitleW ? rowTitleW + pad : 0; // margin for the row titles
  let width = left + colW.reduce((a, b) => a + b, 0) + pad * (ncols + 1);
  if (title) width = Math.max(width, textWidth(title, titleScale) + 2 * pad);
  const height =
    pad +
    (titleH ? titleH + pad : 0) +
    (colTitleH ? colTitleH + pad : 0) +
    rowH.reduce((a, b) => a + b, 0) +
    pad * rows.length;

  const canvas = new Canvas(width, height, WHITE);
  let y = pad;
  if (title) {
    canvas.text(title, Math.floor((width - textWidth(title, titleScale)) / 2), y, BLACK, titleScale);
    y += titleH + pad;
  }
  const colX: number[] = [];
  for (let j = 0, x = left + pad; j < ncols; j++) {
    colX.push(x);
    x += colW[j] + pad;
  }
  if (colTitleH && columnTitles) {
    columnTitles.forEach((t, j) => canvas.text(t, colX[j] + Math.floor((colW[j] - textWidth(t)) / 2), y, BLACK));
    y += colTitleH + pad;
  }
  rows.forEach((row, i) => {
    const rt = rowTitles?.[i];
    if (rt) {
      const ty = y + Math.max(0, Math.floor((imgH[i] - textHeight(rt)) / 2));
      canvas.text(rt, pad + rowTitleW - textWidth(rt), ty, BLACK);
    }
    row.forEach((cell, j) => {
      const iw = cell.w * scale;
      const ix = colX[j] + Math.floor((colW[j] - iw) / 2);
      canvas.drawImage(cell.values, cell.h, cell.w, ix, y, scale, cell.colorize);
      let below = y + cell.h * scale + CAPTION_GAP;
      if (cell.colorBar) {
        drawColorBar(canvas, ix, below, iw, cell.colorBar.lo, cell.colorBar.hi, cell.colorize);
        below += COLOR_BAR_H + CAPTION_GAP;
      }
      if (cell.caption) {
        const tx = colX[j] + Math.floor((colW[j] - textWidth(cell.caption)) / 2);
        canvas.text(cell.caption, tx, below, BLACK);
      }
    });
    y += rowH[i] + pad;
  });
  return canvas;
}

/**
 * Largest |v| over the finite entries of `values` (0 when there are none) — the usual scale for diverging().
 * @example
 *   maxAbs([0.5, -2, 1]);                  // 2
 *   const col = diverging(maxAbs(grad));
 */
export function maxAbs(values: ArrayLike<number>): number {
  if (values == null || typeof values.length !== 'number') {
    throw new Error(`maxAbs: values expected an array-like of numbers, got ${shown(values)}`);
  }
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}
