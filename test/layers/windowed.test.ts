// Windowed forwards (layers/windowed.ts) give predict's logits bit for bit: on models whose leading block runs on
// crops (unpadded convolutions and pools, strided ones, a fused block, activations) and on models with none, for
// windows of every size, after chains of accepted queries, with the reference and the WebAssembly kernels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.js';
import { kernels, useKernels, type Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels } from '../../src/engine/kernels/reference.js';
import { Tensor } from '../../src/engine/tensor.js';
import { predict } from '../../src/layers/predict.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { WindowedForward } from '../../src/layers/windowed.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadThreadedKernels } from '../engine/threaded-kernels.js';

const conv = (i: number, o: number, k: number, stride = 1, padding = 0) => ({ type: 'conv2d', in: i, out: o, kernel: k, stride, padding }) as const;
const pool = (type: 'maxpool2d' | 'avgpool2d', k: number, stride = k) => ({ type, kernel: k, stride, padding: 0 }) as const;

/** Models and the split the cost model should pick (layers before it run on crops). */
const models: [string, ModelSpec, number][] = [
  ['cnn', zooSpec('cnn'), 3],
  ['smallcnn (3×3, a ReLU between convolutions)', zooSpec('smallcnn'), 5],
  ['madry (padded: no crops)', zooSpec('madry', [1, 16, 16]), 0],
  ['cnn-bn (its batch-norms folded into the blocks: no split inside one, so no crops)', zooSpec('cnn-bn'), 0],
  ['strided conv, tanh, avg pool, 3 channels', {
    input: [3, 20, 18],
    layers: [conv(3, 4, 3, 2), { type: 'tanh' }, pool('avgpool2d', 2, 1), conv(4, 6, 3), { type: 'relu' }, { type: 'flatten' }, { type: 'dense', in: 6 * 6 * 5, out: 5 }],
  }, 2],
  ['max pool 3 / 2 first, sigmoid', {
    input: [1, 41, 41],
    layers: [pool('maxpool2d', 3, 2), conv(1, 8, 4), { type: 'sigmoid' }, conv(8, 8, 2), { type: 'flatten' }, { type: 'dense', in: 8 * 16 * 16, out: 4 }],
  }, 4],
];

function images(m: Sequential, N: number, rng: Rng): Tensor {
  const x = Tensor.zeros([N, ...m.input]);
  for (let i = 0; i < x.size; i++) x.data[i] = i % 5 === 0 ? 0 : rng.next();
  return x;
}

/** base rows with each window pasted, as whole images. */
function pasted(base: Float32Array, rows: Int32Array, h0: Int32Array, w0: Int32Array, s: [number, number], patch: Float32Array, shape: number[]): Tensor {
  const [C, H, W] = shape, per = C * H * W;
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, b) => {
    out.set(base.subarray(r * per, (r + 1) * per), b * per);
    for (let c = 0; c < C; c++) for (let y = 0; y < s[0]; y++) for (let x = 0; x < s[1]; x++) {
      out[b * per + (c * H + h0[b] + y) * W + w0[b] + x] = patch[((b * C + c) * s[0] + y) * s[1] + x];
    }
  });
  return new Tensor(out, [rows.length, C, H, W]);
}

/** Queries of random windows (sizes over the whole range, rows with repeats), some accepted; each checked bitwise. */
function checkAgainstPredict(m: Sequential, seed: number): number {
  const rng = new Rng(seed);
  const [C, H, W] = m.input, N = 7;
  const x = images(m, N, rng);
  const wf = new WindowedForward(m, x);
  const base = Float32Array.from(x.data); // the bases as the queries accept them
  let checked = 0;
  const sizes: [number, number][] = [[1, 1], [2, 2], [2, 3], [3, 3], [4, 2], [5, 5], [H >> 1, W >> 2], [H, W], [H - 1, 2]];
  for (let round = 0; round < 4; round++) {
    for (const s of sizes) {
      const B = 1 + rng.int(6);
      const rows = Int32Array.from({ length: B }, () => rng.int(N));
      const h0 = Int32Array.from({ length: B }, () => rng.int(H - s[0] + 1));
      const w0 = Int32Array.from({ length: B }, () => rng.int(W - s[1] + 1));
      const patch = Float32Array.from({ length: B * C * s[0] * s[1] }, () => rng.next());
      const z = wf.forward(rows, h0, w0, s[0], s[1], patch);
      const want = predict(m, pasted(base, rows, h0, w0, s, patch, m.input));
      expect(Array.from(z.data), `window ${s.join('×')}`).toEqual(Array.from(want.data));
      checked += B;
      // accept some: the base image takes the query
      const took = new Set<number>();
      for (let b = 0; b < B; b++) {
        if (rng.next() < 0.4 && !took.has(rows[b])) {
          took.add(rows[b]);
          wf.accept(b);
          base.set(pasted(base, rows.subarray(b, b + 1), h0.subarray(b, b + 1), w0.subarray(b, b + 1), s, patch.subarray(b * C * s[0] * s[1], (b + 1) * C * s[0] * s[1]), m.input).data, rows[b] * C * H * W);
        }
      }
      expect(Array.from(wf.base)).toEqual(Array.from(base));
    }
  }
  // a model with a block answers the small windows from crops
  if (wf.split > 0) expect(wf.cropped).toBeGreaterThan(checked / 3);
  return checked;
}

describe('WindowedForward: the same logits as predict on the whole images', () => {
  let threaded: Kernels[] = [];
  beforeAll(() => {
    threaded = loadThreadedKernels('windowed.test');
  });
  afterAll(() => threaded.forEach((k) => k.setThreads(1)));

  for (const [name, spec, split] of models) {
    it(`${name}: splits after layer ${split}, bit for bit with the active, reference and 1–3-thread WebAssembly kernels`, () => {
      const m = buildModel(spec, { seed: 3 });
      expect(new WindowedForward(m, images(m, 1, new Rng(1))).split).toBe(split);
      for (const k of [kernels(), referenceKernels, ...threaded]) {
        const prev = useKernels(k);
        try {
          expect(checkAgainstPredict(m, 11)).toBeGreaterThan(100);
        } finally {
          useKernels(prev);
        }
      }
    });
  }

  it('the same rows over many calls (the reused buffer restored cell by cell), repeats and accepts among them', () => {
    for (const spec of [zooSpec('cnn'), zooSpec('smallcnn')]) {
      const m = buildModel(spec, { seed: 6 });
      const rng = new Rng(8);
      const x = images(m, 5, rng);
      const wf = new WindowedForward(m, x);
      const base = Float32Array.from(x.data);
      const rows = Int32Array.of(3, 0, 3, 1, 4, 0), B = rows.length;
      let crops = 0;
      for (let call = 0; call < 30; call++) {
        const s: [number, number] = call % 7 === 6 ? [13, 13] : [1 + rng.int(3), 1 + rng.int(3)]; // a whole-image call now and then
        const h0 = Int32Array.from({ length: B }, () => rng.int(29 - s[0])), w0 = Int32Array.from({ length: B }, () => rng.int(29 - s[1]));
        const patch = Float32Array.from({ length: B * s[0] * s[1] }, () => rng.next());
        const z = wf.forward(rows, h0, w0, s[0], s[1], patch);
        expect(Array.from(z.data), `call ${call}`).toEqual(Array.from(predict(m, pasted(base, rows, h0, w0, s, patch, m.input)).data));
        if (s[0] < 13) crops++;
        const b = rng.int(B + 2); // sometimes none
        if (b < B) {
          wf.accept(b);
          base.set(pasted(base, rows.subarray(b, b + 1), h0.subarray(b, b + 1), w0.subarray(b, b + 1), s, patch.subarray(b * s[0] * s[1], (b + 1) * s[0] * s[1]), m.input).data, rows[b] * 784);
        }
      }
      expect(crops).toBeGreaterThan(20);
    }
  });

  it('logits that would be a view of its buffer (only Flatten after the block) are the caller’s own', () => {
    const m = buildModel({ input: [1, 12, 12], layers: [conv(1, 4, 3), { type: 'relu' }, pool('maxpool2d', 2), { type: 'flatten' }] }, { seed: 2 });
    const wf = new WindowedForward(m, images(m, 2, new Rng(4)));
    expect(wf.split).toBe(3);
    const one = Int32Array.of(0);
    const a = wf.forward(one, one, one, 1, 1, Float32Array.of(0.25));
    const kept = Array.from(a.data);
    wf.forward(one, Int32Array.of(5), Int32Array.of(5), 1, 1, Float32Array.of(0.75));
    expect(Array.from(a.data)).toEqual(kept);
  });

  it('with crops off, the same logits (the comparison path)', () => {
    const m = buildModel(zooSpec('cnn'), { seed: 4 });
    const x = images(m, 3, new Rng(2));
    const a = new WindowedForward(m, x), b = new WindowedForward(m, x, { crop: false });
    expect(b.split).toBe(0);
    const rows = Int32Array.from([2, 0, 1]), h0 = Int32Array.from([0, 13, 26]), w0 = Int32Array.from([26, 5, 0]);
    const patch = Float32Array.from({ length: 3 * 4 }, (_, i) => (i % 3) / 2);
    expect(Array.from(a.forward(rows, h0, w0, 2, 2, patch).data)).toEqual(Array.from(b.forward(rows, h0, w0, 2, 2, patch).data));
  });

  it('bad input: one clear error each', () => {
    const m = buildModel(zooSpec('cnn'), { seed: 5 });
    expect(() => new WindowedForward(m, Tensor.zeros([2, 1, 28, 27]))).toThrow(/^WindowedForward: base must be \[N, 1, 28, 28\] images, got \[2, 1, 28, 27\]$/);
    const wf = new WindowedForward(m, Tensor.zeros([2, 1, 28, 28]));
    const one = Int32Array.of(0), p4 = new Float32Array(4);
    expect(() => wf.accept(0)).toThrow(/^WindowedForward.accept: 0 is not a query of the last forward$/);
    expect(() => wf.forward(Int32Array.of(2), one, one, 2, 2, p4)).toThrow(/rows\[0\] = 2 is not a base image \(0 … 1\)/);
    expect(() => wf.forward(one, Int32Array.of(27), one, 2, 2, p4)).toThrow(/window 0 at \(27, 0\) does not fit a 28 × 28 image/);
    expect(() => wf.forward(one, one, one, 0, 2, p4)).toThrow(/the window must be 1 … 28 × 1 … 28, got 0 × 2/);
    expect(() => wf.forward(one, one, one, 2, 2, new Float32Array(3))).toThrow(/patch must have 1 × 1 × 2 × 2 values, got 3/);
    expect(() => wf.forward(one, Int32Array.of(0, 1), one, 2, 2, p4)).toThrow(/h0 and w0 must have 1 entries/);
    expect(() => wf.forward(one, one, one, 2, 2, Float32Array.of(0, NaN, 0, 0))).toThrow(/^WindowedForward.forward: patch: input contains NaN at flat index 1/);
    const nan = Tensor.zeros([1, 1, 28, 28]);
    nan.data[5] = Infinity;
    expect(() => new WindowedForward(m, nan)).toThrow(/^WindowedForward: input contains Infinity at flat index 5/);
    wf.forward(Int32Array.of(1, 1), Int32Array.of(0, 3), Int32Array.of(0, 3), 2, 2, new Float32Array(8));
    wf.accept(1);
    expect(() => wf.accept(0)).toThrow(/^WindowedForward.accept: base image 1 already took another query of the last forward$/);
    expect(() => wf.accept(0.5)).toThrow(/^WindowedForward.accept: 0.5 is not a query of the last forward$/);
  });
});
