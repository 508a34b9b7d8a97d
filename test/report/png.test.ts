// Tests for the PNG report helpers (src/report/png.ts) and the bitmap font (src/report/font.ts):
// pixels survive a PNG round trip, scaled images and text land where expected, colormaps hit their endpoints,
// grid layout sizes add up, files are written atomically, and bad arguments fail loudly.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { GLYPH_H, GLYPH_W, glyphMask } from '../../src/report/font.js';
import { Canvas, type RGB, diverging, gray, heat, maxAbs, renderGrid, textWidth } from '../../src/report/png.js';

function pixel(c: Canvas, x: number, y: number): number[] {
  const o = (y * c.width + x) * 4;
  return Array.from(c.rgba.subarray(o, o + 4));
}

function isBg(c: Canvas, x: number, y: number, bg: RGB = [255, 255, 255]): boolean {
  const [r, g, b] = pixel(c, x, y);
  return r === bg[0] && g === bg[1] && b === bg[2];
}

describe('font', () => {
  /** Ink of a glyph mask summed over rows [r0, r1). */
  const inkRows = (ch: string, r0: number, r1: number) => {
    const m = glyphMask(ch);
    let s = 0;
    for (let r = r0; r < r1; r++) for (let c = 0; c < m.w; c++) s += m.alpha[r * m.w + c];
    return s;
  };

  it('has distinct anti-aliased glyphs for printable ASCII and the symbols captions use, and ? for unknown characters', () => {
    expect(GLYPH_W).toBe(7);
    expect(GLYPH_H).toBe(14);
    const seen = new Map<string, string>();
    for (const ch of [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '∇', 'ε', 'δ', 'η', '‖', '∞', '→', '≤', '·', '−']) {
      const m = glyphMask(ch);
      expect(m.h).toBe(GLYPH_H);
      expect(m.alpha.every((a) => a >= 0 && a <= 1)).toBe(true);
      const key = Array.from(m.alpha, (a) => Math.round(a * 8)).join('');
      expect(seen.get(key), `glyph ${ch} looks like ${seen.get(key)}`).toBeUndefined();
      seen.set(key, ch);
      if (ch !== ' ') expect(inkRows(ch, 0, GLYPH_H), ch).toBeGreaterThan(1);
    }
    expect(inkRows(' ', 0, GLYPH_H)).toBe(0);
    expect(glyphMask('\uE000').alpha).toEqual(glyphMask('?').alpha);
    expect(() => glyphMask('ab')).toThrow(/glyphMask: ch/);
  });

  it('draws descenders below the baseline: g, y, p, q, j reach the bottom rows, a, x, 9, 7 do not', () => {
    // the baseline is at row 11 of 14 (ascender 1901, descender 483 font units)
    for (const ch of 'gypqj') expect(inkRows(ch, 12, GLYPH_H), ch).toBeGreaterThan(1.5);
    for (const ch of 'ax97=') expect(inkRows(ch, 12, GLYPH_H), ch).toBeLessThan(0.2);
    // so "g" is not a "9": they differ most below the baseline
    expect(inkRows('g', 11, GLYPH_H)).toBeGreaterThan(inkRows('9', 11, GLYPH_H) + 1.5);
  });
});

describe('Canvas', () => {
  it('round-trips pixels through toPng / PNG.sync.read', () => {
    const c = new Canvas(7, 5, [10, 20, 30]);
    c.setPixel(0, 0, [255, 0, 0]);
    c.setPixel(6, 4, [0, 255, 0]);
    c.setPixel(3, 2, [1, 2, 3]);
    c.setPixel(99, 99, [0, 0, 0]); // clipped, no throw
    const png = PNG.sync.read(Buffer.from(c.toPng()));
    expect(png.width).toBe(7);
    expect(png.height).toBe(5);
    expect(Array.from(png.data)).toEqual(Array.from(c.rgba));
    expect(Array.from(png.data.subarray(0, 4))).toEqual([255, 0, 0, 255]);
    expect(Array.from(png.data.subarray((4 * 7 + 6) * 4, (4 * 7 + 6) * 4 + 4))).toEqual([0, 255, 0, 255]);
    expect(Array.from(png.data.subarray((2 * 7 + 3) * 4, (2 * 7 + 3) * 4 + 4))).toEqual([1, 2, 3, 255]);
    expect(Array.from(png.data.subarray(4, 8))).toEqual([10, 20, 30, 255]);
  });

  it('defaults to a white background and clamps colours', () => {
    const c = new Canvas(2, 2);
    expect(pixel(c, 1, 1)).toEqual([255, 255, 255, 255]);
    c.setPixel(0, 0, [300, -5, 12.6]);
    expect(pixel(c, 0, 0)).toEqual([255, 0, 13, 255]);
  });

  it('fillRect clips to the canvas', () => {
    const c = new Canvas(4, 4);
    c.fillRect(-2, 2, 4, 10, [0, 0, 0]);
    expect(pixel(c, 0, 2)).toEqual([0, 0, 0, 255]);
    expect(pixel(c, 1, 3)).toEqual([0, 0, 0, 255]);
    expect(isBg(c, 2, 2)).toBe(true);
    expect(isBg(c, 0, 1)).toBe(true);
  });

  it('drawImage scales each value into a block of the right colour at the right place', () => {
    const c = new Canvas(10, 10);
    // 2×3 image, values 0..5 mapped to distinct reds
    const vals = [0, 1, 2, 3, 4, 5];
    c.drawImage(vals, 2, 3, 1, 2, 3, (v) => [v * 40, 0, 0]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            const x = 1 + j * 3 + dx;
            const y = 2 + i * 3 + dy;
            expect(pixel(c, x, y)).toEqual([vals[i * 3 + j] * 40, 0, 0, 255]);
          }
        }
      }
    }
    // outside the 9×6 block untouched
    expect(isBg(c, 0, 2)).toBe(true);
    expect(isBg(c, 1, 1)).toBe(true);
    expect(isBg(c, 1, 8)).toBe(true);
    // clipped drawing past the edge does not throw and draws the visible part
    c.drawImage([1, 1, 1, 1], 2, 2, 8, 8, 2, gray);
    expect(pixel(c, 9, 9)).toEqual([255, 255, 255, 255]);
    c.drawImage([0, 0, 0, 0], 2, 2, 8, 8, 2, gray);
    expect(pixel(c, 9, 9)).toEqual([0, 0, 0, 255]);
  });

  it('text draws ink inside [x, x+textWidth) × [y, y+GLYPH_H*scale) and nowhere else', () => {
    for (const scale of [1, 2]) {
      const str = '7 (0.99) Ag|→';
      const x = 5;
      const y = 3;
      const tw = textWidth(str, scale);
      expect(tw).toBe([...str].length * GLYPH_W * scale);
      const c = new Canvas(tw + 15, GLYPH_H * scale + 10);
      c.text(str, x, y, [0, 0, 0], scale);
      let inside = 0;
      for (let py = 0; py < c.height; py++) {
        for (let px = 0; px < c.width; px++) {
          const ink = !isBg(c, px, py);
          const within = px >= x && px < x + tw && py >= y && py < y + GLYPH_H * scale;
          if (ink) {
            expect(within, `ink at (${px},${py}) scale ${scale}`).toBe(true);
            inside++;
          }
        }
      }
      expect(inside).toBeGreaterThan(20 * scale * scale);
      // last character cell (the arrow) has ink too
      let lastInk = 0;
      for (let py = y; py < y + GLYPH_H * scale; py++) {
        for (let px = x + tw - GLYPH_W * scale; px < x + tw; px++) if (!isBg(c, px, py)) lastInk++;
      }
      expect(lastInk).toBeGreaterThan(0);
    }
    expect(textWidth('')).toBe(0);
    expect(textWidth('ab\nabcd', 2)).toBe(4 * GLYPH_W * 2);
  });

  it('save writes a valid PNG atomically and leaves no temp files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-png-'));
    try {
      const c = new Canvas(12, 9, [0, 0, 0]);
      c.setPixel(11, 8, [255, 128, 0]);
      const path = join(dir, 'sub', 'pic.png');
      c.save(path);
      c.save(path); // overwrite works too
      expect(readdirSync(dir)).toEqual(['sub']);
      expect(readdirSync(join(dir, 'sub'))).toEqual(['pic.png']);
      const png = PNG.sync.read(readFileSync(path));
      expect([png.width, png.height]).toEqual([12, 9]);
      const o = (8 * 12 + 11) * 4;
      expect(Array.from(png.data.subarray(o, o + 4))).toEqual([255, 128, 0, 255]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad arguments with a message naming the argument', () => {
    expect(() => new Canvas(0, 5)).toThrow(/Canvas: width/);
    expect(() => new Canvas(5, -1)).toThrow(/Canvas: height/);
    expect(() => new Canvas(2.5, 5)).toThrow(/width/);
    const c = new Canvas(8, 8);
    expect(() => c.drawImage([1, 2, 3], 2, 2, 0, 0, 1, gray)).toThrow(/drawImage: values expected length h\*w = 4, got 3/);
    expect(() => c.drawImage([1, 2, 3, 4], 2, 2, 0, 0, 0, gray)).toThrow(/drawImage: scale/);
    expect(() => c.drawImage([1, 2, 3, 4], 0, 2, 0, 0, 1, gray)).toThrow(/drawImage: h/);
    expect(() => c.text('x', 0, 0, [0, 0, 0], 1.5)).toThrow(/text: scale/);
    expect(() => c.save('')).toThrow(/save: path/);
    expect(() => diverging(-1)).toThrow(/diverging: maxAbs/);
    expect(() => heat(NaN)).toThrow(/heat: maxVal/);
    expect(() => renderGrid([[]])).toThrow(/renderGrid: rows/);
    expect(() => renderGrid([[{ values: [1, 2], h: 2, w: 2, colorize: gray }]])).toThrow(/rows\[0\]\[0\]\.values/);
    expect(() => renderGrid([[{ values: [1], h: 1, w: 1, colorize: gray }]], { scale: 0 })).toThrow(/opts\.scale/);
    expect(() => renderGrid([[{ values: [1], h: 1, w: 1, colorize: gray }]], { pad: -1 })).toThrow(/opts\.pad/);
  });
});

describe('colormaps', () => {
  it('gray maps 0 → black, 1 → white, midpoint to mid-gray, clamps', () => {
    expect(gray(0)).toEqual([0, 0, 0]);
    expect(gray(1)).toEqual([255, 255, 255]);
    expect(gray(0.5)).toEqual([128, 128, 128]);
    expect(gray(-3)).toEqual([0, 0, 0]);
    expect(gray(7)).toEqual([255, 255, 255]);
  });

  it('diverging maps −1 to blue, 0 to white, +1 to red, clamps beyond maxAbs', () => {
    const d = diverging(1);
    expect(d(0)).toEqual([255, 255, 255]);
    const [br, , bb] = d(-1);
    expect(bb).toBeGreaterThan(br + 100);
    const [rr, , rb] = d(1);
    expect(rr).toBeGreaterThan(rb + 100);
    expect(d(-5)).toEqual(d(-1));
    expect(d(5)).toEqual(d(1));
    // halfway is between white and the end colour
    const half = diverging(2)(1);
    for (let k = 0; k < 3; k++) {
      expect(half[k]).toBeLessThanOrEqual(255);
      expect(half[k]).toBeGreaterThanOrEqual(d(1)[k]);
    }
    expect(half).not.toEqual(d(0));
    expect(half).not.toEqual(d(1));
    // maxAbs 0 (all-zero gradient) paints white instead of failing
    expect(diverging(0)(0)).toEqual([255, 255, 255]);
  });

  it('heat goes black → red → yellow → white', () => {
    const h = heat(3);
    expect(h(0)).toEqual([0, 0, 0]);
    expect(h(1)).toEqual([255, 0, 0]);
    expect(h(2)).toEqual([255, 255, 0]);
    expect(h(3)).toEqual([255, 255, 255]);
    expect(h(10)).toEqual([255, 255, 255]);
    expect(h(-1)).toEqual([0, 0, 0]);
    const mid = h(0.5);
    expect(mid[0]).toBeGreaterThan(100);
    expect(mid[0]).toBeLessThan(155);
    expect(mid[1]).toBe(0);
  });

  it('maxAbs finds the largest finite magnitude', () => {
    expect(maxAbs([0.5, -2, 1])).toBe(2);
    expect(maxAbs(new Float32Array([0, -0.25, NaN, Infinity]))).toBe(0.25);
    expect(maxAbs([])).toBe(0);
  });
});

describe('renderGrid', () => {
  const cell = (h: number, w: number, v: number, caption?: string) => ({
    values: new Float32Array(h * w).fill(v),
    h,
    w,
    colorize: gray,
    caption,
  });

  it('sizes follow cell count × scale + padding', () => {
    const rows = [
      [cell(28, 28, 0), cell(28, 28, 0), cell(28, 28, 0)],
      [cell(28, 28, 0), cell(28, 28, 0)],
    ];
    const c = renderGrid(rows, { scale: 2, pad: 5 });
    expect(c.width).toBe(3 * 28 * 2 + 4 * 5);
    expect(c.height).toBe(2 * 28 * 2 + 3 * 5);
    // first image starts at (pad, pad), black; margin white
    expect(pixel(c, 5, 5)).toEqual([0, 0, 0, 255]);
    expect(isBg(c, 4, 5)).toBe(true);
    expect(isBg(c, 5, 4)).toBe(true);
    // second column starts after one cell and one pad
    expect(pixel(c, 5 + 56 + 5, 5)).toEqual([0, 0, 0, 255]);
    expect(isBg(c, 5 + 56, 5)).toBe(true);
    // missing third cell of the short row stays white
    expect(isBg(c, 5 + 2 * (56 + 5) + 10, 5 + 56 + 5 + 10)).toBe(true);
    // default scale 4, pad 8
    const d = renderGrid([[cell(3, 2, 0)]]);
    expect([d.width, d.height]).toEqual([2 * 4 + 16, 3 * 4 + 16]);
  });

  it('captions add the same text-line height per row and are drawn below the image', () => {
    const plain = renderGrid([[cell(10, 10, 1)], [cell(10, 10, 1)]], { scale: 3, pad: 4 });
    const capped = renderGrid([[cell(10, 10, 1, '1')], [cell(10, 10, 1, '2')]], { scale: 3, pad: 4 });
    expect(capped.width).toBe(plain.width);
    const extra = capped.height - plain.height;
    expect(extra % 2).toBe(0);
    expect(extra / 2).toBeGreaterThanOrEqual(GLYPH_H);
    expect(extra / 2).toBeLessThanOrEqual(GLYPH_H + 4);
    // ink exists just below the first image (the caption), none in the image (all white)
    let ink = 0;
    for (let y = 4 + 30; y < 4 + 30 + extra / 2; y++) for (let x = 0; x < capped.width; x++) if (!isBg(capped, x, y)) ink++;
    expect(ink).toBeGreaterThan(0);
    // a caption wider than its image widens the column
    const wide = renderGrid([[cell(2, 2, 0, 'a long caption')]], { scale: 1, pad: 2 });
    expect(wide.width).toBe(textWidth('a long caption') + 4);
  });

  it('title and column titles add rows on top', () => {
    const rows = [[cell(4, 4, 0), cell(4, 4, 0)]];
    const base = renderGrid(rows, { scale: 2, pad: 3 });
    const withCols = renderGrid(rows, { scale: 2, pad: 3, columnTitles: ['x', 'grad'] });
    expect(withCols.width).toBe(base.width - 8 + textWidth('grad'));
    expect(withCols.height).toBe(base.height + GLYPH_H + 3);
    const withTitle = renderGrid(rows, { scale: 2, pad: 3, title: 'T' });
    expect(withTitle.height).toBe(base.height + 2 * GLYPH_H + 3);
    const longTitle = renderGrid(rows, { scale: 2, pad: 3, title: 'a very long title indeed' });
    expect(longTitle.width).toBe(textWidth('a very long title indeed', 2) + 6);
  });
});
