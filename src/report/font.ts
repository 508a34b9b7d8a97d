// Text for report pictures: DejaVu Sans Mono (npm `dejavu-fonts-ttf`, Bitstream Vera licence) parsed by `opentype.js`,
// its glyph outlines rasterised here with anti-aliasing (nonzero winding, 4 sub-scanlines per pixel row, exact
// horizontal coverage). Monospace cells of GLYPH_W × GLYPH_H pixels at scale 1 hold ascenders and descenders
// ("g", "y", "p" reach below the baseline) and the symbols the captions use (∇, ε, ‖, →, ≤, η, ·).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import opentype from 'opentype.js';

/** Width in pixels of one character cell at scale 1 (the font's advance width). */
export const GLYPH_W = 7;
/** Height in pixels of one line at scale 1: ascender to descender. */
export const GLYPH_H = 14;

const FONT_FILE = 'dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf';
let font: opentype.Font | null = null;

/** The font, parsed on first use (about 340 kB). */
function theFont(): opentype.Font {
  if (font) return font;
  let bytes: Buffer;
  try {
    bytes = readFileSync(createRequire(import.meta.url).resolve(FONT_FILE));
  } catch (e) {
    throw new Error(`font: cannot read ${FONT_FILE} (is the dependency dejavu-fonts-ttf installed?): ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  font = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return font;
}

/** An anti-aliased glyph: coverage in [0, 1] over w × h pixels, drawn with its cell's top-left at (-left, 0). */
export interface GlyphMask {
  alpha: Float32Array;
  w: number;
  h: number;
  left: number;
}

const SUB = 4; // sub-scanlines per pixel row
const cache = new Map<string, GlyphMask>();

/** Straight segments [x0, y0, x1, y1, …] of an outline path, curves flattened into 8 pieces each. */
function segments(cmds: opentype.PathCommand[]): number[] {
  const out: number[] = [];
  let sx = 0, sy = 0, x = 0, y = 0;
  const line = (x1: number, y1: number) => {
    out.push(x, y, x1, y1);
    x = x1;
    y = y1;
  };
  for (const c of cmds) {
    if (c.type === 'M') {
      x = sx = c.x;
      y = sy = c.y;
    } else if (c.type === 'L') line(c.x, c.y);
    else if (c.type === 'Q') {
      const x0 = x, y0 = y;
      for (let i = 1; i <= 8; i++) {
        const t = i / 8, u = 1 - t;
        line(u * u * x0 + 2 * u * t * c.x1 + t * t * c.x, u * u * y0 + 2 * u * t * c.y1 + t * t * c.y);
      }
    } else if (c.type === 'C') {
      const x0 = x, y0 = y;
      for (let i = 1; i <= 8; i++) {
        const t = i / 8, u = 1 - t;
        line(
          u * u * u * x0 + 3 * u * u * t * c.x1 + 3 * u * t * t * c.x2 + t * t * t * c.x,
          u * u * u * y0 + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y,
        );
      }
    } else if (c.type === 'Z') line(sx, sy);
  }
  return out;
}

/** Add the coverage of the span [xa, xb) of one sub-scanline to a row of pixels. */
function addSpan(row: Float32Array, w: number, xa: number, xb: number, weight: number): void {
  xa = Math.max(0, xa);
  xb = Math.min(w, xb);
  if (xb <= xa) return;
  const ia = Math.floor(xa), ib = Math.floor(xb);
  if (ia === ib) {
    row[ia] += (xb - xa) * weight;
    return;
  }
  row[ia] += (ia + 1 - xa) * weight;
  for (let i = ia + 1; i < ib; i++) row[i] += weight;
  if (ib < w) row[ib] += (xb - ib) * weight;
}

/**
 * The anti-aliased mask of one character at `scale` (font size GLYPH_H·scale·0.86 px); unknown characters get
 * the font's '?'. Cached per character and scale.
 * @example
 *   const m = glyphMask('g', 1);          // m.h === GLYPH_H; the tail of the g is inked below the baseline
 *   const ink = m.alpha[row * m.w + col]; // 0 … 1
 */
export function glyphMask(ch: string, scale = 1): GlyphMask {
  if (typeof ch !== 'string' || [...ch].length !== 1) throw new Error(`glyphMask: ch expected a single character, got ${JSON.stringify(ch)}`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`glyphMask: scale expected a positive integer, got ${scale}`);
  const key = `${scale}:${ch}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const f = theFont();
  let g = f.charToGlyph(ch);
  if (!g || g.index === 0) g = f.charToGlyph('?');
  // the advance width is GLYPH_W: size = GLYPH_W / (advance / unitsPerEm)
  const size = (GLYPH_W * scale * f.unitsPerEm) / (f.charToGlyph('0').advanceWidth ?? f.unitsPerEm * 0.6);
  const h = GLYPH_H * scale;
  const baseline = Math.round((h * f.ascender) / (f.ascender - f.descender));
  const left = 2 * scale;
  const w = GLYPH_W * scale + 2 * left;
  const seg = segments(g.getPath(left, baseline, size).commands);
  const alpha = new Float32Array(w * h);
  const row = new Float32Array(w);
  const xs: number[] = [];
  const dirs: number[] = [];
  for (let py = 0; py < h; py++) {
    row.fill(0);
    for (let s = 0; s < SUB; s++) {
      const y = py + (s + 0.5) / SUB;
      xs.length = 0;
      dirs.length = 0;
      for (let i = 0; i < seg.length; i += 4) {
        const y0 = seg[i + 1], y1 = seg[i + 3];
        if ((y0 <= y && y1 > y) || (y1 <= y && y0 > y)) {
          const x0 = seg[i], x1 = seg[i + 2];
          xs.push(x0 + ((y - y0) / (y1 - y0)) * (x1 - x0));
          dirs.push(y1 > y0 ? 1 : -1);
        }
      }
      const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
      let winding = 0;
      for (let k = 0; k < order.length; k++) {
        const i = order[k];
        const before = winding;
        winding += dirs[i];
        if (before === 0 && winding !== 0) {
          // find where the winding returns to 0
          let wn = winding, k2 = k + 1;
          for (; k2 < order.length; k2++) {
            wn += dirs[order[k2]];
            if (wn === 0) break;
          }
          const end = k2 < order.length ? xs[order[k2]] : w;
          addSpan(row, w, xs[i], end, 1 / SUB);
          winding = 0;
          k = k2;
        }
      }
    }
    for (let x = 0; x < w; x++) alpha[py * w + x] = Math.min(1, row[x]);
  }
  const mask = { alpha, w, h, left };
  cache.set(key, mask);
  return mask;
}

/**
 * Width in pixels of `str` drawn by Canvas.text at `scale` (widest line when it has '\n').
 * @example
 *   textWidth('7 (0.99)');     // 48
 *   textWidth('title', 2);     // 60
 */
export function textWidth(str: string, scale = 1): number {
  if (typeof str !== 'string') throw new Error(`textWidth: str expected a string, got ${typeof str}`);
  if (!(Number.isInteger(scale) && scale > 0)) throw new Error(`textWidth: scale expected a positive integer, got ${scale}`);
  let widest = 0;
  let n = 0;
  for (const ch of str) {
    if (ch === '\n') {
      n = 0;
      continue;
    }
    n++;
    if (n > widest) widest = n;
  }
  return widest * GLYPH_W * scale;
}
