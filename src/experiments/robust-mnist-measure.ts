// Measuring one trained model for `experiment robust-mnist`: clean accuracy, PGD-40 (step 0.01, random start) and
// AutoAttack 'standard' (Croce & Hein, ICML 2020, arXiv 2003.01690: APGD-CE, APGD-T, FAB-T, Square, each on the points
// every earlier stage failed on) at ε. AutoAttack runs on consecutive chunks of the test images (1,000 by default),
// each one AutoAttack run as the reference makes it (batches of 250 over the points still robust), and the chunks'
// counts are summed: per stage, robust accuracy over all N = Σ robust points after it / N. Each chunk is written to a
// file once measured, so Ctrl-C acts between chunks and a resume measures only the chunks that are missing.
import { existsSync, readFileSync } from 'node:fs';
import { autoAttack, type AutoAttackStageName } from '../attacks/autoattack.js';
import { evaluateAttack } from '../analysis/attack-evaluation.js';
import { pgd } from '../attacks/pgd.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import { subset, type Dataset } from '../data/datasets.js';
import { evaluate } from '../train/evaluate.js';
import type { BatchProgress } from '../train/loop.js';
import type { ResolvedRun } from './robust-mnist-runs.js';

/** One AutoAttack stage over all the images measured: robust accuracy after it, points attacked and broken, seconds. */
export interface StageRecord {
  attack: AutoAttackStageName;
  robustAccuracy: number;
  attacked: number;
  broken: number;
  seconds: number;
}

/** One chunk's AutoAttack counts, as kept on disk. */
interface ChunkRecord {
  start: number;
  count: number;
  /** Points correctly classified at x. */
  clean: number;
  stages: { attack: AutoAttackStageName; robust: number; attacked: number; broken: number; seconds: number }[];
  warnings: string[];
}

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

/** Where a model's AutoAttack chunks are kept, and what they must have been measured with to be reused. */
export interface ChunkStore {
  path: string;
  key: unknown;
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
  const saved = store && existsSync(store.path) ? (JSON.parse(readFileSync(store.path, 'utf8')) as { key: unknown; chunks: ChunkRecord[] }) : null;
  const chunks: ChunkRecord[] = saved && JSON.stringify(saved.key) === JSON.stringify(store!.key) ? saved.chunks.filter((c) => c.start % size === 0 && c.count === Math.min(size, N - c.start)) : [];
  for (let start = 0; start < N; start += size) {
    if (chunks.some((c) => c.start === start)) continue;
    if (h.interrupted?.()) {
      throw new ExperimentInterrupted(`interrupted while measuring ${label}; AutoAttack on ${plural(chunks.length * size, 'image')} of ${N} kept${store ? ` in ${store.path}` : ''}`);
    }
    const part = subset(robust, start, Math.min(start + size, N));
    const { x, y } = getBatch(part, null, 0, part.count);
    const where = N > size ? ` (images ${start + 1}–${start + part.count} of ${N})` : '';
    const { report } = autoAttack(model, x, y, {
      eps: s.eps, norm: 'linf', version: 'standard', seed, steps: s.autoattackSteps, squareQueries: s.squareQueries,
      onStage: (stage, points) => h.onEvalStage?.(`${label}: AutoAttack ${stage}${where}`, points), onProgress: (d) => h.onEvalProgress?.(d),
    });
    const count = (acc: number) => Math.round(acc * part.count);
    chunks.push({ start, count: part.count, clean: count(report.cleanAccuracy), warnings: report.warnings,
      stages: report.stages.map((g) => ({ attack: g.attack, robust: count(g.robustAccuracy), attacked: g.attacked, broken: g.broken, seconds: g.seconds })) });
    chunks.sort((a, b) => a.start - b.start);
    if (store) writeFileAtomic(store.path, JSON.stringify({ key: store.key, chunks }, null, 2) + '\n');
    await new Promise<void>((resolve) => setImmediate(resolve)); // let Ctrl-C and the progress timers run
  }
  const { stages, robustCount } = combineChunks(chunks);
  return {
    file, cleanAccuracy: clean.accuracy, testCount: clean.count, pgdAccuracy: p.accuracy, robustCount: N,
    autoattackAccuracy: N ? robustCount / N : 0,
    stages: stages.map((g) => ({ ...g, robustAccuracy: N ? g.robustAccuracy / N : 0 })),
    warnings: [...new Set(chunks.flatMap((c) => c.warnings))], evalSeconds: (now() - t0) / 1000,
  };
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : one + 's'}`;

/** Sum the chunks' counts per stage (robustAccuracy here is a count); a stage a chunk did not run left it as it was. */
function combineChunks(chunks: ChunkRecord[]): { stages: StageRecord[]; robustCount: number } {
  const order: AutoAttackStageName[] = ['apgd-ce', 'apgd-t', 'fab-t', 'square'];
  const ran = order.filter((a) => chunks.some((c) => c.stages.some((g) => g.attack === a)));
  const stages = ran.map((attack) => {
    let robust = 0, attacked = 0, broken = 0, seconds = 0;
    for (const c of chunks) {
      const g = c.stages.find((x) => x.attack === attack);
      if (g) {
        attacked += g.attacked;
        broken += g.broken;
        seconds += g.seconds;
        robust += g.robust;
      } else {
        // the stage did not run on this chunk (no point left): its robust count is the last stage's, or the clean one
        const before = c.stages.filter((x) => order.indexOf(x.attack) < order.indexOf(attack)).at(-1);
        robust += before ? before.robust : c.clean;
      }
    }
    return { attack, robustAccuracy: robust, attacked, broken, seconds };
  });
  const robustCount = chunks.reduce((sum, c) => sum + (c.stages.at(-1)?.robust ?? c.clean), 0);
  return { stages, robustCount };
}
