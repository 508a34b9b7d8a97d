// Pictures of adversarial examples. adversarialGrid: one row per digit, original | δ = x' − x | x', δ in a
// diverging map (red +, blue −, white 0) scaled to that row's max |δ| so that a small ε stays visible.
// targetGrid: the source × target table of a targeted attack (row = source class, column = target class),
// the diagonal holding the original digit; captions give the target's confidence, "*" marks a failed attack.
import { GLYPH_H } from './font.js';
import { Canvas, diverging, gray, maxAbs, renderGrid, textWidth, type GridCell, type RGB } from './png.js';
import type { TargetCell } from '../analysis/target-matrix.js';
import { shown } from '../engine/shown.js';

export type { TargetCell };

/** One adversarial example with the model's verdicts before and after. Images are h×w, row-major, in [0, 1]. */
export interface AdversarialRow {
  original: ArrayLike<number>;
  adversarial: ArrayLike<number>;
  h: number;
  w: number;
  trueLabel: number;
  origPred: number;
  origConf: number;
  advPred: number;
  advConf: number;
}

const BLANK: (v: number) => RGB = () => [255, 255, 255];

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function checkLength(at: string, v: ArrayLike<number> | null | undefined, n: number): void {
  if (v == null || typeof v.length !== 'number' || v.length !== n) {
    throw new Error(`${at} expected length h*w = ${n}, got ${shown(v == null || typeof v.length !== 'number' ? v : v.length)}`);
  }
}

function checkNumber(at: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${at} expected a finite number, got ${shown(v)}`);
}

const conf2 = (c: number): string => c.toFixed(2);

/**
 * The captioned cells of adversarialGrid (original | δ | adversarial per row), checked, for tests and other layouts.
 * @example
 *   const [[orig, delta, adv]] = adversarialCells([row]);
 *   delta.caption;  // 'd inf 0.250'
 */
export function adversarialCells(rows: AdversarialRow[]): GridCell[][] {
  return checkedAdversarialCells(rows, 'adversarialCells');
}

function checkedAdversarialCells(rows: AdversarialRow[], fn: string): GridCell[][] {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error(`${fn}: rows expected a non-empty array, got ${Array.isArray(rows) ? 'an empty array' : typeof rows}`);
  }
  return rows.map((r, i) => {
    const at = `${fn}: rows[${i}]`;
    if (r == null || typeof r !== 'object') throw new Error(`${at} expected an AdversarialRow, got ${shown(r)}`);
    if (!isPosInt(r.h)) throw new Error(`${at}.h expected a positive integer, got ${shown(r.h)}`);
    if (!isPosInt(r.w)) throw new Error(`${at}.w expected a positive integer, got ${shown(r.w)}`);
    const n = r.h * r.w;
    checkLength(`${at}.original`, r.original, n);
    checkLength(`${at}.adversarial`, r.adversarial, n);
    for (const k of ['trueLabel', 'origPred', 'origConf', 'advPred', 'advConf'] as const) checkNumber(`${at}.${k}`, r[k]);
    const delta = new Float64Array(n);
    for (let k = 0; k < n; k++) delta[k] = r.adversarial[k] - r.original[k];
    const m = maxAbs(delta);
    return [
      { values: r.original, h: r.h, w: r.w, colorize: gray, caption: `true ${r.trueLabel}, pred ${r.origPred} (${conf2(r.origConf)})` },
      { values: delta, h: r.h, w: r.w, colorize: diverging(m), colorBar: { lo: -m, hi: m }, caption: `‖δ‖∞ = ${m.toFixed(3)}` },
      { values: r.adversarial, h: r.h, w: r.w, colorize: gray, caption: `pred ${r.advPred} (${conf2(r.advConf)})` },
    ];
  });
}

/**
 * Rows of original | perturbation (scaled) | adversarial, captioned with the true label, both predictions and
 * their confidences, and the L∞ norm of δ.
 * @example
 *   adversarialGrid([{ original: x, adversarial: xAdv, h: 28, w: 28, trueLabel: 7, origPred: 7, origConf: 0.99,
 *     advPred: 3, advConf: 0.87 }], 'FGSM eps=0.25').save('out/fgsm.png');
 */
export function adversarialGrid(rows: AdversarialRow[], title: string): Canvas {
  if (typeof title !== 'string') throw new Error(`adversarialGrid: title expected a string, got ${typeof title}`);
  const cells = checkedAdversarialCells(rows, 'adversarialGrid');
  return renderGrid(cells, { scale: 4, title, columnTitles: ['original', "δ = x' − x", 'adversarial'] });
}

/**
 * The captioned cells of targetGrid, checked: the target's confidence, "*" appended where the attack failed,
 * null as a blank white cell without caption.
 * @example
 *   targetCells([[{ values: x, success: false, conf: 0.3 }]], 28, 28)[0][0].caption;  // '0.30*'
 *   targetCells([[null]], 28, 28)[0][0].caption;                                       // undefined
 */
export function targetCells(cells: (TargetCell | null)[][], h: number, w: number): GridCell[][] {
  return checkedTargetCells(cells, h, w, 'targetCells');
}

function checkedTargetCells(cells: (TargetCell | null)[][], h: number, w: number, fn: string): GridCell[][] {
  if (!isPosInt(h)) throw new Error(`${fn}: h expected a positive integer, got ${shown(h)}`);
  if (!isPosInt(w)) throw new Error(`${fn}: w expected a positive integer, got ${shown(w)}`);
  if (!Array.isArray(cells) || cells.length === 0 || !Array.isArray(cells[0]) || cells[0].length === 0) {
    throw new Error(`${fn}: cells expected a non-empty array of non-empty rows, got ${JSON.stringify(cells)?.slice(0, 40)}`);
  }
  const ncols = cells[0].length;
  const n = h * w;
  const blank = new Float32Array(n);
  return cells.map((row, i) => {
    if (!Array.isArray(row) || row.length !== ncols) {
      throw new Error(`${fn}: cells[${i}] expected ${ncols} cells like cells[0], got ${Array.isArray(row) ? row.length : typeof row}`);
    }
    return row.map((c, j): GridCell => {
      const at = `${fn}: cells[${i}][${j}]`;
      if (c === null) return { values: blank, h, w, colorize: BLANK };
      if (typeof c !== 'object') throw new Error(`${at} expected { values, success, conf } or null, got ${shown(c)}`);
      checkLength(`${at}.values`, c.values, n);
      checkNumber(`${at}.conf`, c.conf);
      if (typeof c.success !== 'boolean') throw new Error(`${at}.success expected a boolean, got ${shown(c.success)}`);
      return { values: c.values, h, w, colorize: gray, caption: `${conf2(c.conf)}${c.success ? '' : '*'}` };
    });
  });
}

/**
 * A source × target table for a targeted attack: cells[s][t] is the digit of class s pushed towards class t
 * (the diagonal: the original digit, success = true), captioned with the target's confidence and "*" where the
 * attack failed; null leaves a blank cell. Row titles "0".."9" on the left, column titles "t=0".."t=9" on top,
 * a key to the "*" below.
 * @example
 *   const cells = sources.map((s, i) => targets.map((adv, j) => i === j ? { values: s, success: true, conf: p[i] } : adv));
 *   targetGrid(cells, 28, 28, 'targeted PGD, eps=0.3').save('out/targets.png');
 */
export function targetGrid(cells: (TargetCell | null)[][], h: number, w: number, title: string): Canvas {
  if (typeof title !== 'string') throw new Error(`targetGrid: title expected a string, got ${typeof title}`);
  const grid = checkedTargetCells(cells, h, w, 'targetGrid');
  const canvas = renderGrid(grid, {
    scale: 3,
    title,
    columnTitles: Array.from({ length: grid[0].length }, (_, j) => `t=${j}`),
    rowTitles: grid.map((_, i) => `${i}`),
  });
  return withFootnote(canvas, FOOTNOTE);
}

/** The key printed under a targetGrid. */
export const FOOTNOTE = 'rows: source class   columns: target class   caption: target confidence   * = attack failed';

// Append a line of small text under a canvas (same width: the RGBA rows copy over unchanged).
function withFootnote(c: Canvas, note: string): Canvas {
  const pad = 8;
  const lineH = GLYPH_H;
  const width = Math.max(c.width, textWidth(note) + 2 * pad);
  const out = new Canvas(width, c.height + lineH + pad);
  if (width === c.width) out.rgba.set(c.rgba);
  else for (let y = 0; y < c.height; y++) out.rgba.set(c.rgba.subarray(y * c.width * 4, (y + 1) * c.width * 4), y * width * 4);
  out.text(note, pad, c.height, [90, 90, 90]);
  return out;
}
