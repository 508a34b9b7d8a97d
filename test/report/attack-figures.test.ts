// Tests for the adversarial-example pictures (src/report/attack-figures.ts): grid sizes for 3 rows and 10×10,
// the perturbation column is coloured exactly when δ ≠ 0 (and scaled so a tiny δ still saturates), captions
// carry predictions, confidences, L∞ and the failure mark, row titles land in a left margin, bad input throws.
import { describe, expect, it } from 'vitest';
import { GLYPH_H } from '../../src/report/font.js';
import { COLOR_BAR_H, COLOR_BAR_STRIP } from '../../src/report/color-bar.js';
import { adversarialCells, adversarialGrid, targetCells, targetGrid, type AdversarialRow } from '../../src/report/attack-figures.js';
import { type Canvas, gray, renderGrid, textWidth } from '../../src/report/png.js';

const H = 28;
const W = 28;
const PAD = 8; // renderGrid's default

function pixel(c: Canvas, x: number, y: number): number[] {
  const o = (y * c.width + x) * 4;
  return Array.from(c.rgba.subarray(o, o + 3));
}

/** Pixels in [x0, x0+w) × [y0, y0+h) that are not white. */
function ink(c: Canvas, x0: number, y0: number, w: number, h: number): number {
  let n = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (pixel(c, x, y).some((v) => v !== 255)) n++;
  return n;
}

/** A mid-gray digit-sized image (so ±δ is not clipped) and a copy moved by δ = amp·(±1 checkerboard) inside a box. */
function row(amp: number, label = 7): AdversarialRow {
  const original = new Float32Array(H * W).fill(0.5);
  const adversarial = original.map((v, k) => {
    const [i, j] = [Math.floor(k / W), k % W];
    return i >= 4 && i < 24 && j >= 4 && j < 24 ? v + amp * ((i + j) % 2 ? 1 : -1) : v;
  });
  return { original, adversarial, h: H, w: W, trueLabel: label, origPred: label, origConf: 0.994, advPred: 3, advConf: 0.871 };
}

describe('adversarialGrid', () => {
  it('captions predictions with confidences and the L∞ of δ', () => {
    const [[orig, delta, adv]] = adversarialCells([row(0.25)]);
    expect(orig.caption).toBe('true 7, pred 7 (0.99)');
    expect(delta.caption).toBe('‖δ‖∞ = 0.250');
    expect(delta.colorBar).toEqual({ lo: -0.25, hi: 0.25 });
    expect(orig.colorBar).toBeUndefined();
    expect(adv.caption).toBe('pred 3 (0.87)');
    expect(delta.values[4 * W + 4]).toBeCloseTo(-0.25, 6);
    expect(delta.values[0]).toBe(0);
  });

  it('has the expected size for 3 rows: three columns, a title and column titles on top', () => {
    const c = adversarialGrid([row(0.25, 1), row(0.1, 2), row(0, 3)], 'FGSM eps=0.25');
    const colW = [
      Math.max(W * 4, textWidth('true 1, pred 1 (0.99)'), textWidth('original')),
      Math.max(W * 4, textWidth("δ = x' − x")),
      Math.max(W * 4, textWidth('pred 3 (0.87)'), textWidth('adversarial')),
    ];
    expect(c.width).toBe(colW[0] + colW[1] + colW[2] + 4 * PAD);
    // pad, title (double size), pad, column titles, pad, then 3 × (image, gap, colour bar, gap, caption line, pad)
    const top = PAD + 2 * GLYPH_H + PAD + GLYPH_H + PAD;
    const perRow = (c.height - top) / 3;
    expect(Number.isInteger(perRow)).toBe(true);
    expect(perRow).toBeGreaterThanOrEqual(H * 4 + COLOR_BAR_H + GLYPH_H + PAD);
    expect(perRow).toBeLessThanOrEqual(H * 4 + COLOR_BAR_H + GLYPH_H + PAD + 8);
  });

  it('paints the perturbation column where δ ≠ 0, scaled to the row, and leaves it white where δ = 0', () => {
    const rows = [row(0.25), row(0.004), row(0)];
    const c = adversarialGrid(rows, 'pixels');
    const col0 = Math.max(W * 4, textWidth('true 7, pred 7 (0.99)'));
    const col1 = Math.max(W * 4, textWidth("δ = x' − x"));
    const x = PAD + col0 + PAD + Math.floor((col1 - W * 4) / 2); // left edge of the δ image
    const top = PAD + 2 * GLYPH_H + PAD + GLYPH_H + PAD;
    const perRow = (c.height - top) / 3;
    const ys = [0, 1, 2].map((r) => top + r * perRow);
    // rows 0 and 1: the 20×20 box of ±δ is coloured (16×16 screen pixels per δ pixel at scale 4), outside is white
    for (const r of [0, 1]) {
      expect(ink(c, x + 4 * 4, ys[r] + 4 * 4, 20 * 4, 20 * 4)).toBe(80 * 80);
      expect(ink(c, x, ys[r], W * 4, 4 * 4)).toBe(0);
    }
    // a δ of 0.004 is scaled to its own max and saturates like 0.25 does: same red and blue
    expect(pixel(c, x + 5 * 4 + 1, ys[1] + 4 * 4 + 1)).toEqual(pixel(c, x + 5 * 4 + 1, ys[0] + 4 * 4 + 1));
    const [rr, , rb] = pixel(c, x + 5 * 4 + 1, ys[1] + 4 * 4 + 1); // (i=4, j=5): +δ → red
    expect(rr).toBeGreaterThan(rb + 100);
    const [br, , bb] = pixel(c, x + 4 * 4 + 1, ys[1] + 4 * 4 + 1); // (i=4, j=4): −δ → blue
    expect(bb).toBeGreaterThan(br + 100);
    // row 2: δ = 0 everywhere, so the whole image is white
    expect(ink(c, x, ys[2], W * 4, H * 4)).toBe(0);
    // under each δ image, its colour bar: blue at the left end, red at the right, labelled with ∓max |δ|
    const barY = ys[0] + H * 4 + 3 + 4;
    const [lr, , lb] = pixel(c, x + 2, barY);
    const [rr2, , rb2] = pixel(c, x + W * 4 - 3, barY);
    expect(lb).toBeGreaterThan(lr + 100);
    expect(rr2).toBeGreaterThan(rb2 + 100);
    expect(ink(c, x, ys[0] + H * 4 + 3 + COLOR_BAR_STRIP + 2, W * 4, GLYPH_H)).toBeGreaterThan(20);
    // ... while the original beside it is the mid-gray digit
    expect(pixel(c, PAD + Math.floor((col0 - W * 4) / 2) + 10, ys[2] + 10)).toEqual(gray(0.5));
  });

  it('rejects bad rows with messages naming the field', () => {
    expect(() => adversarialGrid([], 't')).toThrow(/adversarialGrid: rows expected a non-empty array/);
    expect(() => adversarialGrid([{ ...row(0.1), adversarial: new Float32Array(3) }], 't')).toThrow(
      /adversarialGrid: rows\[0\]\.adversarial expected length h\*w = 784, got 3/,
    );
    expect(() => adversarialGrid([{ ...row(0.1), advConf: NaN }], 't')).toThrow(/rows\[0\]\.advConf expected a finite number/);
    expect(() => adversarialGrid([{ ...row(0.1), h: 0 }], 't')).toThrow(/rows\[0\]\.h expected a positive integer/);
  });
});

describe('targetGrid', () => {
  const digit = (s: number) => new Float32Array(H * W).fill((s + 1) / 10);
  const table = () =>
    Array.from({ length: 10 }, (_, s) =>
      Array.from({ length: 10 }, (_, t) =>
        s === t ? { values: digit(s), success: true, conf: 0.99 } : s === 4 && t === 2 ? null : { values: digit(s), success: t % 3 !== 0, conf: t / 10 },
      ),
    );

  it('captions the target confidence and marks failures with *', () => {
    const cells = targetCells(table(), H, W);
    expect(cells.length).toBe(10);
    expect(cells.every((r) => r.length === 10)).toBe(true);
    expect(cells[2][2].caption).toBe('0.99');
    expect(cells[1][3].caption).toBe('0.30*');
    expect(cells[1][5].caption).toBe('0.50');
    expect(cells[4][2].caption).toBeUndefined(); // null → blank cell
  });

  it('is a 10×10 table with row titles on the left, column titles on top and a key below', () => {
    const c = targetGrid(table(), H, W, 'targeted PGD');
    const scale = 3;
    const rowTitleW = textWidth('9');
    const left = PAD + rowTitleW + PAD; // x where the first column starts
    const colW = Math.max(W * scale, textWidth('0.99*'), textWidth('t=9'));
    expect(c.width).toBe(left + 10 * colW + 10 * PAD);
    const top = PAD + 2 * GLYPH_H + PAD + GLYPH_H + PAD;
    const key = GLYPH_H + PAD;
    const perRow = (c.height - top - key) / 10 - PAD;
    expect(Number.isInteger(perRow)).toBe(true);
    expect(perRow).toBeGreaterThanOrEqual(W * scale + GLYPH_H);
    expect(perRow).toBeLessThanOrEqual(W * scale + GLYPH_H + 4);

    // every row has its title in the left margin, beside the row's images
    const rowY = (s: number) => top + s * (perRow + PAD);
    for (let s = 0; s < 10; s++) expect(ink(c, PAD, rowY(s), rowTitleW, W * scale), `row title ${s}`).toBeGreaterThan(0);
    expect(ink(c, 0, 0, PAD, c.height)).toBe(0);
    // column titles sit between the title and the first row
    expect(ink(c, left, top - PAD - GLYPH_H, 10 * (colW + PAD), GLYPH_H)).toBeGreaterThan(0);
    // cell (s=0, t=1) shows digit 0's gray; the null cell (4, 2) is white; the key is drawn at the bottom
    const cellX = (t: number) => left + t * (colW + PAD) + Math.floor((colW - W * scale) / 2);
    expect(pixel(c, cellX(1) + 5, rowY(0) + 5)).toEqual(gray(0.1));
    expect(ink(c, cellX(2), rowY(4), W * scale, W * scale)).toBe(0);
    expect(ink(c, 0, c.height - key, c.width, GLYPH_H)).toBeGreaterThan(0);
  });

  it('rejects ragged tables and wrong image sizes', () => {
    const ragged = table();
    ragged[3] = ragged[3].slice(0, 9);
    expect(() => targetGrid(ragged, H, W, 't')).toThrow(/targetGrid: cells\[3\] expected 10 cells like cells\[0\], got 9/);
    const small = table();
    small[0][1] = { values: new Float32Array(10), success: true, conf: 0.5 };
    expect(() => targetGrid(small, H, W, 't')).toThrow(/targetGrid: cells\[0\]\[1\]\.values expected length h\*w = 784, got 10/);
    expect(() => targetGrid([], H, W, 't')).toThrow(/targetGrid: cells expected a non-empty array/);
    expect(() => targetGrid(table(), 0, W, 't')).toThrow(/targetGrid: h expected a positive integer/);
  });
});

describe('renderGrid rowTitles', () => {
  it('adds a left margin only when given, and rejects more titles than rows', () => {
    const cell = { values: new Array(16).fill(0.5), h: 4, w: 4, colorize: gray }; // 16 px tall: taller than a title line
    const plain = renderGrid([[cell], [cell]]);
    const titled = renderGrid([[cell], [cell]], { rowTitles: ['a', 'bb'] });
    expect(titled.width).toBe(plain.width + textWidth('bb') + PAD);
    expect(titled.height).toBe(plain.height);
    expect(ink(titled, PAD, PAD, textWidth('bb'), titled.height - 2 * PAD)).toBeGreaterThan(0);
    expect(renderGrid([[cell]], { rowTitles: [] }).width).toBe(renderGrid([[cell]]).width);
    expect(() => renderGrid([[cell]], { rowTitles: ['a', 'b'] })).toThrow(/renderGrid: opts\.rowTitles expected at most rows\.length = 1/);
  });
});
