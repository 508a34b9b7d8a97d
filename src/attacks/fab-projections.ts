// FAB's projection step: the smallest perturbation d (in L∞ or L2) that moves a point t onto the hyperplane
// {z : w·z = b} while staying inside the box [0, 1]ᴰ. Croce & Hein, "Minimally distorted adversarial examples with a
// fast adaptive boundary attack", ICML 2020 (arXiv 1907.02044), §2.2 and Appendix: the box-constrained projection
// reduces to one piecewise-linear monotone equation in a scalar λ, whose breakpoints are where coordinates hit the box.
// The reference sorts the breakpoints; here a quickselect-style search finds λ's segment in expected O(D) (the same
// exact λ, without a sort: the projection runs twice per example per FAB iteration).
// Shapes: one point at a time, t and w of length D (float32 or float64); d is written into `out` (float64).
// When the hyperplane cannot be reached inside the box, d moves every coordinate with w ≠ 0 as far as the box allows
// in the direction that brings w·z closest to b (as the reference implementation does).

/** Buffers reused across calls of the same dimension D. */
export class ProjectionScratch {
  readonly key: Float64Array;
  readonly lin: Float64Array;
  readonly idx: Int32Array;
  constructor(readonly D: number) {
    this.key = new Float64Array(D);
    this.lin = new Float64Array(D);
    this.idx = new Int32Array(D);
  }
}

type Vec = ArrayLike<number>;

/**
 * Solve F(λ) = c for F(λ) = Σ_j min(λ, key_j)·lin_j (continuous, non-decreasing; lin ≥ 0) over the coordinates listed
 * in idx[0..n); returns λ ≥ 0, or −1 when F(∞) = Σ key_j·lin_j < c (unreachable). Three-way partitions around a
 * pivot breakpoint p: F(p) ≥ c puts λ at or below p (the coordinates with key ≥ p are linear in λ), else above it
 * (those with key ≤ p are saturated at key·lin).
 */
function solveBreakpoints(s: ProjectionScratch, n: number, c: number): number {
  const { key, lin, idx } = s;
  let total = 0;
  for (let k = 0; k < n; k++) total += key[idx[k]] * lin[idx[k]];
  if (total < c) return -1;
  let lo = 0, hi = n, sat = 0, slope = 0;
  while (lo < hi) {
    const p = key[idx[(lo + hi) >>> 1]];
    // Dutch-flag partition of idx[lo..hi): [< p][= p][> p]
    let lt = lo, i = lo, gt = hi;
    let satLt = 0, satEq = 0, linEq = 0, linGt = 0;
    while (i < gt) {
      const j = idx[i], kj = key[j];
      if (kj < p) {
        satLt += kj * lin[j];
        idx[i] = idx[lt];
        idx[lt++] = j;
        i++;
      } else if (kj > p) {
        linGt += lin[j];
        idx[i] = idx[--gt];
        idx[gt] = j;
      } else {
        satEq += kj * lin[j];
        linEq += lin[j];
        i++;
      }
    }
    const fp = sat + satLt + satEq + p * (slope + linGt);
    if (fp >= c) {
      slope += linEq + linGt;
      hi = lt;
    } else {
      sat += satLt + satEq;
      lo = gt;
    }
  }
  return slope > 0 ? Math.max((c - sat) / slope, 0) : 0;
}

/**
 * L∞ projection onto {z : w·z = b} ∩ [0,1]ᴰ: d = argmin ‖d‖∞ s.t. w·(t + d) = b, 0 ≤ t + d ≤ 1.
 * With c = w·t − b ≥ 0 (flip w, b otherwise), d_j = −sign(w_j)·min(λ, p_j) where p_j is how far coordinate j can move
 * that way (t_j toward 0 when w_j > 0, toward 1 when w_j < 0) and λ solves Σ_j |w_j|·min(λ, p_j) = c.
 * @example
 *   const d = new Float64Array(2);
 *   projectLinf([0.5, 0.5], [1, 1], 0.6, d, new ProjectionScratch(2));   // d = [−0.2, −0.2]
 */
export function projectLinf(t: Vec, w: Vec, b: number, out: Float64Array, s: ProjectionScratch): void {
  const D = t.length;
  if (w.length !== D || out.length !== D || s.D !== D) {
    throw new Error(`projectLinf: t, w, out and scratch must have one length, got ${D}, ${w.length}, ${out.length}, ${s.D}`);
  }
  let c = -b;
  for (let j = 0; j < D; j++) c += w[j] * t[j];
  const sg = c >= 0 ? 1 : -1; // after the flip, w·z must go down by c ≥ 0
  c *= sg;
  let n = 0;
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    s.key[j] = wj < 0 ? 1 - t[j] : t[j]; // p_j, the room to move coordinate j in its descending direction
    s.lin[j] = Math.abs(wj);
    if (wj !== 0) s.idx[n++] = j;
  }
  const lambda = solveBreakpoints(s, n, c);
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    if (wj === 0) {
      out[j] = 0;
      continue;
    }
    const p = s.key[j];
    const m = lambda < 0 ? p : Math.min(lambda, p); // λ < 0: unreachable, move as far as the box allows
    out[j] = wj > 0 ? -m : m;
  }
}

/** |w_j| below this counts as zero in the L2 projection (as in the reference implementation). */
const W_TINY = 1e-8;

/**
 * L2 projection onto {z : w·z = b} ∩ [0,1]ᴰ: d = argmin ‖d‖₂ s.t. w·(t + d) = b, 0 ≤ t + d ≤ 1.
 * KKT: with c = w·t − b ≥ 0 (flip w otherwise), d_j = clip(−λ·w_j, −t_j, 1 − t_j) and λ ≥ 0 solves w·d = −c, i.e.
 * Σ_j w_j²·min(λ, r_j) = c with r_j = max(t_j / w_j, (t_j − 1) / w_j) where coordinate j saturates.
 * @example
 *   const d = new Float64Array(2);
 *   projectL2([0.5, 0.5], [1, 1], 0.6, d, new ProjectionScratch(2));   // d = [−0.2, −0.2]
 */
export function projectL2(t: Vec, w: Vec, b: number, out: Float64Array, s: ProjectionScratch): void {
  const D = t.length;
  if (w.length !== D || out.length !== D || s.D !== D) {
    throw new Error(`projectL2: t, w, out and scratch must have one length, got ${D}, ${w.length}, ${out.length}, ${s.D}`);
  }
  let c = -b;
  for (let j = 0; j < D; j++) c += w[j] * t[j];
  const sg = c >= 0 ? 1 : -1;
  c *= sg;
  let n = 0;
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    if (Math.abs(wj) < W_TINY) {
      s.key[j] = Infinity; // never moves
      continue;
    }
    s.key[j] = wj > 0 ? t[j] / wj : (t[j] - 1) / wj;
    s.lin[j] = wj * wj;
    s.idx[n++] = j;
  }
  const lambda = solveBreakpoints(s, n, c);
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    const r = s.key[j];
    if (r === Infinity) {
      out[j] = 0;
      continue;
    }
    const sat = wj > 0 ? -t[j] : 1 - t[j];
    out[j] = lambda < 0 || lambda >= r ? sat : -lambda * wj;
  }
}
