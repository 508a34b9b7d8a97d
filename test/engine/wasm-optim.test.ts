// Adam's update in WebAssembly (wasm/optim.wat) against the TypeScript loop (referenceKernels.adamUpdate): the same
// bits for every element, on lengths around the vector width, the chunk and the thread split, with 1–3 threads, with
// and without weight decay, over several steps; float32 arrays follow the float32 formula written out in the test;
// float64 operands take the reference's own float64 path; and the Adam optimiser gives the same parameters with
// either kernels. Builds build/kernels.wasm first when it is missing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKernels, type Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels as ref } from '../../src/engine/kernels/reference.js';
import { makeApgdLinfStep } from '../../src/engine/kernels/wasm-optim.js';
import { consecutiveRuns } from '../../src/engine/kernels/split-range.js';
import type { WasmExports } from '../../src/engine/kernels/wasm-exports.js';
import { LinearMemory } from '../../src/engine/kernels/wasm-memory.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { Adam } from '../../src/train/optimizers.js';
import { loadThreadedKernels, root } from './threaded-kernels.js';

let kernels: Kernels[] = [];

beforeAll(() => {
  kernels = loadThreadedKernels('wasm-optim.test');
});
afterAll(() => {
  for (const k of kernels) k.setThreads(1); // stops their workers
});

/** Parameters, gradients and moments as an optimiser meets them: mixed scales, exact zeros, tiny values. */
function state(rng: Rng, n: number, Arr: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array) {
  const pick = () => {
    const u = rng.uniform();
    return u < 0.05 ? 0 : u < 0.1 ? rng.uniform(-1e-7, 1e-7) : rng.uniform(-1, 1) * (u < 0.5 ? 1 : 1e-3);
  };
  const make = (f: () => number) => {
    const a = new Arr(n);
    for (let i = 0; i < n; i++) a[i] = f();
    return a;
  };
  return [make(pick), make(pick), make(() => pick() * 0.1), make(() => pick() ** 2)];
}

/** Indices where two arrays differ in their bits (Object.is: −0 ≠ 0, NaN = NaN). */
function differing(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

describe('Adam in WebAssembly', () => {
  // 4 lanes, the 8 Ki split, the 32 Ki chunk, and a madry-sized dense weight (3136 × 1024) plus a tail
  const lengths = [1, 2, 3, 4, 5, 7, 8191, 8192, 8193, 32767, 32768, 32771, 100003, 3136 * 1024 + 5];

  it('equals the TypeScript loop bit for bit: every length, 1–3 threads, with and without weight decay, five steps', () => {
    const rng = new Rng(7);
    for (const n of lengths) {
      for (const wd of [0, 5e-4]) {
        const start = state(rng, n);
        const want = start.map((a) => a.slice());
        const got = kernels.map(() => start.map((a) => a.slice()));
        for (let t = 1; t <= 5; t++) {
          const c1 = 1 - 0.9 ** t, c2 = 1 - 0.999 ** t;
          ref.adamUpdate(want[0], want[1], want[2], want[3], 0.9, 0.999, wd, 1e-8, 1e-3 / c1, 1 / Math.sqrt(c2));
          kernels.forEach((k, i) => k.adamUpdate(got[i][0], got[i][1], got[i][2], got[i][3], 0.9, 0.999, wd, 1e-8, 1e-3 / c1, 1 / Math.sqrt(c2)));
        }
        kernels.forEach((_, i) => {
          for (const j of [0, 2, 3]) {
            const d = differing(got[i][j], want[j]);
            expect(d.length, `n ${n}, wd ${wd}, ${i + 1} threads, array ${'θgmv'[j]}: first difference at ${d[0]}`).toBe(0);
          }
          expect(differing(got[i][1], start[1])).toEqual([]); // the gradient is read, never written
        });
        expect(differing(want[0], start[0]).length).toBeGreaterThan(0); // the update did move θ
      }
    }
  });

  it('computes float32 parameters in float32, as written out here, and not in float64', () => {
    // The contract for float32 arrays: every operation rounded to float32, in this order (PyTorch's float32 Adam
    // also takes √v and the division in float32). Written out here with Math.fround, independently of the kernels.
    const rng = new Rng(3);
    const [th, g, m, v] = state(rng, 4099);
    const f = (x: number) => Math.fround(x);
    const [b1, a1, b2, a2, wd, eps, step, isc] = [0.9, 0.1, 0.999, 1 - 0.999, 1e-4, 1e-8, 0.01, 1 / Math.sqrt(0.003)].map(f);
    const want = [th.slice(), m.slice(), v.slice()];
    const wide = th.slice(); // the same update in float64, rounded once at the end
    for (let j = 0; j < th.length; j++) {
      const gj = f(g[j] + f(wd * th[j]));
      const mj = f(f(b1 * m[j]) + f(a1 * gj));
      const vj = f(f(b2 * v[j]) + f(f(a2 * gj) * gj));
      [want[1][j], want[2][j]] = [mj, vj];
      want[0][j] = f(th[j] - f(f(step * mj) / f(f(f(Math.sqrt(vj)) * isc) + eps)));
      const gw = g[j] + 1e-4 * th[j], mw = 0.9 * m[j] + 0.1 * gw, vw = 0.999 * v[j] + (1 - 0.999) * gw * gw;
      wide[j] = th[j] - (0.01 * mw) / (Math.sqrt(vw) / Math.sqrt(0.003) + 1e-8);
    }
    for (const k of [ref, kernels[0], kernels[1]]) {
      const got = [th.slice(), g.slice(), m.slice(), v.slice()];
      k.adamUpdate(got[0], got[1], got[2], got[3], 0.9, 0.999, 1e-4, 1e-8, 0.01, 1 / Math.sqrt(0.003));
      expect(differing(got[0], want[0]), `${k.name} θ`).toEqual([]);
      expect(differing(got[2], want[1]), `${k.name} m`).toEqual([]);
      expect(differing(got[3], want[2]), `${k.name} v`).toEqual([]);
      expect(differing(got[0], wide).length, `${k.name} θ differs from the float64 update somewhere`).toBeGreaterThan(0);
    }
  });

  it('runs float64 operands through the reference (float64 results, gradient checks keep their precision)', () => {
    const rng = new Rng(5);
    const a = state(rng, 1000, Float64Array), b = a.map((x) => x.slice());
    ref.adamUpdate(a[0], a[1], a[2], a[3], 0.9, 0.999, 1e-4, 1e-8, 1e-3, 1);
    kernels[1].adamUpdate(b[0], b[1], b[2], b[3], 0.9, 0.999, 1e-4, 1e-8, 1e-3, 1);
    expect(b[0]).toBeInstanceOf(Float64Array);
    for (const j of [0, 2, 3]) expect(differing(b[j], a[j])).toEqual([]);
  });

  it('gives the Adam optimiser the same parameters and state with the WebAssembly kernels as with the reference', () => {
    const run = (k: Kernels) => {
      const prev = useKernels(k);
      try {
        const r = new Rng(1);
        const params: [string, Tensor][] = [['w', Tensor.uniform([200, 200], -1, 1, r)], ['b', Tensor.from([0.5, -0.25, 0])]];
        const opt = new Adam(params, { lr: 1e-2, weightDecay: 1e-4 });
        const g = new Rng(2);
        for (let s = 0; s < 4; s++) {
          opt.step(params.map(([, p]) => Tensor.uniform(p.shape, -1, 1, g)));
        }
        return [...params.map(([, p]) => p.data), ...[...opt.state().values()].map((t) => t.data)];
      } finally {
        useKernels(prev);
      }
    };
    const want = run(ref);
    for (const k of kernels) {
      const got = run(k);
      got.forEach((a, i) => expect(differing(a, want[i]), `array ${i}`).toEqual([]));
    }
  });
});

describe("APGD's L∞ step in WebAssembly", () => {
  /** Iterates, previous iterates and gradients as APGD meets them, around clean rows x0 with ε-ball bounds. */
  function iterates(rng: Rng, R: number, D: number, eps: number, Arr: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array, special = false) {
    const N = R + 3; // the bounds' rows are indexed separately from the iterates' rows
    const x0 = new Arr(N * D), lo = new Arr(N * D), hi = new Arr(N * D);
    for (let i = 0; i < N * D; i++) {
      const u = rng.uniform();
      x0[i] = u < 0.3 ? 0 : u < 0.4 ? 1 : rng.uniform(); // MNIST: many exact 0s and 1s
      lo[i] = Math.max(0, x0[i] - eps);
      hi[i] = Math.min(1, x0[i] + eps);
    }
    const bounds = Int32Array.from({ length: R }, () => Math.floor(rng.uniform() * N));
    const xa = new Arr(R * D), xo = new Arr(R * D), g = new Arr(R * D);
    for (let r = 0; r < R; r++) {
      for (let j = 0; j < D; j++) {
        const b = bounds[r] * D + j, i = r * D + j;
        const pick = (u: number) => (u < 0.25 ? lo[b] : u < 0.5 ? hi[b] : rng.uniform(lo[b], hi[b])); // on the box's faces or inside
        xa[i] = pick(rng.uniform());
        if (special && xa[i] === 0 && rng.uniform() < 0.2) xa[i] = -0;
        const o = special ? rng.uniform() : 1;
        xo[i] = o < 0.01 ? NaN : o < 0.02 ? Infinity : o < 0.03 ? -Infinity : pick(rng.uniform()); // special: −0, NaN and ±∞
        const v = rng.uniform();
        g[i] = v < 0.1 ? 0 : v < 0.12 ? -0 : v < 0.13 ? NaN : rng.uniform(-1, 1) * (v < 0.5 ? 1e-6 : 1);
      }
    }
    return { xa, xo, g, lo, hi, bounds };
  }

  it('equals the TypeScript loop bit for bit: row lengths around the vector width, shuffled rows and runs of rows, α 1 and 0.75', () => {
    const rng = new Rng(11);
    for (const [R, D] of [[1, 1], [3, 3], [2, 4], [5, 5], [7, 7], [40, 784], [100, 784], [3, 33000], [64, 1023]] as const) {
      for (const a of [1, 0.75]) {
        const s = iterates(rng, R, D, 0.3, Float32Array, true);
        // α 1: a subset of the rows in a shuffled order; α 0.75: runs of consecutive rows with consecutive bounds
        // rows (copied a run at a time) and gaps. Each row has its own step size.
        const all = Int32Array.from({ length: R }, (_, i) => i);
        const rows = a === 1 ? all.filter(() => rng.uniform() < 0.8).sort(() => rng.uniform() - 0.5) : all.filter((i) => i % 5 !== 3);
        const bounds = a === 1 ? Int32Array.from(rows, (r) => s.bounds[r]) : rows.map((r) => r + 1);
        const steps = Float64Array.from(rows, () => 0.6 / 2 ** Math.floor(rng.uniform() * 4));
        const want = [s.xa.slice(), s.xo.slice()];
        ref.apgdLinfStep(want[0], want[1], s.g, s.lo, s.hi, D, rows, bounds, steps, a);
        if (R * D >= 100) expect(differing(want[0], s.xa).length, `R ${R}, D ${D}: the step moved x`).toBeGreaterThan(0);
        for (const [i, k] of kernels.entries()) {
          const got = [s.xa.slice(), s.xo.slice()];
          k.apgdLinfStep(got[0], got[1], s.g, s.lo, s.hi, D, rows, bounds, steps, a);
          for (const j of [0, 1]) {
            const d = differing(got[j], want[j]);
            expect(d.length, `R ${R}, D ${D}, α ${a}, ${i + 1} threads, ${['x', 'x_old'][j]}: first difference at ${d[0]}`).toBe(0);
          }
        }
      }
    }
  });

  it('copies runs of rows that are consecutive in both lists at once', () => {
    expect(consecutiveRuns([Int32Array.of(0, 1, 5), Int32Array.of(3, 4, 9)], 0, 3)).toEqual([[0, 2], [2, 1]]);
    expect(consecutiveRuns([Int32Array.of(0, 1, 2, 3), Int32Array.of(0, 1, 7, 8)], 1, 3)).toEqual([[0, 1], [1, 2]]);
    expect(consecutiveRuns([Int32Array.of(4), Int32Array.of(4)], 0, 1)).toEqual([[0, 1]]);
  });

  it('keeps every element in its box [lo, hi] and moves x_old to the previous x', () => {
    const rng = new Rng(12);
    const D = 784, s = iterates(rng, 50, D, 0.1);
    const rows = Int32Array.from({ length: 50 }, (_, i) => i);
    const before = s.xa.slice();
    kernels[1].apgdLinfStep(s.xa, s.xo, s.g, s.lo, s.hi, D, rows, s.bounds, new Float64Array(50).fill(0.2), 0.75);
    expect(differing(s.xo, before)).toEqual([]);
    for (let r = 0; r < 50; r++) {
      for (let j = 0; j < D; j++) {
        const v = s.xa[r * D + j], b = s.bounds[r] * D + j;
        if (!(v >= s.lo[b] && v <= s.hi[b])) throw new Error(`row ${r}, element ${j}: ${v} outside [${s.lo[b]}, ${s.hi[b]}]`);
      }
    }
  });

  it('runs float64 operands through the reference', () => {
    const rng = new Rng(13);
    const s = iterates(rng, 4, 100, 0.3, Float64Array);
    const rows = Int32Array.from([0, 1, 2, 3]), steps = new Float64Array(4).fill(0.3);
    const want = [s.xa.slice(), s.xo.slice()], got = [s.xa.slice(), s.xo.slice()];
    ref.apgdLinfStep(want[0], want[1], s.g, s.lo, s.hi, 100, rows, s.bounds, steps, 0.75);
    kernels[1].apgdLinfStep(got[0], got[1], s.g, s.lo, s.hi, 100, rows, s.bounds, steps, 0.75);
    expect(got[0]).toBeInstanceOf(Float64Array);
    expect(differing(got[0], want[0])).toEqual([]);
    expect(differing(got[1], want[1])).toEqual([]);
  });

  it('runs in WebAssembly for float32 rows (not the reference behind the same interface)', () => {
    // the host side over a module instance whose linf_step export counts its calls
    const bytes = readFileSync(join(root, 'build', 'kernels.wasm'));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const ex = { ...new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports, memory } as unknown as WasmExports;
    let calls = 0;
    const counted: WasmExports = { ...ex, linf_step: (...a: Parameters<WasmExports['linf_step']>) => { calls++; ex.linf_step(...a); } };
    const step = makeApgdLinfStep(counted, new LinearMemory(memory));
    const rng = new Rng(14);
    const D = 784, R = 90, s = iterates(rng, R, D, 0.3);
    const rows = Int32Array.from({ length: R }, (_, i) => i), steps = new Float64Array(R).fill(0.1);
    const want = [s.xa.slice(), s.xo.slice()], got = [s.xa.slice(), s.xo.slice()];
    ref.apgdLinfStep(want[0], want[1], s.g, s.lo, s.hi, D, rows, s.bounds, steps, 0.75);
    step(got[0], got[1], s.g, s.lo, s.hi, D, rows, s.bounds, steps, 0.75);
    expect(calls).toBe(Math.ceil(R / Math.floor(32768 / D))); // one call a chunk of ⌊32 Ki / D⌋ rows
    expect(differing(got[0], want[0])).toEqual([]);
    expect(differing(got[1], want[1])).toEqual([]);
  });
});
