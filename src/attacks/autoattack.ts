// AutoAttack (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free
// attacks", ICML 2020, arXiv 2003.01690, §5): a fixed ensemble run in sequence, each attack only on the points every
// earlier one failed on. 'standard': APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5,000 queries);
// 'plus': APGD-CE and APGD-DLR with 5 restarts, FAB (5 restarts), Square, APGD-T, FAB-T; 'rand': APGD-CE and APGD-DLR
// with expectation over 20 gradient draws. Settings follow the reference (fra31/auto-attack, autoattack.py).
import { Tensor, alloc, shapeStr } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { argmax, predict } from '../layers/predict.js';
import { apgdCe, apgdDlr, apgdT, type ApgdResult } from './apgd.js';
import type { AttackOptions, AttackResult, WhiteBoxAttack } from './attack.js';
import { checkClasses, checkProbabilities, checkRandomized, checkSquare, checkZeroGradients, type AutoAttackCheck } from './autoattack-checks.js';
import { fab, fabT } from './fab.js';
import { ScoreOracle } from './oracle.js';
import { square } from './square.js';
import { squareL2 } from './square-l2.js';
import { settings } from './settings.js';

export type AutoAttackVersion = 'standard' | 'plus' | 'rand';
export type AutoAttackStageName = 'apgd-ce' | 'apgd-dlr' | 'apgd-t' | 'fab' | 'fab-t' | 'square';

export interface AutoAttackOptions extends AttackOptions {
  /** 'linf' (default) or 'l2'. */
  norm?: 'linf' | 'l2';
  /** Default 'standard'. */
  version?: AutoAttackVersion;
  /**
   * Run these stages, in this order, with the version's settings instead of the version's own list (the reference's
   * attacks_to_run), e.g. ['apgd-ce', 'apgd-t'] for the cheaper documented setting; the report's stages say what ran.
   */
  attacksToRun?: AutoAttackStageName[];
  /** Points per attack batch (default 250, the reference's). */
  batchSize?: number;
  /** Iterations of the APGD and FAB stages (default 100); fewer only for quick looks, never for reported numbers. */
  steps?: number;
  /** Square's query budget (default 5,000). */
  squareQueries?: number;
  /** A stage starts on `points` still-robust points. */
  onStage?: (stage: AutoAttackStageName, points: number) => void;
  /** Progress inside the current stage, in points (fractional while a batch runs). */
  onProgress?: (done: number) => void;
}

export interface AutoAttackStage {
  attack: AutoAttackStageName;
  /** Robust accuracy over all N points after this stage. */
  robustAccuracy: number;
  /** Points this stage attacked, and how many of them it broke. */
  attacked: number;
  broken: number;
  seconds: number;
}

export interface AutoAttackReport {
  version: AutoAttackVersion;
  norm: 'linf' | 'l2';
  eps: number;
  /** Iterations of each APGD and FAB run, and Square's query budget: 100 and 5,000 in the reference's versions. */
  steps: number;
  squareQueries: number;
  count: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  stages: AutoAttackStage[];
  /** Per point: 'clean' (misclassified at x), the stage that broke it, or null (robust). */
  brokenBy: (AutoAttackStageName | 'clean' | null)[];
  checks: AutoAttackCheck[];
  warnings: string[];
  /** Largest ‖x' − x‖ over the points (float64, in the attack's norm), and whether any output is NaN. */
  maxPerturbation: number;
}

export interface AutoAttackResult extends AttackResult {
  report: AutoAttackReport;
}

/** The reference's budget in every version: iterations per APGD and FAB run, and Square's queries. */
export const AUTOATTACK_BUDGET = { steps: 100, squareQueries: 5000 } as const;

/**
 * How a run's budget compares with the reference's: 'reduced' when it ran fewer iterations, or fewer Square queries
 * in a version that runs Square (a quick look, not comparable with published figures); 'above' when it ran more of
 * either and fewer of neither; else 'reference'.
 * @example
 *   autoAttackBudget({ version: 'standard', steps: 20, squareQueries: 5000 });   // 'reduced'
 *   autoAttackBudget({ version: 'rand', steps: 100, squareQueries: 10 });        // 'reference' (no Square in rand)
 */
export function autoAttackBudget(r: Pick<AutoAttackReport, 'version' | 'steps' | 'squareQueries'>): 'reference' | 'reduced' | 'above' {
  const square = autoAttackStages(r.version).includes('square');
  const q = square ? r.squareQueries : AUTOATTACK_BUDGET.squareQueries;
  if (r.steps < AUTOATTACK_BUDGET.steps || q < AUTOATTACK_BUDGET.squareQueries) return 'reduced';
  return r.steps > AUTOATTACK_BUDGET.steps || q > AUTOATTACK_BUDGET.squareQueries ? 'above' : 'reference';
}

/**
 * The stages of a version, as the reference's set_version defines them.
 * @example
 *   autoAttackStages('standard');   // ['apgd-ce', 'apgd-t', 'fab-t', 'square']
 *   autoAttackStages('rand');       // ['apgd-ce', 'apgd-dlr']
 */
export function autoAttackStages(version: AutoAttackVersion): AutoAttackStageName[] {
  if (version === 'standard') return ['apgd-ce', 'apgd-t', 'fab-t', 'square'];
  if (version === 'plus') return ['apgd-ce', 'apgd-dlr', 'fab', 'square', 'apgd-t', 'fab-t'];
  if (version === 'rand') return ['apgd-ce', 'apgd-dlr'];
  throw new Error(`autoAttack: version must be 'standard', 'plus' or 'rand', got '${String(version)}'`);
}

/**
 * Run AutoAttack on images x [N, C, H, W] in [0, 1] with labels y: robust accuracy after each stage, the time of
 * each, which stage broke each point, and the reference's checks with their warnings (nothing is printed).
 * @example
 *   const { report } = autoAttack(model, x, y, { eps: 0.3, norm: 'linf', version: 'standard', seed: 0 });
 *   console.log(report.stages.map((s) => `${s.attack} ${(100 * s.robustAccuracy).toFixed(2)}%`).join(', '));
 */
export function autoAttack(model: Sequential, x: Tensor, y: Int32Array, opts: AutoAttackOptions): AutoAttackResult {
  const c = check(x, y, opts);
  const { eps, norm, version, seed, batchSize: bs, steps } = c;
  const N = x.shape[0], D = N ? x.size / N : 0;
  const stages = c.attacksToRun ?? autoAttackStages(version);
  const warnings: string[] = [];
  const checks: AutoAttackCheck[] = [];
  const add = (k: AutoAttackCheck) => {
    checks.push(k);
    if (k.warning) warnings.push(k.warning);
  };

  // Checks on the first batch, before attacking (the reference skips the randomness check for 'rand').
  const head = slice(x, 0, Math.min(bs, N));
  const headLogits = predict(model, head);
  if (version !== 'rand' && N) add(checkRandomized(model, head, y.subarray(0, head.shape[0])));
  if (N) add(checkProbabilities(headLogits));
  const C = N ? headLogits.shape[1] : 0;
  const nT = 9;
  if (N) add(checkClasses(C, stages, nT));

  // Clean accuracy: the points misclassified at x are not attacked.
  const adversarial = x.detach();
  const robust = new Uint8Array(N);
  const brokenBy: AutoAttackReport['brokenBy'] = Array.from({ length: N }, () => null);
  for (let s = 0; s < N; s += bs) {
    const p = argmax(predict(model, slice(x, s, Math.min(s + bs, N))));
    p.forEach((v, i) => {
      robust[s + i] = v === y[s + i] ? 1 : 0;
      if (!robust[s + i]) brokenBy[s + i] = 'clean';
    });
  }
  const count = () => robust.reduce((a, b) => a + b, 0);
  const cleanAccuracy = N ? count() / N : 0;
  const report: AutoAttackReport = { version, norm, eps, steps, squareQueries: c.squareQueries, count: N, cleanAccuracy, robustAccuracy: cleanAccuracy, stages: [], brokenBy, checks, warnings, maxPerturbation: 0 };
  let zeroGrads = 0;

  for (const stage of stages) {
    const idx: number[] = [];
    for (let n = 0; n < N; n++) if (robust[n]) idx.push(n);
    if (!idx.length) break;
    opts.onStage?.(stage, idx.length);
    const t0 = performance.now();
    let broken = 0;
    // At ε = 0 no point can move: every stage breaks nothing (and FAB's minimum-norm search is not run for nothing).
    for (let s = 0; s < idx.length && eps > 0; s += bs) {
      const rows = idx.slice(s, s + bs);
      const xb = gather(x, rows), yb = Int32Array.from(rows, (n) => y[n]);
      const progress = (f: number) => opts.onProgress?.(s + f * rows.length);
      const r = runStage(stage, model, xb, yb, { eps, norm, seed, steps, nT, squareQueries: c.squareQueries, eot: version === 'rand' ? 20 : 1, version, progress });
      if ('zeroGradients' in r) zeroGrads += (r as ApgdResult).zeroGradients;
      // As the reference: a point counts as broken only when the model misclassifies the returned point.
      const pred = argmax(predict(model, r.adversarial));
      rows.forEach((n, i) => {
        if (pred[i] !== y[n]) {
          robust[n] = 0;
          brokenBy[n] = stage;
          adversarial.data.set(r.adversarial.data.subarray(i * D, (i + 1) * D), n * D);
          broken++;
        }
      });
      opts.onProgress?.(s + rows.length);
    }
    report.stages.push({ attack: stage, robustAccuracy: count() / N, attacked: idx.length, broken, seconds: (performance.now() - t0) / 1000 });
  }
  report.robustAccuracy = N ? count() / N : 0;

  if (stages.some((s) => s.startsWith('apgd'))) add(checkZeroGradients(zeroGrads));
  const sq = report.stages.findIndex((s) => s.attack === 'square');
  if (sq >= 0) add(checkSquare(sq > 0 ? report.stages[sq - 1].robustAccuracy : cleanAccuracy, report.stages[sq].robustAccuracy));
  // Final check: the largest perturbation in the attack's norm, and NaNs.
  let maxPert = 0, nan = 0;
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let j = n * D; j < (n + 1) * D; j++) {
      const d = Math.abs(adversarial.data[j] - x.data[j]);
      if (Number.isNaN(adversarial.data[j])) nan++;
      m = norm === 'linf' ? Math.max(m, d) : m + d * d;
    }
    maxPert = Math.max(maxPert, norm === 'linf' ? m : Math.sqrt(m));
  }
  report.maxPerturbation = maxPert;
  if (nan) warnings.push(`${nan} NaN values in the adversarial images`);

  const success = Uint8Array.from(robust, (r) => 1 - r);
  return { adversarial, success, iterations: new Int32Array(N), earlyStopped: true, report };
}

interface StageSettings {
  eps: number; norm: 'linf' | 'l2'; seed: number; steps: number; nT: number; squareQueries: number; eot: number;
  version: AutoAttackVersion; progress: (f: number) => void;
}

function runStage(stage: AutoAttackStageName, model: Sequential, x: Tensor, y: Int32Array, s: StageSettings): AttackResult {
  const { eps, norm, seed, steps } = s;
  const restarts = s.version === 'plus' ? 5 : 1;
  switch (stage) {
    case 'apgd-ce':
      return apgdCe.run(model, x, y, { eps, norm, seed, steps, restarts, eot: s.eot, onProgress: s.progress });
    case 'apgd-dlr':
      return apgdDlr.run(model, x, y, { eps, norm, seed, steps, restarts, eot: s.eot, onProgress: s.progress });
    case 'apgd-t':
      return apgdT.run(model, x, y, { eps, norm, seed, steps, restarts: 1, nTargetClasses: s.nT, onProgress: s.progress });
    case 'fab':
      return fab.run(model, x, y, { eps, norm, seed, steps, restarts: 5, onProgress: s.progress });
    case 'fab-t':
      return fabT.run(model, x, y, { eps, norm, seed, nTargetClasses: s.nT, restarts: 1, steps, onProgress: s.progress });
    case 'square': {
      // The reference runs n_queries iterations after the start point; nablax's budget also counts the clean check
      // and the start, hence + 2. Its 5,000-query run keeps the 10,000-query p schedule (resc_schedule=False).
      const o = { eps, seed, maxQueries: s.squareQueries + 2, pInit: 0.8, rescaleSchedule: false, onProgress: s.progress };
      return (norm === 'linf' ? square : squareL2).run(new ScoreOracle(model), x, y, o);
    }
  }
}

function slice(x: Tensor, a: number, b: number): Tensor {
  const D = x.shape[0] ? x.size / x.shape[0] : 0;
  return new Tensor(x.data.slice(a * D, b * D), [b - a, ...x.shape.slice(1)]);
}

function gather(x: Tensor, rows: number[]): Tensor {
  const D = x.size / x.shape[0];
  const out = alloc(x.dtype, rows.length * D);
  rows.forEach((n, i) => out.set(x.data.subarray(n * D, (n + 1) * D), i * D));
  return new Tensor(out, [rows.length, ...x.shape.slice(1)]);
}

function check(x: Tensor, y: Int32Array, o: AutoAttackOptions) {
  const f = 'autoAttack';
  if (x.ndim !== 4) throw new Error(`${f}: x must be [N, C, H, W] images, got ${shapeStr(x.shape)}`);
  if (y.length !== x.shape[0]) throw new Error(`${f}: y must have ${x.shape[0]} labels for x of shape ${shapeStr(x.shape)}, got ${y.length}`);
  if (!(o.eps >= 0) || !Number.isFinite(o.eps)) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${o.eps}`);
  const norm = o.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new Error(`${f}: norm must be 'linf' or 'l2', got '${String(norm)}'`);
  if (norm === 'linf' && o.eps > 1) throw new Error(`${f}: an L∞ eps must lie in [0, 1] (images live in [0, 1]), got ${o.eps}`);
  const version = o.version ?? 'standard';
  autoAttackStages(version);
  const names: AutoAttackStageName[] = ['apgd-ce', 'apgd-dlr', 'apgd-t', 'fab', 'fab-t', 'square'];
  if (o.attacksToRun !== undefined) {
    if (!Array.isArray(o.attacksToRun) || !o.attacksToRun.length) throw new Error(`${f}: attacksToRun must be a non-empty list of stages, got ${JSON.stringify(o.attacksToRun)}`);
    for (const a of o.attacksToRun) if (!names.includes(a)) throw new Error(`${f}: attacksToRun must hold stages among ${names.join(', ')}, got '${String(a)}'`);
  }
  if (o.targets) throw new Error(`${f}: targets must be undefined (AutoAttack is untargeted; APGD-T and FAB-T choose their own), got ${o.targets.length} targets`);
  const int = (k: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${f}: ${k} must be an integer ≥ 1, got ${v}`);
    return v;
  };
  const seed = o.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`${f}: seed must be a finite number, got ${seed}`);
  return { eps: o.eps, norm, version, seed, attacksToRun: o.attacksToRun, batchSize: int('batchSize', o.batchSize ?? 250), steps: int('steps', o.steps ?? AUTOATTACK_BUDGET.steps), squareQueries: int('squareQueries', o.squareQueries ?? AUTOATTACK_BUDGET.squareQueries) };
}

/**
 * AutoAttack as one attack of the record (`--attack autoattack`): success[n] = broken by some stage; the result
 * carries the full report. Untargeted only.
 * @example
 *   const r = autoattack.run(model, x, y, { eps: 0.3 });
 *   r.report.stages;   // robust accuracy and seconds after APGD-CE, APGD-T, FAB-T, Square
 */
export const autoattack: WhiteBoxAttack<AutoAttackOptions, AutoAttackResult> = {
  name: 'autoattack',
  kind: 'white-box',
  norm: 'linf',
  // steps: of the APGD and FAB stages; --max-queries: Square's budget
  settings: [{ ...settings.steps, default: '100' }, { ...settings.maxQueries, key: 'squareQueries', default: '5000' }],
  norms: ['linf', 'l2'],
  run: (model, x, y, opts) => autoAttack(model, x, y, opts),
};
