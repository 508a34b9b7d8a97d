// The JSON documents the commands print with --json (and write as report.json), as TypeScript types: one field
// name for one quantity across commands. Units, stated once: every accuracy, rate and confidence is a fraction in
// [0, 1] (never a percentage); ε is in the attack's norm on pixels in [0, 1]; times are seconds; model paths are
// `modelFile`; image counts are `trainCount` / `testCount` / `robustCount` (the split they count); a quantity that
// is undefined (no successes, no misclassified images) is `null`, never 0. Fields marked @deprecated are the old
// names, kept for one release with the same values.
import type { EpochRecord } from '../train/loop.js';

/** Per-class accuracy and confusion matrix (rows: true class, columns: predicted) of a clean evaluation. */
export interface CleanEvaluationJson {
  /** Clean accuracy on the `testCount` test images, a fraction. */
  cleanAccuracy: number;
  testCount: number;
  /** Mean cross-entropy on the test images. */
  testLoss: number;
  perClassAccuracy: number[];
  confusion: number[][];
  /** @deprecated use cleanAccuracy (same value); goes in the next release. */
  testAccuracy: number;
}

/** `nablax train --json`. */
export interface TrainJson extends CleanEvaluationJson {
  model: string;
  data: string;
  trainCount: number;
  testData: string;
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  lrSchedule: string;
  seed: number;
  parameters: number;
  history: EpochRecord[];
  trainSeconds: number;
  modelFile: string;
  /** @deprecated use modelFile; goes in the next release. */
  out: string;
}

/** `nablax eval --json`. */
export interface EvalJson extends CleanEvaluationJson {
  modelFile: string;
  data: string;
  seconds: number;
}

/** `nablax grad --json`: one entry per --index image; `out` is the PNG written. */
export interface GradJson {
  modelFile: string;
  target: number | null;
  out: string;
  images: { index: number; label: number; predicted: number; confidence: number; loss: number; gradL1: number; gradL2: number; gradLinf: number }[];
}

/** `nablax predict --json`. */
export interface PredictJson {
  modelFile: string;
  images: { index: number; label: number; predicted: number; logits: number[]; probabilities: number[] }[];
}

/** `nablax info --json`. */
export interface InfoJson {
  modelFile: string;
  input: number[];
  parameters: number;
  layers: ({ index: number; type: string; parameters: number } & Record<string, unknown>)[];
  tensors: { name: string; shape: number[]; size: number }[];
  metadata: Record<string, string>;
}

/** Query counts of a black-box attack (per image over all attacked images, and per success). */
export interface QueriesJson {
  total: number;
  mean: number;
  /** Median over all attacked images: a failure counts at the full budget. */
  median: number;
  /** Over the successes among initially correct images only (failures excluded); null when there are none. */
  meanPerSuccess: number | null;
  medianPerSuccess: number | null;
}

/** One (attack, ε) row of `nablax attack --json` (`results`). */
export interface AttackRowJson {
  attack: string;
  /** The budget; null for L0 attacks (one-pixel), whose budget is `pixels`. */
  eps: number | null;
  pixels?: number;
  norm: string;
  targeted: boolean;
  testCount: number;
  cleanAccuracy: number;
  /** Accuracy on the adversarial images, a fraction. */
  robustAccuracy: number;
  errorRate: number;
  /** Over the initially correct images; null when none was correct. */
  attackSuccessRate: number | null;
  /** Mean top-class probability of the misclassified adversarial images; null when none is misclassified. */
  meanWrongConfidence: number | null;
  meanLinf: number; maxLinf: number; meanL2: number; maxL2: number; meanL0: number; maxL0: number;
  queries?: QueriesJson;
  earlyStopped: boolean;
  seconds: number;
  imagesPerSecond: number;
  attackSeconds: number;
  attackImagesPerSecond: number;
  /** @deprecated use robustAccuracy; goes in the next release. */
  accuracy: number;
  /** @deprecated use testCount; goes in the next release. */
  count: number;
}

/** `nablax attack --json` (report.json holds the same without `target`). */
export interface AttackJson {
  modelFile: string;
  data: string;
  testCount: number;
  target: string | null;
  results: AttackRowJson[];
  /** @deprecated use testCount; goes in the next release. */
  count: number;
}

/** One epoch of adversarial training's robust curve (on the first `--epoch-test-limit` test images). */
export interface RobustPointJson {
  epoch: number;
  cleanAccuracy: number;
  fgsmAccuracy: number;
  pgdAccuracy: number;
}

/** `nablax adv-train --json` (and report.json). FGSM and PGD-40 accuracies are on the first `robustCount` test images. */
export interface AdvTrainJson {
  model: string;
  method: string;
  eps: number;
  epochs: number;
  seed: number;
  data: string;
  trainCount: number;
  steps?: number;
  /** A number, or the rule '2.5·ε/k' when a steps curriculum sets k per epoch. */
  stepSize?: number | string;
  /** trades: weight β of the KL term. */
  beta?: number;
  /** mart: weight λ of the misclassification-aware KL term. */
  lambda?: number;
  /** The curriculum of attack steps (--steps-schedule), as given. */
  stepsSchedule?: string;
  lrSchedule: string;
  epsWarmup: number;
  cleanAccuracy: number;
  testCount: number;
  robustCount: number;
  fgsmAccuracy: number;
  /** PGD-40 accuracy (step 0.01, random start) on the first robustCount test images; the per-epoch curve uses it too. */
  pgdAccuracy: number;
  /** Robust accuracy after the final AutoAttack stages (Croce & Hein 2020) at ε on the same images. */
  autoattackAccuracy: number;
  /** Which stages ran: 'apgd-ce+apgd-t' (--final-attack apgd, the default) or the full 'standard …' (--final-attack autoattack). */
  autoattackVersion: string;
  /** Iterations of each APGD/FAB stage (100 unless --final-attack-steps). */
  autoattackSteps: number;
  /** Robust accuracy over all robustCount images after each stage, and the points each attacked and broke. */
  autoattackStages: { attack: string; robustAccuracy: number; attacked: number; broken: number }[];
  /** The run's robust accuracy: the minimum of FGSM, PGD-40 and AutoAttack accuracy (it was PGD-40 alone before). */
  robustAccuracy: number;
  history: EpochRecord[];
  robustHistory: RobustPointJson[];
  warnings: string[];
  guard: Record<string, unknown> | null;
  /**
   * --ema: the exponential moving average of the weights, evaluated on its own (same images, the same final AutoAttack
   * setting as autoattackVersion/autoattackSteps), and its file; robustAccuracy is the minimum of its three attacks.
   */
  ema: {
    decay: number; updates: number; cleanAccuracy: number; fgsmAccuracy: number; pgdAccuracy: number;
    autoattackAccuracy: number; autoattackStages: { attack: string; robustAccuracy: number; attacked: number; broken: number }[];
    robustAccuracy: number; modelFile: string;
  } | null;
  trainSeconds: number;
  modelFile: string;
  /** @deprecated use cleanAccuracy; goes in the next release. */
  testAccuracy: number;
  /** @deprecated use modelFile; goes in the next release. */
  out: string;
}

/** `nablax demo --json` (and runs/demo/report.json). */
export interface DemoJson extends CleanEvaluationJson {
  model: string;
  trainData: string;
  trainCount: number;
  testData: string;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSchedule: string;
  seed: number;
  kernels: string;
  history: EpochRecord[];
  trainSeconds: number;
  /** Images per second in the last epoch; null when no epoch ran. */
  trainImagesPerSecond: number | null;
  modelFile: string;
  gradients: string;
}
