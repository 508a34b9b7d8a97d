// Colour bars under heat maps (src/report/color-bar.ts): the strip runs the colour map from lo to hi, its ends and
// 0 are labelled, bad ranges throw; the ∇x figure puts one under both of its heat maps with the row's range.
import { describe, expect, it } from 'vitest';
import { COLOR_BAR_H, COLOR_BAR_STRIP, drawColorBar, tick } from '../../src/report/color-bar.js';
import { GLYPH_H } from '../../src/report/font.js';
import { renderGradientFigure } from '../../src/report/gradient-figure.js';
import { Canvas, diverging, heat, textWidth } from '../../src/report/png.js';

const pixel = (c: Canvas, x: number, y: number) => Array.from(c.rgba.subarray((y * c.width + x) * 4, (y * c.width + x) * 4 + 3));
const inkIn = (c: Canvas, x0: number, y0: number, w: number, h: number) => {
  let n = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (pixel(c, x, y).some((v) => v !== 255)) n++;
  return n;
};

describe('tick', () => {
  it('writes values short, with a real minus sign', () => {
    expect(tick(0)).toBe('0');
    expect(tick(0.25)).toBe('0.25');
    expect(tick(-0.0312)).toBe('−0.0312');
    expect(tick(3.2e-5)).toBe('3.2e−5');
    expect(tick(0.00148)).toBe('1.5e−3'); // one form for a figure's small magnitudes
    expect(tick(9.7e-4)).toBe('9.7e−4');
    expect(tick(12345)).toBe('1.2e4');
    expect(tick(0.020000000000000018)).toBe('0.02');
  });
});

describe('drawColorBar', () => {
  it('runs the colour map from lo (left) to hi (right) and labels both ends and 0', () => {
    const c = new Canvas(140, 40);
    drawColorBar(c, 10, 5, 112, -2, 2, diverging(2));
    const mid = 5 + Math.floor(COLOR_BAR_STRIP / 2);
    const [lr, , lb] = pixel(c, 11, mid);
    const [rr, , rb] = pixel(c, 120, mid);
    expect(lb).toBeGreaterThan(lr + 150); // −2: blue
    expect(rr).toBeGreaterThan(rb + 150); // +2: red
    expect(Math.min(...pixel(c, 66, mid))).toBeGreaterThan(240); // 0: white
    const labels = 5 + COLOR_BAR_STRIP + 2;
    expect(inkIn(c, 10, labels, textWidth('−2'), GLYPH_H)).toBeGreaterThan(5); // "−2" under the left end
    expect(inkIn(c, 122 - textWidth('2'), labels, textWidth('2'), GLYPH_H)).toBeGreaterThan(5); // "2" under the right end
    expect(inkIn(c, 62, labels, 8, GLYPH_H)).toBeGreaterThan(5); // "0" under the middle
    expect(inkIn(c, 0, 5 + COLOR_BAR_H, 140, 40 - 5 - COLOR_BAR_H)).toBe(0); // nothing below its height
  });

  it('refuses a reversed or non-finite range', () => {
    const c = new Canvas(50, 30);
    expect(() => drawColorBar(c, 0, 0, 40, 1, 0, heat(1))).toThrow(/drawColorBar: expected finite lo ≤ hi, got lo 1, hi 0/);
    expect(() => drawColorBar(c, 0, 0, 40, 0, NaN, heat(1))).toThrow(/drawColorBar/);
    expect(() => drawColorBar(c, 0, 0, 2, 0, 1, heat(1))).toThrow(/width expected an integer ≥ 3/);
  });
});

describe('renderGradientFigure', () => {
  it('puts a colour bar with the row range under both heat maps, none under the digit', () => {
    const image = new Float32Array(784).fill(0.2);
    const dx = new Float32Array(784).map((_, i) => ((i % 7) - 3) * 1e-3); // max |g| = 3e-3
    const plain = renderGradientFigure([{ image, dx, h: 28, w: 28, caption: 'y=7' }], 't');
    // three columns of 112 px, pad 8: the heat maps start at 8 + 112 + 8 and 8 + 2·(112 + 8)
    const y0 = 8 + 2 * GLYPH_H + 8 + GLYPH_H + 8 + 112 + 3 + Math.floor(COLOR_BAR_STRIP / 2);
    const colX = (j: number) => 8 + j * 120;
    const [br, , bb] = pixel(plain, colX(1) + 2, y0);
    expect(bb).toBeGreaterThan(br + 100); // signed map: blue at −3e-3
    const [hr, hg, hb] = pixel(plain, colX(2) + 2, y0);
    expect(Math.max(hr, hg, hb)).toBeLessThan(40); // magnitude map: black at 0
    expect(Math.min(...pixel(plain, colX(2) + 109, y0))).toBeGreaterThan(200); // … white at 3e-3
    expect(Math.min(...pixel(plain, colX(0) + 5, y0))).toBe(255); // no bar under the digit (its caption is centred)
    const labels = y0 - Math.floor(COLOR_BAR_STRIP / 2) + COLOR_BAR_STRIP + 2;
    expect(inkIn(plain, colX(1), labels, textWidth('−0.003'), GLYPH_H)).toBeGreaterThan(5);
  });
});
