// The ε-ball, exactly: projections that hold when |x′ − x| is computed in float64 from the stored arrays. Writing
// x ± ε into a float32 array rounds to the nearest float32, which can land one ulp outside the ball (at ε = 0.1,
// 0.10000002384 > fround(0.1)); every L∞ projection here steps such a value back one ulp toward x, and the L2
// projection shrinks δ until its float64 norm is ≤ ε. x, x′ [D] in [0, 1], float32 or float64. Used by every
// attack and adversarial-training objective that projects; projectL1 is the L1 ball's (Duchi et al. 2008).
import type { Data } from '../engine/nd.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * The L∞ bound that stored values are held to: fround(ε) for float32 arrays (the ε a float32 array can hold), ε for
 * float64 ones.
 * @example
 *   linfBound(0.1, new Float32Array(1));   // 0.10000000149011612
 */
export function linfBound(eps: number, like: Data): number {
  return like instanceof Float32Array ? Math.fround(eps) : eps;
}

/** The next representable value of `v` (≥ 0) toward `to`, in the array's precision. */
function stepToward(v: number, to: number, single: boolean): number {
  if (v === to) return v;
  if (single) {
    f32[0] = v;
    u32[0] += v < to ? 1 : -1; // v ≥ 0: the bit pattern is monotone in the value
    return f32[0];
  }
  f64[0] = v;
  u64[0] += v < to ? 1n : -1n;
  return f64[0];
}

/**
 * clip[0,1](clamp(v, x − ε, x + ε)) as it will be stored in `like`'s precision, with |stored − x| ≤ linfBound(ε)
 * exactly (x itself must be a value of that precision in [0, 1]).
 * @example
 *   xa[j] = linfClamp(xa[j] + a * Math.sign(g[j]), xo[j], 0.1, xa);
 */
export function linfClamp(v: number, x: number, eps: number, like: Data): number {
  const single = like instanceof Float32Array;
  const b = single ? Math.fround(eps) : eps;
  let s = Math.min(1, Math.max(0, Math.min(x + eps, Math.max(x - eps, v))));
  if (single) s = Math.fround(s);
  // rounding (of x ± ε, then to float32) can cross the bound by one ulp: step back toward x
  while (Math.abs(s - x) > b) s = stepToward(s, x, single);
  return s;
}

/**
 * Π_ε then clip to [0, 1] in place for L∞: every x′_j within linfBound(ε) of x_j, exactly.
 * @example
 *   projectLinf(xAdv, x, 0.3);
 */
export function projectLinf(xa: Data, xo: Data, eps: number): void {
  signStepLinf(xa, xo, null, 0, eps);
}

/**
 * x′ = clip[0,1](Π_ε(x′ + a·sign(g))) in place, element-wise, the sum taken in float64 before the one rounding to
 * the array's precision, and exact like projectLinf; g = null is the projection alone.
 * @example
 *   signStepLinf(xAdv, x, dx, 0.01, 0.3);   // one PGD step
 */
export function signStepLinf(xa: Data, xo: Data, g: Data | null, a: number, eps: number): void {
  const single = xa instanceof Float32Array;
  const b = single ? Math.fround(eps) : eps;
  for (let j = 0; j < xa.length; j++) {
    const x = xo[j];
    const v = g ? xa[j] + a * Math.sign(g[j]) : xa[j];
    xa[j] = Math.min(1, Math.max(0, Math.min(x + eps, Math.max(x - eps, v))));
    // the stored value, read back: one ulp outside after rounding is stepped back toward x
    let s = xa[j];
    if (Math.abs(s - x) > b) {
      while (Math.abs(s - x) > b) s = stepToward(s, x, single);
      xa[j] = s;
    }
  }
}

/**
 * Per-element bounds [lo, hi] of the L∞ ball of radius ε around x intersected with [0, 1], as values of x's own
 * precision: every stored value between lo and hi is within fround(ε) of x (float32) or ε (float64).
 * @example
 *   const { lo, hi } = linfBounds(x.data, 0.3);
 *   for (let j = 0; j < D; j++) xa[j] = Math.min(hi[j], Math.max(lo[j], v[j]));
 */
export function linfBounds(x: Data, eps: number): { lo: Data; hi: Data } {
  const single = x instanceof Float32Array;
  const e = single ? Math.fround(eps) : eps;
  const lo = single ? new Float32Array(x.length) : new Float64Array(x.length);
  const hi = single ? new Float32Array(x.length) : new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const xj = x[j];
    let h = Math.min(1, xj + e), l = Math.max(0, xj - e);
    if (single) {
      // Round inward: a bound that rounds past x ± e moves one float32 step back toward x.
      let h32 = Math.fround(h);
      if (h32 - xj > e) h32 = stepToward(h32, xj, true);
      let l32 = Math.fround(l);
      if (xj - l32 > e) l32 = stepToward(l32, xj, true);
      h = h32;
      l = l32;
    }
    lo[j] = l;
    hi[j] = h;
  }
  return { lo, hi };
}

/**
 * Π_ε then clip to [0, 1] in place for L2: δ = x′ − x rescaled when ‖δ‖₂ > ε, and shrunk again while the float64 norm
 * of the stored δ still exceeds ε (float32 rounding of each entry can add a few ulps to the norm); clipping toward
 * [0, 1] only shrinks |δ_j| since x is inside.
 * @example
 *   projectL2(xAdv, x, 2);   // ‖x′ − x‖₂ ≤ 2 in float64
 */
export function projectL2(xa: Data, xo: Data, eps: number): void {
  const D = xa.length;
  let norm = l2Dist(xa, xo);
  for (let tries = 0; norm > eps; tries++) {
    // after the first exact rescale, aim a little inside so that rounding lands within the ball
    const scale = tries === 0 ? eps / norm : (eps / norm) * (1 - 2 ** -20 * tries);
    for (let j = 0; j < D; j++) xa[j] = Math.min(1, Math.max(0, xo[j] + (xa[j] - xo[j]) * scale));
    norm = l2Dist(xa, xo);
    if (tries > 60) {
      xa.set(xo); // unreachable in practice; δ = 0 is inside every ball
      return;
    }
  }
  for (let j = 0; j < D; j++) xa[j] = Math.min(1, Math.max(0, xa[j]));
}

/**
 * Π_ε then clip to [0, 1] in place for L1: the Euclidean projection of δ = x′ − x onto the L1 ball when ‖δ‖₁ > ε
 * (soft-thresholding at the θ that makes ‖δ‖₁ = ε, found by sorting: Duchi, Shalev-Shwartz, Singer & Chandra, ICML
 * 2008, Fig. 1), then clipped (which only shrinks |δ_j|), then shrunk while the float64 norm of the stored δ still
 * exceeds ε.
 * @example
 *   projectL1(xAdv, x, 10);   // ‖x′ − x‖₁ ≤ 10 in float64
 */
export function projectL1(xa: Data, xo: Data, eps: number): void {
  const D = xa.length;
  if (eps === 0) {
    xa.set(xo);
    return;
  }
  if (l1Dist(xa, xo) > eps) {
    const u = new Float64Array(D);
    for (let j = 0; j < D; j++) u[j] = Math.abs(xa[j] - xo[j]);
    u.sort().reverse();
    // ρ = max{j : u_j − (Σ_{i≤j} u_i − ε)/j > 0},  θ = (Σ_{i≤ρ} u_i − ε)/ρ
    let sum = 0, theta = 0;
    for (let j = 0; j < D; j++) {
      sum += u[j];
      const t = (sum - eps) / (j + 1);
      if (u[j] - t > 0) theta = t;
    }
    for (let j = 0; j < D; j++) {
      const dj = xa[j] - xo[j];
      xa[j] = xo[j] + Math.sign(dj) * Math.max(Math.abs(dj) - theta, 0);
    }
  }
  for (let j = 0; j < D; j++) xa[j] = Math.min(1, Math.max(0, xa[j]));
  let norm = l1Dist(xa, xo);
  for (let tries = 1; norm > eps; tries++) {
    const scale = (eps / norm) * (1 - 2 ** -20 * tries);
    for (let j = 0; j < D; j++) xa[j] = Math.min(1, Math.max(0, xo[j] + (xa[j] - xo[j]) * scale));
    norm = l1Dist(xa, xo);
    if (tries > 60) {
      xa.set(xo); // unreachable in practice; δ = 0 is inside every ball
      return;
    }
  }
}

function l1Dist(a: Data, b: Data): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += Math.abs(a[j] - b[j]);
  return s;
}

function l2Dist(a: Data, b: Data): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s);
}
