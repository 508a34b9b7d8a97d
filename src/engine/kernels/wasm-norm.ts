// The batch-normalisation family of the WebAssembly kernels, host side (wasm/norm.wat): the forward's statistics and
// affine output, the backward's two sums and input gradient, over float32 tensors read where they live in linear
// memory (the arena) or staged there once per call (the output then overwrites the staged input). The threads split
// the channels; each channel's planes are summed in order (float32 within a plane, float64 across planes), so the
// results are the same bits for any thread count. Each channel's statistics (or sums), the per-channel
// terms from them and its output (or dX) run back to back in one call, while the channel's planes are in cache
// (a channel's statistics need only its own planes): x is read from memory once, not once per pass.
// They differ from the reference (./reference.ts, float64 throughout) by float32 rounding; the per-channel
// arithmetic between the passes (means, 1/σ, the backward's coefficients) runs in float64 in the kernels
// (wasm/norm.wat writes out the operations listed here), for training and evaluation alike. The kernels subtract
// the mean rounded to float32 (hi); what that rounding left out (lo = mean − hi) is folded into the float64 per-channel
// terms, so that a mean far from 0 costs no more than float32 rounding of the result:
//   forward: sq = Σ (x − hi)² − M·lo·lo, invstd = 1 / √(sq / M + eps), k = γ·invstd, y = k·(x − hi) + (β − k·lo);
//   backward: Σ dY·x̂ = (Σ dY·(x − hi) − lo·Σ dY)·invstd, dX = k·dY + b·(x − hi) + c with b = (−k/M)·Σ dY·x̂·invstd
//   and c = (−k/M)·Σ dY − b·lo (M = N·H·W). A float32 sum that
// overflows (deviations near 1e19) or loses its precision to subnormals (a nearly constant channel, variance below
// 2⁻¹⁰⁰), a per-channel term that float32 cannot hold (eps = 0 on such a channel),
// and non-finite values (whose float32 sums are NaN where the reference may say ±∞), make the call run the float64
// reference instead: the kernels are never less exact than the reference, only faster where both are finite.
// Float64 operands run the reference itself. With eps = 0 (or tiny) on a channel whose spread is below the float32
// step of its mean, γ·invstd is large and training dX is a cancellation of large terms: it stays within float32
// rounding of those terms, not of dX itself (at the default eps = 1e-5 this does not arise in practice).
import type { Data } from '../nd.js';
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import { splitRange } from './split-range.js';
import type { Threads } from './thread-pool.js';
import { carve, isF32, type LinearMemory } from './wasm-memory.js';

/** Elements from which a call's channels are split among the threads (a dispatch costs a few microseconds). */
const SPLIT = 1 << 14;
/**
 * Bytes per channel of the record the host and wasm/norm.wat share (its layout: wasm/norm.wat's bn_fwd and bn_bwd).
 * Its float64s are at index R8·c + i, its float32s and i32s at R4·c + i.
 */
const RECORD = 64, R8 = RECORD / 8, R4 = RECORD / 4;

/**
 * The batch-norm kernels over one instance, as referenceKernels' batchNormForward, batchNormBackward and the fused
 * batch-norm → ReLU → 2×2 max-pool pair within float32 rounding.
 * @example
 *   const { batchNormForward } = makeBatchNormKernels(mem, pool);
 */
export function makeBatchNormKernels(mem: LinearMemory, pool: Threads): Pick<Kernels,
  'batchNormForward' | 'batchNormBackward' | 'batchNormReluPoolForward' | 'batchNormReluPoolBackward'> {
  const ref = referenceKernels;

  /** The channel ranges of a call over n elements and C channels. */
  const ranges = (n: number, C: number): [number, number][] => splitRange(C, n >= SPLIT ? pool.threadsFor(C) : 1);

  /**
   * The forward: statistics (with sq), then y = k·(x − mean) + β, or with `pooled` ReLU and 2×2/2 max pooling of y
   * into out and route (y then computed as the pooling loads x, never written). S = H·W; W matters only when pooled.
   */
  function forward(
    x: Data, N: number, C: number, S: number, W: number, gamma: Data, beta: Data, eps: number,
    mean: Float64Array, invstd: Float64Array, sq: Float64Array | null, y: Data | null, pooled: { out: Data; route: Uint8Array | null } | null,
  ): boolean {
    const n = N * C * S;
    const P = pooled ? pooled.out.length : 0;
    // operands that live in linear memory (the arena) are read and written in place; y (not pooled) is written over
    // the staged copy of x when neither lives there, into a work region when only x does
    const ax = mem.addressOf(x), ay = mem.outputAddress(y, x);
    const aOut = pooled ? mem.outputAddress(pooled.out, x, y) : -1, aRoute = pooled ? mem.outputAddress(pooled.route, x, y, pooled.out) : -1;
    const at = carve({
      k: (RECORD / 4) * C, x: ax < 0 ? n : 0, y: !pooled && ax >= 0 && ay < 0 ? n : 0, out: aOut < 0 ? P : 0,
      route: pooled?.route && aRoute < 0 ? Math.ceil(P / 4) : 0,
    }, mem.base);
    if (!isF32(x, gamma, beta, y, pooled?.out ?? null) || n === 0 || !mem.ensure(at.end)) return false;
    const f32 = mem.f32;
    if (ax < 0) f32.set(x.subarray(0, n), at.x / 4);
    const xAt = ax >= 0 ? ax : at.x, yAt = ay >= 0 ? ay : ax < 0 ? at.x : at.y;
    const outAt = aOut >= 0 ? aOut : at.out, routeAt = aRoute >= 0 ? aRoute : at.route;
    const parts = ranges(n, C);
    const rec64 = new Float64Array(mem.memory.buffer, at.k, R8 * C);
    const rec32 = new Float32Array(mem.memory.buffer, at.k, R4 * C), flags = new Int32Array(mem.memory.buffer, at.k, R4 * C);
    const route = pooled?.route ? routeAt : 0;
    // each channel's statistics (training) or the running ones, its terms and its output in one call (bn_fwd)
    for (let c = 0; c < C; c++) {
      if (!sq) {
        rec64[R8 * c] = mean[c];
        rec64[R8 * c + 5] = invstd[c];
      }
      rec64[R8 * c + 6] = eps;
      rec32[R4 * c + 14] = gamma[c];
      rec32[R4 * c + 6] = beta[c];
    }
    pool.run('bn_fwd', parts, (_t, [c0, c1]) => [xAt, yAt, N, C, S, c0, c1, at.k, (sq ? 2 : 0) | (pooled ? 1 : 0), W, outAt, route]);
    for (let c = 0; c < C; c++) {
      // the reference overwrites everything: non-finite sums, variances so small that float32 squares of the
      // deviations are subnormal (a nearly constant channel, whose 1/σ float32 would get wrong), coefficients
      // float32 cannot hold
      if (flags[R4 * c + 15] !== 0) return false;
      if (!sq) continue;
      mean[c] = rec64[R8 * c];
      sq[c] = rec64[R8 * c + 4];
      invstd[c] = rec64[R8 * c + 5];
    }
    if (y && ay < 0) y.set(f32.subarray(yAt / 4, yAt / 4 + n));
    if (pooled) {
      if (aOut < 0) pooled.out.set(f32.subarray(at.out / 4, at.out / 4 + P));
      if (aRoute < 0) pooled.route?.set(mem.u8.subarray(at.route, at.route + P));
    }
    return true;
  }

  /** The backward: dY given, or with `pooled` built from the pooled gradient and routes; then sums and dX. */
  function backward(
    dY: Data | null, x: Data, N: number, C: number, S: number, W: number, gamma: Data, mean: Float64Array, invstd: Float64Array,
    training: boolean, sdy: Float64Array, sdyx: Float64Array, dX: Data | null, pooled: { dOut: Data; route: Uint8Array } | null,
  ): boolean {
    const n = N * C * S;
    const P = pooled ? pooled.dOut.length : 0;
    // operands that live in linear memory (the arena) are read and written in place. dY: pooled, built plane by plane
    // in dX (then overwritten by it in place) or in a work region; else read where it is or from its staged copy,
    // which dX then overwrites unless dY lives here (dX then in a work region of its own)
    const ax = mem.addressOf(x), ady = pooled ? -1 : mem.addressOf(dY);
    const ag = pooled ? mem.addressOf(pooled.dOut) : -1, ar = pooled ? mem.addressOf(pooled.route) : -1;
    const adx = mem.outputAddress(dX, x, dY, pooled?.dOut ?? null, pooled?.route ?? null);
    const at = carve({
      k: (RECORD / 4) * C, dy: ady < 0 && !(pooled && adx >= 0) ? n : 0, dx: dX && adx < 0 && ady >= 0 ? n : 0,
      x: ax < 0 ? n : 0, g: pooled && ag < 0 ? P : 0, route: pooled && ar < 0 ? Math.ceil(P / 4) : 0,
    }, mem.base);
    if (!isF32(dY, x, gamma, dX, pooled?.dOut ?? null) || n === 0 || !mem.ensure(at.end)) return false;
    const f32 = mem.f32;
    if (pooled) {
      if (ag < 0) f32.set(pooled.dOut, at.g / 4);
      if (ar < 0) mem.u8.set(pooled.route, at.route);
    } else if (ady < 0) f32.set(dY!.subarray(0, n), at.dy / 4);
    if (ax < 0) f32.set(x.subarray(0, n), at.x / 4);
    const xAt = ax >= 0 ? ax : at.x, gAt = ag >= 0 ? ag : at.g, routeAt = ar >= 0 ? ar : at.route;
    const dyAt = ady >= 0 ? ady : pooled && adx >= 0 ? adx : at.dy;
    const dxAt = adx >= 0 ? adx : ady >= 0 ? at.dx : at.dy;
    const parts = ranges(n, C);
    const rec64 = new Float64Array(mem.memory.buffer, at.k, R8 * C);
    const rec32 = new Float32Array(mem.memory.buffer, at.k, R4 * C), flags = new Int32Array(mem.memory.buffer, at.k, R4 * C);
    for (let c = 0; c < C; c++) {
      rec64[R8 * c + 5] = mean[c];
      rec64[R8 * c + 6] = invstd[c];
      rec32[R4 * c + 14] = gamma[c];
    }
    // each channel's sums, terms and dX in one call (wasm/norm.wat's bn_bwd)
    const mode = (pooled ? 1 : 0) | (training ? 2 : 0) | (dX ? 4 : 0);
    pool.run('bn_bwd', parts, (_t, [c0, c1]) => [dyAt, xAt, dX ? dxAt : dyAt, N, C, S, c0, c1, at.k, mode, W, gAt, routeAt]);
    for (let c = 0; c < C; c++) {
      if (flags[R4 * c + 15] !== 0) return false; // the reference overwrites the sums and dX
      sdy[c] = rec64[R8 * c];
      sdyx[c] = rec64[R8 * c + 4];
    }
    if (!dX) return true;
    if (adx < 0) dX.set(f32.subarray(dxAt / 4, dxAt / 4 + n));
    return true;
  }

  return {
    batchNormForward(x, N, C, S, gamma, beta, eps, mean, invstd, sq, y) {
      if (!forward(x, N, C, S, 1, gamma, beta, eps, mean, invstd, sq, y, null)) ref.batchNormForward(x, N, C, S, gamma, beta, eps, mean, invstd, sq, y);
    },
    batchNormBackward(dY, x, N, C, S, gamma, mean, invstd, training, sdy, sdyx, dX) {
      if (!backward(dY, x, N, C, S, 1, gamma, mean, invstd, training, sdy, sdyx, dX, null)) {
        ref.batchNormBackward(dY, x, N, C, S, gamma, mean, invstd, training, sdy, sdyx, dX);
      }
    },
    batchNormReluPoolForward(x, N, C, H, W, gamma, beta, eps, mean, invstd, sq, out, route) {
      if (!forward(x, N, C, H * W, W, gamma, beta, eps, mean, invstd, sq, null, { out, route })) {
        ref.batchNormReluPoolForward(x, N, C, H, W, gamma, beta, eps, mean, invstd, sq, out, route);
      }
    },
    batchNormReluPoolBackward(dOut, route, x, N, C, H, W, gamma, mean, invstd, training, sdy, sdyx, dX) {
      if (!backward(null, x, N, C, H * W, W, gamma, mean, invstd, training, sdy, sdyx, dX, { dOut, route })) {
        ref.batchNormReluPoolBackward(dOut, route, x, N, C, H, W, gamma, mean, invstd, training, sdy, sdyx, dX);
      }
    },
  };
}
