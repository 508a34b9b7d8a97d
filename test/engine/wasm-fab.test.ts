// FAB's iterate update in WebAssembly (wasm/fab-step.wat, host ./wasm-fab.ts) against the TypeScript reference
// (fabStep in engine/kernels/fab-projections.ts), L∞ and L2: the same bits for every row, on rows as FAB meets them
// (exact 0s and 1s, gradients of mixed scales with exact zeros, values below L2's 1e-8 cut and ties, hyperplanes that
// cannot be reached inside the box, all-zero gradients), row lengths around the edge cases, with 1–3 threads; the
// export is the one that runs; and FAB-T gives the same points with either step. Builds the kernels when missing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKernels, type Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels as ref } from '../../src/engine/kernels/reference.js';
import { Threads } from '../../src/engine/kernels/thread-pool.js';
import { makeFabStep } from '../../src/engine/kernels/wasm-fab.js';
import type { WasmExports } from '../../src/engine/kernels/wasm-exports.js';
import { LinearMemory } from '../../src/engine/kernels/wasm-memory.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { fabT } from '../../src/attacks/fab.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadThreadedKernels, root } from './threaded-kernels.js';

let kernels: Kernels[] = [];

beforeAll(() => {
  kernels = loadThreadedKernels('wasm-fab.test');
});
afterAll(() => {
  for (const k of kernels) k.setThreads(1); // stops their workers
});

/** Indices where two arrays differ in their bits (Object.is: −0 ≠ 0). */
function differing(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

/**
 * R rows of D as FAB meets them: clean points with many exact 0s and 1s, iterates inside [0, 1] (some on its faces),
 * gradients of mixed scales with exact zeros and repeated values (ties among the breakpoints), values f of both
 * signs; row 0 has an all-zero gradient and row 1 a hyperplane far outside the box (unreachable).
 */
function rows(rng: Rng, R: number, D: number) {
  const x0 = new Float32Array(R * D), x1 = new Float32Array(R * D), w = new Float64Array(R * D), f = new Float64Array(R);
  for (let i = 0; i < R * D; i++) {
    const u = rng.uniform();
    x0[i] = u < 0.3 ? 0 : u < 0.4 ? 1 : rng.uniform();
    const v = rng.uniform();
    x1[i] = v < 0.1 ? 0 : v < 0.2 ? 1 : Math.min(1, Math.max(0, x0[i] + rng.uniform(-0.3, 0.3)));
    const g = rng.uniform();
    w[i] = g < 0.1 ? 0 : g < 0.2 ? 0.25 * Math.sign(g - 0.15) : g < 0.22 ? 5e-9 : Math.fround(rng.uniform(-1, 1) * (g < 0.6 ? 1e-3 : 1));
  }
  for (let r = 0; r < R; r++) f[r] = rng.uniform(-2, 2);
  if (R > 0) w.fill(0, 0, D);
  if (R > 1) f[1] = 1e6;
  return { x0, x1, w, f };
}

describe("FAB's step in WebAssembly", () => {
  it('equals the TypeScript reference bit for bit: L∞ and L2, row lengths 1 … 785, 1–3 threads, α_max 0.1 and 1', () => {
    const rng = new Rng(21);
    for (const norm of ['linf', 'l2'] as const) for (const D of [1, 2, 7, 64, 784, 785]) {
      for (const R of [1, 3, 50]) {
        for (const alphaMax of [0.1, 1]) {
          const s = rows(rng, R, D);
          const want = s.x1.slice();
          ref.fabStep(want, s.x0, s.w, s.f, D, norm, 1.05, alphaMax);
          for (const k of kernels) {
            const got = s.x1.slice();
            k.fabStep(got, s.x0, s.w, s.f, D, norm, 1.05, alphaMax);
            expect(differing(got, want), `${norm}, D ${D}, R ${R}, α_max ${alphaMax}, ${k.getThreads()} threads`).toEqual([]);
          }
          if (R * D >= 64) expect(differing(want, s.x1).length, 'the step moves the iterates').toBeGreaterThan(0);
        }
      }
    }
  });

  it('keeps every iterate in [0, 1] and moves an all-zero gradient row only toward x', () => {
    const rng = new Rng(22);
    const D = 784, R = 8, s = rows(rng, R, D);
    const got = s.x1.slice();
    kernels[1].fabStep(got, s.x0, s.w, s.f, D, 'linf', 1.05, 0.1);
    expect(got.every((v) => v >= 0 && v <= 1)).toBe(true);
    // row 0 (w = 0): d₁ = d₂ = 0, so the step is the convex combination (1 − α)x⁽ⁱ⁾ + αx with α = ½ capped at α_max
    for (let j = 0; j < D; j++) expect(got[j]).toBe(Math.fround(s.x1[j] * 0.9 + s.x0[j] * 0.1));
    const l2 = s.x1.slice();
    kernels[1].fabStep(l2, s.x0, s.w, s.f, D, 'l2', 1.05, 0.1);
    expect(l2.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('runs in WebAssembly (not the reference behind the same interface)', () => {
    // the host side over a module instance whose fab_rows export counts its calls
    const bytes = readFileSync(join(root, 'build', 'kernels.wasm'));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const module = new WebAssembly.Module(bytes);
    const ex = { ...new WebAssembly.Instance(module, { env: { memory } }).exports, memory } as unknown as WasmExports;
    let calls = 0;
    const counted: WasmExports = { ...ex, fab_rows: (...a: Parameters<WasmExports['fab_rows']>) => { calls++; ex.fab_rows(...a); } };
    const step = makeFabStep(counted, new LinearMemory(memory), new Threads(counted, module, 1, null));
    const rng = new Rng(23);
    const D = 784, R = 30, s = rows(rng, R, D);
    for (const norm of ['linf', 'l2'] as const) {
      const want = s.x1.slice(), got = s.x1.slice();
      ref.fabStep(want, s.x0, s.w, s.f, D, norm, 1.05, 0.1);
      step(got, s.x0, s.w, s.f, D, norm, 1.05, 0.1);
      expect(differing(got, want), norm).toEqual([]);
    }
    expect(calls).toBe(2); // one call for the whole batch on one thread, per norm
  });

  it('gives FAB-T (L∞ and L2) the same points and distances with the WebAssembly step as with the reference step', () => {
    const model = buildModel(zooSpec('cnn'), { seed: 3 });
    const rng = new Rng(24);
    const x = new Tensor(Float32Array.from({ length: 12 * 784 }, () => rng.uniform()), [12, 1, 28, 28]);
    const y = Int32Array.from({ length: 12 }, (_, i) => i % 10);
    const run = (k: Kernels, norm: 'linf' | 'l2') => {
      const prev = useKernels(k);
      try {
        return fabT.run(model, x, y, { eps: norm === 'linf' ? 0.3 : 2, norm, nTargetClasses: 2, steps: 8, seed: 0 });
      } finally {
        useKernels(prev);
      }
    };
    for (const norm of ['linf', 'l2'] as const) {
      const fast = run(kernels[1], norm);
      const slow = run({ ...kernels[1], fabStep: ref.fabStep }, norm);
      expect(differing(fast.adversarial.data, slow.adversarial.data), norm).toEqual([]);
      expect(differing(fast.distances, slow.distances), norm).toEqual([]);
      expect(Array.from(fast.distances).some(Number.isFinite), norm).toBe(true); // FAB found boundary points to compare
    }
  });
});
