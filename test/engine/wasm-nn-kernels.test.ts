// The WebAssembly convolution, ReLU and max-pool kernels against the TypeScript reference, on seeded random
// shapes (odd sizes, padding, strides that fall back, batches that span several chunks and several threads),
// and the threading contract: the same bits on every run and for any thread count, within float32 rounding of the
// reference. Builds build/kernels.wasm first when it is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels, Window2d } from '../../src/engine/kernels/kernels.js';
import { ROUTE_NONE } from '../../src/engine/kernels/pool-route.js';
import { referenceKernels as ref } from '../../src/engine/kernels/reference.js';
import { setDirectDx, setPoolDw, setPoolDx, setWideMaxWaste, wideGeometry } from '../../src/engine/kernels/wasm.js';
import { loadWasmKernels } from '../../src/engine/kernels/wasm-node.js';
import { window2d } from '../../src/engine/ops/conv.js';
import { Rng } from '../../src/engine/random.js';
import { loadThreadedKernels, viaGemm } from './threaded-kernels.js';

let one: Kernels, two: Kernels, three: Kernels;

beforeAll(() => {
  [one, two, three] = loadThreadedKernels('wasm-nn-kernels.test');
});
afterAll(() => {
  for (const k of [one, two, three]) k?.setThreads(1); // stops their workers
});

function random(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** |a − b| ≤ tol·(1 + scale), scale = the largest |b|: float32 sums in a different order. */
function expectClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  expect(a.length).toBe(b.length);
  let scale = 0, worst = 0, at = -1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) { worst = d; at = i; }
  }
  expect(worst <= tol * (1 + scale), `${what}: max |diff| ${worst} at ${at} (scale ${scale})`).toBe(true);
}

interface ConvCase { N: number; C: number; H: number; W: number; OC: number; KH: number; KW: number; stride: number; pad: number }

function convCase(rng: Rng): ConvCase {
  const KH = 1 + rng.int(5), KW = 1 + rng.int(5);
  const pad = rng.int(3);
  const H = Math.max(KH, 1 + rng.int(14)), W = Math.max(KW, 1 + rng.int(14));
  return { N: 1 + rng.int(9), C: 1 + rng.int(5), H, W, OC: 1 + rng.int(9), KH, KW, stride: rng.uniform() < 0.8 ? 1 : 2, pad };
}

interface ConvResult { y: Float32Array; dx: Float32Array; dw: Float32Array; db: Float32Array }

function runConv(k: Kernels, c: ConvCase, g: Window2d, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array): ConvResult {
  const L = g.OH * g.OW;
  const y = new Float32Array(c.N * c.OC * L).fill(NaN); // overwritten, whatever was there
  k.conv2dForward(x, c.N, g, w, c.OC, b, y);
  const dx = new Float32Array(x.length).fill(NaN), dw = new Float32Array(w.length).fill(NaN), db = new Float32Array(c.OC).fill(NaN);
  k.conv2dBackward(x, c.N, g, w, c.OC, dy, dx, dw, db);
  return { y, dx, dw, db };
}

function convData(rng: Rng, c: ConvCase) {
  const g = window2d('conv2d', c.C, c.H, c.W, c.KH, c.KW, c.stride, c.pad);
  const L = g.OH * g.OW;
  return {
    g,
    x: random(rng, c.N * c.C * c.H * c.W),
    w: random(rng, c.OC * c.C * c.KH * c.KW),
    b: random(rng, c.OC),
    dy: random(rng, c.N * c.OC * L),
  };
}

function expectConvClose(got: ConvResult, want: ConvResult, what: string): void {
  expectClose(got.y, want.y, 1e-5, `${what} y`);
  expectClose(got.dx, want.dx, 1e-5, `${what} dx`);
  expectClose(got.dw, want.dw, 1e-5, `${what} dw`);
  expectClose(got.db, want.db, 1e-5, `${what} db`);
}

describe('wasm convolution', () => {
  it('matches the reference on 60 random geometries (padding, odd sizes; stride 2 falls back), 1–3 threads', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 60; i++) {
      const c = convCase(rng);
      const { g, x, w, b, dy } = convData(rng, c);
      const want = runConv(ref, c, g, x, w, b, dy);
      for (const k of [one, two, three]) expectConvClose(runConv(k, c, g, x, w, b, dy), want, `case ${i} ${JSON.stringify(c)} threads ${k.getThreads()}`);
    }
  });

  it('matches the reference on the cnn layers at batches that span several chunks, super-chunks and threads', () => {
    const rng = new Rng(12);
    for (const c of [
      { N: 600, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 },
      { N: 77, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 },
      { N: 5, C: 3, H: 9, W: 11, OC: 6, KH: 3, KW: 3, stride: 1, pad: 1 },
      // output widths that are multiples of 8 take the packed im2col path, borders included
      { N: 3, C: 2, H: 8, W: 16, OC: 5, KH: 3, KW: 3, stride: 1, pad: 1 },
      // unpadded with OW a multiple of 8: the forward is an implicit GEMM reading the image (OC = 5: a partial
      // 4-row tile) and the weight gradient's transposed im2col goes straight into packed panels (C·KH·KW = 27: a
      // last panel of 3 real rows)
      { N: 4, C: 3, H: 10, W: 18, OC: 5, KH: 3, KW: 3, stride: 1, pad: 0 },
      { N: 2, C: 3, H: 5, W: 10, OC: 7, KH: 5, KW: 3, stride: 1, pad: 2 },
    ]) {
      const { g, x, w, b, dy } = convData(rng, c);
      const want = runConv(ref, c, g, x, w, b, dy);
      for (const k of [one, two]) expectConvClose(runConv(k, c, g, x, w, b, dy), want, `${JSON.stringify(c)} threads ${k.getThreads()}`);
    }
  });

  it('skips the gradients that are not wanted and leaves those arrays alone', () => {
    const rng = new Rng(13);
    const c = { N: 4, C: 2, H: 8, W: 8, OC: 3, KH: 3, KW: 3, stride: 1, pad: 0 };
    const { g, x, w, dy } = convData(rng, c);
    const dw = new Float32Array(w.length), dwRef = new Float32Array(w.length);
    two.conv2dBackward(x, c.N, g, w, c.OC, dy, null, dw, null);
    ref.conv2dBackward(x, c.N, g, w, c.OC, dy, null, dwRef, null);
    expectClose(dw, dwRef, 1e-5, 'dw alone');
    const dx = new Float32Array(x.length), dxRef = new Float32Array(x.length);
    two.conv2dBackward(x, c.N, g, w, c.OC, dy, dx, null, null);
    ref.conv2dBackward(x, c.N, g, w, c.OC, dy, dxRef, null, null);
    expectClose(dx, dxRef, 1e-5, 'dx alone');
  });

  it('gives the same bits on every run and for any thread count, weight gradients included', () => {
    const rng = new Rng(14);
    // 130 and 600 images: several chunks per thread, a short last chunk, and (600) two super-steps of 512
    for (const c of [
      { N: 130, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 },
      { N: 600, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 },
    ]) {
      const { g, x, w, b, dy } = convData(rng, c);
      const a = runConv(two, c, g, x, w, b, dy), again = runConv(two, c, g, x, w, b, dy);
      for (const key of ['y', 'dx', 'dw', 'db'] as const) expect(firstDiff(again[key], a[key]), key).toBe(-1);
      // outputs and input gradients depend on their own image only; the weight gradients' partial sums are per
      // chunk, with chunks and their order independent of the thread count
      for (const k of [one, three]) {
        const other = runConv(k, c, g, x, w, b, dy);
        for (const key of ['y', 'dx', 'dw', 'db'] as const) expect(firstDiff(other[key], a[key]), `${k.getThreads()} threads ${key}`).toBe(-1);
      }
    }
  });

  it('falls back to the exact reference for Float64Array operands', () => {
    const rng = new Rng(15);
    const c = { N: 3, C: 2, H: 7, W: 6, OC: 4, KH: 3, KW: 2, stride: 1, pad: 1 };
    const g = window2d('conv2d', c.C, c.H, c.W, c.KH, c.KW, 1, 1);
    const f64 = (n: number) => Float64Array.from(random(rng, n));
    const x = f64(c.N * c.C * c.H * c.W), w = f64(c.OC * c.C * c.KH * c.KW), b = f64(c.OC);
    const y1 = new Float64Array(c.N * c.OC * g.OH * g.OW), y2 = y1.slice();
    two.conv2dForward(x, c.N, g, w, c.OC, b, y1);
    ref.conv2dForward(x, c.N, g, w, c.OC, b, y2);
    expect(y1).toEqual(y2);
  });
});

/** The index of the first element where a and b differ (NaN equals NaN), or -1: a fast bit-for-bit comparison. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) return i;
  return -1;
}

describe("conv_bwd's dX straight from the GEMM's tiles (gemm_tiles with rowOff: unpadded, OW a multiple of 8)", () => {
  const cases: ConvCase[] = [
    { N: 3, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 }, // the cnn-bn's second convolution
    { N: 5, C: 1, H: 10, W: 10, OC: 7, KH: 3, KW: 3, stride: 1, pad: 0 }, // 9 taps: the last row panel is partial
    { N: 2, C: 3, H: 5, W: 19, OC: 4, KH: 2, KW: 4, stride: 1, pad: 0 }, // OW 16: two tiles per output row, OH 4
    { N: 600, C: 2, H: 9, W: 9, OC: 3, KH: 2, KW: 2, stride: 1, pad: 0 }, // OW 8, many chunks
  ];
  it('matches the reference and the product-then-col2im path, 1–3 threads the same bits', () => {
    const rng = new Rng(31);
    for (const c of cases) {
      const { g, x, w, b, dy } = convData(rng, c);
      expect(g.OW % 8).toBe(0);
      const what = `N ${c.N} C ${c.C} ${c.H}×${c.W} OC ${c.OC} ${c.KH}×${c.KW}`;
      const [a1, a2, a3] = [one, two, three].map((k) => runConv(k, c, g, x, w, b, dy));
      expectConvClose(a1, runConv(ref, c, g, x, w, b, dy), what);
      expect(a2.dx, `${what}: 2 threads`).toEqual(a1.dx);
      expect(a3.dx, `${what}: 3 threads`).toEqual(a1.dx);
      const prev = setDirectDx(false);
      try {
        const viaCols = runConv(two, c, g, x, w, b, dy);
        expectClose(a1.dx, viaCols.dx, 1e-5, `${what}: against col2im`);
        if (c.C * c.KH * c.KW > 1) expect(firstDiff(a1.dx, viaCols.dx), `${what}: the direct path ran`).toBeGreaterThanOrEqual(0);
      } finally {
        setDirectDx(prev);
      }
    }
  });
});

describe('wasm convolution → ReLU in one pass (conv2dReluForward)', () => {
  it('gives the bits of conv2dForward then reluForward: 40 random geometries, the implicit, widened and im2col paths, NaN and signed zeros, 1–3 threads', () => {
    const rng = new Rng(19);
    // NaN where the two-pass result has NaN (its sign bit is not specified: wasm's scalar and vector max differ), else
    // the same bits, so +0 and -0 differ
    const bits = (a: Float32Array, nan: Float32Array) => Uint32Array.from(a, (v, j) => (Number.isNaN(v) && Number.isNaN(nan[j]) ? 0x7fc00000 : new Uint32Array(Float32Array.of(v).buffer)[0]));
    const cases: ConvCase[] = Array.from({ length: 40 }, () => convCase(rng));
    cases.push(
      { N: 19, C: 1, H: 28, W: 28, OC: 32, KH: 3, KW: 3, stride: 1, pad: 0 }, // smallcnn's first (26 wide: im2col)
      { N: 5, C: 32, H: 12, W: 12, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 }, // its third
      { N: 7, C: 2, H: 12, W: 12, OC: 6, KH: 5, KW: 5, stride: 1, pad: 0 }, // 8 wide: the implicit GEMM
      { N: 3, C: 1, H: 28, W: 28, OC: 8, KH: 5, KW: 5, stride: 1, pad: 2 }, // madry's first: widened
    );
    let i = 0;
    for (const c of cases) {
      const { g, x, w, b } = convData(rng, c);
      if (i % 3 === 1) for (let j = 0; j < x.length; j += 13) x[j] = NaN;
      if (i % 3 === 2) b.fill(-0).fill(0, 0, b.length >> 1); // quantised: exact zeros of both signs where x is 0
      if (i % 3 === 2) x.fill(0, 0, x.length >> 1);
      const L = g.OH * g.OW;
      for (const k of [ref, one, two, three]) {
        const want = new Float32Array(c.N * c.OC * L), got = want.slice().fill(7);
        k.conv2dForward(x, c.N, g, w, c.OC, b, want);
        k.reluForward(want, want);
        k.conv2dReluForward(x, c.N, g, w, c.OC, b, got);
        expect(firstDiff(bits(got, want), bits(want, got)), `case ${i} ${JSON.stringify(c)} ${k.getThreads()} threads`).toBe(-1);
      }
      i++;
    }
  });
});

describe('wasm convolution → ReLU backward in one pass (conv2dReluBackward)', () => {
  it('gives the bits of reluBackward then conv2dBackward: 40 random geometries and the smallcnn layers, zeros of both signs, 1–3 threads', () => {
    const rng = new Rng(20);
    const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
    const cases: ConvCase[] = Array.from({ length: 40 }, () => convCase(rng));
    cases.push(
      { N: 19, C: 1, H: 28, W: 28, OC: 32, KH: 3, KW: 3, stride: 1, pad: 0 }, // smallcnn's first
      { N: 37, C: 32, H: 12, W: 12, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 }, // its third, several chunks
    );
    let i = 0;
    for (const c of cases) {
      const { g, x, w, b, dy } = convData(rng, c);
      const out = new Float32Array(dy.length);
      ref.conv2dReluForward(x, c.N, g, w, c.OC, b, out);
      if (i % 2) for (let j = 0; j < out.length; j += 7) out[j] = -0; // exact zeros of either sign pass nothing
      for (const k of [ref, one, two, three]) {
        const masked = new Float32Array(dy.length);
        k.reluBackward(dy, out, masked);
        const want = { dx: new Float32Array(x.length), dw: new Float32Array(w.length), db: new Float32Array(c.OC) };
        k.conv2dBackward(x, c.N, g, w, c.OC, masked, want.dx, want.dw, want.db);
        const got = { dx: want.dx.slice().fill(NaN), dw: want.dw.slice().fill(NaN), db: want.db.slice().fill(NaN) };
        k.conv2dReluBackward(x, c.N, g, w, c.OC, out, dy, got.dx, got.dw, got.db);
        for (const key of ['dx', 'dw', 'db'] as const) {
          expect(firstDiff(bits(got[key]), bits(want[key])), `case ${i} ${JSON.stringify(c)} ${k.getThreads()} threads ${key}`).toBe(-1);
        }
        // gradients not asked for are skipped
        const onlyDx = want.dx.slice().fill(NaN);
        k.conv2dReluBackward(x, c.N, g, w, c.OC, out, dy, onlyDx, null, null);
        expect(firstDiff(bits(onlyDx), bits(want.dx)), `case ${i} dx alone`).toBe(-1);
      }
      i++;
    }
  });
});

interface BlockResult { out: Float32Array; route: Uint8Array; dx: Float32Array; dw: Float32Array; db: Float32Array }

/** The fused convolution → ReLU → 2×2 max-pool block, forward then backward for upstream dOut. */
function runBlock(k: Kernels, c: ConvCase, g: Window2d, x: Float32Array, w: Float32Array, b: Float32Array, dOut: Float32Array): BlockResult {
  const out = new Float32Array(dOut.length).fill(NaN), route = new Uint8Array(dOut.length).fill(77);
  k.conv2dReluPoolForward(x, c.N, g, w, c.OC, b, out, route);
  const dx = new Float32Array(x.length).fill(NaN), dw = new Float32Array(w.length).fill(NaN), db = new Float32Array(c.OC).fill(NaN);
  k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, dx, dw, db);
  return { out, route, dx, dw, db };
}

/**
 * The block's forward as three kernels one after another: the convolution y, its ReLU r, then 2×2 max pooling (out,
 * and arg, each window's maximum as an index into y); pg is the pooling's window.
 */
function unfusedBlock(k: Kernels, c: ConvCase, g: Window2d, x: Float32Array, w: Float32Array, b: Float32Array) {
  const y = new Float32Array(c.N * c.OC * g.OH * g.OW), r = y.slice();
  k.conv2dForward(x, c.N, g, w, c.OC, b, y);
  k.reluForward(y, r);
  const pg = { C: c.OC, H: g.OH, W: g.OW, KH: 2, KW: 2, stride: 2, pad: 0, OH: g.OH >> 1, OW: g.OW >> 1 };
  const out = new Float32Array(c.N * c.OC * pg.OH * pg.OW), arg = new Int32Array(out.length);
  k.maxPoolForward(r, c.N, pg, out, arg);
  return { y, pg, out, arg };
}

describe('wasm fused convolution → ReLU → 2×2 max pooling', () => {
  const pooled = (c: ConvCase, g: Window2d) => c.N * c.OC * (g.OH >> 1) * (g.OW >> 1);

  it('matches the reference block on 40 random geometries (odd output sizes drop the last row/column), 1–3 threads', () => {
    const rng = new Rng(16);
    let tested = 0;
    for (let i = 0; i < 40; i++) {
      const c = { ...convCase(rng), stride: 1 };
      const { g, x, w, b } = convData(rng, c);
      if (g.OH < 2 || g.OW < 2) continue;
      tested++;
      const dOut = random(rng, pooled(c, g));
      const want = runBlock(ref, c, g, x, w, b, dOut);
      for (const k of [one, two, three]) {
        const got = runBlock(k, c, g, x, w, b, dOut);
        const what = `case ${i} ${JSON.stringify(c)} threads ${k.getThreads()}`;
        expectClose(got.out, want.out, 1e-5, `${what} out`);
        // a route for every output, and none exactly where the output is not positive
        let badRoute = -1;
        for (let o = 0; o < got.route.length && badRoute < 0; o++) {
          if (got.route[o] !== (got.out[o] > 0 ? got.route[o] & 3 : ROUTE_NONE)) badRoute = o;
        }
        expect(badRoute, `${what} route`).toBe(-1);
        expectClose(got.dx, want.dx, 1e-5, `${what} dx`);
        expectClose(got.dw, want.dw, 1e-5, `${what} dw`);
        expectClose(got.db, want.db, 1e-5, `${what} db`);
      }
    }
    expect(tested).toBeGreaterThan(25);
  });

  it('computes the same output bits without routes (a plain maximum) as with them: ties, signed zeros, NaN, padding, tails', () => {
    const rng = new Rng(18);
    // quantised data makes exact ties inside windows and exact zeros (of either sign) common
    const quantised = (n: number, levels: number[]) => Float32Array.from({ length: n }, () => levels[rng.int(levels.length)]);
    const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (const c of [
      { N: 40, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 }, // the cnn's first block (implicit GEMM)
      { N: 21, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 }, // its second
      { N: 6, C: 1, H: 28, W: 28, OC: 8, KH: 5, KW: 5, stride: 1, pad: 2 }, // madry's first (widened)
      { N: 9, C: 3, H: 11, W: 9, OC: 5, KH: 3, KW: 2, stride: 1, pad: 1 }, // im2col, odd pooled width
      { N: 7, C: 2, H: 13, W: 14, OC: 6, KH: 3, KW: 3, stride: 1, pad: 0 }, // im2col, pooled width 6: a vector and a tail
    ]) {
      const { g, x, w, b } = convData(rng, c);
      const variants: [string, Float32Array, Float32Array, Float32Array][] = [
        ['random', x, w, b],
        ['ties and zeros', quantised(x.length, [0, 1, 0.5]), quantised(w.length, [-1, 0, 1, -0]), quantised(b.length, [0, -0, 1])],
      ];
      const withNaN = x.slice();
      for (let i = 0; i < withNaN.length; i += 97) withNaN[i] = NaN;
      variants.push(['NaN inputs', withNaN, w, b]);
      for (const [name, xv, wv, bv] of variants) {
        for (const k of [ref, one, two]) {
          const withArg = new Float32Array(pooled(c, g)), without = withArg.slice().fill(7);
          k.conv2dReluPoolForward(xv, c.N, g, wv, c.OC, bv, withArg, new Uint8Array(withArg.length));
          k.conv2dReluPoolForward(xv, c.N, g, wv, c.OC, bv, without, null);
          expect(firstDiff(bits(without), bits(withArg)), `${JSON.stringify(c)} ${name} ${k.getThreads()} threads`).toBe(-1);
        }
      }
    }
  });

  it('with NaN inputs gives the values of convolution, ReLU and max pooling one after another, with and without routes', () => {
    // NaN never wins a window unless it comes first (the strict compare of maxPoolForward): a NaN-propagating max
    // in the fused epilogue would spread it
    const rng = new Rng(21);
    for (const c of [
      { N: 40, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 },
      { N: 9, C: 3, H: 11, W: 9, OC: 5, KH: 3, KW: 2, stride: 1, pad: 1 },
    ]) {
      const { g, x, w, b } = convData(rng, c);
      for (let i = 0; i < x.length; i += 97) x[i] = NaN;
      for (const k of [one, two]) {
        const want = unfusedBlock(k, c, g, x, w, b).out;
        expect(want.some(Number.isNaN) && want.some((v) => v > 0)).toBe(true);
        for (const route of [new Uint8Array(want.length), null]) {
          const got = want.slice().fill(7);
          k.conv2dReluPoolForward(x, c.N, g, w, c.OC, b, got, route);
          expect(firstDiff(got, want), `${JSON.stringify(c)} ${k.getThreads()} threads, routes ${route !== null}`).toBe(-1);
        }
      }
    }
  });

  it('equals convolution, ReLU and max pooling run one after another (the cnn layers, several chunks and threads)', () => {
    const rng = new Rng(17);
    for (const c of [
      { N: 600, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 },
      { N: 77, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 },
    ]) {
      const { g, x, w, b } = convData(rng, c);
      const dOut = random(rng, pooled(c, g));
      for (const k of [one, two]) {
        const { y, pg, out, arg } = unfusedBlock(k, c, g, x, w, b);
        const dr = new Float32Array(y.length), dy = y.slice();
        k.maxPoolBackward(dOut, arg, dr);
        k.reluBackward(dr, y, dy);
        const dx = new Float32Array(x.length), dw = new Float32Array(w.length), db = new Float32Array(c.OC);
        k.conv2dBackward(x, c.N, g, w, c.OC, dy, dx, dw, db);
        const got = runBlock(k, c, g, x, w, b, dOut);
        const what = `${JSON.stringify(c)} threads ${k.getThreads()}`;
        // the same GEMM and the same max: the same bits
        expect(firstDiff(got.out, out), `${what} out`).toBe(-1);
        // dX, dW and dB from the routes alone (conv_pool_dx, conv_pool_dw) sum the same products in another order;
        // through conv_bwd's GEMM over the full upstream gradient, the same bits
        expectClose(got.dx, dx, 1e-5, `${what} dx`);
        expectClose(got.dw, dw, 1e-5, `${what} dw`);
        expectClose(got.db, db, 1e-5, `${what} db`);
        const gemm = viaGemm(() => runBlock(k, c, g, x, w, b, dOut));
        for (const [key, want] of [['dx', dx], ['dw', dw], ['db', db]] as const) {
          expect(firstDiff(gemm[key], want), `${what} ${key} through conv_bwd`).toBe(-1);
        }
        // where the window's maximum is positive the route leads to the same element, elsewhere there is none
        let positive = 0, sameWinner = 0, noneElsewhere = 0;
        const PW = pg.OW, PL = pg.OH * pg.OW, L = g.OH * g.OW;
        for (let o = 0; o < out.length; o++) {
          const r = got.route[o], p = o % PL, ph = Math.floor(p / PW), pw = p - ph * PW;
          if (out[o] > 0) {
            positive++;
            sameWinner += +(Math.floor(o / PL) * L + (2 * ph + (r >> 1)) * g.OW + 2 * pw + (r & 1) === arg[o]);
          } else noneElsewhere += +(r === ROUTE_NONE);
        }
        expect(positive).toBeGreaterThan(out.length / 10);
        expect(sameWinner).toBe(positive);
        expect(noneElsewhere).toBe(out.length - positive);
      }
    }
  });

  it('gives the same bits on every run and for any thread count', () => {
    const rng = new Rng(18);
    const c = { N: 131, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 };
    const { g, x, w, b } = convData(rng, c);
    const dOut = random(rng, pooled(c, g));
    const a = runBlock(two, c, g, x, w, b, dOut), again = runBlock(two, c, g, x, w, b, dOut);
    for (const key of ['out', 'route', 'dx', 'dw', 'db'] as const) expect(firstDiff(again[key], a[key]), key).toBe(-1);
    const single = runBlock(one, c, g, x, w, b, dOut);
    for (const key of ['out', 'route', 'dx', 'dw', 'db'] as const) expect(firstDiff(single[key], a[key]), `1 thread ${key}`).toBe(-1);
  });
});

/** Fused blocks whose dX, dW and dB go through the routed kernels (conv_pool_dx, conv_pool_dw). */
const routedGeometries: ConvCase[] = [
  { N: 600, C: 1, H: 28, W: 28, OC: 16, KH: 5, KW: 5, stride: 1, pad: 0 }, // the cnn's first block, more images than one step's 512
  { N: 77, C: 16, H: 12, W: 12, OC: 32, KH: 5, KW: 5, stride: 1, pad: 0 }, // its second: the cells' lists
  { N: 9, C: 1, H: 28, W: 28, OC: 32, KH: 5, KW: 5, stride: 1, pad: 2 }, // madry's first: patches clipped at the border
  { N: 5, C: 32, H: 14, W: 14, OC: 64, KH: 5, KW: 5, stride: 1, pad: 2 }, // madry's second
  { N: 7, C: 3, H: 13, W: 11, OC: 5, KH: 4, KW: 4, stride: 1, pad: 1 }, // odd sizes: the last row and column dropped
  { N: 6, C: 2, H: 12, W: 9, OC: 7, KH: 5, KW: 4, stride: 1, pad: 2 }, // a 6 × 5 patch, clipped
];

describe("a fused block's dX from its routes (conv_pool_dx)", () => {
  const pooled = (c: ConvCase, g: Window2d) => c.N * c.OC * (g.OH >> 1) * (g.OW >> 1);
  const geometries = routedGeometries;

  it('matches the reference and the GEMM path, with the same bits for 1, 2 and 3 threads', () => {
    const rng = new Rng(31);
    for (const c of geometries) {
      const { g, x, w, b } = convData(rng, c);
      const dOut = random(rng, pooled(c, g));
      const want = runBlock(ref, c, g, x, w, b, dOut);
      const gemm = viaGemm(() => runBlock(two, c, g, x, w, b, dOut).dx);
      const first = runBlock(one, c, g, x, w, b, dOut).dx;
      expectClose(first, want.dx, 1e-5, `${JSON.stringify(c)} against the reference`);
      expectClose(first, gemm, 1e-5, `${JSON.stringify(c)} against conv_bwd`);
      expect(firstDiff(first, gemm), `${JSON.stringify(c)}: a different order of sums`).toBeGreaterThanOrEqual(0);
      for (const k of [two, three]) expect(firstDiff(runBlock(k, c, g, x, w, b, dOut).dx, first), `${JSON.stringify(c)} ${k.getThreads()} threads`).toBe(-1);
    }
  });

  it('takes the GEMM path when a routed upstream value is ±∞ or NaN: non-finite dX exactly where the reference has it', () => {
    // the table's zeros would turn ∞ into NaN on the patch's extra row and column, which the reference leaves at 0
    const tiny = { N: 1, C: 1, H: 6, W: 6, OC: 1, KH: 5, KW: 5, stride: 1, pad: 0 };
    const rng = new Rng(34);
    for (const c of [tiny, geometries[0], geometries[1], geometries[2]]) {
      const { g, x, w, b } = convData(rng, c);
      x.fill(1);
      w.fill(1);
      b.fill(0); // every output positive: every route is one of the window's four
      const dOut = random(rng, pooled(c, g));
      for (let o = 0; o < dOut.length; o += 7) dOut[o] = o % 2 ? Infinity : NaN;
      const want = runBlock(ref, c, g, x, w, b, dOut).dx;
      const gemm = viaGemm(() => runBlock(two, c, g, x, w, b, dOut).dx);
      for (const k of [one, two]) {
        const got = runBlock(k, c, g, x, w, b, dOut).dx;
        expect(firstDiff(got, gemm), `${JSON.stringify(c)} ${k.getThreads()} threads`).toBe(-1);
        expect(Array.from(got, (v) => Number.isFinite(v)), `${JSON.stringify(c)}: where dX is finite`).toEqual(Array.from(want, (v) => Number.isFinite(v)));
      }
    }
  });

  it('leaves 3 × 3 blocks (smallcnn) on the GEMM path, whose 36 multiply-adds per cell it would not beat', () => {
    const rng = new Rng(33);
    const c = { N: 5, C: 64, H: 10, W: 10, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 };
    const { g, x, w, b } = convData(rng, c);
    const dOut = random(rng, pooled(c, g));
    const gemm = viaGemm(() => runBlock(two, c, g, x, w, b, dOut).dx);
    expect(firstDiff(runBlock(two, c, g, x, w, b, dOut).dx, gemm)).toBe(-1);
  });

  it('takes no gradient where a route is none: NaN or ∞ upstream there leaves dX finite, as in the reference', () => {
    const rng = new Rng(32);
    for (const c of [geometries[0], geometries[1], geometries[2]]) {
      const { g, x, w, b } = convData(rng, c);
      const dOut = random(rng, pooled(c, g));
      for (let i = 0; i < b.length; i++) b[i] -= 1; // more outputs that ReLU stops
      const out = new Float32Array(dOut.length), route = new Uint8Array(dOut.length);
      two.conv2dReluPoolForward(x, c.N, g, w, c.OC, b, out, route);
      let none = 0;
      for (let o = 0; o < route.length; o++) if (route[o] === ROUTE_NONE) dOut[o] = none++ % 2 ? NaN : -Infinity;
      expect(none).toBeGreaterThan(route.length / 10);
      for (const k of [ref, one, two]) {
        const dx = new Float32Array(x.length).fill(NaN);
        k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, dx, null, null);
        expect(dx.every(Number.isFinite), `${JSON.stringify(c)} ${k.name} ${k.getThreads?.() ?? ''}`).toBe(true);
      }
    }
  });
});

describe("a fused block's dW and dB from its routes (conv_pool_dw)", () => {
  const pooled = (c: ConvCase, g: Window2d) => c.N * c.OC * (g.OH >> 1) * (g.OW >> 1);
  /** dW and dB alone (no dX): the training step's last block. */
  function grads(k: Kernels, c: ConvCase, g: Window2d, x: Float32Array, w: Float32Array, b: Float32Array, dOut: Float32Array) {
    const out = new Float32Array(dOut.length), route = new Uint8Array(dOut.length);
    k.conv2dReluPoolForward(x, c.N, g, w, c.OC, b, out, route);
    const dw = new Float32Array(w.length).fill(NaN), db = new Float32Array(c.OC).fill(NaN);
    k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, null, dw, db);
    const dwOnly = new Float32Array(w.length).fill(NaN), dbOnly = new Float32Array(c.OC).fill(NaN);
    k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, null, dwOnly, null);
    k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, null, null, dbOnly);
    return { dw, db, dwOnly, dbOnly };
  }

  it('matches the reference and the GEMM path, with the same bits for 1, 2 and 3 threads, dW or dB alone too', () => {
    const rng = new Rng(35);
    for (const c of routedGeometries) {
      const what = JSON.stringify(c);
      const { g, x, w, b } = convData(rng, c);
      const dOut = random(rng, pooled(c, g));
      const want = grads(ref, c, g, x, w, b, dOut);
      const gemm = viaGemm(() => grads(two, c, g, x, w, b, dOut));
      const first = grads(one, c, g, x, w, b, dOut);
      for (const key of ['dw', 'db'] as const) {
        expectClose(first[key], want[key], 1e-5, `${what} ${key} against the reference`);
        expectClose(first[key], gemm[key], 1e-5, `${what} ${key} against conv_bwd`);
      }
      expect(firstDiff(first.dw, gemm.dw), `${what}: a different order of sums`).toBeGreaterThanOrEqual(0);
      expect(firstDiff(first.dwOnly, first.dw), `${what} dW alone`).toBe(-1);
      expect(firstDiff(first.dbOnly, first.db), `${what} dB alone`).toBe(-1);
      for (const k of [two, three]) {
        const other = grads(k, c, g, x, w, b, dOut);
        for (const key of ['dw', 'db'] as const) expect(firstDiff(other[key], first[key]), `${what} ${k.getThreads()} threads ${key}`).toBe(-1);
      }
    }
  });

  it('has its own switch: setPoolDx(false) leaves dW routed, setPoolDw(false) leaves dX routed', () => {
    const rng = new Rng(38);
    const c = routedGeometries[1];
    const { g, x, w, b } = convData(rng, c);
    const dOut = random(rng, pooled(c, g));
    const routed = runBlock(two, c, g, x, w, b, dOut), gemm = viaGemm(() => runBlock(two, c, g, x, w, b, dOut));
    const only = (dx: boolean, dw: boolean) => {
      const prev = [setPoolDx(dx), setPoolDw(dw)];
      try {
        return runBlock(two, c, g, x, w, b, dOut);
      } finally {
        setPoolDx(prev[0]);
        setPoolDw(prev[1]);
      }
    };
    const dwOnly = only(false, true), dxOnly = only(true, false);
    expect(firstDiff(dwOnly.dw, routed.dw), 'dW routed with dX off').toBe(-1);
    expect(firstDiff(dwOnly.dx, gemm.dx), 'dX through the GEMM with dX off').toBe(-1);
    expect(firstDiff(dxOnly.dx, routed.dx), 'dX routed with dW off').toBe(-1);
    expect(firstDiff(dxOnly.dw, gemm.dw), 'dW through the GEMM with dW off').toBe(-1);
    expect(firstDiff(routed.dw, gemm.dw)).toBeGreaterThanOrEqual(0); // the two paths do differ
  });

  it('leaves 3 × 3 blocks (smallcnn) on the GEMM path', () => {
    const rng = new Rng(36);
    const c = { N: 5, C: 64, H: 10, W: 10, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 };
    const { g, x, w, b } = convData(rng, c);
    const dOut = random(rng, pooled(c, g));
    const gemm = viaGemm(() => grads(two, c, g, x, w, b, dOut));
    const got = grads(two, c, g, x, w, b, dOut);
    for (const key of ['dw', 'db'] as const) expect(firstDiff(got[key], gemm[key]), key).toBe(-1);
  });

  it('sums no gradient where a route is none, and is not finite exactly where the reference is not', () => {
    const rng = new Rng(37);
    for (const c of [routedGeometries[0], routedGeometries[1], routedGeometries[2]]) {
      const what = JSON.stringify(c);
      const { g, x, w, b } = convData(rng, c);
      for (let i = 0; i < b.length; i++) b[i] -= 1.5; // more outputs that ReLU stops
      const out = new Float32Array(pooled(c, g)), route = new Uint8Array(out.length);
      two.conv2dReluPoolForward(x, c.N, g, w, c.OC, b, out, route);
      // NaN and −∞ where the route is none: ignored
      const dOut = random(rng, out.length);
      let none = 0;
      for (let o = 0; o < route.length; o++) if (route[o] === ROUTE_NONE) dOut[o] = none++ % 2 ? NaN : -Infinity;
      expect(none).toBeGreaterThan(route.length / 10);
      for (const k of [ref, one, two]) {
        const dw = new Float32Array(w.length).fill(NaN), db = new Float32Array(c.OC).fill(NaN);
        k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, null, dw, db);
        expect(dw.every(Number.isFinite) && db.every(Number.isFinite), `${what} ${k.name} ${k.getThreads?.() ?? ''}`).toBe(true);
      }
      // ∞ at a few routed cells: the same products, so ±∞ and NaN land on the same elements
      let routed = 0;
      for (let o = 0; o < route.length && routed < 3; o++) if (route[o] !== ROUTE_NONE) dOut[o] = routed++ % 2 ? -Infinity : Infinity;
      const finite = (k: Kernels) => {
        const dw = new Float32Array(w.length), db = new Float32Array(c.OC);
        k.conv2dReluPoolBackward(x, c.N, g, w, c.OC, route, dOut, null, dw, db);
        return [...Array.from(dw, Number.isFinite), ...Array.from(db, Number.isFinite)];
      };
      const want = finite(ref);
      expect(want.some((f) => !f), what).toBe(true);
      for (const k of [one, two]) expect(finite(k), `${what} ${k.getThreads()} threads`).toEqual(want);
    }
  });
});

describe('the zoo layers of madry, smallcnn and cnn-w4 (same padding, 3×3, wide)', () => {
  // [case, fused block (conv → ReLU → 2×2 pool) or plain convolution]
  const layers: [ConvCase, boolean][] = [
    [{ N: 9, C: 1, H: 28, W: 28, OC: 32, KH: 5, KW: 5, stride: 1, pad: 2 }, true], // madry conv1 block
    [{ N: 5, C: 32, H: 14, W: 14, OC: 64, KH: 5, KW: 5, stride: 1, pad: 2 }, true], // madry conv2 block
    [{ N: 9, C: 1, H: 28, W: 28, OC: 32, KH: 3, KW: 3, stride: 1, pad: 0 }, false], // smallcnn conv1
    [{ N: 5, C: 32, H: 26, W: 26, OC: 32, KH: 3, KW: 3, stride: 1, pad: 0 }, true], // smallcnn conv2 block
    [{ N: 5, C: 32, H: 12, W: 12, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 }, false], // smallcnn conv3
    [{ N: 5, C: 64, H: 10, W: 10, OC: 64, KH: 3, KW: 3, stride: 1, pad: 0 }, true], // smallcnn conv4 block
    [{ N: 5, C: 64, H: 12, W: 12, OC: 128, KH: 5, KW: 5, stride: 1, pad: 0 }, true], // cnn-w4 conv2 block
  ];

  it('match the reference, and give the same bits with 1, 2 and 3 threads', () => {
    const rng = new Rng(19);
    for (const [c, fused] of layers) {
      const { g, x, w, b, dy } = convData(rng, c);
      const what = `${JSON.stringify(c)} ${fused ? 'block' : 'conv'}`;
      if (fused) {
        const dOut = random(rng, c.N * c.OC * (g.OH >> 1) * (g.OW >> 1));
        const want = runBlock(ref, c, g, x, w, b, dOut);
        const a = runBlock(two, c, g, x, w, b, dOut);
        for (const key of ['out', 'dx', 'dw', 'db'] as const) expectClose(a[key], want[key], 1e-5, `${what} ${key}`);
        for (const k of [one, three]) {
          const other = runBlock(k, c, g, x, w, b, dOut);
          for (const key of ['out', 'route', 'dx', 'dw', 'db'] as const) expect(firstDiff(other[key], a[key]), `${what} ${k.getThreads()} threads ${key}`).toBe(-1);
        }
      } else {
        const want = runConv(ref, c, g, x, w, b, dy);
        const a = runConv(two, c, g, x, w, b, dy);
        expectConvClose(a, want, what);
        for (const k of [one, three]) {
          const other = runConv(k, c, g, x, w, b, dy);
          for (const key of ['y', 'dx', 'dw', 'db'] as const) expect(firstDiff(other[key], a[key]), `${what} ${k.getThreads()} threads ${key}`).toBe(-1);
        }
      }
    }
  });
});

describe('padded convolution forwards as implicit GEMMs over widened images', () => {
  it('widen madry’s forwards, not the cnn’s or smallcnn’s, and not where much of the work would be wasted', () => {
    const geo = (C: number, H: number, K: number, pad: number) => window2d('conv2d', C, H, H, K, K, 1, pad);
    expect(wideGeometry(geo(1, 28, 5, 2))).toMatchObject({ H: 32, W: 36, pad: 0, OH: 28, OW: 32 }); // madry conv1
    expect(wideGeometry(geo(32, 14, 5, 2))).toMatchObject({ H: 18, W: 20, pad: 0, OH: 14, OW: 16 }); // madry conv2
    expect(wideGeometry(geo(32, 26, 3, 0))).toBeNull(); // smallcnn conv2: OW 24, already implicit
    expect(wideGeometry(geo(1, 28, 3, 0))).toBeNull(); // smallcnn conv1: 26 → 32 would waste 23%
    expect(wideGeometry(geo(2, 17, 3, 0))).toMatchObject({ H: 17, W: 18, pad: 0, OH: 15, OW: 16 }); // unpadded, 15 → 16
    expect(wideGeometry(geo(1, 28, 5, 0))).toBeNull(); // cnn conv1: OW 24, already implicit
    expect(wideGeometry(geo(32, 12, 3, 0))).toBeNull(); // smallcnn conv3: 10 → 16 would waste 60%
    expect(wideGeometry(window2d('conv2d', 1, 9, 9, 3, 3, 2, 1))).toBeNull(); // stride 2
  });

  it('every padded or odd-width convolution and block widened (no waste bound) matches the reference, forward and backward, 1–3 threads', () => {
    const prev = setWideMaxWaste(100);
    try {
      const rng = new Rng(20);
      let widened = 0;
      for (let i = 0; i < 40; i++) {
        const c = { ...convCase(rng), stride: 1 };
        const { g, x, w, b, dy } = convData(rng, c);
        if (wideGeometry(g) !== null) widened++;
        const want = runConv(ref, c, g, x, w, b, dy);
        for (const k of [one, two, three]) expectConvClose(runConv(k, c, g, x, w, b, dy), want, `case ${i} ${JSON.stringify(c)} threads ${k.getThreads()}`);
        if (g.OH < 2 || g.OW < 2) continue;
        const dOut = random(rng, c.N * c.OC * (g.OH >> 1) * (g.OW >> 1));
        const wantBlock = runBlock(ref, c, g, x, w, b, dOut);
        for (const k of [one, three]) {
          const got = runBlock(k, c, g, x, w, b, dOut);
          for (const key of ['out', 'dx', 'dw', 'db'] as const) expectClose(got[key], wantBlock[key], 1e-5, `block ${i} ${JSON.stringify(c)} ${key}`);
        }
      }
      expect(widened).toBeGreaterThan(30);
    } finally {
      setWideMaxWaste(prev);
    }
  });
});

describe('a first layer’s weight gradient read straight from the images (at most 32 taps, no padding)', () => {
  it('is the im2col GEMM’s dW bit for bit: per image (a chunk each below 32 images), the GEMM on colsᵀ, added in order', () => {
    const rng = new Rng(404);
    for (let t = 0; t < 24; t++) {
      const KH = 1 + rng.int(5), KW = 1 + rng.int(5);
      const C = Math.max(1, Math.min(1 + rng.int(3), Math.floor(32 / (KH * KW))));
      const H = KH + rng.int(9), W = KW + rng.int(11), OC = 1 + rng.int(19), N = 1 + rng.int(5);
      const g = window2d('conv', C, H, W, KH, KW, 1, 0);
      const L = g.OH * g.OW, CKK = C * KH * KW;
      expect(CKK).toBeLessThanOrEqual(32);
      const x = random(rng, N * C * H * W), w = random(rng, OC * CKK), dY = random(rng, N * OC * L);
      const want = new Float32Array(OC * CKK);
      for (let n = 0; n < N; n++) {
        // colsₙ [CKK, L] from the image, then dWₙ = dYₙ · colsₙᵀ with the same GEMM kernel, added in image order
        const cols = new Float32Array(CKK * L);
        for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
          const j = (c * KH + kh) * KW + kw;
          for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
            cols[j * L + oh * g.OW + ow] = x[((n * C + c) * H + oh + kh) * W + ow + kw];
          }
        }
        const part = new Float32Array(OC * CKK);
        one.gemm(false, true, OC, CKK, L, dY, n * OC * L, L, cols, 0, L, part, 0, CKK, false);
        for (let i = 0; i < part.length; i++) want[i] += part[i];
      }
      for (const k of [one, two, three]) {
        const dW = new Float32Array(OC * CKK);
        k.conv2dBackward(x, N, g, w, OC, dY, null, dW, null);
        const d = dW.findIndex((v, i) => !Object.is(v, want[i]));
        expect(d, `case ${t}: ${N}×${C}×${H}×${W}, ${OC} channels, ${KH}×${KW}, ${k.getThreads()} threads: first difference at ${d}`).toBe(-1);
      }
    }
  });
});

describe('wasm ReLU and max pooling', () => {
  it('ReLU forward and backward equal the reference exactly, across chunk boundaries and odd lengths', () => {
    const rng = new Rng(21);
    for (const n of [1, 3, 4, 5, 1000, 65536, 65537, 200003]) {
      const x = random(rng, n), g = random(rng, n);
      for (let i = 0; i < n; i += 7) x[i] = 0; // the kink: gradient 0 at x = 0
      const a = new Float32Array(n), b = new Float32Array(n);
      one.reluForward(x, a);
      ref.reluForward(x, b);
      expect(a).toEqual(b);
      one.reluBackward(g, x, a);
      ref.reluBackward(g, x, b);
      // the reference writes g·0 (−0 for negative g), the vector mask +0: equal as numbers
      const plain = (v: Float32Array) => Array.from(v, (e) => e + 0);
      expect(plain(a)).toEqual(plain(b));
    }
  });

  it('2×2 max pooling equals the reference, argmax included (ties go to the first), odd sizes and many planes', () => {
    const rng = new Rng(22);
    for (const [N, C, H, W] of [[1, 1, 2, 2], [2, 3, 5, 7], [3, 2, 9, 11], [7, 16, 24, 24], [300, 16, 24, 24], [2, 1, 2, 18]]) {
      const g = window2d('maxPool2d', C, H, W, 2, 2, 2, 0);
      const x = random(rng, N * C * H * W);
      for (let i = 0; i + 1 < x.length; i += 5) x[i + 1] = x[i]; // ties within windows
      const n = N * C * g.OH * g.OW;
      const o1 = new Float32Array(n), o2 = new Float32Array(n), a1 = new Int32Array(n), a2 = new Int32Array(n);
      one.maxPoolForward(x, N, g, o1, a1);
      ref.maxPoolForward(x, N, g, o2, a2);
      expect(firstDiff(o1, o2), 'out').toBe(-1);
      expect(firstDiff(a1, a2), 'argmax').toBe(-1);
      const dOut = random(rng, n), d1 = new Float32Array(x.length), d2 = new Float32Array(x.length);
      one.maxPoolBackward(dOut, a1, d1);
      ref.maxPoolBackward(dOut, a2, d2);
      expect(firstDiff(d1, d2), 'dx').toBe(-1);
    }
  });

  it('max-pool backward sums overlapping windows in the reference order (3×3, stride 1)', () => {
    const rng = new Rng(24);
    const g = window2d('maxPool2d', 3, 8, 9, 3, 3, 1, 1);
    const x = random(rng, 2 * 3 * 8 * 9);
    const n = 2 * 3 * g.OH * g.OW;
    const out = new Float32Array(n), arg = new Int32Array(n);
    ref.maxPoolForward(x, 2, g, out, arg);
    const dOut = random(rng, n), d1 = new Float32Array(x.length), d2 = new Float32Array(x.length);
    one.maxPoolBackward(dOut, arg, d1);
    ref.maxPoolBackward(dOut, arg, d2);
    expect(d1).toEqual(d2);
  });

  it('other pooling geometries fall back to the reference', () => {
    const rng = new Rng(23);
    const g = window2d('maxPool2d', 2, 9, 9, 3, 3, 2, 1);
    const x = random(rng, 2 * 2 * 9 * 9);
    const n = 2 * 2 * g.OH * g.OW;
    const o1 = new Float32Array(n), o2 = new Float32Array(n), a1 = new Int32Array(n), a2 = new Int32Array(n);
    one.maxPoolForward(x, 2, g, o1, a1);
    ref.maxPoolForward(x, 2, g, o2, a2);
    expect(o1).toEqual(o2);
    expect(a1).toEqual(a2);
  });
});

describe('wasm maxout', () => {
  it('takes the first maximum (strict >): ties keep the first piece, a NaN only when it comes first; the gradient goes to that piece', () => {
    // R = 5 units of K = 4 (four in vector lanes, one by the scalar tail)
    const x = new Float32Array([1, 3, 3, 2, NaN, 5, 6, 1, 2, NaN, 7, 7, -0, 0, -1, -2, 4, 4, 4, 4]);
    const want = [3, NaN, 7, -0, 4], wantPiece = [1, 0, 2, 0, 0];
    for (const k of [ref, one]) {
      const out = new Float32Array(5);
      k.maxoutForward(x, 5, 4, 1, out);
      expect(Array.from(out), k.name).toEqual(want);
      const dX = new Float32Array(20).fill(NaN);
      k.maxoutBackward(new Float32Array([1, 2, 3, -0, 5]), x, 5, 4, 1, dX);
      const expected = new Float32Array(20);
      wantPiece.forEach((p, r) => { expected[r * 4 + p] = [1, 2, 3, 0, 5][r]; }); // −0 upstream arrives as +0
      expect(firstDiff(dX, expected), k.name).toBe(-1);
    }
  });

  it('forward and backward equal the reference bit for bit: ties, signed zeros, NaN, any K and S, tails of 1–3 units', () => {
    const rng = new Rng(25);
    for (const [R, K, S] of [[1, 1, 1], [3, 2, 1], [4, 5, 1], [7, 3, 1], [13, 7, 1], [61443, 5, 1], [6, 2, 3], [5, 4, 9]]) {
      const x = random(rng, R * K * S);
      for (let i = 0; i < x.length; i++) {
        const u = rng.uniform();
        if (u < 0.1) x[i] = x[Math.max(0, i - S)]; // a tie with the previous piece
        else if (u < 0.14) x[i] = 0;
        else if (u < 0.18) x[i] = -0;
        else if (u < 0.2) x[i] = NaN;
      }
      const dOut = random(rng, R * S);
      for (let i = 0; i < dOut.length; i += 5) dOut[i] = -0;
      const o1 = new Float32Array(R * S).fill(7), o2 = new Float32Array(R * S);
      one.maxoutForward(x, R, K, S, o1);
      ref.maxoutForward(x, R, K, S, o2);
      expect(firstDiff(o1, o2), `out R=${R} K=${K} S=${S}`).toBe(-1);
      const d1 = new Float32Array(R * K * S).fill(NaN), d2 = new Float32Array(R * K * S);
      one.maxoutBackward(dOut, x, R, K, S, d1);
      ref.maxoutBackward(dOut, x, R, K, S, d2);
      expect(firstDiff(d1, d2), `dx R=${R} K=${K} S=${S}`).toBe(-1);
    }
  });
});

describe('wasm column sums (a dense layer\'s bias gradient)', () => {
  it('equal the reference bit for bit: rows added in order, signed zeros, NaN and ±∞, widths with tails of 16, 4 and 1 columns', () => {
    const rng = new Rng(26);
    for (const [N, O] of [[1, 1], [3, 5], [128, 10], [128, 256], [7, 37], [128, 1200], [256, 1023], [2, 16], [1, 19]]) {
      const g = random(rng, N * O);
      for (let i = 0; i < g.length; i++) {
        const u = rng.uniform();
        if (u < 0.05) g[i] = -0;
        else if (u < 0.07) g[i] = 1e30; // large terms: the order of the adds shows in the result
        else if (u < 0.075) g[i] = -1e30;
      }
      if (O > 3) g[2] = NaN;
      if (O > 4) g[O + 3] = Infinity;
      const a = new Float32Array(O).fill(NaN), b = new Float32Array(O).fill(NaN);
      one.columnSums(g, N, O, a);
      ref.columnSums(g, N, O, b);
      expect(firstDiff(a, b), `N=${N} O=${O}`).toBe(-1);
    }
    // a column of −0 sums to +0 (added into +0), as the reference
    const z = new Float32Array(8).fill(-0), out = new Float32Array(4).fill(NaN);
    one.columnSums(z, 2, 4, out);
    expect(Array.from(out).every((v) => Object.is(v, 0))).toBe(true);
  });
});

describe('threads', () => {
  it('rejects a bad thread count with an error naming it', () => {
    const k = loadWasmKernels({ threads: 1 })!;
    expect(() => k.setThreads(0)).toThrow(/threads must be an integer from 1 to 64, got 0/);
    expect(() => k.setThreads(2.5)).toThrow(/got 2.5/);
  });
});
