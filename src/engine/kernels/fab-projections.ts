// FAB's projection step: the smallest perturbation d (in L∞ or L2) that moves a point t onto the hyperplane
// {z : w·z = b} while staying inside the box [0, 1]ᴰ. Croce & Hein, "Minimally distorted adversarial examples with a
// fast adaptive boundary attack", ICML 2020 (arXiv 1907.02044), §2.2 and Appendix: the box-constrained projection
// reduces to one piecewise-linear monotone equation in a scalar λ, whose breakpoints are where coordinates hit the box.
// The reference sorts the breakpoints; here a quickselect-style search finds λ's segment in expected O(D) (the same
// λ up to rounding, without a sort: the projection runs twice per example per FAB iteration).
// Shapes: one point at a time, t and w of length D (float32 or float64); d is written into `out` (float64).
// When the hyperplane cannot be reached inside the box, d moves every coordinate with w ≠ 0 as far as the box allows
// in the direction that brings w·z closest to b (as the reference implementation does).
// fabStep, FAB's whole iterate update over a batch of rows (two projections each), is the kernel contract's reference
// (./types.ts: Kernels.fabStep); wasm/fab-step.wat repeats it, the rows split among the threads.

/** Buffers reused across calls of the same dimension D. */
export class ProjectionScratch {
  readonly key: Float64Array;
  readonly lin: Float64Array;
  readonly idx: Int32Array;
  readonly idx2: Int32Array;
  constructor(readonly D: number) {
    this.key = new Float64Array(D);
    this.lin = new Float64Array(D);
    this.idx = new Int32Array(D);
    this.idx2 = new Int32Array(D);
  }
}

type Vec = ArrayLike<number>;

/**
 * Solve F(λ) = c for F(λ) = Σ_j min(λ, key_j)·lin_j (continuous, non-decreasing; lin ≥ 0) over the coordinates listed
 * in idx[0..n); returns λ ≥ 0, or −1 when F(∞) = Σ key_j·lin_j < c (unreachable). Each round takes a pivot
 * breakpoint p from the coordinates still undecided and, in one pass, evaluates F(p) and splits them into key < p
 * and key > p: F(p) ≥ c puts λ at or below p, so the coordinates with key ≥ p are linear in λ (their lin joins the
 * slope) and those below stay; else λ is above p, those with key ≤ p are saturated at key·lin and those above stay.
 * p's own coordinates are decided either way, so the list shrinks every round (by about half on average: expected
 * O(n) in all). The pass has no branch per coordinate (comparisons become 0/1 factors; each coordinate is written to
 * both ends of the other list and only its side's end advances): on real gradients the breakpoints are close to
 * random, and a branch per coordinate mispredicts half the time.
 */
function solveBreakpoints(s: ProjectionScratch, n: number, c: number, total = listedTotal(s, n)): number {
  const { key, lin, D } = s;
  let src = s.idx, dst = s.idx2;
  if (total < c) return -1;
  let sat = 0, slope = 0, off = 0, m = n;
  while (m > 0) {
    const p = key[src[off + (m >>> 1)]];
    let lo = 0, hi = D - 1, belowKL = 0, eqKL = 0, restL = 0;
    for (let k = off; k < off + m; k++) {
      const j = src[k], kj = key[j], lj = lin[j];
      const below = +(kj < p), above = +(kj > p);
      dst[lo] = j;
      dst[hi] = j;
      lo += below;
      hi -= above;
      belowKL += kj * lj * below;
      eqKL += kj * lj * (1 - below - above);
      restL += lj * (1 - below);
    }
    if (sat + slope * p + belowKL + p * restL >= c) {
      slope += restL; // λ ≤ p: key ≥ p linear; key < p (dst[0..lo)) undecided
      off = 0;
      m = lo;
    } else {
      sat += belowKL + eqKL; // λ > p: key ≤ p saturated; key > p (dst(hi..D)) undecided
      off = hi + 1;
      m = D - 1 - hi;
    }
    const swap = src;
    src = dst;
    dst = swap;
  }
  return slope > 0 ? Math.max((c - sat) / slope, 0) : 0;
}

/** F(∞) = Σ key_j·lin_j over the listed coordinates. */
function listedTotal(s: ProjectionScratch, n: number): number {
  let total = 0;
  for (let k = 0; k < n; k++) total += s.key[s.idx[k]] * s.lin[s.idx[k]];
  return total;
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
  const { key, lin, idx } = s;
  let n = 0, total = 0;
  for (let j = 0; j < D; j++) {
    // without branches (the signs of a gradient are close to random): p_j = 1 − t_j where w_j < 0, else t_j (each
    // term is exact: one of them is multiplied by 0), the room to move coordinate j in its descending direction;
    // w_j = 0 coordinates are written to idx but not counted
    const wj = sg * w[j], tj = t[j], neg = +(wj < 0);
    key[j] = neg * (1 - tj) + (1 - neg) * tj;
    lin[j] = Math.abs(wj);
    idx[n] = j;
    n += +(wj !== 0);
    total += key[j] * lin[j]; // F(∞), in the listed coordinates' order (an unlisted one adds key·0 = 0)
  }
  const lambda = solveBreakpoints(s, n, c, total);
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j], p = key[j];
    const m = lambda < 0 ? p : Math.min(lambda, p); // λ < 0: unreachable, move as far as the box allows
    out[j] = (+(wj < 0) - +(wj > 0)) * m + 0; // −m, m, or 0 where w_j = 0 (+ 0 turns −0 into 0)
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

/**
 * FAB's iterate update for R = f.length rows of D values, in place (Croce & Hein 2020, Algorithm 1, the step after
 * the gradient): for row i, with x⁽ⁱ⁾ = x1's row, x = x0's row, w = w's row (the gradient of the linearised boundary
 * function, float64) and f = f[i] its value at x⁽ⁱ⁾, the hyperplane w·z = b with b = w·x⁽ⁱ⁾ − f, then
 *   d₁ = π(x⁽ⁱ⁾) − x⁽ⁱ⁾,  d₂ = π(x) − x  (π: the box-constrained projection of the norm, projectLinf / projectL2)
 *   α = min(max(‖d₁‖ / (‖d₁‖ + ‖d₂‖), 0), α_max)  (each norm at least 1e-8)
 *   x⁽ⁱ⁺¹⁾ = clip[0,1]((1 − α)(x⁽ⁱ⁾ + η·d₁) + α(x + η·d₂)), rounded to float32 into x1.
 * The operations and their order are the contract (./types.ts): wasm/fab-step.wat repeats them.
 * @example
 *   fabStep(x1, x0, w, f, 784, 'linf', 1.05, 0.1);   // every row of x1 moves toward its boundary
 */
export function fabStep(x1: Float32Array, x0: Float32Array, w: Float64Array, f: Float64Array, D: number, norm: 'linf' | 'l2', eta: number, alphaMax: number): void {
  const project = norm === 'linf' ? projectLinf : projectL2;
  const scratch = new ProjectionScratch(D);
  const d1 = new Float64Array(D), d2 = new Float64Array(D);
  for (let i = 0; i < f.length; i++) {
    const xi = x1.subarray(i * D, (i + 1) * D), o = x0.subarray(i * D, (i + 1) * D), wi = w.subarray(i * D, (i + 1) * D);
    // The hyperplane w·z = b with b = w·x⁽ⁱ⁾ − f: the linearisation of f at x⁽ⁱ⁾.
    let b = -f[i];
    for (let j = 0; j < D; j++) b += wi[j] * xi[j];
    project(xi, wi, b, d1, scratch);
    project(o, wi, b, d2, scratch);
    const a1 = Math.max(size(d1, norm), 1e-8), a2 = Math.max(size(d2, norm), 1e-8);
    const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), alphaMax);
    for (let j = 0; j < D; j++) {
      const v = (xi[j] + eta * d1[j]) * (1 - alpha) + (o[j] + eta * d2[j]) * alpha;
      xi[j] = Math.min(1, Math.max(0, v));
    }
  }
}

/** ‖d‖∞ (NaN propagates) or ‖d‖₂, summed in order. */
function size(d: Float64Array, norm: 'linf' | 'l2'): number {
  let m = 0;
  if (norm === 'linf') for (let j = 0; j < d.length; j++) m = Math.max(m, Math.abs(d[j]));
  else {
    for (let j = 0; j < d.length; j++) m += d[j] * d[j];
    m = Math.sqrt(m);
  }
  return m;
}
