// A training run as a library function: a zoo model or a JSON spec trained on a data source (the class count from the
// model, both splits' labels checked against it before any work), a checkpoint per epoch with the run's options (a
// resume with other options is refused), the test evaluation, and the model file written atomically. `nablax train`,
// the demo and `adv-train` call it; the CLI draws the progress and turns the errors into exit codes.
import { existsSync, readFileSync } from 'node:fs';
import type { ModelSpec, Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { zooNames, zooSpec } from '../layers/zoo.js';
import { saveModel } from '../io/model-file.js';
import { loadDataset, subset, withClasses, type Dataset } from '../data/datasets.js';
import { evaluateAsync, type Evaluation } from '../train/evaluate.js';
import { train, type BatchProgress, type EpochRecord, type Objective, type TrainOptions } from '../train/loop.js';
import { checkpointHeader } from '../train/checkpoint.js';
import { residentParameters } from '../layers/resident.js';
import { kernels } from '../engine/kernels/kernels.js';

/** Bad input found before any training: the message names it (the CLI prints it as a usage error, exit 2). */
export class TrainingSetupError extends Error {}

/** The run was stopped (Ctrl-C): the message says what was kept. */
export class TrainingInterrupted extends Error {}

/** What a caller sees of a run: messages, per-batch progress, the test evaluation, and the stop request. */
export interface TrainingRunHooks {
  /** One-line messages: the run's header, notices. */
  onMessage?: (msg: string) => void;
  /** After every batch (not with `quiet`). */
  onProgress?: (p: BatchProgress) => void;
  /** Training ended (completed or stopped by shouldStop), before the test evaluation. */
  onTrainingEnd?: () => void;
  /** The test evaluation starts on `total` images, has done `done`, has ended (not with `quiet`, except the end). */
  onTestStart?: (total: number) => void;
  onTestProgress?: (done: number) => void;
  onTestEnd?: () => void;
  /** Polled after every batch: true stops the run (TrainingInterrupted), keeping the last checkpoint. */
  interrupted?: () => boolean;
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${n === 1 ? one : one + 's'}`;

export interface TrainRun {
  model: Sequential;
  history: EpochRecord[];
  test: Evaluation;
  trainSet: Dataset;
  testSet: Dataset;
  seconds: number;
  /** True when the caller's shouldStop ended training early (Ctrl-C throws Interrupted instead). */
  stopped: boolean;
}

export interface TrainArgs extends Pick<TrainOptions, 'epochs' | 'batchSize' | 'optimizer' | 'lr' | 'lrSchedule' | 'momentum' | 'weightDecay' | 'seed'> {
  model: string;
  data: string;
  testData?: string;
  /** Train on the first N training images. */
  trainLimit?: number;
  testLimit?: number;
  out: string;
  /** The command, for messages ('train', 'adv-train', 'demo'). */
  command?: string;
  /** Options of the run besides the loop's (an adversarial method, its ε…): stored in the checkpoint, checked on --resume. */
  runOptions?: Record<string, unknown>;
  resume?: boolean;
  quiet?: boolean;
  /** Training objective (default: cross-entropy); adversarial training plugs in here. */
  objective?: Objective;
  /** Called after every epoch with the model (for per-epoch evaluation). */
  onEpoch?: (r: EpochRecord, model: Sequential) => void | Promise<void>;
  /** Called after every batch with the model (a guard measuring every K steps). */
  onBatch?: (p: BatchProgress, model: Sequential) => void;
  /** Extra metadata for the model file. */
  metadata?: Record<string, string>;
  /** Training data already loaded (a caller that holds part of it out); `limit` still applies. */
  trainData?: Dataset;
  /**
   * Number of classes (`--classes`): labels of both splits are checked against it before training starts. Default:
   * the spec file's output width, or 10 for a zoo model; never the data's largest label.
   */
  classes?: number;
  /** Called on the freshly built model before training or resuming (AdvProp adds its auxiliary batch-norm here). */
  prepare?: (model: Sequential) => void;
  /** Polled after every batch besides Ctrl-C: true ends training early, then evaluation and saving go on. */
  shouldStop?: () => boolean;
  /** Called when training has ended (completed or stopped by shouldStop), before the test evaluation and the save. */
  onTrained?: (model: Sequential, stopped: boolean) => void;
}

/** A zoo name, or a path to a JSON spec {input, layers}. */
export function resolveSpec(model: string, input: number[], classes: number): ModelSpec {
  if (zooNames.includes(model as never)) return zooSpec(model, input, classes);
  if (model.endsWith('.json')) {
    if (!existsSync(model)) throw new TrainingSetupError(`no such model spec file: ${model}`);
    try {
      return JSON.parse(readFileSync(model, 'utf8')) as ModelSpec;
    } catch (e) {
      throw new TrainingSetupError(`${model} is not valid JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
    }
  }
  throw new TrainingSetupError(`unknown model '${model}' (expected ${zooNames.join(', ')}, or a JSON spec file ending in .json)`);
}

/** --classes, else a spec file's output width (its last layer with an `out`), else 10 (the zoo's). */
function classCount(a: TrainArgs): number {
  const isZoo = zooNames.includes(a.model as never);
  const layers: unknown = isZoo ? [] : (resolveSpec(a.model, [], 0) as { layers?: unknown }).layers;
  const outs = Array.isArray(layers)
    ? layers.flatMap((l: unknown) => (typeof (l as { out?: unknown } | null)?.out === 'number' ? [(l as { out: number }).out] : []))
    : [];
  const fromSpec = outs.length ? outs[outs.length - 1] : undefined;
  if (a.classes !== undefined) {
    if (!Number.isInteger(a.classes) || a.classes < 2 || a.classes > 256) throw new TrainingSetupError(`--classes must be an integer in 2..256, got ${a.classes}`);
    if (fromSpec !== undefined && fromSpec !== a.classes) throw new TrainingSetupError(`--classes ${a.classes} but ${a.model} has ${fromSpec} outputs`);
    return a.classes;
  }
  return fromSpec ?? 10;
}

export function checkpointPath(out: string): string {
  return out.replace(/\.safetensors$/, '') + '.ckpt.safetensors';
}

/** Options that may differ on --resume by design: more epochs continue the run (the schedule stretches to them). */
export const RESUMABLE_CHANGES = ['epochs'];

/** A run option as its flag: trainLimit → --train-limit. */
const flagOf = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/**
 * The options of this run that differ from those stored in the checkpoint, as "--lr 0.001 (checkpoint: 0.002)".
 * @example
 *   resumeMismatches({ lr: 2e-3, seed: 0 }, { lr: 1e-3, seed: 0 });   // ['--lr 0.001 (checkpoint: 0.002)']
 */
export function resumeMismatches(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])].filter((k) => !RESUMABLE_CHANGES.includes(k));
  const show = (v: unknown) => (v === undefined || v === null ? '(not set)' : typeof v === 'string' ? v : JSON.stringify(v));
  return keys
    .filter((k) => JSON.stringify(saved[k] ?? null) !== JSON.stringify(now[k] ?? null))
    .map((k) => `${flagOf(k)} ${show(now[k])} (checkpoint: ${show(saved[k])})`);
}

/**
 * Train a model (zoo name or JSON spec) on a data source with a checkpoint per epoch beside `a.out`, evaluate it on
 * the test split and save it (atomic): `nablax train`, the demo and `adv-train` (with its objective and hooks).
 * @throws TrainingSetupError for bad input found before any training (unknown model, labels outside the classes, a
 *   resume with other options…); TrainingInterrupted when `h.interrupted()` stopped it (the last checkpoint is kept).
 * @example
 *   const run = await runTraining({ model: 'cnn', data: 'mnist', epochs: 1, batchSize: 128, optimizer: 'adam', lr: 2e-3, seed: 0, out: 'runs/m.safetensors' });
 *   run.test.accuracy;
 */
export async function runTraining(a: TrainArgs, h: TrainingRunHooks = {}): Promise<TrainRun> {
  const command = a.command ?? 'train';
  // The class count comes from the model (or --classes), and both splits' labels are checked against it now, before
  // any training or checkpoint.
  const classes = classCount(a);
  let trainSet = a.trainData ? withClasses(a.trainData, classes) : loadDataset(a.data, 'train', classes);
  if (a.trainLimit !== undefined) trainSet = subset(trainSet, 0, Math.min(a.trainLimit, trainSet.count));
  const testSet = loadDataset(a.testData ?? a.data, 'test', classes);
  const spec = resolveSpec(a.model, [trainSet.channels, trainSet.height, trainSet.width], classes);
  const model = buildModel(spec, { seed: a.seed });
  // a usage error found before any work (the training loop would refuse it too, but only as a failure)
  const bn1d = model.layers.findIndex((l) => l.spec().type === 'batchnorm1d');
  if (bn1d >= 0 && (a.batchSize < 2 || trainSet.count < 2)) {
    const what = a.batchSize < 2 ? `--batch-size ${a.batchSize}` : `a training set of ${plural(trainSet.count, 'image')} (${trainSet.name})`;
    throw new TrainingSetupError(`${what}: layer ${bn1d} (batchnorm1d) needs batches of at least 2 examples in training; use --batch-size 2 or more and at least 2 training images`);
  }
  a.prepare?.(model);
  residentParameters(model); // the products read the weights in place (layers/resident.ts)
  const ckpt = checkpointPath(a.out);
  // everything that shapes the run except the epochs: a resume with other values would train another run
  const runOptions: Record<string, unknown> = {
    model: a.model, data: a.data, trainCount: trainSet.count, batchSize: a.batchSize, optimizer: a.optimizer, lr: a.lr,
    lrSchedule: a.lrSchedule ?? 'constant', momentum: a.momentum ?? null, weightDecay: a.weightDecay ?? null, seed: a.seed,
    epochs: a.epochs, ...(a.runOptions ?? {}),
  };
  if (a.resume) {
    if (!existsSync(ckpt)) throw new TrainingSetupError(`--resume: no checkpoint at ${ckpt}`);
    const saved = (checkpointHeader(ckpt).state as { options?: Record<string, unknown> } | null)?.options;
    if (!saved) h.onMessage?.(`notice: ${ckpt} was written before checkpoints kept their options; the options of this resume cannot be checked`);
    else {
      const diff = resumeMismatches(saved, runOptions);
      if (diff.length) throw new TrainingSetupError(`--resume: the checkpoint was trained with other options: ${diff.join(', ')}; resume with the checkpoint's options, or start afresh without --resume`);
    }
  }
  if (!a.quiet) {
    h.onMessage?.(`nablax ${command}: ${a.model} (${model.numParameters().toLocaleString('en-US')} parameters) on ${trainSet.name} (${plural(trainSet.count, 'image')}), ` +
      `${plural(a.epochs, 'epoch')}, batch ${a.batchSize}, ${a.optimizer} lr ${a.lr} (${a.lrSchedule ?? 'constant'})` +
      `${a.momentum != null ? `, momentum ${a.momentum}` : ''}${a.weightDecay ? `, weight decay ${a.weightDecay}` : ''}, seed ${a.seed}, ` +
      `${plural(kernels().getThreads(), 'thread')}`);
  }
  const t0 = performance.now();
  const interrupted = h.interrupted ?? (() => false);
  let partial = 0; // batches of the epoch in progress (0 between epochs)
  const result = await train(model, trainSet, {
    epochs: a.epochs,
    batchSize: a.batchSize,
    optimizer: a.optimizer,
    lr: a.lr,
    lrSchedule: a.lrSchedule,
    momentum: a.momentum,
    weightDecay: a.weightDecay,
    seed: a.seed,
    objective: a.objective,
    checkpoint: ckpt,
    resume: a.resume,
    runOptions,
    shouldStop: () => interrupted() || (a.shouldStop?.() ?? false),
    onEpoch: a.onEpoch ? (r) => a.onEpoch!(r, model) : undefined,
    onBatch: (p) => {
      partial = p.batch < p.batches ? p.batch : 0;
      if (!a.quiet) h.onProgress?.(p);
      a.onBatch?.(p, model);
    },
  });
  if (result.stopped && interrupted()) {
    const last = result.history.length;
    const lost = partial ? ` (epoch ${last + 1} was in progress: its ${partial === 1 ? '1 batch is' : `${partial} batches are`} not kept)` : '';
    throw new TrainingInterrupted(`interrupted; kept ${last ? `the checkpoint of epoch ${last} at ${ckpt}${lost}; continue with --resume` : `nothing: no epoch had completed${lost}`}; no model file written`);
  }
  h.onTrainingEnd?.();
  a.onTrained?.(model, result.stopped);
  const seconds = (performance.now() - t0) / 1000;
  // the test set (a big model takes a while on 10,000 images), yielding per batch for Ctrl-C
  if (!a.quiet) h.onTestStart?.(Math.min(a.testLimit ?? testSet.count, testSet.count));
  const test = await evaluateAsync(model, testSet, { limit: a.testLimit, onProgress: (done) => (a.quiet ? undefined : h.onTestProgress?.(done)) });
  h.onTestEnd?.();
  if (interrupted()) {
    throw new TrainingInterrupted(`interrupted during the test evaluation; kept the checkpoint of epoch ${result.history.length} at ${ckpt}; continue with --resume; no model file written`);
  }
  saveModel(a.out, model, {
    trainedOn: trainSet.name,
    epochs: String(a.epochs),
    optimizer: a.optimizer,
    lr: String(a.lr),
    lrSchedule: a.lrSchedule ?? 'constant',
    seed: String(a.seed),
    testAccuracy: test.accuracy.toFixed(4),
    ...(a.metadata ?? {}),
  });
  return { model, history: result.history, test, trainSet, testSet, seconds, stopped: result.stopped };
}
