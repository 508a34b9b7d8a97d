// The batch-normalisation family of the WebAssembly kernels, host side (wasm/norm.wat): the forward's statistics and
// affine output, the backward's two sums and input gradient, over float32 tensors staged in linear memory once per
// call (the output overwrites the staged input). The threads split the channels; each channel's planes are summed in
// order (float32 within a plane, float64 across planes), so the results are the same bits for any thread count.
// They differ from the reference (./reference.ts, float64 throughout) by float32 rounding; the per-channel
// arithmetic between the passes (means, 1/σ, the backward's coefficients) runs here in float64. The kernels subtract
// the mean rounded to float32 (hi); what that rounding left out (lo = mean − hi) is folded into the float64 per-channel
// terms here, so that a mean far from 0 costs no more than float32 rounding of the result.
// Float64 operands run the reference itself.
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import { splitRange } from './split-range.js';
import type { Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, isF32, type LinearMemory } from './wasm-memory.js';

/** Elements from which a call's channels are split among the threads (a dispatch costs a few microseconds). */
const SPLIT = 1 << 14;
/** Bytes per channel of the record the host and wasm/norm.wat share: two float64s, then four float32s. */
const RECORD = 32;

/**
 * The batch-norm kernels over one instance, as referenceKernels.batchNormForward and batchNormBackward within
 * float32 rounding.
 * @example
 *   const { batchNormForward } = makeBatchNormKernels(ex, mem, pool);
 */
export function makeBatchNormKernels(ex: WasmExports, mem: LinearMemory, pool: Threads): Pick<Kernels, 'batchNormForward' | 'batchNormBackward'> {
  const ref = referenceKernels;

  /** The channel ranges of a call over n elements and C channels. */
  const ranges = (n: number, C: number): [number, number][] => splitRange(C, n >= SPLIT ? pool.threadsFor(C) : 1);

  const batchNormForward: Kernels['batchNormForward'] = (x, N, C, S, gamma, beta, eps, mean, invstd, sq, y) => {
    const n = N * C * S;
    const at = carve({ k: (RECORD / 4) * C, x: n });
    if (!isF32(x, gamma, beta, y) || n === 0 || !mem.ensure(at.end)) {
      ref.batchNormForward(x, N, C, S, gamma, beta, eps, mean, invstd, sq, y);
      return;
    }
    const f32 = mem.f32;
    f32.set(x.subarray(0, n), at.x / 4);
    const parts = ranges(n, C);
    const rec64 = new Float64Array(mem.memory.buffer, at.k, (RECORD / 8) * C);
    const rec32 = new Float32Array(mem.memory.buffer, at.k, (RECORD / 4) * C);
    if (sq) {
      pool.run('bn_fwd', parts, (_t, [c0, c1]) => [at.x, at.x, N, C, S, c0, c1, at.k, 0]);
      for (let c = 0; c < C; c++) {
        const mu = rec64[4 * c], lo = mu - Math.fround(mu);
        mean[c] = mu;
        sq[c] = rec64[4 * c + 1] - N * S * lo * lo; // Σ (x − mean)² = Σ (x − hi)² − M·lo²
        invstd[c] = 1 / Math.sqrt(sq[c] / (N * S) + eps);
      }
    }
    for (let c = 0; c < C; c++) {
      const k = gamma[c] * invstd[c], lo = mean[c] - Math.fround(mean[c]);
      rec32[8 * c + 4] = k;
      rec32[8 * c + 5] = beta[c] - k * lo; // y = k·(x − hi) + β − k·lo
      rec32[8 * c + 7] = mean[c]; // hi
    }
    pool.run('bn_fwd', parts, (_t, [c0, c1]) => [at.x, at.x, N, C, S, c0, c1, at.k, 1]);
    y.set(f32.subarray(at.x / 4, at.x / 4 + n));
  };

  const batchNormBackward: Kernels['batchNormBackward'] = (dY, x, N, C, S, gamma, mean, invstd, training, sdy, sdyx, dX) => {
    const n = N * C * S, M = N * S;
    const at = carve({ k: (RECORD / 4) * C, dy: n, x: n });
    if (!isF32(dY, x, gamma, dX) || n === 0 || !mem.ensure(at.end)) {
      ref.batchNormBackward(dY, x, N, C, S, gamma, mean, invstd, training, sdy, sdyx, dX);
      return;
    }
    const f32 = mem.f32;
    f32.set(dY.subarray(0, n), at.dy / 4);
    f32.set(x.subarray(0, n), at.x / 4);
    const parts = ranges(n, C);
    const rec64 = new Float64Array(mem.memory.buffer, at.k, (RECORD / 8) * C);
    const rec32 = new Float32Array(mem.memory.buffer, at.k, (RECORD / 4) * C);
    for (let c = 0; c < C; c++) rec32[8 * c + 7] = mean[c];
    pool.run('bn_bwd', parts, (_t, [c0, c1]) => [at.dy, at.x, at.dy, N, C, S, c0, c1, at.k, 0]);
    for (let c = 0; c < C; c++) {
      sdy[c] = rec64[4 * c];
      // Σ dY·(x − mean)·invstd = (Σ dY·(x − hi) − lo·Σ dY)·invstd
      sdyx[c] = (rec64[4 * c + 1] - (mean[c] - Math.fround(mean[c])) * sdy[c]) * invstd[c];
    }
    if (!dX) return;
    // training: dX = k·dY − (k/M)·sdyx·invstd·(x − mean) − (k/M)·sdy, k = γ·invstd; evaluation: dX = k·dY
    for (let c = 0; c < C; c++) {
      const k = gamma[c] * invstd[c], b = training ? (-k / M) * sdyx[c] * invstd[c] : 0;
      rec32[8 * c + 4] = k;
      rec32[8 * c + 5] = b;
      // b·(x − mean) = b·(x − hi) − b·lo
      rec32[8 * c + 6] = training ? (-k / M) * sdy[c] - b * (mean[c] - Math.fround(mean[c])) : 0;
    }
    pool.run('bn_bwd', parts, (_t, [c0, c1]) => [at.dy, at.x, at.dy, N, C, S, c0, c1, at.k, training ? 1 : 2]);
    dX.set(f32.subarray(at.dy / 4, at.dy / 4 + n));
  };

  return { batchNormForward, batchNormBackward };
}
