// FAB's projection step: the smallest perturbation d (in L∞ or L2) that moves a point t onto the hyperplane
// {z : w·z = b} while staying inside the box [0, 1]ᴰ. Croce & Hein, "Minimally distorted adversarial examples with a
// fast adaptive boundary attack", ICML 2020 (arXiv 1907.02044), §2.2 and Appendix: the box-constrained projection is
// solved exactly by a sort of the coordinates' breakpoints and a walk over the piecewise-linear constraint.
// Shapes: one point at a time, t and w of length D (float32 or float64); d is written into `out` (float64).
// When the hyperplane cannot be reached inside the box, d moves every coordinate with w ≠ 0 as far as the box allows
// in the direction that brings w·z closest to b (as the reference implementation does).

/** Buffers reused across calls of the same dimension D (sorting scratch). */
export class ProjectionScratch {
  readonly key: Float64Array;
  readonly order: Uint32Array;
  constructor(readonly D: number) {
    this.key = new Float64Array(D);
    this.order = new Uint32Array(D);
  }
}

type Vec = ArrayLike<number>;

/** Sort order[0..D) ascending by key (stable ties by index, so runs are deterministic). */
function argsort(s: ProjectionScratch): Uint32Array {
  const { key, order, D } = s;
  for (let j = 0; j < D; j++) order[j] = j;
  order.sort((a, b) => key[a] - key[b] || a - b);
  return order;
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
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    s.key[j] = wj < 0 ? 1 - t[j] : t[j]; // p_j, the room to move coordinate j in its descending direction
  }
  const order = argsort(s);
  // Walk λ up through the sorted breakpoints p: coordinates below λ are saturated (contribute |w|·p), the rest |w|·λ.
  let sat = 0, wRest = 0;
  for (let j = 0; j < D; j++) wRest += Math.abs(w[j]);
  let lambda = -1;
  for (let k = 0; k < D; k++) {
    const j = order[k];
    const aw = Math.abs(w[j]);
    if (aw === 0) continue;
    const l = (c - sat) / wRest;
    if (l <= s.key[j]) {
      lambda = Math.max(l, 0);
      break;
    }
    sat += aw * s.key[j];
    wRest -= aw;
  }
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
 * KKT: with c = w·t − b ≥ 0 (flip w otherwise), d_j = clip(−λ·w_j, −t_j, 1 − t_j) and λ ≥ 0 solves w·d = −c; each
 * coordinate saturates at λ = r_j = max(t_j / w_j, (t_j − 1) / w_j), so λ is found by walking the sorted r_j.
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
  let w2Rest = 0;
  for (let j = 0; j < D; j++) {
    const wj = sg * w[j];
    if (Math.abs(wj) < W_TINY) {
      s.key[j] = Infinity; // never moves
      continue;
    }
    s.key[j] = wj > 0 ? t[j] / wj : (t[j] - 1) / wj;
    w2Rest += wj * wj;
  }
  const order = argsort(s);
  // Σ_j w_j·d_j(λ) = −(sat + λ·Σ_{unsaturated} w_j²), sat = Σ_{saturated} |w_j|·(room to move); it must equal −c.
  let sat = 0;
  let lambda = -1;
  for (let k = 0; k < D; k++) {
    const j = order[k];
    const r = s.key[j];
    if (r === Infinity) break;
    const l = (c - sat) / w2Rest;
    if (l <= r) {
      lambda = Math.max(l, 0);
      break;
    }
    const wj = sg * w[j];
    sat += Math.abs(wj) * (wj > 0 ? t[j] : 1 - t[j]);
    w2Rest -= wj * wj;
  }
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
