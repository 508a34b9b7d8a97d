// Losses for attacks, on the logits z [N, C] of one batch, each a small object computed per example in float64:
// cross-entropy, the Carlini–Wagner margin (Carlini & Wagner 2017, arXiv 1608.04644, §V, f₆ with κ = 0) and the
// difference-of-logits ratio DLR (Croce & Hein 2020, arXiv 2003.01690, eq. 5; targeted: eq. 6), each untargeted and
// targeted. Every loss is one the attack MAXIMISES: larger means closer to (or further past) success.
// lossGradient: one forward and one backward through the model with the per-example dLogits as the upstream gradient.
import { grad } from '../engine/tape.js';
import { recycling } from '../engine/recycle.js';
import { Tensor, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { inEvalMode } from '../layers/predict.js';

export type AttackLossName = 'ce' | 'ce-targeted' | 'cw' | 'cw-targeted' | 'dlr' | 'dlr-targeted';

/**
 * One attack loss on one example's logits row z (length C), its label y and (targeted losses) its target t.
 * `dLogits` writes ∂value/∂z into `dz` (length C, overwritten) and returns the value.
 */
export interface AttackLoss {
  name: AttackLossName;
  targeted: boolean;
  /** Least number of classes the loss is defined for (DLR needs π₃, targeted DLR π₄). */
  minClasses: number;
  value(z: ArrayLike<number>, y: number, t: number): number;
  dLogits(z: ArrayLike<number>, y: number, t: number, dz: Float64Array): number;
}

/** The DLR denominators' guard, as in the reference implementation (fra31/auto-attack). */
const TINY = 1e-12;

/** Indices of the largest, 3rd and 4th largest logits (π₁, π₃, π₄ of eq. 5/6); ties keep the lower index first. */
function ranks(z: ArrayLike<number>): [number, number, number] {
  const C = z.length;
  const idx = Array.from({ length: C }, (_, i) => i).sort((a, b) => z[b] - z[a] || a - b);
  return [idx[0], idx[2], idx[Math.min(3, C - 1)]];
}

/** argmax over i ≠ skip. */
function maxOther(z: ArrayLike<number>, skip: number): number {
  let best = -1;
  for (let i = 0; i < z.length; i++) if (i !== skip && (best < 0 || z[i] > z[best])) best = i;
  return best;
}

/** log Σ exp z and softmax into p (float64, max-shifted). */
function logSumExp(z: ArrayLike<number>, p: Float64Array | null): number {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) m = Math.max(m, z[i]);
  let s = 0;
  for (let i = 0; i < z.length; i++) s += Math.exp(z[i] - m);
  if (p) for (let i = 0; i < z.length; i++) p[i] = Math.exp(z[i] - m) / s;
  return m + Math.log(s);
}

// CE(z, y) = log Σ exp z − z_y        dz = softmax(z) − onehot(y)
const ce: AttackLoss = {
  name: 'ce', targeted: false, minClasses: 2,
  value: (z, y) => logSumExp(z, null) - z[y],
  dLogits(z, y, _t, dz) {
    const v = logSumExp(z, dz) - z[y];
    dz[y] -= 1;
    return v;
  },
};

// −CE(z, t) = z_t − log Σ exp z        dz = onehot(t) − softmax(z)
const ceTargeted: AttackLoss = {
  name: 'ce-targeted', targeted: true, minClasses: 2,
  value: (z, _y, t) => z[t] - logSumExp(z, null),
  dLogits(z, _y, t, dz) {
    const v = z[t] - logSumExp(z, dz);
    for (let i = 0; i < dz.length; i++) dz[i] = -dz[i];
    dz[t] += 1;
    return v;
  },
};

// CW(z, y) = max_{i≠y} z_i − z_y        dz = onehot(i*) − onehot(y)
const cw: AttackLoss = {
  name: 'cw', targeted: false, minClasses: 2,
  value: (z, y) => z[maxOther(z, y)] - z[y],
  dLogits(z, y, _t, dz) {
    const j = maxOther(z, y);
    dz.fill(0);
    dz[j] = 1;
    dz[y] = -1;
    return z[j] - z[y];
  },
};

// CW-T(z, t) = z_t − max_{i≠t} z_i        dz = onehot(t) − onehot(i*)
const cwTargeted: AttackLoss = {
  name: 'cw-targeted', targeted: true, minClasses: 2,
  value: (z, _y, t) => z[t] - z[maxOther(z, t)],
  dLogits(z, _y, t, dz) {
    const j = maxOther(z, t);
    dz.fill(0);
    dz[t] = 1;
    dz[j] = -1;
    return z[t] - z[j];
  },
};

// DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)      (eq. 5; a = max_{i≠y} z_i − z_y, D = z_π1 − z_π3)
// dz = (onehot(i*) − onehot(y))/D − a/D² · (onehot(π1) − onehot(π3))
const dlr: AttackLoss = {
  name: 'dlr', targeted: false, minClasses: 3,
  value(z, y) {
    const [p1, p3] = ranks(z);
    return (z[maxOther(z, y)] - z[y]) / (z[p1] - z[p3] + TINY);
  },
  dLogits(z, y, _t, dz) {
    const [p1, p3] = ranks(z);
    const j = maxOther(z, y);
    const a = z[j] - z[y], D = z[p1] - z[p3] + TINY;
    dz.fill(0);
    dz[j] += 1 / D;
    dz[y] -= 1 / D;
    dz[p1] -= a / (D * D);
    dz[p3] += a / (D * D);
    return a / D;
  },
};

// DLR-T(z, y, t) = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)      (eq. 6; a = z_t − z_y, D the denominator)
// dz = (onehot(t) − onehot(y))/D − a/D² · (onehot(π1) − ½onehot(π3) − ½onehot(π4))
const dlrTargeted: AttackLoss = {
  name: 'dlr-targeted', targeted: true, minClasses: 4,
  value(z, y, t) {
    const [p1, p3, p4] = ranks(z);
    return (z[t] - z[y]) / (z[p1] - 0.5 * (z[p3] + z[p4]) + TINY);
  },
  dLogits(z, y, t, dz) {
    const [p1, p3, p4] = ranks(z);
    const a = z[t] - z[y], D = z[p1] - 0.5 * (z[p3] + z[p4]) + TINY;
    dz.fill(0);
    dz[t] += 1 / D;
    dz[y] -= 1 / D;
    const k = a / (D * D);
    dz[p1] -= k;
    dz[p3] += 0.5 * k;
    dz[p4] += 0.5 * k;
    return a / D;
  },
};

/**
 * Every attack loss by name (all maximised by the attack).
 * @example
 *   const v = attackLosses.dlr.value([2, 1, 0.5, 0], 0, -1);   // −(2 − 1)/(2 − 0.5) = −2/3
 *   for (const loss of Object.values(attackLosses)) console.log(loss.name, loss.targeted);
 */
export const attackLosses: Record<AttackLossName, AttackLoss> = {
  ce, 'ce-targeted': ceTargeted, cw, 'cw-targeted': cwTargeted, dlr, 'dlr-targeted': dlrTargeted,
};

export interface LossGradient {
  /** The loss of each example (float64). */
  values: Float64Array;
  /** The logits of the forward pass [N, C]. */
  logits: Tensor;
  /** ∇x of each example's own loss, shape of x. */
  dx: Tensor;
}

/**
 * Per-example loss values, logits and ∇x of a chosen attack loss, in one forward and one backward pass
 * (evaluation mode, the caller's mode restored). The upstream gradient of the logits is each example's dLogits.
 * Throws when the label/target counts do not match x, a target equals its label, or C < loss.minClasses.
 * @example
 *   const { dx, values } = lossGradient(model, x, y, attackLosses.dlr);
 *   const t = lossGradient(model, x, y, attackLosses['dlr-targeted'], targets);
 */
export function lossGradient(model: Sequential, x: Tensor, y: ArrayLike<number>, loss: AttackLoss, targets?: ArrayLike<number>): LossGradient {
  const N = x.shape[0];
  if (y.length !== N) throw new Error(`lossGradient: y must have ${N} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (loss.targeted && (!targets || targets.length !== N)) {
    throw new Error(`lossGradient: the loss '${loss.name}' needs ${N} targets, got ${targets ? targets.length : 'none'}`);
  }
  // only the logits (without their graph) and ∇x outlive the call: the rest is recycled (engine/recycle.ts)
  return inEvalMode(model, () => recycling(() => {
    const xi = new Tensor(x.data, x.shape).requireGrad();
    const logits = model.forward(xi);
    const { values, dLogits } = lossValues(logits, y, loss, targets);
    const [dx] = grad(logits, [xi], { dOut: new Tensor(logits.dtype === 'float64' ? dLogits : Float32Array.from(dLogits), logits.shape) });
    return { values, logits: new Tensor(logits.data, logits.shape), dx };
  }, (r) => [r.logits, r.dx]));
}

/**
 * The loss of each row of logits [N, C] and its gradient ∂loss_n/∂z_n [N·C], in float64.
 * @example
 *   const { values } = lossValues(logits, y, attackLosses.cw);
 *   const broken = values.filter((v) => v > 0).length;   // CW margin > 0: misclassified
 */
export function lossValues(logits: Tensor, y: ArrayLike<number>, loss: AttackLoss, targets?: ArrayLike<number>): { values: Float64Array; dLogits: Float64Array } {
  if (logits.ndim !== 2) throw new Error(`lossValues: logits must be [N, C], got ${shapeStr(logits.shape)}`);
  const [N, C] = logits.shape;
  if (C < loss.minClasses) throw new Error(`lossValues: the loss '${loss.name}' needs at least ${loss.minClasses} classes, got ${C}`);
  const values = new Float64Array(N);
  const dLogits = new Float64Array(N * C);
  const z = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const t = targets ? targets[n] : -1;
    if (loss.targeted && (t === y[n] || !(t >= 0 && t < C))) {
      throw new Error(`lossValues: targets[${n}] must be a class in 0..${C - 1} other than the label ${y[n]}, got ${t}`);
    }
    for (let c = 0; c < C; c++) z[c] = logits.data[n * C + c];
    values[n] = loss.dLogits(z, y[n], t, dLogits.subarray(n * C, (n + 1) * C));
  }
  return { values, dLogits };
}
