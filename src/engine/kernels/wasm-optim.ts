// The optimiser family of the WebAssembly kernels, host side (wasm/optim.wat): Adam's update over float32
// parameters, and APGD's L∞ step over float32 iterates (the attack's optimiser). Adam reads and writes θ, the
// gradient and both moments where they live in linear memory (a resident model's parameters, the optimiser's moments,
// a training step's gradient from the arena), in one pass over the whole array; an array that lives on the JS heap is
// copied in a chunk at a time (a chunk of all four stays in the cores' caches between the copy in, the update and the
// copy out) and θ, m and v copied back. The threads claim blocks of the array. Every element is computed alone, in
// float32 in the reference's order, so the result is the reference's (./reference.ts `adamUpdate`) bit for bit for
// any chunking and thread count; float64 operands run the reference itself (in float64).
import type { Data } from '../nd.js';
import type { Kernels } from './types.js';
import { adamConstantsF32, referenceKernels } from './reference.js';
import { consecutiveRuns } from './split-range.js';
import type { Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, isF32, type LinearMemory } from './wasm-memory.js';

/** Elements per chunk: 4 arrays × 32 Ki floats = 512 KiB, which the cores' caches hold between the copies. */
const CHUNK = 1 << 15;
/** Elements from which a chunk is split among the threads (a dispatch costs a few microseconds). */
const SPLIT = 1 << 13;
/** Elements per block the threads of one update claim (16 KiB of each array). */
const BLOCK = 1 << 12;

/**
 * Adam's update over one instance, as referenceKernels.adamUpdate.
 * @example
 *   const adamUpdate = makeAdam(ex, mem, pool); adamUpdate(th, g, m, v, 0.9, 0.999, 0, 1e-8, lr / c1, 1 / Math.sqrt(c2));
 */
export function makeAdam(ex: WasmExports, mem: LinearMemory, pool: Threads): Kernels['adamUpdate'] {
  return function adamUpdate(th, g, m, v, b1, b2, wd, eps, step, invSqrtC2): void {
    const n = th.length;
    // operands that live in linear memory (a training step's gradient, from the arena; the moments and the
    // parameters, lasting blocks of it) are read and written where they are
    const ag = mem.addressOf(g), am = mem.outputAddress(m, g), av = mem.outputAddress(v, g, m);
    const ath = mem.outputAddress(th, g, m, v); // a model's parameters: lasting blocks too (layers/resident.ts)
    // chunks only for arrays that need copying in; all four in place: one pass over the whole array
    const c = ath >= 0 && ag >= 0 && am >= 0 && av >= 0 ? n : Math.min(n, CHUNK);
    const at = carve({ k: 16, ctr: 16, th: ath < 0 ? c : 0, g: ag < 0 ? c : 0, m: am < 0 ? c : 0, v: av < 0 ? c : 0 }, mem.base);
    // float64, mismatched or empty arrays, or no room in linear memory: the reference loop itself
    if (!isF32(th, g, m, v) || g.length !== n || m.length !== n || v.length !== n || n === 0 || !mem.ensure(at.end)) {
      referenceKernels.adamUpdate(th, g, m, v, b1, b2, wd, eps, step, invSqrtC2);
      return;
    }
    // The constants as the loop's float32s: 1 − β computed as the reference computes it.
    new Float32Array(mem.memory.buffer, at.k, 8).set(adamConstantsF32(b1, b2, wd, eps, step, invSqrtC2));
    const f32 = mem.f32;
    const io: [Data, number, number][] = [[th, ath, at.th], [g, ag, at.g], [m, am, at.m], [v, av, at.v]];
    for (let i = 0; i < n; i += c) {
      const len = Math.min(c, n - i);
      // each array's address for this chunk: where it lives, or its work region after the copy in
      const [thAt, gAt, mAt, vAt] = io.map(([a, home, work]) => {
        if (home >= 0) return home + 4 * i;
        f32.set(a.subarray(i, i + len), work / 4);
        return work;
      });
      const T = len >= SPLIT ? pool.threadsFor(Math.ceil(len / 4)) : 1;
      if (T === 1) ex.adam(thAt, gAt, mAt, vAt, len, at.k);
      else {
        // The threads claim blocks of BLOCK elements (a multiple of 4: 16-byte aligned vector loads).
        mem.i32[at.ctr >> 2] = 0;
        pool.share('adam_shared', T, () => [at.ctr, BLOCK / 4, thAt, gAt, mAt, vAt, len, at.k]);
      }
      if (ath < 0) th.set(f32.subarray(at.th / 4, at.th / 4 + len), i);
      if (am < 0) m.set(f32.subarray(at.m / 4, at.m / 4 + len), i);
      if (av < 0) v.set(f32.subarray(at.v / 4, at.v / 4 + len), i);
    }
  };
}

/**
 * APGD's L∞ step over the listed rows, as referenceKernels.apgdLinfStep. The rows are gathered into linear memory a
 * chunk at a time (the five arrays of a chunk stay in the caches), updated, and x and x_old go back. One thread: the
 * update costs less than the copies, and waking the workers for each chunk cost more than it saved (256 rows of 784:
 * 1.3 ms a call in APGD's loop on one thread, 3–4 ms on two). float64 operands run the reference itself.
 * @example
 *   const step = makeApgdLinfStep(ex, mem); step(xa, xo, g, lo, hi, 784, rows, bounds, steps, 0.75);
 */
export function makeApgdLinfStep(ex: WasmExports, mem: LinearMemory): Kernels['apgdLinfStep'] {
  return function apgdLinfStep(xa, xo, g, lo, hi, D, rows, bounds, steps, a): void {
    const R = rows.length;
    const rc = Math.max(1, Math.min(R, Math.floor(CHUNK / Math.max(D, 1))));
    const n = rc * D;
    const at = carve({ k: 4, st: 2 * rc, xa: n, xo: n, g: n, lo: n, hi: n }, mem.base);
    if (!isF32(xa, xo, g, lo, hi) || R === 0 || D === 0 || !mem.ensure(at.end)) {
      referenceKernels.apgdLinfStep(xa, xo, g, lo, hi, D, rows, bounds, steps, a);
      return;
    }
    const f32 = mem.f32;
    const f64 = new Float64Array(mem.memory.buffer, at.k, 2);
    f64[0] = a;
    f64[1] = 1 - a; // as the reference computes it
    const st = new Float64Array(mem.memory.buffer, at.st, rc);
    for (let i0 = 0; i0 < R; i0 += rc) {
      const len = Math.min(rc, R - i0);
      for (let i = 0; i < len; i++) st[i] = steps[i0 + i];
      // Copy runs of consecutive rows (consecutive in both lists) at once: APGD's active rows mostly are.
      const runs = consecutiveRuns([rows, bounds], i0, len);
      for (const [i, count] of runs) {
        const off = rows[i0 + i] * D, base = bounds[i0 + i] * D, to = i * D, m = count * D;
        f32.set(xa.subarray(off, off + m), at.xa / 4 + to);
        f32.set(xo.subarray(off, off + m), at.xo / 4 + to);
        f32.set(g.subarray(off, off + m), at.g / 4 + to);
        f32.set(lo.subarray(base, base + m), at.lo / 4 + to);
        f32.set(hi.subarray(base, base + m), at.hi / 4 + to);
      }
      ex.linf_step(at.xa, at.xo, at.g, at.lo, at.hi, at.st, len, D, at.k);
      for (const [i, count] of runs) {
        const off = rows[i0 + i] * D, from = i * D, m = count * D;
        xa.set(f32.subarray(at.xa / 4 + from, at.xa / 4 + from + m), off);
        xo.set(f32.subarray(at.xo / 4 + from, at.xo / 4 + from + m), off);
      }
    }
  };
}

