// FAB's iterate update in WebAssembly, host side (wasm/fab-step.wat): the L∞ or L2 step of every row of a batch (two
// box-constrained projections each, then the step), the rows split among the threads. The arrays are copied into
// linear memory once per call and the iterates copied back. Each row is computed alone, in float64 in the
// reference's order (fabStep in ./fab-projections.ts), so the result is the reference's bit for bit for any thread
// count.
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import { splitRange } from './split-range.js';
import type { Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, carveEach, type LinearMemory } from './wasm-memory.js';

/**
 * FAB's step over one instance, as referenceKernels.fabStep; empty batches, mismatched arrays or no room in linear
 * memory run the reference itself.
 * @example
 *   const fabStep = makeFabStep(ex, mem, pool); fabStep(x1, x0, w, f, 784, 'linf', 1.05, 0.1);
 */
export function makeFabStep(ex: WasmExports, mem: LinearMemory, pool: Threads): Kernels['fabStep'] {
  return function fabStep(x1, x0, w, f, D, norm, eta, alphaMax): void {
    const R = f.length;
    const T = pool.threadsFor(R);
    // floats: k holds η and α_max (two float64), f and w are float64 (two floats each)
    const at = carve({ k: 4, f: 2 * R, x1: R * D, x0: R * D, w: 2 * R * D }, mem.base);
    const work = carveEach({ scr: 10 * D }, T, at.end); // key, lin, d1, d2 (float64) and idx, idx2 (int32)
    if (R === 0 || D === 0 || x1.length !== R * D || x0.length !== R * D || w.length !== R * D || !mem.ensure(work.end)) {
      referenceKernels.fabStep(x1, x0, w, f, D, norm, eta, alphaMax);
      return;
    }
    const { f32, memory } = mem;
    new Float64Array(memory.buffer, at.k, 2).set([eta, alphaMax]);
    new Float64Array(memory.buffer, at.f, R).set(f);
    new Float64Array(memory.buffer, at.w, R * D).set(w);
    f32.set(x1, at.x1 / 4);
    f32.set(x0, at.x0 / 4);
    pool.run('fab_rows', splitRange(R, T), (t, [r0, r1]) => [at.x1, at.x0, at.w, at.f, r0, r1, D, at.k, work.at[t].scr, norm === 'l2' ? 1 : 0]);
    x1.set(f32.subarray(at.x1 / 4, at.x1 / 4 + R * D));
  };
}
