// A labelled colour bar for heat maps: a horizontal strip running the colour map from lo to hi, framed, with the
// two ends (and 0 for a signed range) written under it, so that a reader can tell which value a colour stands for.
import { GLYPH_H, textWidth } from './font.js';

type RGB = [number, number, number];

/** What a colour bar is drawn on: the PNG Canvas of ./png.ts (which lays bars out under heat maps) is one. */
export interface BarCanvas {
  fillRect(x: number, y: number, w: number, h: number, color: RGB): void;
  text(str: string, x: number, y: number, color: RGB): void;
}

/** Height of the strip in pixels. */
export const COLOR_BAR_STRIP = 8;
/** Height a colour bar takes: the strip, a 2-pixel gap and a line of labels. */
export const COLOR_BAR_H = COLOR_BAR_STRIP + 2 + GLYPH_H;

const FRAME: RGB = [150, 150, 150];
const LABEL: RGB = [60, 60, 60];

/**
 * A value in at most 7 characters, with a real minus sign: 0, 0.25, −1.5, 3.2e−5. Below 0.01 in exponent form, so
 * that the small gradient magnitudes of one figure's rows (0.0015 in one, 0.00097 in the next) read alike.
 * @example
 *   tick(-0.0312); // '−0.0312'
 *   tick(0.00148); // '1.5e−3'
 *   tick(3.2e-5);  // '3.2e−5'
 */
export function tick(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const s = a >= 1e4 || a < 1e-2 ? a.toExponential(1) : String(Number(a.toPrecision(3)));
  return (v < 0 ? '−' : '') + s.replace('e-', 'e−').replace('e+', 'e');
}

/**
 * Draw a colour bar `width` pixels wide with its top-left at (x, y), taking COLOR_BAR_H pixels: the colours of
 * `colorize` from `lo` (left) to `hi` (right), and their values written under the ends (0 under its place when
 * lo < 0 < hi). Throws when lo > hi or either is not finite.
 * @example
 *   drawColorBar(canvas, 10, 130, 112, -m, m, diverging(m));   // blue −m … white 0 … red +m
 *   drawColorBar(canvas, 10, 130, 112, 0, m, heat(m));         // black 0 … white m
 */
export function drawColorBar(c: BarCanvas, x: number, y: number, width: number, lo: number, hi: number, colorize: (v: number) => RGB): void {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) throw new Error(`drawColorBar: expected finite lo ≤ hi, got lo ${lo}, hi ${hi}`);
  if (!Number.isInteger(width) || width < 3) throw new Error(`drawColorBar: width expected an integer ≥ 3, got ${width}`);
  c.fillRect(x, y, width, COLOR_BAR_STRIP, FRAME);
  const inner = width - 2;
  for (let i = 0; i < inner; i++) {
    const v = lo + ((hi - lo) * (i + 0.5)) / inner;
    c.fillRect(x + 1 + i, y + 1, 1, COLOR_BAR_STRIP - 2, colorize(v));
  }
  const ly = y + COLOR_BAR_STRIP + 2;
  const left = tick(lo);
  const right = tick(hi);
  c.text(left, x, ly, LABEL);
  c.text(right, x + width - textWidth(right), ly, LABEL);
  if (lo < 0 && hi > 0) {
    const zx = x + 1 + Math.round((-lo / (hi - lo)) * inner);
    c.fillRect(zx, y + COLOR_BAR_STRIP, 1, 2, FRAME);
    const zw = textWidth('0');
    const tx = zx - Math.floor(zw / 2);
    // only where it does not run into the end labels
    if (tx > x + textWidth(left) + 2 && tx + zw < x + width - textWidth(right) - 2) c.text('0', tx, ly, LABEL);
  }
}
