// The WebAssembly batch-norm kernels (wasm/norm.wat) against the TypeScript reference on seeded random shapes
// (planes of 1 value, odd plane sizes, channels fewer than the threads), training and evaluation, and the threading
// contract: the same bits for 1, 2 and 3 threads, within float32 rounding of the float64 reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels as ref } from '../../src/engine/kernels/reference.js';
import { Rng } from '../../src/engine/random.js';
import { loadThreadedKernels } from './threaded-kernels.js';

let one: Kernels, two: Kernels, three: Kernels;

beforeAll(() => {
  [one, two, three] = loadThreadedKernels('wasm-norm.test');
});
afterAll(() => {
  for (const k of [one, two, three]) k?.setThreads(1);
});

interface NormCase { N: number; C: number; S: number }
interface NormResult {
  mean: Float64Array; invstd: Float64Array; sq: Float64Array; y: Float32Array; yEval: Float32Array;
  sdy: Float64Array; sdyx: Float64Array; dX: Float32Array; sdyEval: Float64Array; dXEval: Float32Array;
}

function data(rng: Rng, { N, C, S }: NormCase) {
  const n = N * C * S;
  // an offset per channel, so that the mean is not ~0 and the deviations are computed against a real mean
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 3 * (Math.floor(i / S) % C) - 2 + rng.uniform(-1, 1);
  const dY = new Float32Array(n).map(() => rng.uniform(-1, 1));
  const gamma = new Float32Array(C).map(() => rng.uniform(0.5, 1.5));
  const beta = new Float32Array(C).map(() => rng.uniform(-1, 1));
  const runMean = new Float64Array(C).map(() => rng.uniform(-1, 1));
  const runInvstd = new Float64Array(C).map(() => rng.uniform(0.5, 2));
  return { x, dY, gamma, beta, runMean, runInvstd };
}

function run(k: Kernels, { N, C, S }: NormCase, d: ReturnType<typeof data>): NormResult {
  const n = N * C * S;
  const mean = new Float64Array(C), invstd = new Float64Array(C), sq = new Float64Array(C), y = new Float32Array(n);
  k.batchNormForward(d.x, N, C, S, d.gamma, d.beta, 1e-5, mean, invstd, sq, y);
  const sdy = new Float64Array(C), sdyx = new Float64Array(C), dX = new Float32Array(n);
  k.batchNormBackward(d.dY, d.x, N, C, S, d.gamma, mean, invstd, true, sdy, sdyx, dX);
  // evaluation: the running statistics given, not computed
  const yEval = new Float32Array(n);
  k.batchNormForward(d.x, N, C, S, d.gamma, d.beta, 1e-5, d.runMean.slice(), d.runInvstd.slice(), null, yEval);
  const sdyEval = new Float64Array(C), sdyxEval = new Float64Array(C), dXEval = new Float32Array(n);
  k.batchNormBackward(d.dY, d.x, N, C, S, d.gamma, d.runMean, d.runInvstd, false, sdyEval, sdyxEval, dXEval);
  return { mean, invstd, sq, y, yEval, sdy, sdyx, dX, sdyEval, dXEval };
}

/** max |a − b| ≤ tol·max(|b|, 1). */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  let scale = 1, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst <= tol * scale, `${what}: max |diff| ${worst} (scale ${scale})`).toBe(true);
}

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

const cases: NormCase[] = [
  { N: 32, C: 16, S: 576 }, // the cnn-bn's first block at a small batch: over the threads' split size
  { N: 7, C: 5, S: 13 }, // odd planes: vector loop and tail
  { N: 9, C: 3, S: 1 }, // BatchNorm1d: planes of one value
  { N: 5, C: 1, S: 30 }, // one channel: fewer channels than threads
  { N: 64, C: 32, S: 64 },
  { N: 4, C: 7, S: 8 },
];

describe('wasm batch normalisation (wasm/norm.wat)', () => {
  it('matches the float64 reference within float32 rounding, training and evaluation', () => {
    const rng = new Rng(11);
    for (const c of cases) {
      const d = data(rng, c);
      const want = run(ref, c, d), got = run(one, c, d);
      const what = `N ${c.N} C ${c.C} S ${c.S}`;
      expectClose(got.mean, want.mean, 1e-6, `${what} mean`);
      expectClose(got.invstd, want.invstd, 1e-6, `${what} invstd`);
      expectClose(got.sq, want.sq, 1e-5, `${what} Σ(x − mean)²`);
      expectClose(got.y, want.y, 1e-6, `${what} y`);
      expectClose(got.sdy, want.sdy, 1e-5, `${what} Σ dY`);
      expectClose(got.sdyx, want.sdyx, 1e-5, `${what} Σ dY·x̂`);
      expectClose(got.dX, want.dX, 1e-5, `${what} dX`);
      expectClose(got.yEval, want.yEval, 1e-6, `${what} y (evaluation)`);
      expectClose(got.sdyEval, want.sdyEval, 1e-5, `${what} Σ dY (evaluation)`);
      expectClose(got.dXEval, want.dXEval, 1e-6, `${what} dX (evaluation)`);
      if (c.N * c.S >= 1000) {
        // the kernels ran, not the reference they fall back to (which would give its bits): float32 rounds elsewhere
        for (const key of ['y', 'dX', 'yEval', 'dXEval'] as const) expect(sameBits(got[key], want[key]), `${what} ${key}: the reference's bits`).toBe(false);
      }
      // the batch statistics normalise: per channel mean ≈ β and variance ≈ γ² (biased, over N·S values)
      const M = c.N * c.S;
      for (let ch = 0; ch < c.C; ch++) {
        let s = 0, q = 0;
        for (let n = 0; n < c.N; n++) for (let i = 0; i < c.S; i++) s += got.y[(n * c.C + ch) * c.S + i];
        const mu = s / M;
        for (let n = 0; n < c.N; n++) for (let i = 0; i < c.S; i++) q += (got.y[(n * c.C + ch) * c.S + i] - mu) ** 2;
        if (M === 1) continue;
        expect(Math.abs(mu - d.beta[ch])).toBeLessThan(1e-5);
        expect(Math.abs(q / M - d.gamma[ch] ** 2 * (1 - 1e-5 * got.invstd[ch] ** 2))).toBeLessThan(1e-4);
      }
    }
  });

  it('the same bits for 1, 2 and 3 threads', () => {
    const rng = new Rng(12);
    for (const c of cases) {
      const d = data(rng, c);
      const a = run(one, c, d), b = run(two, c, d), e = run(three, c, d);
      for (const key of Object.keys(a) as (keyof NormResult)[]) {
        expect(sameBits(a[key], b[key]), `${key}: 1 vs 2 threads, N ${c.N} C ${c.C} S ${c.S}`).toBe(true);
        expect(sameBits(a[key], e[key]), `${key}: 1 vs 3 threads, N ${c.N} C ${c.C} S ${c.S}`).toBe(true);
      }
    }
  });

  it('float64 operands run the reference exactly', () => {
    const rng = new Rng(13);
    const c = { N: 6, C: 4, S: 10 };
    const d = data(rng, c);
    const d64 = { ...d, x: Float64Array.from(d.x), dY: Float64Array.from(d.dY), gamma: Float64Array.from(d.gamma), beta: Float64Array.from(d.beta) };
    const n = c.N * c.C * c.S;
    const out = (k: Kernels) => {
      const mean = new Float64Array(c.C), invstd = new Float64Array(c.C), sq = new Float64Array(c.C), y = new Float64Array(n);
      k.batchNormForward(d64.x, c.N, c.C, c.S, d64.gamma, d64.beta, 1e-5, mean, invstd, sq, y);
      const sdy = new Float64Array(c.C), sdyx = new Float64Array(c.C), dX = new Float64Array(n);
      k.batchNormBackward(d64.dY, d64.x, c.N, c.C, c.S, d64.gamma, mean, invstd, true, sdy, sdyx, dX);
      return [mean, invstd, sq, y, sdy, sdyx, dX];
    };
    const a = out(ref), b = out(two);
    for (let i = 0; i < a.length; i++) expect(sameBits(a[i], b[i])).toBe(true);
  });

  it('runs the float64 reference where float32 sums or coefficients cannot hold the values, or a value is not finite', () => {
    const out = (k: Kernels, x: Float32Array, N: number, C: number, S: number, eps: number) => {
      const mean = new Float64Array(C), invstd = new Float64Array(C), sq = new Float64Array(C), y = new Float32Array(x.length);
      const g = new Float32Array(C).fill(1), b = new Float32Array(C);
      k.batchNormForward(x, N, C, S, g, b, eps, mean, invstd, sq, y);
      const dY = Float32Array.from(x, (_, i) => (i % 3) - 1);
      const sdy = new Float64Array(C), sdyx = new Float64Array(C), dX = new Float32Array(x.length);
      k.batchNormBackward(dY, x, N, C, S, g, mean, invstd, true, sdy, sdyx, dX);
      return [mean, invstd, sq, y, sdy, sdyx, dX];
    };
    const cases: [string, Float32Array, number, number, number, number][] = [
      ['deviations near 1e19 (float32 squares overflow)', new Float32Array([3e19, -1e19, 2e19, -4e19]), 4, 1, 1, 1e-5],
      ['eps 0 on a nearly constant channel (float32 coefficients overflow)', Float32Array.from({ length: 8 }, (_, i) => 1e-20 * Math.sin(i + 1)), 2, 1, 4, 0],
      ['+∞ as the channel\'s first value', new Float32Array([Infinity, 1, 2, 3]), 2, 1, 2, 1e-5],
    ];
    for (const [what, x, N, C, S, eps] of cases) {
      const want = out(ref, x, N, C, S, eps), got = out(two, x, N, C, S, eps);
      // the forward (statistics and y) is the reference's; the backward too, unless its own sums fit float32 (the
      // first case's: dY·(x − mean) stays below 1e20), where it is within float32 rounding of it
      for (let i = 0; i < want.length; i++) {
        if (sameBits(got[i], want[i])) continue;
        expect(i >= 4 && want[i].every(Number.isFinite) && got[i].every(Number.isFinite), `${what}: output ${i}`).toBe(true);
        expectClose(got[i], want[i], 1e-5, `${what}: output ${i}`);
      }
    }
    // and the first case's output is the reference's real answer, not β
    expect(Math.abs(out(two, cases[0][1], 4, 1, 1, 1e-5)[3][0] - 1.0954)).toBeLessThan(1e-3);
  });

  it('evaluation dX reads no x: a non-finite input leaves the gradient finite', () => {
    const c = { N: 3, C: 2, S: 9 };
    const d = data(new Rng(14), c);
    d.x[4] = Infinity;
    d.x[20] = NaN;
    const dX = new Float32Array(c.N * c.C * c.S);
    two.batchNormBackward(d.dY, d.x, c.N, c.C, c.S, d.gamma, d.runMean, d.runInvstd, false, new Float64Array(2), new Float64Array(2), dX);
    expect(dX.every(Number.isFinite)).toBe(true);
    const want = new Float32Array(dX.length);
    ref.batchNormBackward(d.dY, d.x, c.N, c.C, c.S, d.gamma, d.runMean, d.runInvstd, false, new Float64Array(2), new Float64Array(2), want);
    expectClose(dX, want, 1e-6, 'evaluation dX');
  });
});

describe('wasm batch-norm → ReLU → 2×2 max pooling in one pass', () => {
  const pooledCases = [
    { N: 16, C: 16, H: 24, W: 24 }, // the cnn-bn's first block at a small batch
    { N: 5, C: 3, H: 7, W: 9 }, // odd sizes: the last row and column are in no window
    { N: 3, C: 1, H: 2, W: 2 },
    { N: 8, C: 32, H: 8, W: 8 },
  ];
  type Pooled = { out: Float32Array; route: Uint8Array; mean: Float64Array; sdy: Float64Array; sdyx: Float64Array; dX: Float32Array };

  function runPooled(k: Kernels, c: { N: number; C: number; H: number; W: number }, d: ReturnType<typeof data>, training: boolean): Pooled {
    const { N, C, H, W } = c;
    const P = N * C * (H >> 1) * (W >> 1);
    const mean = training ? new Float64Array(C) : d.runMean.slice(), invstd = training ? new Float64Array(C) : d.runInvstd.slice();
    const out = new Float32Array(P), route = new Uint8Array(P);
    k.batchNormReluPoolForward(d.x, N, C, H, W, d.gamma, d.beta, 1e-5, mean, invstd, training ? new Float64Array(C) : null, out, route);
    const dOut = d.dY.subarray(0, P);
    const sdy = new Float64Array(C), sdyx = new Float64Array(C), dX = new Float32Array(N * C * H * W);
    k.batchNormReluPoolBackward(dOut, route, d.x, N, C, H, W, d.gamma, mean, invstd, training, sdy, sdyx, dX);
    return { out, route, mean, sdy, sdyx, dX };
  }

  /** The three wasm kernels in turn (batch-norm, ReLU, max pooling) and their backwards, routes from the argmax. */
  function unfused(k: Kernels, c: { N: number; C: number; H: number; W: number }, d: ReturnType<typeof data>): Omit<Pooled, 'route'> {
    const { N, C, H, W } = c, S = H * W, n = N * C * S;
    const mean = new Float64Array(C), invstd = new Float64Array(C), y = new Float32Array(n);
    k.batchNormForward(d.x, N, C, S, d.gamma, d.beta, 1e-5, mean, invstd, new Float64Array(C), y);
    const z = new Float32Array(n);
    k.reluForward(y, z);
    const g = { C, H, W, KH: 2, KW: 2, stride: 2, pad: 0, OH: H >> 1, OW: W >> 1 };
    const out = new Float32Array(N * C * g.OH * g.OW), argmax = new Int32Array(out.length);
    k.maxPoolForward(z, N, g, out, argmax);
    const dZ = new Float32Array(n), dYn = new Float32Array(n);
    k.maxPoolBackward(d.dY.subarray(0, out.length), argmax, dZ);
    k.reluBackward(dZ, y, dYn);
    const sdy = new Float64Array(C), sdyx = new Float64Array(C), dX = new Float32Array(n);
    k.batchNormBackward(dYn, d.x, N, C, S, d.gamma, mean, invstd, true, sdy, sdyx, dX);
    return { out, mean, sdy, sdyx, dX };
  }

  it('matches the reference (the three kernels in turn) within float32 rounding, training and evaluation', () => {
    const rng = new Rng(21);
    for (const c of pooledCases) {
      const d = data(rng, { N: c.N, C: c.C, S: c.H * c.W });
      for (const training of [true, false]) {
        const want = runPooled(ref, c, d, training), got = runPooled(one, c, d, training);
        const what = `N ${c.N} C ${c.C} ${c.H}×${c.W} ${training ? 'training' : 'evaluation'}`;
        expect(sameBits(got.route, want.route), `${what} routes`).toBe(true);
        if (c.N * c.C > 3) expect(got.route.some((r) => r === 255) && got.route.some((r) => r !== 255), `${what}: both routed and stopped outputs`).toBe(true);
        expectClose(got.out, want.out, 1e-6, `${what} out`);
        expectClose(got.mean, want.mean, 1e-6, `${what} mean`);
        expectClose(got.sdy, want.sdy, 1e-5, `${what} Σ dY`);
        expectClose(got.sdyx, want.sdyx, 1e-5, `${what} Σ dY·x̂`);
        expectClose(got.dX, want.dX, 1e-5, `${what} dX`);
        if (c.N * c.H * c.W >= 1000) expect(sameBits(got.dX, want.dX), `${what} dX: the reference's bits (it fell back)`).toBe(false);
      }
    }
  });

  it('the same bits as the wasm batch-norm, ReLU and max-pool kernels in turn, and for 1, 2 and 3 threads', () => {
    const rng = new Rng(22);
    for (const c of pooledCases) {
      const d = data(rng, { N: c.N, C: c.C, S: c.H * c.W });
      const a = runPooled(one, c, d, true), b = runPooled(two, c, d, true), e = runPooled(three, c, d, true);
      const u = unfused(two, c, d);
      for (const key of ['out', 'mean', 'sdy', 'sdyx', 'dX'] as const) {
        const what = `${key}, N ${c.N} C ${c.C} ${c.H}×${c.W}`;
        expect(sameBits(a[key], u[key]), `${what}: fused vs one by one`).toBe(true);
        expect(sameBits(a[key], b[key]), `${what}: 1 vs 2 threads`).toBe(true);
        expect(sameBits(a[key], e[key]), `${what}: 1 vs 3 threads`).toBe(true);
      }
      expect(sameBits(a.route, b.route) && sameBits(a.route, e.route)).toBe(true);
    }
  });
});
