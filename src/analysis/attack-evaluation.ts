// Evaluate an attack at one ε over (the first `limit` images of) a dataset, batch by batch: accuracy under
// attack, error rate, success rate over the initially correct examples, the paper's "confidence" (mean top-class
// probability of the misclassified adversarial images), L∞/L2/L0 distances, queries, time. Keeps a few
// examples for the pictures. A minimum-norm attack (FAB, DeepFool, CW-L2) runs once per batch for all ε of a sweep:
// each ε's result is read from that run's minimal perturbations (finishMinNorm), as a run at that ε alone gives it.
import { softmax } from '../engine/ops/loss.js';
import { Rng } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';
import { argmax, predict } from '../layers/predict.js';
import type { Attack, AttackOptions, AttackResult, GradientMemo, TargetMode } from '../attacks/attack.js';
import { finishMinNorm, isMinNormAttack, type MinNormResult } from '../attacks/min-norm.js';
import { ScoreOracle } from '../attacks/oracle.js';
import { chooseTargets } from '../attacks/targets.js';
import { median } from './stats.js';

export interface AttackMetrics {
  attack: string;
  eps: number;
  norm: string;
  targeted: boolean;
  count: number;
  cleanAccuracy: number;
  /** Accuracy on the adversarial images. */
  accuracy: number;
  errorRate: number;
  /** Over initially correct examples: fraction misclassified (untargeted) or classified as the target (targeted). */
  attackSuccessRate: number;
  /** Mean top-class probability of the misclassified adversarial images (Goodfellow et al.'s "confidence"). */
  meanWrongConfidence: number;
  meanLinf: number;
  maxLinf: number;
  meanL2: number;
  maxL2: number;
  meanL0: number;
  maxL0: number;
  /** Black-box attacks: queries per example (mean, median) and per success among the initially correct examples. */
  queries?: { total: number; mean: number; median: number; meanPerSuccess: number; medianPerSuccess: number };
  /** Whether iterative attacks stopped per example at success. */
  earlyStopped: boolean;
  /**
   * Wall time spent on this ε (attack, clean and adversarial predictions, bookkeeping); in a sweep the batch
   * loading and the ∇x at x that all ε share count for the first ε.
   */
  seconds: number;
  imagesPerSecond: number;
  /** Time spent inside the attack itself, and its rate. */
  attackSeconds: number;
  attackImagesPerSecond: number;
}

export interface AttackExample {
  index: number;
  label: number;
  target?: number;
  original: Float32Array;
  adversarial: Float32Array;
  origPred: number;
  origConf: number;
  advPred: number;
  advConf: number;
  /** Probability of the target class after the attack (targeted runs). */
  targetConf?: number;
  success: boolean;
}

export interface EvaluateAttackOptions {
  eps: number;
  limit?: number;
  batchSize?: number;
  seed?: number;
  /** Targeted runs: how to choose each example's target. */
  target?: TargetMode;
  /** Extra options passed to the attack (steps, stepSize, restarts, pixels, maxQueries, ...). */
  attackOptions?: Record<string, unknown>;
  /** Keep this many examples (from the start) for pictures (default 8). */
  keep?: number;
  /** Keep every example whose index is in this set too (for target grids). */
  keepIndices?: Set<number>;
  onBatch?: (done: number, total: number) => void;
  /** Within a batch too: images done so far, fractional (Square and one-pixel report after every query round or generation). */
  onProgress?: (done: number, total: number) => void;
}


/**
 * Run `attack` at one ε over a dataset and measure it.
 * @example
 *   const { metrics } = await evaluateAttack(model, whiteBoxAttacks.fgsm, loadMnistData('test'), { eps: 0.1 });
 */
export async function evaluateAttack(
  model: Sequential,
  attack: Attack,
  ds: Dataset,
  opts: EvaluateAttackOptions,
): Promise<{ metrics: AttackMetrics; examples: AttackExample[] }> {
  const { eps, ...rest } = opts;
  const [only] = await evaluateAttackSweep(model, attack, ds, { ...rest, epsList: [eps] });
  return only;
}

export interface EvaluateSweepOptions extends Omit<EvaluateAttackOptions, 'eps'> {
  /** The budgets to evaluate, each measured as evaluateAttack would. */
  epsList: number[];
}

/**
 * Run `attack` at several ε over a dataset, batch by batch with every ε inside: each batch is loaded once, and a
 * gradient attack whose first step is taken at x (FGSM, FGM, InvFGSM, BIM, MI-FGSM, PGD without random start)
 * computes ∇x there once for all ε (AttackOptions.gradientMemo). Each ε's metrics are the same as
 * evaluateAttack's for that ε alone (the same seeds, targets and bits); its `seconds` count the work done for it,
 * the shared gradient falling to the first ε. A minimum-norm attack runs once per batch (its sweepOptions) and every ε
 * reads its result from the minimal perturbations; the one run's time falls to the first ε.
 * @example
 *   const rows = await evaluateAttackSweep(model, whiteBoxAttacks.fgsm, test, { epsList: [0.1, 0.2, 0.3] });
 */
export async function evaluateAttackSweep(
  model: Sequential,
  attack: Attack,
  ds: Dataset,
  opts: EvaluateSweepOptions,
): Promise<{ metrics: AttackMetrics; examples: AttackExample[] }[]> {
  for (const eps of opts.epsList) {
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`evaluateAttack: eps must be a finite number ≥ 0, got ${eps}`);
  }
  const n = Math.min(opts.limit ?? ds.count, ds.count);
  const bs = opts.batchSize ?? (attack.kind === 'black-box' ? 100 : 256);
  const runs = opts.epsList.map((eps) => new EpsRun(eps, new Rng(opts.seed ?? 0), opts.keep ?? 8));
  // a min-norm attack whose search does not depend on ε runs once per batch for every ε
  const oneRun = runs.length > 1 && isMinNormAttack(attack) && attack.sweepOptions({ ...(opts.attackOptions ?? {}), eps: opts.epsList[0] }) !== null;
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(s + bs, n);
    const tb = performance.now();
    const batch = getBatch(ds, null, s, e);
    const loadSeconds = (performance.now() - tb) / 1000;
    const gradientMemo: GradientMemo = new Map();
    const minNorm: SharedMinNormRun | undefined = oneRun ? { result: null } : undefined;
    for (const [i, run] of runs.entries()) {
      run.seconds += i === 0 ? loadSeconds : 0;
      // one min-norm run covers the whole batch: its progress spans the batch
      const share = minNorm ? (f: number) => s + Math.min(Math.max(f, 0), 1) * (e - s) : (f: number) => s + ((i + Math.min(Math.max(f, 0), 1)) / runs.length) * (e - s);
      const onProgress = opts.onProgress ? (f: number) => opts.onProgress!(share(f), n) : undefined;
      run.batch(model, attack, batch, s, opts, gradientMemo, onProgress, minNorm);
    }
    opts.onBatch?.(e, n);
    opts.onProgress?.(e, n);
    await new Promise<void>((r) => setImmediate(r));
  }
  // the norm the attack ran in: one picked through its options (APGD, AutoAttack: options.norm), else its own
  const picked = opts.attackOptions?.norm;
  const norm = attack.kind === 'white-box' && attack.norms && typeof picked === 'string' ? picked : attack.norm;
  return runs.map((r) => r.finish(attack, n, !!opts.target, norm));
}

/** A min-norm attack's one run over a batch, shared by the ε of a sweep (null until the first ε runs it). */
interface SharedMinNormRun {
  result: MinNormResult | null;
}

/** One ε of a sweep: its random stream (targets, seeds) and its running totals. */
class EpsRun {
  cleanCorrect = 0; advCorrect = 0; initiallyCorrect = 0; successes = 0; wrong = 0; wrongConf = 0;
  sumLinf = 0; maxLinf = 0; sumL2 = 0; maxL2 = 0; sumL0 = 0; maxL0 = 0;
  queries: number[] = [];
  successQueries: number[] = [];
  earlyStopped = true;
  examples: AttackExample[] = [];
  seconds = 0;
  attackSeconds = 0;

  constructor(readonly eps: number, readonly rng: Rng, readonly keep: number) {}

  batch(model: Sequential, attack: Attack, { x, y }: { x: Tensor; y: Int32Array }, s: number, opts: EvaluateSweepOptions, gradientMemo: GradientMemo,
    onProgress?: (fraction: number) => void, minNorm?: SharedMinNormRun): void {
    const t0 = performance.now();
    const { rng } = this;
    const B = y.length;
    const per = x.size / Math.max(B, 1);
    const cleanForward = () => predict(model, x);
    // The least-likely target needs the clean logits first; otherwise the attack usually computes them anyway.
    let clean: Tensor | null = opts.target?.kind === 'least-likely' ? cleanForward() : null;
    const targets = opts.target ? chooseTargets(opts.target, y, clean, rng) : undefined;
    const attackOpts: AttackOptions = { ...(opts.attackOptions ?? {}), eps: this.eps, seed: rng.nextU32(), targets, gradientMemo, onProgress };
    const ta = performance.now();
    let result: AttackResult;
    const one = minNorm && isMinNormAttack(attack) ? attack.sweepOptions(attackOpts) : null;
    if (minNorm && one && isMinNormAttack(attack)) {
      // Every ε of the sweep draws the same seed and targets (equal streams), so the first ε's run serves them all.
      const r = (minNorm.result ??= attack.run(model, x, y, one));
      result = finishMinNorm(model, x, y, r.minimal, r.distances, r.distanceNorm, this.eps, r.iterations, targets, r.cleanLogits);
      onProgress?.(1);
    } else {
      result = attack.kind === 'white-box' ? attack.run(model, x, y, attackOpts) : attack.run(new ScoreOracle(model), x, y, attackOpts);
    }
    this.attackSeconds += (performance.now() - ta) / 1000;
    clean = clean ?? result.cleanLogits ?? cleanForward();
    const cleanPred = argmax(clean);
    if (!result.earlyStopped) this.earlyStopped = false;
    const adv = result.adversarial;
    const advLogits = result.logits ?? predict(model, adv);
    const advPred = argmax(advLogits);
    const pAdv = softmax(advLogits), pClean = softmax(clean);
    const C = pAdv.shape[1];
    for (let b = 0; b < B; b++) {
      const ok0 = cleanPred[b] === y[b], ok1 = advPred[b] === y[b];
      if (ok0) this.cleanCorrect++;
      if (ok1) this.advCorrect++;
      else {
        this.wrong++;
        this.wrongConf += pAdv.data[b * C + advPred[b]];
      }
      const succeeded = targets ? advPred[b] === targets[b] : !ok1;
      if (ok0) {
        this.initiallyCorrect++;
        if (succeeded) this.successes++;
      }
      let li = 0, l2 = 0, l0 = 0;
      for (let i = b * per; i < (b + 1) * per; i++) {
        const d = Math.abs(adv.data[i] - x.data[i]);
        if (d > li) li = d;
        l2 += d * d;
        if (d > 1e-7) l0++;
      }
      l2 = Math.sqrt(l2);
      this.sumLinf += li; this.sumL2 += l2; this.sumL0 += l0;
      this.maxLinf = Math.max(this.maxLinf, li); this.maxL2 = Math.max(this.maxL2, l2); this.maxL0 = Math.max(this.maxL0, l0);
      if (result.queries) {
        this.queries.push(result.queries[b]);
        // per success: only examples the attack had to turn (an already misclassified one costs a single query)
        if (succeeded && ok0) this.successQueries.push(result.queries[b]);
      }
      const index = s + b;
      if (index < this.keep || opts.keepIndices?.has(index)) {
        this.examples.push({
          index, label: y[b], target: targets?.[b],
          original: Float32Array.from(x.data.subarray(b * per, (b + 1) * per)),
          adversarial: Float32Array.from(adv.data.subarray(b * per, (b + 1) * per)),
          origPred: cleanPred[b], origConf: pClean.data[b * C + cleanPred[b]],
          advPred: advPred[b], advConf: pAdv.data[b * C + advPred[b]],
          targetConf: targets ? pAdv.data[b * C + targets[b]] : undefined,
          success: succeeded,
        });
      }
    }
    this.seconds += (performance.now() - t0) / 1000;
  }

  finish(attack: Attack, n: number, targeted: boolean, norm: string): { metrics: AttackMetrics; examples: AttackExample[] } {
    const metrics: AttackMetrics = {
      attack: attack.name,
      eps: this.eps,
      norm,
      targeted,
      count: n,
      cleanAccuracy: this.cleanCorrect / n,
      accuracy: this.advCorrect / n,
      errorRate: 1 - this.advCorrect / n,
      attackSuccessRate: this.initiallyCorrect ? this.successes / this.initiallyCorrect : 0,
      meanWrongConfidence: this.wrong ? this.wrongConf / this.wrong : 0,
      meanLinf: this.sumLinf / n,
      maxLinf: this.maxLinf,
      meanL2: this.sumL2 / n,
      maxL2: this.maxL2,
      meanL0: this.sumL0 / n,
      maxL0: this.maxL0,
      earlyStopped: this.earlyStopped,
      seconds: this.seconds,
      imagesPerSecond: n / this.seconds,
      attackSeconds: this.attackSeconds,
      attackImagesPerSecond: n / this.attackSeconds,
    };
    if (attack.kind === 'black-box') {
      const total = this.queries.reduce((a, b) => a + b, 0);
      metrics.queries = {
        total,
        mean: total / Math.max(this.queries.length, 1),
        median: median(this.queries),
        meanPerSuccess: this.successQueries.length ? this.successQueries.reduce((a, b) => a + b, 0) / this.successQueries.length : 0,
        medianPerSuccess: median(this.successQueries),
      };
    }
    return { metrics, examples: this.examples };
  }
}

/** A batch tensor of kept examples (for pictures). */
export function examplesTensor(ex: AttackExample[], shape: number[], which: 'original' | 'adversarial'): Tensor {
  const per = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.zeros([ex.length, ...shape]);
  ex.forEach((e, i) => t.data.set(e[which], i * per));
  return t;
}
