// The trace picture: one digit's trip through the model, top to bottom. The input and the class probabilities;
// then per layer, its output z (left: up to 8 channels of a [C, H, W] map, or a bar strip of a flat vector) beside
// the gradient arriving at that output, dJ/dz (right, diverging: red raises J, blue lowers it, white is 0);
// finally ∇x J signed and |∇x J|. Maps of one layer share one colour scale, so channels can be compared; a labelled
// colour bar above each panel of maps gives it.
import type { Trace, TraceLayer } from '../analysis/trace.js';
import type { Tensor } from '../engine/tensor.js';
import { COLOR_BAR_H, drawColorBar } from './color-bar.js';
import { GLYPH_H } from './font.js';
import { Canvas, diverging, gray, heat, maxAbs, textWidth, type RGB } from './png.js';

const PAD = 12;
/** Target size in pixels of one channel tile; small maps are scaled up to about this size. */
const TILE = 72;
const GAP = 4;
const MAX_CHANNELS = 8;
const PANEL_W = MAX_CHANNELS * TILE + (MAX_CHANNELS - 1) * GAP;
const MID = 32;
const WIDTH = PAD + PANEL_W + MID + PANEL_W + PAD;
const BAR_H = 56;
const LINE = GLYPH_H + 2; // one line of scale-1 text plus spacing
const BIG = 2 * GLYPH_H; // one line of scale-2 text
/** Width of a layer's colour bars. */
const SCALE_W = 280;
const BLACK: RGB = [0, 0, 0];
const DIM: RGB = [90, 90, 90];
const RULE: RGB = [215, 215, 215];
const BAR: RGB = [70, 80, 95];
const HILITE: RGB = [0, 150, 60];
const WRONG: RGB = [230, 120, 0];

/** A number in a few characters: 0.0123, -1.57, 3.2e-5. */
export function fmt(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : v.toPrecision(3);
}

interface Block {
  h: number;
  draw(c: Canvas, y: number): void;
}

/** Copy channel `ch` of a [1, C, H, W] tensor. */
function channel(t: Tensor, ch: number): Float64Array {
  const [, , H, W] = t.shape;
  return Float64Array.from(t.data.subarray(ch * H * W, (ch + 1) * H * W));
}

/** Pixel scale and number of tiles for [C, H, W] maps in one panel. */
function tileLayout(C: number, H: number, W: number): { scale: number; count: number } {
  let scale = Math.max(1, Math.round(TILE / Math.max(H, W)));
  const fit = (s: number) => Math.floor((PANEL_W + GAP) / (Math.max(H, W) * s + GAP));
  while (scale > 1 && fit(scale) < Math.min(C, MAX_CHANNELS)) scale--;
  return { scale, count: Math.max(1, Math.min(C, MAX_CHANNELS, fit(scale))) };
}

/** Up to 8 channel tiles of a [1, C, H, W] tensor, coloured by `col`. */
function drawTiles(c: Canvas, t: Tensor, x: number, y: number, col: (v: number) => RGB): void {
  const [, C, H, W] = t.shape;
  const { scale, count } = tileLayout(C, H, W);
  for (let ch = 0; ch < count; ch++) {
    const left = x + ch * (W * scale + GAP);
    c.fillRect(left - 1, y - 1, W * scale + 2, H * scale + 2, RULE); // a frame, so near-white gradient tiles stay visible
    c.drawImage(channel(t, ch), H, W, left, y, scale, col);
  }
}

/**
 * A bar per value, in strips of at most PANEL_W values: up from a midline for signed values, from the bottom
 * when all are ≥ 0; `colour` picks each bar's colour; `labels` (small K) writes the index under each bar.
 */
function barsHeight(K: number): number {
  const strips = Math.ceil(K / PANEL_W);
  return strips * (BAR_H + GAP) + (K <= 32 ? LINE : 0);
}

function drawBars(c: Canvas, d: ArrayLike<number>, x: number, y: number, colour: (v: number) => RGB, mark?: (k: number) => RGB | undefined): void {
  const K = d.length;
  const perStrip = Math.min(K, PANEL_W);
  const bw = Math.max(1, Math.min(48, Math.floor(PANEL_W / perStrip)));
  const m = maxAbs(d);
  let nonneg = true;
  for (let k = 0; k < K; k++) if (d[k] < 0) nonneg = false;
  for (let s = 0; s * perStrip < K; s++) {
    const top = y + s * (BAR_H + GAP);
    const base = nonneg ? top + BAR_H : top + BAR_H / 2;
    const half = nonneg ? BAR_H : BAR_H / 2;
    c.fillRect(x, top, perStrip * bw, BAR_H, [248, 248, 248]);
    c.fillRect(x, Math.floor(base), perStrip * bw, 1, RULE);
    for (let k = s * perStrip; k < Math.min(K, (s + 1) * perStrip); k++) {
      const v = d[k];
      const len = m > 0 ? Math.round((Math.abs(v) / m) * half) : 0;
      const bx = x + (k - s * perStrip) * bw;
      const inner = bw >= 4 ? bw - 2 : bw;
      const col = mark?.(k) ?? colour(v);
      if (v >= 0) c.fillRect(bx, Math.floor(base) - len, inner, len, col);
      else c.fillRect(bx, Math.floor(base) + 1, inner, len, col);
    }
  }
  if (K <= 32) {
    const ly = y + Math.ceil(K / PANEL_W) * (BAR_H + GAP);
    for (let k = 0; k < K; k++) {
      const s = String(k);
      c.text(s, x + k * bw + Math.floor((bw - 2 - textWidth(s)) / 2), ly, mark?.(k) ?? DIM);
    }
  }
}

/** Colours of the label's bar (green) and, when it is wrong, the prediction's (orange). */
const classMark = (t: Trace) => (k: number): RGB | undefined => (k === t.label ? HILITE : k === t.predicted ? WRONG : undefined);

function isSpatial(l: TraceLayer): boolean {
  return l.outputShape.length === 3;
}

/** One layer: a name line, a statistics line per panel, then the maps or bars. */
function layerBlock(l: TraceLayer, isLast: boolean, trace: Trace): Block {
  const out = l.tensors.output;
  const g = l.tensors.grad;
  const spatial = isSpatial(l);
  const [C, H, W] = l.outputShape;
  const bodyH = spatial ? H * tileLayout(C, H, W).scale + 1 : barsHeight(out.size);
  const name = `#${l.index} ${l.type} ${l.outputShape.join('x')}${isLast ? ' (logits)' : ''}`;
  const shown = spatial && C > 1 ? `channels 0-${tileLayout(C, H, W).count - 1} of ${C}` : '';
  const o = l.output;
  const nonneg = o.min >= 0;
  const outStats = `mean ${fmt(o.mean)}  std ${fmt(o.std)}  min ${fmt(o.min)}  max ${fmt(o.max)}  zeros ${(100 * o.fractionZero).toFixed(0)}%`;
  const gm = maxAbs(g.data);
  const gradStats = `dJ/dz:  L2 ${fmt(l.grad.norm2)}  Linf ${fmt(l.grad.normInf)}  mean ${fmt(l.grad.mean)}`;
  const m = Math.max(Math.abs(o.min), Math.abs(o.max));
  const span = o.max - o.min;
  const outColour = nonneg ? heat(m) : (v: number) => gray(span > 0 ? (v - o.min) / span : 0);
  return {
    h: BIG + 4 + LINE + (spatial ? COLOR_BAR_H + 4 : 0) + bodyH,
    draw(c, y) {
      c.text(name, PAD, y, BLACK, 2);
      if (shown) c.text(shown, PAD + textWidth(name, 2) + 12, y + BIG - GLYPH_H - 2, DIM);
      const x2 = PAD + PANEL_W + MID;
      let ty = y + BIG + 4;
      c.text(outStats, PAD, ty, BLACK);
      c.text(gradStats, x2, ty, BLACK);
      ty += LINE;
      let by = ty;
      if (spatial) {
        drawColorBar(c, PAD, ty, SCALE_W, nonneg ? 0 : o.min, nonneg ? m : o.max, outColour);
        drawColorBar(c, x2, ty, SCALE_W, -gm, gm, diverging(gm));
        by += COLOR_BAR_H + 4;
        drawTiles(c, out, PAD, by, outColour);
        drawTiles(c, g, x2, by, diverging(gm));
      } else {
        drawBars(c, out.data, PAD, by, () => BAR, isLast ? classMark(trace) : undefined);
        drawBars(c, g.data, x2, by, diverging(gm));
      }
    },
  };
}

/** A horizontal rule between sections. */
const rule = (): Block => ({ h: 1, draw: (c, y) => c.fillRect(PAD, y, WIDTH - 2 * PAD, 1, RULE) });

/**
 * Render a trace: the input and the probabilities, every layer's output beside ∂J/∂output, then ∇x J.
 * `x` is the traced image [1, C, H, W] (channel 0 is drawn).
 * @example
 *   const t = traceExample(model, x, y[0]);
 *   traceFigure(t, x, { index: 0 }).save('runs/trace.png');
 */
export function traceFigure(trace: Trace, x: Tensor, opts: { index?: number; title?: string } = {}): Canvas {
  if (x.ndim !== 4 || x.shape[0] !== 1) throw new Error(`traceFigure: x must be [1, C, H, W], got [${x.shape.join(', ')}]`);
  const [, C, H, W] = x.shape;
  const title = opts.title ?? `trace of ${opts.index !== undefined ? `test image ${opts.index}` : 'one image'} (label ${trace.label}, predicted ${trace.predicted})`;
  const img = channel(x, 0);
  const inScale = Math.max(1, Math.round(112 / Math.max(H, W)));
  const blocks: Block[] = [];

  blocks.push({
    h: BIG + 6 + LINE,
    draw(c, y) {
      c.text(title, Math.floor((WIDTH - textWidth(title, 2)) / 2), y, BLACK, 2);
      const sub = `loss J = -log p(label) = ${fmt(trace.loss)}    p(label ${trace.label}) = ${trace.probabilities[trace.label].toFixed(4)}    p(predicted ${trace.predicted}) = ${trace.probabilities[trace.predicted].toFixed(4)}`;
      c.text(sub, Math.floor((WIDTH - textWidth(sub)) / 2), y + BIG + 6, DIM);
    },
  });
  const probs = trace.probabilities;
  blocks.push({
    h: Math.max(BIG + 4 + H * inScale, BIG + 4 + barsHeight(probs.length) + LINE),
    draw(c, y) {
      const head = `input x ${C}x${H}x${W}`;
      c.text(head, PAD, y, BLACK, 2);
      c.drawImage(img, H, W, PAD, y + BIG + 4, inScale, gray);
      const x2 = PAD + PANEL_W + MID;
      c.text('softmax probabilities', x2, y, BLACK, 2);
      drawBars(c, probs, x2, y + BIG + 4, () => BAR, classMark(trace));
      c.text('green: the label y;  orange: the prediction, when it is wrong', x2, y + BIG + 4 + barsHeight(probs.length) + 2, DIM);
    },
  });
  blocks.push({
    h: 2 * LINE,
    draw(c, y) {
      c.text('forward: the output z of each layer', PAD, y + 4, BLACK);
      c.text('backward: dJ/dz, the gradient arriving at that output (read bottom-up)', PAD + PANEL_W + MID, y + 4, BLACK);
    },
  });
  trace.layers.forEach((l, i) => {
    blocks.push(rule());
    blocks.push(layerBlock(l, i === trace.layers.length - 1, trace));
  });
  blocks.push(rule());

  const dx = Float64Array.from(trace.dx.data.subarray(0, H * W));
  const mag = dx.map(Math.abs);
  const gm = maxAbs(dx);
  const gScale = Math.max(1, Math.round(140 / Math.max(H, W)));
  const cw = Math.max(W * gScale, 180) + 2 * PAD;
  blocks.push({
    h: BIG + 4 + LINE + 4 + H * gScale + 4 + COLOR_BAR_H + 4 + 2 * LINE,
    draw(c, y) {
      c.text('∇x J = dJ/dz₀, the end of the backward pass', PAD, y, BLACK, 2);
      const n = trace.dxNorm;
      c.text(`‖∇x J‖₁ ${fmt(n.l1)}   ‖∇x J‖₂ ${fmt(n.l2)}   ‖∇x J‖∞ ${fmt(n.linf)}${C > 1 ? `   (channel 0 of ${C})` : ''}`, PAD, y + BIG + 4, DIM);
      const iy = y + BIG + 4 + LINE + 4;
      const cells: [ArrayLike<number>, (v: number) => RGB, string, [number, number] | null][] = [
        [img, gray, 'x, the input', null],
        [dx, diverging(gm), '∇x J (signed)', [-gm, gm]],
        [mag, heat(gm), '|∇x J|', [0, gm]],
      ];
      cells.forEach(([v, col, cap, range], k) => {
        const left = PAD + k * cw;
        c.drawImage(v, H, W, left, iy, gScale, col);
        let ly = iy + H * gScale + 4;
        if (range) {
          drawColorBar(c, left, ly, W * gScale, range[0], range[1], col);
          ly += COLOR_BAR_H + 4;
        }
        c.text(cap, left, ly, BLACK);
      });
      const note = [
        'Each pixel of ∇x J says how the loss J changes when that pixel brightens:',
        `red raises J (away from the label ${trace.label}), blue lowers it, white leaves it.`,
        'FGSM moves every pixel by ε·sign(∇x J): one step up this slope.',
      ];
      note.forEach((t, k) => c.text(t, PAD + 3 * cw, iy + k * LINE, DIM));
    },
  });

  const height = PAD + blocks.reduce((s, b) => s + b.h + PAD, 0);
  const canvas = new Canvas(WIDTH, height);
  let y = PAD;
  for (const b of blocks) {
    b.draw(canvas, y);
    y += b.h + PAD;
  }
  return canvas;
}
