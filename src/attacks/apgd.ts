// APGD, Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
// parameter-free attacks", ICML 2020, arXiv 2003.01690, Algorithm 1), L∞ and L2, on a selectable attack loss
// (losses.ts). Step η = 2ε, momentum α = 0.75:  z = Π(x' + η·sign(∇)) (L2: η·∇/‖∇‖),  x' ← Π(x' + α(z − x') + (1−α)(x' − x'_prev));
// at the checkpoints w_j = ⌈p_j·N_iter⌉ (p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)) the step is halved
// and x' restarts from the best point when either condition of §3.2 holds. APGD-T: targeted DLR toward the 2nd…(k+1)th
// most likely clean classes in turn. Defaults and bookkeeping follow the reference code (fra31/auto-attack, autopgd_base.py).
import { Rng } from '../engine/random.js';
import { kernels } from '../engine/kernels/kernels.js';
import { consecutiveRuns } from '../engine/kernels/split-range.js';
import { recycling } from '../engine/recycle.js';
import { noGrad } from '../engine/tape.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import type { Data } from '../engine/nd.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, inEvalMode } from '../layers/predict.js';
import type { AttackOptions, AttackResult, WhiteBoxAttack } from './attack.js';
import { linfBounds, projectL2 as projectL2Stored } from './ball.js';
import { attackLosses, lossGradient, type AttackLoss, type AttackLossName } from './losses.js';
import { settings } from './settings.js';

export interface ApgdOptions extends AttackOptions {
  /** Overrides the attack's norm (default 'linf'). */
  norm?: 'linf' | 'l2';
  /** Iterations N_iter per run (default 100). */
  steps?: number;
  /** Random restarts; each later one only on the examples still unbroken (default 1). */
  restarts?: number;
  /** The loss maximised: apgd-ce 'ce', apgd-dlr 'dlr', apgd-t 'dlr-targeted'; with `targets`, the targeted form is used. */
  loss?: AttackLossName;
  /** ρ of the oscillation condition (default 0.75). */
  rho?: number;
  /** APGD-T: how many of the most likely other classes are targeted in turn (default 9, capped at C − 1). */
  nTargetClasses?: number;
  /** Expectation over transformation: gradients averaged over this many passes (default 1; AutoAttack 'rand': 20). */
  eot?: number;
  /** Called after each iteration with the fraction of this call's work done (for progress bars). */
  onProgress?: (fraction: number) => void;
  /** Called at each checkpoint w_j with the iteration count and each example's step size η after the check
   *  (NaN for examples not being attacked); for tests and traces. */
  onCheckpoint?: (iteration: number, stepSize: Float64Array) => void;
}

export interface ApgdResult extends AttackResult {
  /** Examples whose gradient at the first iterate of a run was exactly zero (a sign of gradient masking). */
  zeroGradients: number;
}

/**
 * The iterations after which APGD checks its two conditions, w₁…: ⌈p_j·N_iter⌉ computed as the reference does
 * (first after max(⌊0.22·N⌋, 1) iterations, then intervals shrinking by max(⌊0.03·N⌋, 1) down to max(⌊0.06·N⌋, 1)).
 * @example
 *   apgdCheckpoints(100);   // [22, 41, 57, 70, 80, 87, 93, 99]
 *   apgdCheckpoints(10);    // [2, 3, 4, …, 10]
 */
export function apgdCheckpoints(steps: number): number[] {
  const { first, min, decr } = schedule(steps);
  const out: number[] = [];
  for (let k = first, w = first; w <= steps; k = Math.max(k - decr, min), w += k) out.push(w);
  return out;
}

function schedule(steps: number) {
  return { first: Math.max(Math.floor(0.22 * steps), 1), min: Math.max(Math.floor(0.06 * steps), 1), decr: Math.max(Math.floor(0.03 * steps), 1) };
}

/** What counts as success: misclassification (untargeted, and APGD-T) or reaching a caller's target. */
type Aim = 'flip' | 'target';

interface RunOut {
  success: Uint8Array;
  adversarial: Data;
  loss: Float64Array;
  iterations: Int32Array;
  zero: number;
}

/** One APGD run (Algorithm 1) on the examples `rows` of x; returns per-row results (index b ↔ rows[b]). */
function apgdRun(
  model: Sequential, x: Tensor, y: Int32Array, rows: number[], targets: Int32Array | null, loss: AttackLoss, aim: Aim,
  o: {
    eps: number; norm: 'linf' | 'l2'; steps: number; rho: number; eot: number; earlyStop: boolean; rng: (n: number) => Rng;
    bounds: { lo: Data; hi: Data } | null; progress: (f: number) => void; checkpoint?: (iteration: number, step: Float64Array) => void;
  },
): RunOut {
  const { eps, norm, steps, rho, eot, earlyStop } = o;
  const B = rows.length, N = x.shape[0], D = x.size / N;
  const xd = x.data;
  const mk = (n: number) => alloc(x.dtype, n);
  const xAdv = mk(B * D), xOld = mk(B * D), xBest = mk(B * D), xBestAdv = mk(B * D);
  const g = mk(B * D), gBest = mk(B * D);
  const lossSteps = new Float64Array(steps * B); // zero-initialised, as the reference (its index −1 wraps to the last row)
  const lossBest = new Float64Array(B), lossBestLast = new Float64Array(B);
  const reducedLast = new Uint8Array(B).fill(1);
  const step = new Float64Array(B).fill(2 * eps);
  const success = new Uint8Array(B), iterations = new Int32Array(B);
  const z = new Float64Array(D), w = new Float64Array(D);
  const yB = Int32Array.from(rows, (n) => y[n]);
  const tB = targets ? Int32Array.from(rows, (n) => targets[n]) : undefined;

  // Start: L∞ x + ε·t/‖t‖∞ with t uniform in [−1, 1]ᴰ; L2 x + ε·t/‖t‖₂ with t standard normal; then into [0, 1].
  rows.forEach((n, b) => {
    const rng = o.rng(n);
    for (let j = 0; j < D; j++) z[j] = norm === 'linf' ? 2 * rng.next() - 1 : rng.normal();
    let m = 0;
    for (let j = 0; j < D; j++) m = norm === 'linf' ? Math.max(m, Math.abs(z[j])) : m + z[j] * z[j];
    m = norm === 'linf' ? m : Math.sqrt(m);
    for (let j = 0; j < D; j++) w[j] = xd[n * D + j] + (eps * z[j]) / (m + 1e-12);
    project(b, n, w);
  });

  // The first gradient, at the start point.
  let active = rows.map((_, b) => b);
  const first = evaluate(active, true);
  const zero = first.zero;
  active.forEach((b, i) => {
    lossBest[b] = first.values[i];
    lossBestLast[b] = first.values[i];
  });
  xBest.set(xAdv);
  xBestAdv.set(xAdv);
  gBest.set(g);
  xOld.set(xAdv);
  markSuccess(active, first.pred);
  if (earlyStop) active = active.filter((b) => !success[b]);

  let k = schedule(steps).first, counter = 0;
  const { min: kMin, decr } = schedule(steps);
  for (let i = 0; i < steps && active.length; i++) {
    const a = i > 0 ? 0.75 : 1;
    if (norm === 'linf') {
      // z = Π(x' + η·sign(∇)),  x' ← Π(x' + α(z − x') + (1 − α)(x' − x'_prev)); all active rows in one kernel call, in
      // place (the hot loop: the compare-and-selects mispredict as branches, the kernels' version has none)
      const act = Int32Array.from(active);
      kernels().apgdLinfStep(xAdv, xOld, g, o.bounds!.lo, o.bounds!.hi, D, act, act.map((b) => rows[b]), Float64Array.from(active, (b) => step[b]), a);
      for (const b of active) iterations[b]++;
    } else {
      for (const b of active) {
        const n = rows[b], off = b * D;
        const xa = xAdv.subarray(off, off + D), xo = xOld.subarray(off, off + D), gb = g.subarray(off, off + D);
        // z = Π(x' + η·∇/‖∇‖₂), then the same momentum step and projection onto the L2 ball ∩ [0, 1]
        let gn = 0;
        for (let j = 0; j < D; j++) gn += gb[j] * gb[j];
        gn = Math.sqrt(gn) + 1e-12;
        for (let j = 0; j < D; j++) z[j] = xa[j] + (step[b] * gb[j]) / gn;
        projectL2(z, n);
        for (let j = 0; j < D; j++) w[j] = xa[j] + (z[j] - xa[j]) * a + (xa[j] - xo[j]) * (1 - a);
        projectL2(w, n);
        xo.set(xa);
        project(b, n, w);
        iterations[b]++;
      }
    }
    const r = evaluate(active);
    markSuccess(active, r.pred);
    active.forEach((b, idx) => {
      const v = r.values[idx];
      lossSteps[i * B + b] = v;
      if (v > lossBest[b]) {
        xBest.set(xAdv.subarray(b * D, (b + 1) * D), b * D);
        gBest.set(g.subarray(b * D, (b + 1) * D), b * D);
        lossBest[b] = v;
      }
    });
    if (++counter === k) {
      for (const b of active) {
        // §3.2: (1) the loss rose in at most ρ·k of the last k steps; (2) no step-size cut at the last checkpoint
        // and the best loss did not improve since then. Either: halve η and go back to the best point.
        let ups = 0;
        for (let c = 0; c < k; c++) {
          const prev = i - c - 1 < 0 ? steps - 1 : i - c - 1;
          if (lossSteps[(i - c) * B + b] > lossSteps[prev * B + b]) ups++;
        }
        const cut = ups <= k * rho || (!reducedLast[b] && lossBestLast[b] >= lossBest[b]);
        reducedLast[b] = cut ? 1 : 0;
        lossBestLast[b] = lossBest[b];
        if (cut) {
          step[b] /= 2;
          xAdv.set(xBest.subarray(b * D, (b + 1) * D), b * D);
          g.set(gBest.subarray(b * D, (b + 1) * D), b * D);
        }
      }
      k = Math.max(k - decr, kMin);
      counter = 0;
      if (o.checkpoint) {
        const out = new Float64Array(N).fill(NaN);
        for (const b of active) out[rows[b]] = step[b];
        o.checkpoint(i + 1, out);
      }
    }
    if (earlyStop) active = active.filter((b) => !success[b]);
    o.progress((i + 1) / steps);
  }

  const adversarial = mk(B * D);
  for (let b = 0; b < B; b++) adversarial.set((success[b] ? xBestAdv : xBest).subarray(b * D, (b + 1) * D), b * D);
  return { success, adversarial, loss: lossBest, iterations, zero };

  function clampInf(v: number, j: number): number {
    return Math.min(o.bounds!.hi[j], Math.max(o.bounds!.lo[j], v));
  }
  // Π onto the L2 ball around x then [0, 1]: x + (v − x)/‖v − x‖·min(ε, ‖v − x‖), clipped.
  function projectL2(v: Float64Array, n: number): void {
    let s = 0;
    for (let j = 0; j < D; j++) s += (v[j] - xd[n * D + j]) ** 2;
    const dn = Math.sqrt(s), f = Math.min(eps, dn) / (dn + 1e-12);
    for (let j = 0; j < D; j++) v[j] = Math.min(1, Math.max(0, xd[n * D + j] + (v[j] - xd[n * D + j]) * f));
  }
  // Store row b: clamp into the L∞ bounds, or project onto the L2 ball and enforce it after rounding.
  function project(b: number, n: number, v: Float64Array): void {
    const xa = xAdv.subarray(b * D, (b + 1) * D);
    if (norm === 'linf') for (let j = 0; j < D; j++) xa[j] = clampInf(v[j], n * D + j);
    else {
      projectL2(v, n);
      xa.set(v);
      projectL2Stored(xa, xd.subarray(n * D, (n + 1) * D), eps); // exact after the float32 rounding
    }
  }
  function markSuccess(act: number[], pred: Int32Array): void {
    act.forEach((b, i) => {
      const ok = aim === 'target' ? pred[i] === tB![b] : pred[i] !== yB[b];
      // The reference keeps the last misclassified iterate; with early stop that is the first.
      if (ok) {
        success[b] = 1;
        xBestAdv.set(xAdv.subarray(b * D, (b + 1) * D), b * D);
      }
    });
  }
  // ∇x of the loss at the active rows (averaged over `eot` passes), scattered into g; one forward + backward each.
  // With `countZero`, also how many of the rows have a gradient that is exactly zero. The batch, ∇x and the logits do
  // not outlive the call (g holds the gradient, pred the labels): they go back to the recycling pool, so the next
  // iteration's arrays come from it instead of fresh pages. Rows that are consecutive in xAdv (all of them until one
  // succeeds) are passed as a view of it, without a copy.
  function evaluate(act: number[], countZero = false): { values: Float64Array; pred: Int32Array; zero: number } {
    return recycling(() => {
      const runs = consecutiveRuns([act], 0, act.length); // one copy per run of consecutive rows
      const shape = [act.length, ...x.shape.slice(1)];
      let xb: Tensor;
      if (runs.length === 1) xb = new Tensor(xAdv.subarray(act[0] * D, (act[0] + act.length) * D), shape);
      else {
        xb = Tensor.empty(shape, x.dtype); // every row is written just below
        for (const [i, m] of runs) xb.data.set(xAdv.subarray(act[i] * D, (act[i] + m) * D), i * D);
      }
      const yy = Int32Array.from(act, (b) => yB[b]);
      const tt = tB ? Int32Array.from(act, (b) => tB[b]) : undefined;
      let res = lossGradient(model, xb, yy, loss, tt);
      let dx: Data = res.dx.data;
      if (eot > 1) {
        const acc = new Float64Array(dx);
        for (let e = 1; e < eot; e++) {
          res = lossGradient(model, xb, yy, loss, tt);
          for (let j = 0; j < acc.length; j++) acc[j] += res.dx.data[j];
        }
        dx = mk(acc.length);
        for (let j = 0; j < acc.length; j++) dx[j] = acc[j] / eot;
      }
      for (const [i, m] of runs) g.set(dx.subarray(i * D, (i + m) * D), act[i] * D);
      let zero = 0;
      if (countZero) {
        for (let i = 0; i < act.length; i++) {
          let any = false;
          for (let j = 0; j < D; j++) if (dx[i * D + j] !== 0) { any = true; break; }
          if (!any) zero++;
        }
      }
      return { values: res.values, pred: argmax(res.logits), zero };
    }, () => []);
  }
}

function makeApgd(name: string, defaultLoss: AttackLossName, targetedRounds: boolean): WhiteBoxAttack<ApgdOptions> {
  return {
    name,
    kind: 'white-box',
    norm: 'linf',
    settings: [{ ...settings.steps, default: '100' }, { ...settings.restarts, default: '1' }, settings.earlyStop],
    norms: ['linf', 'l2'],
    run: (model, x, y, opts) => runApgd(name, model, x, y, opts, defaultLoss, targetedRounds),
  };
}

function runApgd(name: string, model: Sequential, x: Tensor, y: Int32Array, opts: ApgdOptions, defaultLoss: AttackLossName, rounds: boolean): ApgdResult {
  const c = checkOptions(name, x, y, opts);
  const N = x.shape[0], D = N ? x.size / N : 0;
  const cleanLogits = inEvalMode(model, () => noGrad(() => model.forward(x)));
  const C = cleanLogits.shape[1];
  const clean = argmax(cleanLogits);
  const targets = opts.targets;
  const aim: Aim = targets ? 'target' : 'flip';
  // A caller's targets turn the loss into its targeted form; APGD-T makes its own targets per round.
  const lossName = opts.loss ?? defaultLoss;
  const base = lossName.replace('-targeted', '');
  const loss = attackLosses[(targets || rounds ? `${base}-targeted` : base) as AttackLossName];
  if (!loss) throw new Error(`${name}.run: loss '${lossName}' has no targeted form`);
  if (C < loss.minClasses) throw new Error(`${name}.run: the loss '${loss.name}' needs at least ${loss.minClasses} classes, got ${C}`);

  const adversarial = x.detach();
  const success = new Uint8Array(N), iterations = new Int32Array(N);
  const bestLoss = new Float64Array(N).fill(-Infinity);
  // Examples that already succeed at x are done (AutoAttack attacks only the initially correct points).
  const initial = new Uint8Array(N);
  for (let n = 0; n < N; n++) if (aim === 'target' ? clean[n] === targets![n] : clean[n] !== y[n]) initial[n] = success[n] = 1;
  const bounds = c.norm === 'linf' && c.eps > 0 ? linfBounds(x.data, c.eps) : null;
  const nT = Math.min(c.nTargetClasses, C - 1);
  const roundsList: (Int32Array | null)[] = rounds && !targets ? Array.from({ length: nT }, (_, r) => kthLargest(cleanLogits, r + 1)) : [targets ?? null];
  const totalRuns = roundsList.length * c.restarts;
  let zero = 0, run = 0;
  for (const roundTargets of roundsList) {
    for (let r = 0; r < c.restarts; r++, run++) {
      const rows: number[] = [];
      for (let n = 0; n < N; n++) if (!initial[n] && !(c.earlyStop && success[n])) rows.push(n);
      if (!rows.length || c.eps === 0) break;
      const runId = run;
      const out = apgdRun(model, x, y, rows, roundTargets, loss, aim, {
        eps: c.eps, norm: c.norm, steps: c.steps, rho: c.rho, eot: c.eot, earlyStop: c.earlyStop, bounds,
        rng: (n) => Rng.derive(c.seed, runId, n), progress: (f) => opts.onProgress?.((runId + f) / totalRuns), checkpoint: opts.onCheckpoint,
      });
      zero += out.zero;
      rows.forEach((n, b) => {
        iterations[n] += out.iterations[b];
        // A success beats a failure; among failures (or, without early stop, among equals) the higher loss wins.
        const tie = out.success[b] === success[n] && out.loss[b] > bestLoss[n] && (!c.earlyStop || !success[n]);
        if (out.success[b] > success[n] || tie) {
          adversarial.data.set(out.adversarial.subarray(b * D, (b + 1) * D), n * D);
          success[n] = out.success[b];
          bestLoss[n] = out.loss[b];
        }
      });
    }
  }
  opts.onProgress?.(1);
  const result: ApgdResult = { adversarial, success, iterations, earlyStopped: c.earlyStop, cleanLogits, zeroGradients: zero };
  if (targets) result.targets = targets;
  return result;
}

/** The class with the (k+1)-th largest logit of each row (k = 1: the runner-up). */
function kthLargest(logits: Tensor, k: number): Int32Array {
  const [N, C] = logits.shape;
  const out = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const row = logits.data.subarray(n * C, (n + 1) * C);
    const idx = Array.from({ length: C }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
    out[n] = idx[k];
  }
  return out;
}

function checkOptions(name: string, x: Tensor, y: Int32Array, o: ApgdOptions) {
  const f = `${name}.run`;
  if (x.ndim < 2) throw new Error(`${f}: x must be [N, ...] with N images, got ${shapeStr(x.shape)}`);
  const N = x.shape[0];
  if (y.length !== N) throw new Error(`${f}: y must have ${N} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (!(o.eps >= 0) || !Number.isFinite(o.eps)) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${o.eps}`);
  const norm = o.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`${f}: norm must be 'linf' or 'l2', got '${String(norm)}'`);
  const int = (k: string, v: number, lo: number) => {
    if (!Number.isInteger(v) || v < lo) throw new Error(`${f}: ${k} must be an integer ≥ ${lo}, got ${v}`);
    return v;
  };
  const steps = int('steps', o.steps ?? 100, 1), restarts = int('restarts', o.restarts ?? 1, 1);
  const nTargetClasses = int('nTargetClasses', o.nTargetClasses ?? 9, 1), eot = int('eot', o.eot ?? 1, 1);
  const rho = o.rho ?? 0.75;
  if (!(rho > 0 && rho <= 1)) throw new Error(`${f}: rho must be in (0, 1], got ${rho}`);
  if (o.loss !== undefined && !(o.loss in attackLosses)) throw new Error(`${f}: loss must be one of ${Object.keys(attackLosses).join(', ')}, got '${o.loss}'`);
  const seed = o.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`${f}: seed must be a finite number, got ${seed}`);
  if (o.targets) {
    if (o.targets.length !== N) throw new Error(`${f}: targets must have ${N} entries for x of shape ${shapeStr(x.shape)}, got ${o.targets.length}`);
    for (let n = 0; n < N; n++) if (o.targets[n] === y[n]) throw new Error(`${f}: targets[${n}] must differ from the true label, got ${y[n]} for both`);
  }
  assertFinite(x, f);
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i];
    if (v < 0 || v > 1) throw new Error(`${f}: x must lie in [0, 1], got ${v} at flat index ${i}`);
  }
  return { eps: o.eps, norm, steps, restarts, nTargetClasses, eot, rho, seed, earlyStop: o.earlyStop ?? true };
}

/**
 * APGD on the cross-entropy (AutoAttack's first stage), L∞ by default (`norm: 'l2'` for L2); 100 iterations, 1 restart.
 * @example
 *   const r = apgdCe.run(model, x, y, { eps: 0.3, seed: 0 });
 *   const robust = r.success.filter((s) => !s).length;
 */
export const apgdCe: WhiteBoxAttack<ApgdOptions> = makeApgd('apgd-ce', 'ce', false);

/**
 * APGD on the DLR loss (eq. 5; AutoAttack 'plus' and 'rand').
 * @example
 *   const r = apgdDlr.run(model, x, y, { eps: 0.3, restarts: 5 });
 *   const l2 = apgdDlr.run(model, x, y, { eps: 2, norm: 'l2' });
 */
export const apgdDlr: WhiteBoxAttack<ApgdOptions> = makeApgd('apgd-dlr', 'dlr', false);

/**
 * APGD-T: targeted DLR (eq. 6) toward each of the nTargetClasses (9) most likely other classes in turn, 100
 * iterations each, on the examples not yet broken; success is misclassification.
 * @example
 *   const r = apgdT.run(model, x, y, { eps: 0.3 });
 *   const cheap = apgdT.run(model, x, y, { eps: 0.3, nTargetClasses: 3 });
 */
export const apgdT: WhiteBoxAttack<ApgdOptions> = makeApgd('apgd-t', 'dlr-targeted', true);
