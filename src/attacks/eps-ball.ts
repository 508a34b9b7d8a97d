// The ε-ball in the stored precision: projections that keep x' inside the ball and inside [0, 1] after x' is
// written into a float32 (or float64) array, so |x'ⱼ − xⱼ| ≤ fround(ε) (L∞) and ‖x' − x‖₂ ≤ ε hold exactly when
// checked in float64 on the stored values. Used by APGD and the L2 Square attack; shapes are flat rows of D values.
import type { Data } from '../engine/nd.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to v (≥ 0) toward zero. */
function prev32(v: number): number {
  f32[0] = v;
  if (f32[0] === 0) return 0;
  u32[0] -= 1;
  return f32[0];
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
      if (h32 - xj > e) h32 = prev32(h32);
      let l32 = Math.fround(l);
      if (xj - l32 > e) l32 = next32(l32);
      h = h32;
      l = l32;
    }
    lo[j] = l;
    hi[j] = h;
  }
  return { lo, hi };
}

/** The float32 next to v (≥ 0) away from zero. */
function next32(v: number): number {
  f32[0] = v;
  u32[0] += 1;
  return f32[0];
}

/**
 * Make ‖xa − xo‖₂ ≤ ε hold on the stored values (after float32 rounding) by shrinking δ toward x; xa stays in [0, 1]
 * when it was (scaling δ toward x keeps each coordinate between x and the old value).
 * @example
 *   enforceL2(xa, xo, 1.5);   // after writing a projected L2 step into the float32 row xa
 */
export function enforceL2(xa: Data, xo: Data, eps: number): void {
  for (let tries = 0; tries < 60; tries++) {
    let s = 0;
    for (let j = 0; j < xa.length; j++) s += (xa[j] - xo[j]) ** 2;
    const norm = Math.sqrt(s);
    if (norm <= eps) return;
    const k = (eps / norm) * (1 - 2 ** -20 * (tries + 1));
    for (let j = 0; j < xa.length; j++) xa[j] = xo[j] + (xa[j] - xo[j]) * k;
  }
  xa.set(xo);
}
