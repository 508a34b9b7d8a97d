// The optimiser family of the WebAssembly kernels, host side (wasm/optim.wat): Adam's update over float32
// parameters. The arrays are copied into linear memory a chunk at a time (a chunk of all four stays in the cores'
// caches between the copy in, the update and the copy out), the threads update their parts of the chunk, and θ, m
// and v are copied back. Every element is computed alone, in float64 in the reference's order, so the result is the
// reference's (./reference.ts `adamUpdate`) bit for bit for any chunking and thread count; float64 operands run the
// reference itself.
import type { Data } from '../nd.js';
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import { splitRange } from './split-range.js';
import type { Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, isF32, type LinearMemory } from './wasm-memory.js';

/** Elements per chunk: 4 arrays × 32 Ki floats = 512 KiB, which the cores' caches hold between the copies. */
const CHUNK = 1 << 15;
/** Elements from which a chunk is split among the threads (a dispatch costs a few microseconds). */
const SPLIT = 1 << 13;

/**
 * Adam's update over one instance, as referenceKernels.adamUpdate.
 * @example
 *   const adamUpdate = makeAdam(ex, mem, pool); adamUpdate(th, g, m, v, 0.9, 0.999, 0, 1e-8, lr / c1, 1 / Math.sqrt(c2));
 */
export function makeAdam(ex: WasmExports, mem: LinearMemory, pool: Threads): Kernels['adamUpdate'] {
  return function adamUpdate(th, g, m, v, b1, b2, wd, eps, step, invSqrtC2): void {
    const n = th.length;
    const c = Math.min(n, CHUNK);
    const at = carve({ k: 16, th: c, g: c, m: c, v: c });
    // float64, mismatched or empty arrays, or no room in linear memory: the reference loop itself
    if (!isF32(th, g, m, v) || g.length !== n || m.length !== n || v.length !== n || n === 0 || !mem.ensure(at.end)) {
      referenceKernels.adamUpdate(th, g, m, v, b1, b2, wd, eps, step, invSqrtC2);
      return;
    }
    // The constants as the loop's float64s: 1 − β computed here exactly as the reference computes it.
    new Float64Array(mem.memory.buffer, at.k, 8).set([b1, 1 - b1, b2, 1 - b2, wd, eps, step, invSqrtC2]);
    const f32 = mem.f32;
    const io: [Data, number][] = [[th, at.th], [g, at.g], [m, at.m], [v, at.v]];
    for (let i = 0; i < n; i += c) {
      const len = Math.min(c, n - i);
      for (const [a, addr] of io) f32.set(a.subarray(i, i + len), addr / 4);
      const T = len >= SPLIT ? pool.threadsFor(Math.ceil(len / 4)) : 1;
      // Each thread's part starts on a multiple of 4 elements (16 bytes), so its vector loads stay aligned.
      pool.run('adam', splitRange(Math.ceil(len / 4), T), (_t, [q0, q1]) => {
        const e0 = q0 * 4, e1 = Math.min(len, q1 * 4);
        return [at.th + 4 * e0, at.g + 4 * e0, at.m + 4 * e0, at.v + 4 * e0, e1 - e0, at.k];
      });
      th.set(f32.subarray(at.th / 4, at.th / 4 + len), i);
      m.set(f32.subarray(at.m / 4, at.m / 4 + len), i);
      v.set(f32.subarray(at.v / 4, at.v / 4 + len), i);
    }
  };
}
