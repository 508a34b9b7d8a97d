// `nablax train`: train a zoo model or a JSON spec on a data source, evaluate on the official test set,
// save the model (atomic) with a checkpoint per epoch; --resume continues from the checkpoint.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ModelSpec, Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { zooNames, zooSpec } from '../layers/zoo.js';
import { saveModel } from '../io/model-file.js';
import { loadDataset, subset, withClasses, type Dataset } from '../data/datasets.js';
import { evaluateAsync, type Evaluation } from '../train/evaluate.js';
import { train, type BatchProgress, type EpochRecord, type LrSchedule, type Objective } from '../train/loop.js';
import { checkpointHeader } from '../train/checkpoint.js';
import type { TrainJson } from './json-types.js';
import { dataOption, jsonOption, limitOptions, outOption } from './options.js';
import { claimOutputs, int, Interrupted, num, plural, printJson, progressBar, result, say, UsageError, withInterrupt, type Progress } from './util.js';

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

export interface TrainArgs {
  model: string;
  data: string;
  testData?: string;
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  lrSchedule?: LrSchedule;
  momentum?: number;
  weightDecay?: number;
  seed: number;
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
    if (!existsSync(model)) throw new UsageError(`no such model spec file: ${model}`);
    try {
      return JSON.parse(readFileSync(model, 'utf8')) as ModelSpec;
    } catch (e) {
      throw new UsageError(`${model} is not valid JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
    }
  }
  throw new UsageError(`unknown model '${model}' (expected ${zooNames.join(', ')}, or a JSON spec file ending in .json)`);
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
    if (!Number.isInteger(a.classes) || a.classes < 2 || a.classes > 256) throw new UsageError(`--classes must be an integer in 2..256, got ${a.classes}`);
    if (fromSpec !== undefined && fromSpec !== a.classes) throw new UsageError(`--classes ${a.classes} but ${a.model} has ${fromSpec} outputs`);
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

/** Train, evaluate and save; shared by `train` and the main job. */
export async function runTraining(a: TrainArgs): Promise<TrainRun> {
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
    throw new UsageError(`${what}: layer ${bn1d} (batchnorm1d) needs batches of at least 2 examples in training; use --batch-size 2 or more and at least 2 training images`);
  }
  a.prepare?.(model);
  const ckpt = checkpointPath(a.out);
  // everything that shapes the run except the epochs: a resume with other values would train another run
  const runOptions: Record<string, unknown> = {
    model: a.model, data: a.data, trainCount: trainSet.count, batchSize: a.batchSize, optimizer: a.optimizer, lr: a.lr,
    lrSchedule: a.lrSchedule ?? 'constant', momentum: a.momentum ?? null, weightDecay: a.weightDecay ?? null, seed: a.seed,
    epochs: a.epochs, ...(a.runOptions ?? {}),
  };
  if (a.resume) {
    if (!existsSync(ckpt)) throw new UsageError(`--resume: no checkpoint at ${ckpt}`);
    const saved = (checkpointHeader(ckpt).state as { options?: Record<string, unknown> } | null)?.options;
    if (!saved) say(`notice: ${ckpt} was written before checkpoints kept their options; the options of this resume cannot be checked`);
    else {
      const diff = resumeMismatches(saved, runOptions);
      if (diff.length) throw new UsageError(`--resume: the checkpoint was trained with other options: ${diff.join(', ')}; resume with the checkpoint's options, or start afresh without --resume`);
    }
  }
  if (!a.quiet) {
    say(`nablax ${command}: ${a.model} (${model.numParameters().toLocaleString('en-US')} parameters) on ${trainSet.name} (${plural(trainSet.count, 'image')}), ` +
      `${plural(a.epochs, 'epoch')}, batch ${a.batchSize}, ${a.optimizer} lr ${a.lr} (${a.lrSchedule ?? 'constant'}), seed ${a.seed}`);
  }
  const t0 = performance.now();
  let bar: Progress | null = null;
  let interrupted = () => false;
  let partial = 0; // batches of the epoch in progress (0 between epochs)
  const result = await withInterrupt((stopped) => {
    interrupted = stopped;
    return train(model, trainSet, {
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
      shouldStop: () => stopped() || (a.shouldStop?.() ?? false),
      onEpoch: a.onEpoch ? (r) => a.onEpoch!(r, model) : undefined,
      onBatch: (p) => {
        partial = p.batch < p.batches ? p.batch : 0;
        if (!a.quiet) {
          if (p.batch === 1) bar = progressBar(`epoch ${p.epoch + 1}/${p.epochs}`, p.batches, 'loss {loss} acc {acc} | {rate} img/s', { loss: '–', acc: '–' });
          bar?.update(p.batch, { loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2) + '%', rate: p.imagesPerSecond.toFixed(0) });
          if (p.batch === p.batches) bar?.stop();
        }
        a.onBatch?.(p, model);
      },
    });
  });
  if (result.stopped && interrupted()) {
    (bar as Progress | null)?.stop();
    const last = result.history.length;
    const lost = partial ? ` (epoch ${last + 1} was in progress: its ${partial === 1 ? '1 batch is' : `${partial} batches are`} not kept)` : '';
    throw new Interrupted(`interrupted; kept ${last ? `the checkpoint of epoch ${last} at ${ckpt}${lost}; continue with --resume` : `nothing: no epoch had completed${lost}`}; no model file written`);
  }
  if (result.stopped) (bar as Progress | null)?.stop();
  a.onTrained?.(model, result.stopped);
  const seconds = (performance.now() - t0) / 1000;
  // the test set, with its own bar (a big model takes a while on 10,000 images), yielding per batch for Ctrl-C
  const testBar = a.quiet ? null : progressBar('test', Math.min(a.testLimit ?? testSet.count, testSet.count), '{rate} img/s');
  const test = await evaluateAsync(model, testSet, { limit: a.testLimit, onProgress: (done) => testBar?.update(done) });
  testBar?.stop();
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

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model and evaluate it on the official test images')
    .option('--model <name|spec.json>', `zoo model (${zooNames.join(', ')}) or a JSON spec file`, 'cnn')
    .option('--test-data <source>', 'test data source (default: the official MNIST test set, or the --data directory)')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 3)
    .option('--batch-size <n>', 'minibatch size (a last batch of one example joins the batch before it)', int('--batch-size', 1), 128)
    .option('--optimizer <name>', 'sgd, momentum or adam', 'adam')
    .option('--lr <rate>', 'learning rate (the peak, with a cosine schedule)', num('--lr', 0, Infinity, true), 2e-3)
    .option('--lr-schedule <name>', 'constant, or cosine decay to 0 over the run', 'cosine')
    .option('--momentum <m>', 'momentum for sgd/momentum', num('--momentum', 0, 1))
    .option('--weight-decay <λ>', 'L2 weight decay', num('--weight-decay', 0))
    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', int('--seed', 0), 0)
    .option('--classes <n>', 'number of classes (default: the spec file\'s output width, or 10 for a zoo model); labels of both splits are checked against it before training', int('--classes', 2))
    .option('--resume', 'continue from the checkpoint beside --out (the same options; more --epochs may be given)');
  dataOption(cmd, 'mnist', 'training data');
  limitOptions(cmd, { train: true, test: true, oldLimit: 'train', testHelp: 'evaluate on the first N test images' });
  outOption(cmd, 'file', 'model file to write (its checkpoint goes beside it)', 'runs/model.safetensors');
  jsonOption(cmd);
  cmd.action(async (o) => {
      if (!['sgd', 'momentum', 'adam'].includes(o.optimizer)) throw new UsageError(`unknown optimizer '${o.optimizer}' (expected sgd, momentum or adam)`);
      if (!['constant', 'cosine'].includes(o.lrSchedule)) throw new UsageError(`unknown --lr-schedule '${o.lrSchedule}' (expected constant or cosine)`);
      claimOutputs([{ path: o.out, kind: 'file', flag: '--out' }]);
      const run = await runTraining({ ...o, data: o.data, testData: o.testData });
      const doc: TrainJson = {
        model: o.model,
        data: run.trainSet.name,
        trainCount: run.trainSet.count,
        testData: run.testSet.name,
        testCount: run.test.count,
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: o.optimizer,
        lr: o.lr,
        lrSchedule: o.lrSchedule,
        seed: o.seed,
        parameters: run.model.numParameters(),
        cleanAccuracy: run.test.accuracy,
        testLoss: run.test.loss,
        perClassAccuracy: run.test.perClassAccuracy,
        confusion: run.test.confusion,
        history: run.history,
        trainSeconds: run.seconds,
        modelFile: o.out,
        testAccuracy: run.test.accuracy,
        out: o.out,
      };
      if (o.json) printJson(doc);
      else result(`test accuracy ${(100 * run.test.accuracy).toFixed(2)}% on ${plural(run.test.count, 'test image')} of ${run.testSet.name}; saved ${o.out}`);
    });
}
