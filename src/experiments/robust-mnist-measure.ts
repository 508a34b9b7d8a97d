// Measuring one trained model for `experiment robust-mnist`: clean accuracy, PGD-40 (step 0.01, random start) and
// AutoAttack 'standard' (Croce & Hein, ICML 2020, arXiv 2003.01690: APGD-CE, APGD-T, FAB-T, Square, each on the points
// every earlier stage failed on) at ε. AutoAttack runs on consecutive chunks of the test images (1,000 by default,
// analysis/autoattack-chunks.ts), each chunk written to a file once measured, so Ctrl-C acts between chunks and a
// resume measures only the chunks that are missing.
import type { AutoAttackStage } from '../attacks/autoattack.js';
import { AutoAttackChunksStopped, autoAttackInChunks, type ChunkStore } from '../analysis/autoattack-chunks.js';
import { evaluateAttack } from '../analysis/attack-evaluation.js';
import { pgd } from '../attacks/pgd.js';
import type { Sequential } from '../layers/sequential.js';
import type { Dataset } from '../data/datasets.js';
import { evaluate } from '../train/evaluate.js';
import type { BatchProgress } from '../train/loop.js';
import type { ResolvedRun } from './robust-mnist-runs.js';

/** One AutoAttack stage over all the images measured: robust accuracy after it, points attacked and broken, seconds. */
export type StageRecord = AutoAttackStage;

export const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** Sizes and settings shared by every run. */
export interface RobustMnistSettings {
  /** Evaluation ε (L∞); a run's training ε defaults to it. */
  eps: number;
  /** Wall-clock training budget of each run, in minutes. */
  budgetMinutes: number;
  /** Clean accuracy on the first N test images. */
  testLimit: number;
  /** PGD-40 and AutoAttack on the first N test images. */
  robustLimit: number;
  /** After every epoch, PGD-40 on the first N test images (0: no curve). */
  epochTestLimit: number;
  /** Iterations of AutoAttack's APGD and FAB stages (100, the reference's; fewer only in --quick). */
  autoattackSteps: number;
  /** Square's query budget (5,000, the reference's). */
  squareQueries: number;
  /** AutoAttack runs on chunks of this many images (1,000), each kept on disk once measured. */
  autoattackChunk?: number;
}

/** What one model (the trained weights or their average) measured. */
export interface ModelEvaluation {
  file: string;
  cleanAccuracy: number;
  testCount: number;
  pgdAccuracy: number;
  robustCount: number;
  autoattackAccuracy: number;
  stages: StageRecord[];
  warnings: string[];
  evalSeconds: number;
}

/** Ctrl-C stopped the experiment: the message says what was kept. */
export class ExperimentInterrupted extends Error {}

export interface RobustMnistHooks {
  /** Polled after every batch and between phases: true stops (Ctrl-C). */
  interrupted?: () => boolean;
  /** Milliseconds clock for the budget and the times (tests pass a fake one). */
  now?: () => number;
  onMessage?: (msg: string) => void;
  onBatch?: (run: ResolvedRun, p: BatchProgress, budgetLeftSeconds: number) => void;
  /** A measurement starts on `points` images: PGD-40 on the slice, or an AutoAttack stage. */
  onEvalStage?: (label: string, points: number) => void;
  onEvalProgress?: (done: number) => void;
}

export async function pgd40(model: Sequential, ds: Dataset, eps: number, seed: number, label: string, h: RobustMnistHooks) {
  h.onEvalStage?.(label, ds.count);
  const r = await evaluateAttack(model, pgd, ds, { eps, seed, attackOptions: { steps: 40, stepSize: 0.01 }, onProgress: (d) => h.onEvalProgress?.(d) });
  return r.metrics;
}

/**
 * Clean accuracy on `test`, PGD-40 (step 0.01, random start) and AutoAttack 'standard' on `robust`, at ε; with `store`,
 * AutoAttack's chunks are kept there and those already measured with the same key are reused.
 * @example
 *   const e = await measureModel(model, 'runs/x/model.safetensors', test, robust, settings, 0);
 *   e.autoattackAccuracy;   // after APGD-CE, APGD-T, FAB-T and Square
 */
export async function measureModel(model: Sequential, file: string, test: Dataset, robust: Dataset, s: RobustMnistSettings, seed: number, label = file, h: RobustMnistHooks = {}, store?: ChunkStore): Promise<ModelEvaluation> {
  const now = h.now ?? (() => performance.now());
  const t0 = now();
  model.eval();
  const clean = evaluate(model, test);
  const p = await pgd40(model, robust, s.eps, seed, `${label}: PGD-40`, h);
  const N = robust.count, size = s.autoattackChunk ?? 1000;
  let where = '';
  let r: Awaited<ReturnType<typeof autoAttackInChunks>>;
  try {
    r = await autoAttackInChunks(model, robust, N, {
      eps: s.eps, norm: 'linf', version: 'standard', seed, steps: s.autoattackSteps, squareQueries: s.squareQueries, chunk: size, store,
      interrupted: h.interrupted,
      onChunk: (start, count) => (where = N > size ? ` (images ${start + 1}–${start + count} of ${N})` : ''),
      onStage: (stage, points) => h.onEvalStage?.(`${label}: AutoAttack ${stage}${where}`, points), onProgress: (d) => h.onEvalProgress?.(d),
    });
  } catch (e) {
    if (!(e instanceof AutoAttackChunksStopped)) throw e;
    throw new ExperimentInterrupted(`interrupted while measuring ${label}; AutoAttack on ${plural(e.kept, 'image')} of ${N} kept${store ? ` in ${store.path}` : ''}`);
  }
  return {
    file, cleanAccuracy: clean.accuracy, testCount: clean.count, pgdAccuracy: p.accuracy, robustCount: N,
    autoattackAccuracy: r.robustAccuracy, stages: r.stages, warnings: r.warnings, evalSeconds: (now() - t0) / 1000,
  };
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : one + 's'}`;
