// Operands that live in the WebAssembly kernels' linear memory (the arena that recycling scopes take op outputs from,
// engine/recycle.ts) are read and written in place, without the copies in and out. Every kernel that does so must
// give the same bits as with the same operands on the JS heap, for 1 and 2 threads; write every element of its
// outputs (they come filled with NaN); write nothing else: not its inputs, not the guard blocks placed on both
// sides of every operand; and stay correct when an output overlaps an input (it then copies).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels, Window2d } from '../../src/engine/kernels/kernels.js';
import { window2d } from '../../src/engine/ops/conv.js';
import { Rng } from '../../src/engine/random.js';
import { loadThreadedKernels, viaGemm } from './threaded-kernels.js';

let one: Kernels, two: Kernels, three: Kernels;
beforeAll(() => {
  [one, two, three] = loadThreadedKernels('wasm-arena.test');
});
afterAll(() => {
  for (const k of [one, two, three]) k?.setThreads(1); // stops their workers
});

type Arr = Float32Array | Uint8Array;
/** How a case gets its operands: inputs with these values, outputs of n elements filled with NaN (bytes: 77). */
interface Placer {
  f32(values: Float32Array): Float32Array;
  u8(values: Uint8Array): Uint8Array;
  out(n: number): Float32Array;
  outU8(n: number): Uint8Array;
  /** An array the kernel updates in place, with these values. */
  inout(values: Float32Array): Float32Array;
}

const GUARD = 16; // floats on each side of an operand in the arena
const SENTINEL = 12345.5;

const heap: Placer = {
  f32: (v) => v.slice(),
  u8: (v) => v.slice(),
  out: (n) => new Float32Array(n).fill(NaN),
  outU8: (n) => new Uint8Array(n).fill(77),
  inout: (v) => v.slice(),
};

/** A placer over k's arena: every operand between two guard blocks; `check` then says what was touched. */
function arenaPlacer(k: Kernels): Placer & { check(): void } {
  const arena = k.arena!;
  arena.reset();
  const guards: Float32Array[] = [];
  const inputs: [Arr, Arr][] = [];
  const guard = () => {
    const g = arena.take('f32', GUARD, false) as Float32Array;
    g.fill(SENTINEL);
    guards.push(g);
  };
  const place = <T extends Arr>(kind: 'f32' | 'u8', n: number): T => {
    guard();
    const a = arena.take(kind, n, false) as T;
    expect(a, 'the arena has room').not.toBeNull();
    expect(arena.owns(a)).toBe(true);
    guard();
    return a;
  };
  return {
    f32: (v) => { const a = place<Float32Array>('f32', v.length); a.set(v); inputs.push([a, v]); return a; },
    u8: (v) => { const a = place<Uint8Array>('u8', v.length); a.set(v); inputs.push([a, v]); return a; },
    out: (n) => place<Float32Array>('f32', n).fill(NaN),
    outU8: (n) => place<Uint8Array>('u8', n).fill(77),
    inout: (v) => { const a = place<Float32Array>('f32', v.length); a.set(v); return a; },
    check() {
      guards.forEach((g, i) => expect(g.every((v) => v === SENTINEL), `guard block ${i} untouched`).toBe(true));
      inputs.forEach(([a, v], i) => expect(bits(a), `input ${i} unchanged`).toEqual(bits(v)));
    },
  };
}

const bits = (a: ArrayLike<number> & ArrayBufferView): number[] =>
  Array.from(a instanceof Uint8Array ? a : new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4));

/** Run a case on the heap and in k's arena: the same bits, nothing else written, every output element written. */
function samePlaced(k: Kernels, run: (p: Placer) => ArrayBufferView[], what: string): void {
  const want = run(heap).map((a) => bits(a as Float32Array));
  const placer = arenaPlacer(k);
  const got = run(placer);
  placer.check();
  got.forEach((a, i) => expect(bits(a as Float32Array), `${what}: result ${i}`).toEqual(want[i]));
  want.forEach((b, i) => expect(b.some((v) => v === 0x7fc00000), `${what}: result ${i} written in full`).toBe(false));
  k.arena!.reset();
}

function random(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

/** Routes of a fused block (one of the four window positions, or none) */
const routes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => (rng.uniform() < 0.1 ? 255 : rng.int(4)));

// geometries for each convolution path: the implicit GEMM (unpadded, output width 8), the widened forward (padded,
// output width 14), im2col (3×3 padded), the routed backward (5×5) and more than one outer step of 512 images
const convCases: { N: number; C: number; H: number; K: number; pad: number; OC: number }[] = [
  { N: 6, C: 3, H: 12, K: 5, pad: 0, OC: 8 },
  { N: 5, C: 2, H: 14, K: 5, pad: 2, OC: 6 },
  { N: 7, C: 4, H: 9, K: 3, pad: 1, OC: 5 },
  { N: 520, C: 1, H: 12, K: 5, pad: 0, OC: 4 },
];

describe('kernels over operands in the arena', () => {
  const rng = new Rng(21);

  it('convolution forwards (bias, ReLU, the fused block with and without routes)', () => {
    for (const c of convCases) {
      const g: Window2d = window2d('conv2d', c.C, c.H, c.H, c.K, c.K, 1, c.pad);
      const x = random(rng, c.N * c.C * c.H * c.H), w = random(rng, c.OC * c.C * c.K * c.K, -0.3, 0.3), b = random(rng, c.OC);
      const Y = c.N * c.OC * g.OH * g.OW, P = c.N * c.OC * (g.OH >> 1) * (g.OW >> 1);
      for (const k of [one, two]) {
        samePlaced(k, (p) => { const y = p.out(Y); k.conv2dForward(p.f32(x), c.N, g, w, c.OC, b, y); return [y]; }, `conv ${JSON.stringify(c)}`);
        samePlaced(k, (p) => { const y = p.out(Y); k.conv2dReluForward(p.f32(x), c.N, g, w, c.OC, b, y); return [y]; }, 'conv relu');
        samePlaced(k, (p) => {
          const out = p.out(P), route = p.outU8(P);
          k.conv2dReluPoolForward(p.f32(x), c.N, g, w, c.OC, b, out, route);
          return [out, route];
        }, 'fused block');
        samePlaced(k, (p) => { const out = p.out(P); k.conv2dReluPoolForward(p.f32(x), c.N, g, w, c.OC, b, out, null); return [out]; }, 'fused block, no routes');
        // only the input in the arena, only the output
        samePlaced(k, (p) => { const y = p.out(Y); k.conv2dForward(heap.f32(x), c.N, g, w, c.OC, b, y); return [y]; }, 'conv, x on the heap');
      }
    }
  });

  it('convolution backwards: plain, after a ReLU, the fused block routed and through the GEMM', () => {
    for (const c of convCases) {
      const g = window2d('conv2d', c.C, c.H, c.H, c.K, c.K, 1, c.pad);
      const X = c.N * c.C * c.H * c.H, Y = c.N * c.OC * g.OH * g.OW, P = c.N * c.OC * (g.OH >> 1) * (g.OW >> 1);
      const x = random(rng, X), w = random(rng, c.OC * c.C * c.K * c.K, -0.3, 0.3), dY = random(rng, Y), relu = random(rng, Y, -1, 1).map((v) => Math.max(v, 0));
      const dOut = random(rng, P), route = routes(rng, P);
      const grads = (p: Placer) => [p.out(X), new Float32Array(w.length), new Float32Array(c.OC)] as const;
      for (const k of [one, two]) {
        samePlaced(k, (p) => { const [dX, dW, dB] = grads(p); k.conv2dBackward(p.f32(x), c.N, g, w, c.OC, p.f32(dY), dX, dW, dB); return [dX, dW, dB]; }, 'conv backward');
        samePlaced(k, (p) => { const [dX, dW, dB] = grads(heap); k.conv2dBackward(p.f32(x), c.N, g, w, c.OC, heap.f32(dY), dX, dW, dB); return [dX, dW, dB]; }, 'conv backward, only x in the arena');
        samePlaced(k, (p) => { const [dX, dW, dB] = grads(p); k.conv2dBackward(heap.f32(x), c.N, g, w, c.OC, p.f32(dY), dX, dW, dB); return [dX, dW, dB]; }, 'conv backward, x on the heap');
        samePlaced(k, (p) => {
          const [dX, dW, dB] = grads(p);
          k.conv2dReluBackward(p.f32(x), c.N, g, w, c.OC, p.f32(relu), p.f32(dY), dX, dW, dB);
          return [dX, dW, dB];
        }, 'conv relu backward');
        for (const gemm of [false, true]) {
          const fused = (p: Placer) => {
            const [dX, dW, dB] = grads(p);
            k.conv2dReluPoolBackward(p.f32(x), c.N, g, w, c.OC, p.u8(route), p.f32(dOut), dX, dW, dB);
            return [dX, dW, dB];
          };
          samePlaced(k, (p) => (gemm ? viaGemm(() => fused(p)) : fused(p)), `fused block backward${gemm ? ' through the GEMM' : ''}`);
        }
      }
    }
  });

  it('batch normalisation, plain and fused with ReLU and pooling, training and evaluation', () => {
    for (const [N, C, H, W] of [[6, 3, 8, 10], [4, 5, 7, 7], [40, 2, 1, 1]]) {
      const n = N * C * H * W, P = N * C * (H >> 1) * (W >> 1);
      const x = random(rng, n, -2, 3), dY = random(rng, n), gamma = random(rng, C, 0.5, 1.5), beta = random(rng, C);
      const dOut = random(rng, P), route = routes(rng, P);
      for (const k of [one, two]) {
        for (const training of [true, false]) {
          const stats = () => {
            const mean = new Float64Array(C), invstd = new Float64Array(C);
            if (!training) for (let c = 0; c < C; c++) { mean[c] = 0.1 * c; invstd[c] = 1 + 0.2 * c; }
            return { mean, invstd, sq: training ? new Float64Array(C) : null };
          };
          // every operand in the arena; then x, y and dX on the heap with dY in the arena, and the other way round
          for (const [xIn, outIn] of [[true, true], [false, false], [true, false]]) {
            samePlaced(k, (p) => {
              const s = stats(), sdy = new Float64Array(C), sdyx = new Float64Array(C);
              const y = (outIn ? p : heap).out(n), dX = (outIn ? p : heap).out(n), xp = (xIn ? p : heap).f32(x);
              k.batchNormForward(xp, N, C, H * W, gamma, beta, 1e-5, s.mean, s.invstd, s.sq, y);
              k.batchNormBackward((xIn ? heap : p).f32(dY), xp, N, C, H * W, gamma, s.mean, s.invstd, training, sdy, sdyx, dX);
              return [y, dX, s.mean, s.invstd, sdy, sdyx];
            }, `batch norm ${N}×${C}×${H}×${W}${training ? '' : ', evaluation'} (${xIn} ${outIn})`);
          }
          if (H < 2) continue;
          samePlaced(k, (p) => {
            const s = stats(), out = p.out(P), r = p.outU8(P), dX = p.out(n), sdy = new Float64Array(C), sdyx = new Float64Array(C);
            const xp = p.f32(x);
            k.batchNormReluPoolForward(xp, N, C, H, W, gamma, beta, 1e-5, s.mean, s.invstd, s.sq, out, r);
            k.batchNormReluPoolBackward(p.f32(dOut), p.u8(route), xp, N, C, H, W, gamma, s.mean, s.invstd, training, sdy, sdyx, dX);
            return [out, r, dX, s.mean, s.invstd, sdy, sdyx];
          }, `batch norm, ReLU and pooling ${N}×${C}×${H}×${W}${training ? '' : ', evaluation'}`);
          samePlaced(k, (p) => {
            const s = stats(), out = heap.out(P), r = heap.outU8(P), dX = heap.out(n), sdy = new Float64Array(C), sdyx = new Float64Array(C);
            const xp = p.f32(x);
            k.batchNormReluPoolForward(xp, N, C, H, W, gamma, beta, 1e-5, s.mean, s.invstd, s.sq, out, r);
            k.batchNormReluPoolBackward(heap.f32(dOut), heap.u8(route), xp, N, C, H, W, gamma, s.mean, s.invstd, training, sdy, sdyx, dX);
            return [out, r, dX, s.mean, s.invstd, sdy, sdyx];
          }, `batch norm, ReLU and pooling, only x in the arena`);
        }
      }
    }
  });

  it('gemm with offsets, leading dimensions, transposes and accumulation; Adam; ReLU forward and backward', () => {
    for (const k of [one, two]) {
      for (const [M, N, K] of [[7, 13, 5], [64, 300, 150]]) {
        for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
          for (const acc of [false, true]) {
            const lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 1, ldc = N + 2;
            const A = random(rng, 2 + (tA ? K : M) * lda), B = random(rng, 1 + (tB ? N : K) * ldb), C0 = random(rng, 5 + M * ldc);
            samePlaced(k, (p) => {
              const C = p.out(C0.length);
              C.set(C0);
              k.gemm(tA, tB, M, N, K, p.f32(A), 2, lda, p.f32(B), 1, ldb, C, 5, ldc, acc);
              return [C];
            }, `gemm ${M}×${N}×${K} ${tA} ${tB} ${acc}`);
          }
        }
      }
      // Adam reads a gradient and updates moments (and θ: a resident model's parameters) that live in the arena where
      // they are, or some of them; all four there take one pass over the whole array, its blocks claimed by the threads
      for (const n of [5, 70001]) {
        const th = random(rng, n), g = random(rng, n), m = random(rng, n, -0.1, 0.1), v = random(rng, n, 0, 0.1);
        for (const [thIn, gIn, mIn, vIn] of [[true, true, true, true], [false, true, true, true], [false, true, false, false], [false, false, true, false], [false, false, false, true]]) {
          samePlaced(k, (p) => {
            const t2 = (thIn ? p : heap).inout(th), m2 = (mIn ? p : heap).inout(m), v2 = (vIn ? p : heap).inout(v);
            k.adamUpdate(t2, (gIn ? p : heap).f32(g), m2, v2, 0.9, 0.999, 1e-4, 1e-8, 1e-3 / 0.1, 1 / Math.sqrt(0.002));
            return [t2, m2, v2];
          }, `adam ${n} ${thIn} ${gIn} ${mIn} ${vIn}`);
        }
      }
      const x = random(rng, 100003), dOut = random(rng, x.length);
      samePlaced(k, (p) => { const y = p.out(x.length); k.reluForward(p.f32(x), y); return [y]; }, 'relu');
      samePlaced(k, (p) => { const s = p.out(1200); k.columnSums(p.f32(x.subarray(0, 80 * 1200)), 80, 1200, s); return [s]; }, 'column sums');
      // maxout over x as 19999 units of 5 pieces (the dense layout; 3 units past the last group of 4) and 3 units of 5
      // pieces of 6666 positions
      for (const [R, S] of [[19999, 1], [3, 6666]]) {
        const xm = x.subarray(0, R * 5 * S), gm = dOut.subarray(0, R * S);
        samePlaced(k, (p) => { const y = p.out(R * S); k.maxoutForward(p.f32(xm), R, 5, S, y); return [y]; }, `maxout S=${S}`);
        samePlaced(k, (p) => { const d = p.out(xm.length); k.maxoutBackward(p.f32(gm), p.f32(xm), R, 5, S, d); return [d]; }, `maxout backward S=${S}`);
      }
      samePlaced(k, (p) => { const dX = p.out(x.length); k.reluBackward(p.f32(dOut), p.f32(x), dX); return [dX]; }, 'relu backward');
    }
  });

  it('an output that overlaps an input is still right (it goes through a copy), for any thread count', () => {
    const arena = two.arena!;
    const x = random(rng, 5000), want = x.map((v) => Math.max(v, 0));
    arena.reset();
    const a = arena.take('f32', x.length, false) as Float32Array;
    a.set(x);
    two.reluForward(a, a);
    expect(bits(a)).toEqual(bits(want));
    // the batch-norm's output written over its input
    const [N, C, S] = [4, 3, 30];
    const xs = random(rng, N * C * S), gamma = random(rng, C), beta = random(rng, C);
    const ref = (k: Kernels) => {
      const y = new Float32Array(xs.length), mean = new Float64Array(C), invstd = new Float64Array(C);
      k.batchNormForward(xs, N, C, S, gamma, beta, 1e-5, mean, invstd, new Float64Array(C), y);
      return y;
    };
    for (const k of [one, two, three]) {
      k.arena!.reset();
      const inPlace = k.arena!.take('f32', xs.length, false) as Float32Array;
      inPlace.set(xs);
      k.batchNormForward(inPlace, N, C, S, gamma, beta, 1e-5, new Float64Array(C), new Float64Array(C), new Float64Array(C), inPlace);
      expect(bits(inPlace)).toEqual(bits(ref(k)));
      k.arena!.reset();
    }
  });
});
