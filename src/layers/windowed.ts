// Forward passes of images that each differ from a known image only inside one small window: the Square attack's
// proposals, x_best with one s×s square redrawn. A model's leading local layers (unpadded convolutions and pools,
// elementwise activations) have outputs that each depend on a bounded window of the input, so after a change inside a
// window only the output cells whose receptive field meets it change. Here the leading block runs on a crop of the
// input around the window, its output is written over a copy of the known image's activation (kept per image), and
// the rest of the model runs as usual. Each output cell of a convolution or pool is computed from its own window by
// the same kernels in the same order whatever the image's width and the cell's position (tested against full passes),
// so the logits are a full pass's bit for bit; the leading block's work shrinks to the crop (the `cnn`'s first block
// on a 2×2 square: a 12 × 12 crop of the 28 × 28 image instead of all of it).
// Shapes: base images [N, C, H, W]; a query b is base[rows[b]] with the window rows [h0[b], h0[b] + height), columns
// [w0[b], w0[b] + width) of every channel replaced by patch[b] ([C, height, width]); logits [B, classes].
import { noGrad } from '../engine/tape.js';
import { recycling } from '../engine/recycle.js';
import { copyOf, type Data } from '../engine/nd.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import { ReLU, Sigmoid, Tanh } from './activations.js';
import { Conv2D } from './conv2d.js';
import type { Layer } from './layer.js';
import { AvgPool2D, MaxPool2D } from './pool.js';
import { inEvalMode } from './predict.js';
import { isBnReluPool, isConvBnReluPool, type Sequential } from './sequential.js';

/** A local layer's window along one axis: output i reads inputs [i·stride, i·stride + kernel); 1, 1 elementwise. */
interface Reach {
  kernel: number;
  stride: number;
}

/** How a layer maps a window, or null when its outputs are not local (padding, dense layers, anything else). */
function reachOf(l: Layer): Reach | null {
  if (l instanceof Conv2D) return l.padding === 0 ? { kernel: l.kernel, stride: l.stride } : null;
  if (l instanceof MaxPool2D || l instanceof AvgPool2D) return l.padding === 0 ? { kernel: l.kernel, stride: l.stride } : null;
  if (l instanceof ReLU || l instanceof Tanh || l instanceof Sigmoid) return { kernel: 1, stride: 1 };
  return null;
}

const outLen = (n: number, r: Reach) => Math.floor((n - r.kernel) / r.stride) + 1;

/** One axis of a window's size: the leading block's output cells a changed run of inputs reaches, and the crop. */
interface AxisPlan {
  /** Output cells recomputed per query (the most a window of this size can reach). */
  out: number;
  /** Input length of the crop that gives them. */
  crop: number;
  /** Per window start r0: the first recomputed output cell (the reached ones, shifted to fit the output) … */
  outStart: Int32Array;
  /** … and the first input cell of its crop. */
  inStart: Int32Array;
}

/** The block's output cells [a, b) that a changed input run [r0, r1) reaches (lens: the axis before each layer and after the last). */
function reached(reach: readonly Reach[], lens: readonly number[], r0: number, r1: number): [number, number] {
  let a = r0, b = r1;
  reach.forEach((r, j) => {
    // outputs i with i·stride + kernel > a and i·stride < b
    a = Math.max(0, Math.ceil((a - r.kernel + 1) / r.stride));
    b = Math.min(lens[j + 1], Math.floor((b - 1) / r.stride) + 1);
  });
  return [a, b];
}

function axisPlan(reach: readonly Reach[], lens: readonly number[], size: number): AxisPlan {
  const starts = lens[0] - size + 1;
  const spans = Array.from({ length: starts }, (_, r0) => reached(reach, lens, r0, r0 + size));
  const out = Math.max(...spans.map(([a, b]) => b - a));
  let crop = out, stride = 1;
  for (let j = reach.length - 1; j >= 0; j--) {
    crop = (crop - 1) * reach[j].stride + reach[j].kernel;
    stride *= reach[j].stride;
  }
  const outStart = Int32Array.from(spans, ([a]) => Math.min(a, lens[reach.length] - out));
  return { out, crop, outStart, inStart: outStart.map((a) => a * stride) };
}

/** Multiply-adds of the convolutions among layers [from, to) on an input of h × w (channels from the layers). */
function convWork(layers: readonly Layer[], reach: readonly (Reach | null)[], from: number, to: number, h: number, w: number): number {
  let work = 0;
  for (let j = 0; j < to; j++) {
    const r = reach[j];
    if (!r) break;
    h = outLen(h, r);
    w = outLen(w, r);
    const l = layers[j];
    if (j >= from && l instanceof Conv2D) work += l.outChannels * l.inChannels * l.kernel * l.kernel * h * w;
  }
  return work;
}

/**
 * Logits of windowed changes to a set of base images, recomputing the model's leading local block only around each
 * window; the same bits as `predict` on the whole images. A model with no local leading layers (or a window too large
 * for a crop to save work) runs every layer on the whole image, which also gives predict's bits.
 * Errors: base not [N, ...model.input]; rows, windows or patches out of range or of the wrong length; NaN or
 * infinite values in base or a patch (as Sequential.forward rejects them).
 * @example
 *   const wf = new WindowedForward(model, xBest);                      // xBest [N, 1, 28, 28]
 *   const z = wf.forward(rows, h0, w0, 2, 2, patch);                   // patch [B, 1, 2, 2]
 *   wf.accept(0);                                                      // query 0 becomes base[rows[0]]
 */
export class WindowedForward {
  /** Layers [0, split) are the block run on crops; its output is kept per base image. */
  readonly split: number;
  /** Queries answered from crops so far (the others ran the block on whole images). */
  cropped = 0;
  readonly #model: Sequential;
  readonly #base: Data;
  readonly #act: Data;
  readonly #reach: Reach[];
  /** Spatial sizes [H, W] before each block layer and after the last. */
  readonly #hs: number[];
  readonly #ws: number[];
  readonly #plans = new Map<string, { h: AxisPlan; w: AxisPlan } | null>();
  #last: { h0: Int32Array; w0: Int32Array; height: number; width: number; patch: Data; accepted: Set<number> } | null = null;
  #buf: QueryBuffer | null = null;
  /** Input buffers reused while the batch keeps its size (every element is written before a pass reads it). */
  #crops: Data | null = null;
  #whole: Data | null = null;

  /** @param crop false: run every query on the whole image (the same bits; for comparisons). */
  constructor(model: Sequential, base: Tensor, opts: { crop?: boolean } = {}) {
    const [C, H, W] = model.input;
    if (model.input.length !== 3 || base.ndim !== 4 || base.shape[1] !== C || base.shape[2] !== H || base.shape[3] !== W) {
      throw new Error(`WindowedForward: base must be [N, ${model.input.join(', ')}] images, got ${shapeStr(base.shape)}`);
    }
    assertFinite(base, 'WindowedForward');
    this.#model = model;
    this.#base = base.data.slice();
    const layers = model.layers;
    const reach: (Reach | null)[] = layers.map(reachOf);
    // the block: the leading local layers up to the split that leaves the least convolution work for a 1 × 1 window
    // (the later split on a tie: pools and activations run on the crop too),
    // never inside a run forward fuses (Conv2D → ReLU → MaxPool2D)
    let best = 0, bestWork = convWork(layers, reach, 0, layers.length, H, W);
    for (let k = 1; k <= layers.length && reach[k - 1] && opts.crop !== false; k++) {
      if (fusedAcross(layers, k)) continue;
      const r = reach.slice(0, k) as Reach[];
      const hs = sizes(r, H), ws = sizes(r, W);
      if (hs.at(-1)! < 1 || ws.at(-1)! < 1) break;
      const ph = axisPlan(r, hs, 1), pw = axisPlan(r, ws, 1);
      const work = convWork(layers, reach, 0, k, ph.crop, pw.crop) + convWork(layers, reach, k, layers.length, H, W);
      if (work <= bestWork) {
        best = k;
        bestWork = work;
      }
    }
    this.split = best;
    this.#reach = reach.slice(0, best) as Reach[];
    this.#hs = sizes(this.#reach, H);
    this.#ws = sizes(this.#reach, W);
    this.#act = copyOf(this.#run(() => model.forwardRange(new Tensor(this.#base, base.shape), 0, best)).data);
  }

  /** A copy of the base images [N, C, H, W] as they stand (accepted queries included). */
  get base(): Data {
    return this.#base.slice();
  }

  /**
   * Logits [B, classes] of base[rows[b]] with its window (rows h0[b] … + height, columns w0[b] … + width, every
   * channel) replaced by patch[b] ([B, C, height, width] in all).
   */
  forward(rows: Int32Array, h0: Int32Array, w0: Int32Array, height: number, width: number, patch: Data): Tensor {
    const [C, H, W] = this.#model.input;
    const B = rows.length, N = this.#base.length / (C * H * W);
    const bad = (what: string) => new Error(`WindowedForward.forward: ${what}`);
    if (h0.length !== B || w0.length !== B) throw bad(`h0 and w0 must have ${B} entries (one per row), got ${h0.length} and ${w0.length}`);
    if (!(height >= 1 && height <= H && width >= 1 && width <= W && Number.isInteger(height) && Number.isInteger(width))) {
      throw bad(`the window must be 1 … ${H} × 1 … ${W}, got ${height} × ${width}`);
    }
    if (patch.length !== B * C * height * width) throw bad(`patch must have ${B} × ${C} × ${height} × ${width} values, got ${patch.length}`);
    assertFinite(new Tensor(patch, [B, C, height, width]), 'WindowedForward.forward: patch'); // as forward rejects x
    for (let b = 0; b < B; b++) {
      if (!(rows[b] >= 0 && rows[b] < N)) throw bad(`rows[${b}] = ${rows[b]} is not a base image (0 … ${N - 1})`);
      if (!(h0[b] >= 0 && h0[b] + height <= H && w0[b] >= 0 && w0[b] + width <= W)) {
        throw bad(`window ${b} at (${h0[b]}, ${w0[b]}) does not fit a ${H} × ${W} image`);
      }
    }
    this.#last = null; // accept() refers to this call's queries, once it has returned them
    const plan = this.#plan(height, width);
    const k = this.split, L = this.#model.layers.length;
    const per = C * H * W, aPer = this.#act.length / N;
    const f64 = this.#base instanceof Float64Array;
    const buf = this.#bufFor(rows, aPer, f64);
    const act = buf.act, cache = this.#act;
    const logits = this.#run(() => {
      if (plan === null) {
        // whole images: the block on each, then the rest
        const x = (this.#whole = this.#whole?.length === B * per ? this.#whole : alloc(f64 ? 'float64' : 'float32', B * per));
        for (let b = 0; b < B; b++) {
          x.set(this.#base.subarray(rows[b] * per, (rows[b] + 1) * per), b * per);
          pasteWindow(x, b * per, patch, b, C, H, W, h0[b], w0[b], height, width);
        }
        const a = this.#model.forwardRange(new Tensor(x, [B, C, H, W]), 0, k);
        act.set(a.data);
        buf.cells.fill(-1); // every row differs from its base image's activation
        return this.#model.forwardRange(new Tensor(act, [B, ...a.shape.slice(1)]), k, L);
      }
      // the crops: the input cells behind the block's output cells each window reaches, with the patch pasted in
      const { h: ph, w: pw } = plan;
      const ch = ph.crop, cw = pw.crop, hk = this.#hs[k], wk = this.#ws[k], Ck = aPer / (hk * wk);
      const crops = (this.#crops = this.#crops?.length === B * C * ch * cw ? this.#crops : alloc(f64 ? 'float64' : 'float32', B * C * ch * cw));
      for (let b = 0; b < B; b++) {
        const ih = ph.inStart[h0[b]], iw = pw.inStart[w0[b]];
        copyCells(crops, b * C * ch * cw, ch, cw, 0, 0, this.#base, rows[b] * per, H, W, ih, iw, C, ch, cw);
        // the part of the window inside the crop (the rest reaches none of the recomputed cells: border cells a
        // strided window never reads)
        const top = h0[b] - ih, left = w0[b] - iw, y0 = Math.max(0, -top), x0 = Math.max(0, -left);
        const y1 = Math.min(height, ch - top), x1 = Math.min(width, cw - left);
        if (y1 > y0 && x1 > x0) {
          copyCells(crops, b * C * ch * cw, ch, cw, top + y0, left + x0, patch, b * C * height * width, height, width, y0, x0, C, y1 - y0, x1 - x0);
        }
      }
      const part = this.#model.forwardRange(new Tensor(crops, [B, C, ch, cw]), 0, k).data;
      this.cropped += B;
      // each query's activation: its base image's (the buffer holds it but for the cells the last query recomputed),
      // with the recomputed cells written over it
      for (let b = 0; b < B; b++) {
        buf.restore(b, cache, rows[b] * aPer, Ck, hk, wk);
        const oh = ph.outStart[h0[b]], ow = pw.outStart[w0[b]];
        copyCells(act, b * aPer, hk, wk, oh, ow, part, b * Ck * ph.out * pw.out, ph.out, pw.out, 0, 0, Ck, ph.out, pw.out);
        buf.mark(b, oh, ow, ph.out, pw.out);
      }
      return this.#model.forwardRange(new Tensor(act, [B, Ck, hk, wk]), k, L);
    });
    this.#last = { h0: h0.slice(), w0: w0.slice(), height, width, patch: patch.slice(), accepted: new Set() };
    // layers after the block that only reshape (Flatten) return a view of the reused buffer: the caller's copy
    return logits.data.buffer === act.buffer ? new Tensor(logits.data.slice(), logits.shape) : logits;
  }

  /**
   * Make query b of the last forward its row's base image (the Square attack's accepted proposal). Errors: b not a
   * query of the last forward, or its row already took another one of them.
   */
  accept(b: number): void {
    const q = this.#last, buf = this.#buf;
    if (q === null || buf === null || !Number.isInteger(b) || !(b >= 0 && b < buf.rows.length)) {
      throw new Error(`WindowedForward.accept: ${b} is not a query of the last forward`);
    }
    const [C, H, W] = this.#model.input;
    const n = buf.rows[b], per = C * H * W, aPer = this.#act.length / (this.#base.length / per);
    // a second query of the same row was computed from the image the first one replaced
    if (q.accepted.has(n)) throw new Error(`WindowedForward.accept: base image ${n} already took another query of the last forward`);
    q.accepted.add(n);
    pasteWindow(this.#base, n * per, q.patch, b, C, H, W, q.h0[b], q.w0[b], q.height, q.width);
    // the base image's activation takes the query's (only the cells it recomputed differ)
    buf.save(b, this.#act, n * aPer, aPer / (this.#hs[this.split] * this.#ws[this.split]), this.#hs[this.split], this.#ws[this.split]);
    // another query of the same row no longer holds its base image's activation
    for (let i = 0; i < buf.rows.length; i++) if (i !== b && buf.rows[i] === n) buf.cells[4 * i] = -1;
  }

  /** The query buffer for these rows: reused (and restored cell by cell) while the rows stay the same. */
  #bufFor(rows: Int32Array, aPer: number, f64: boolean): QueryBuffer {
    const B = rows.length, old = this.#buf;
    if (old !== null && old.rows.length === B && old.rows.every((r, i) => r === rows[i])) return old;
    const act = old?.act.length === B * aPer ? old.act : alloc(f64 ? 'float64' : 'float32', B * aPer);
    const buf = new QueryBuffer(rows.slice(), act);
    buf.cells.fill(-1); // nothing in it is any row's yet
    this.#buf = buf;
    return buf;
  }

  #plan(height: number, width: number): { h: AxisPlan; w: AxisPlan } | null {
    const key = `${height}×${width}`;
    if (!this.#plans.has(key)) {
      const k = this.split, layers = this.#model.layers, reach = this.#reach; // convWork reads the block's layers only
      const [, H, W] = this.#model.input;
      let plan: { h: AxisPlan; w: AxisPlan } | null = null;
      if (k > 0) {
        const h = axisPlan(this.#reach, this.#hs, height), w = axisPlan(this.#reach, this.#ws, width);
        // a crop pays when the block's work on it is under half its work on the whole image
        if (2 * convWork(layers, reach, 0, k, h.crop, w.crop) < convWork(layers, reach, 0, k, H, W)) plan = { h, w };
      }
      this.#plans.set(key, plan);
    }
    return this.#plans.get(key)!;
  }

  /** fn in evaluation mode, without the graph, its temporaries recycled. */
  #run(fn: () => Tensor): Tensor {
    return inEvalMode(this.#model, () => recycling(() => noGrad(fn), (z) => [z]));
  }
}

/**
 * The activations [B, Ck, hk, wk] of the queries of one set of base rows. Each row holds its base image's activation
 * except for the cells its last query recomputed (cells[4b … 4b + 3]: top, left, height, width; height 0: none, top
 * −1: the whole row is unknown), so a new query restores only those cells before writing its own.
 */
class QueryBuffer {
  readonly cells: Int32Array;
  constructor(readonly rows: Int32Array, readonly act: Data) {
    this.cells = new Int32Array(4 * rows.length);
  }

  /** Row b back to the base activation at cache[off …]. */
  restore(b: number, cache: Data, off: number, Ck: number, hk: number, wk: number): void {
    const c = this.cells, aPer = Ck * hk * wk;
    if (c[4 * b] < 0) this.act.set(cache.subarray(off, off + aPer), b * aPer);
    else if (c[4 * b + 2] > 0) copyCells(this.act, b * aPer, hk, wk, c[4 * b], c[4 * b + 1], cache, off, hk, wk, c[4 * b], c[4 * b + 1], Ck, c[4 * b + 2], c[4 * b + 3]);
  }

  /** Row b of the buffer into the base activation at cache[off …] (its changed cells, or all of it). */
  save(b: number, cache: Data, off: number, Ck: number, hk: number, wk: number): void {
    const c = this.cells, aPer = Ck * hk * wk;
    if (c[4 * b] < 0) cache.set(this.act.subarray(b * aPer, (b + 1) * aPer), off);
    else if (c[4 * b + 2] > 0) copyCells(cache, off, hk, wk, c[4 * b], c[4 * b + 1], this.act, b * aPer, hk, wk, c[4 * b], c[4 * b + 1], Ck, c[4 * b + 2], c[4 * b + 3]);
    c.fill(0, 4 * b, 4 * b + 4);
  }

  mark(b: number, top: number, left: number, height: number, width: number): void {
    const c = this.cells;
    c[4 * b] = top;
    c[4 * b + 1] = left;
    c[4 * b + 2] = height;
    c[4 * b + 3] = width;
  }
}

/**
 * Copy a C × h × w block of cells: from src (images [C, SH, SW] at sOff) at (sy, sx) to dst ([C, DH, DW] at dOff) at
 * (dy, dx). Element loops: a subarray per short run costs more than the copy.
 */
function copyCells(
  dst: Data, dOff: number, DH: number, DW: number, dy: number, dx: number,
  src: Data, sOff: number, SH: number, SW: number, sy: number, sx: number, C: number, h: number, w: number,
): void {
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const s = sOff + (c * SH + sy + y) * SW + sx, d = dOff + (c * DH + dy + y) * DW + dx;
      for (let i = 0; i < w; i++) dst[d + i] = src[s + i];
    }
  }
}

/** Whether splitting the layers before index k would cut a run that forward fuses. */
function fusedAcross(layers: readonly Layer[], k: number): boolean {
  const a = layers[k - 2], b = layers[k - 1], c = layers[k];
  // inside a Conv2D → BatchNorm2d → ReLU → MaxPool2D(2), which forward folds in evaluation mode (the mode every
  // windowed pass runs in, whatever the model's mode when this is built)
  for (let i = Math.max(0, k - 3); i < k; i++) if (isConvBnReluPool(layers[i], layers[i + 1], layers[i + 2], layers[i + 3], true)) return true;
  if (b instanceof Conv2D && c instanceof ReLU) return true;
  if (isBnReluPool(a, b, c) || isBnReluPool(b, c, layers[k + 1])) return true;
  return a instanceof Conv2D && b instanceof ReLU && c instanceof MaxPool2D;
}

/** Spatial sizes along one axis before each layer of the block and after the last. */
function sizes(reach: readonly Reach[], n: number): number[] {
  const out = [n];
  for (const r of reach) out.push(outLen(out[out.length - 1], r));
  return out;
}

/** Write patch b ([C, height, width] at index b of patch) into the image at dst[off …] ([C, H, W]) at (h0, w0). */
function pasteWindow(dst: Data, off: number, patch: Data, b: number, C: number, H: number, W: number, h0: number, w0: number, height: number, width: number): void {
  copyCells(dst, off, H, W, h0, w0, patch, b * C * height * width, height, width, 0, 0, C, height, width);
}
