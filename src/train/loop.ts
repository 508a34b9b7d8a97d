// The training loop: seeded shuffling, minibatches, one objective (plain cross-entropy by default; adversarial
// objectives plug in here), an optimiser step, a checkpoint at the end of every epoch, and resumption.
// Each epoch draws its shuffle and dropout masks from Rng.derive(seed, epoch), so a resumed run is bit-identical.
// The last batch of an epoch is never a lone example: when count ≡ 1 (mod batch size) it joins the batch before it
// (which then has batchSize + 1), since batch-norm cannot normalise one example (BatchNorm1d has a single value per
// channel) and one example is the noisiest step; every example is still seen once per epoch.
import { softmaxCrossEntropy } from '../engine/ops/loss.js';
import { Rng } from '../engine/random.js';
import { recycling } from '../engine/recycle.js';
import { grad } from '../engine/tape.js';
import type { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import { getBatch } from '../data/batches.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Dataset } from '../data/datasets.js';
import { argmax } from '../layers/predict.js';
import { evaluate } from './evaluate.js';
import { makeOptimizer, type Optimizer } from './optimizers.js';
import { isRecyclable, recyclableObjective, type Objective, type ObjectiveContext } from './objective.js';
import { oneCycleLr } from './schedules.js';

export type { Objective, ObjectiveContext } from './objective.js';
export { recyclableObjective } from './objective.js';

/** Plain cross-entropy J(x, y). */
export const crossEntropyObjective: Objective = recyclableObjective((model, x, y) => {
  const logits = model.forward(x);
  return { loss: softmaxCrossEntropy(logits, y), logits };
});

/**
 * One optimiser step of `objective` on a batch: the loss, its gradient with respect to `tensors` (the optimiser's
 * parameters, in order), the update. A recyclable objective's step runs in a recycling scope (engine/recycle.ts):
 * the arrays it allocates go back to the pool when it ends, except the returned loss and logits, so the next step
 * reuses them (the same values, fewer page faults and collections).
 * @example
 *   const { loss, logits } = trainingStep(model, opt, tensors, crossEntropyObjective, x, y, { rng, epoch: 0, step: 0 });
 */
export function trainingStep(
  model: Sequential, opt: Optimizer, tensors: Tensor[], objective: Objective, x: Tensor, y: Int32Array, ctx: ObjectiveContext,
): { loss: Tensor; logits: Tensor } {
  const step = () => {
    const value = objective(model, x, y, ctx);
    opt.step(grad(value.loss, tensors));
    return value;
  };
  return isRecyclable(objective) ? recycling(step, (v) => [v.loss, v.logits]) : step();
}

export type LrSchedule = 'constant' | 'cosine' | 'onecycle';

/**
 * The learning rate at `step` of `total` steps.
 * @example
 *   scheduledLr('cosine', 1e-3, 50, 100);  // 5e-4
 */
export function scheduledLr(schedule: LrSchedule, lr: number, step: number, total: number): number {
  if (schedule === 'constant') return lr;
  if (schedule === 'cosine') return 0.5 * lr * (1 + Math.cos((Math.PI * Math.min(step, total)) / total));
  if (schedule === 'onecycle') return oneCycleLr(lr, step, total);
  throw new Error(`scheduledLr: unknown schedule '${schedule as string}' (expected constant, cosine or onecycle)`);
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  /**
   * Learning-rate schedule over the whole run: constant (default), cosine decay to 0 (Loshchilov & Hutter 2017) or
   * one-cycle (linear up to the peak at 2/5 of the run, then down to 0: Wong et al. 2020; schedules.ts).
   */
  lrSchedule?: LrSchedule;
  momentum?: number;
  weightDecay?: number;
  seed: number;
  objective?: Objective;
  /** Checkpoint path, written atomically after every epoch. */
  checkpoint?: string;
  /** Continue from `checkpoint` if it exists. */
  resume?: boolean;
  /** The run's options, stored in every checkpoint (state.options) so that a resume can be checked against them. */
  runOptions?: Record<string, unknown>;
  /** Evaluated after every epoch when given. */
  evalSet?: Dataset;
  evalLimit?: number;
  onBatch?: (p: BatchProgress) => void;
  /** Called after each epoch's checkpoint; may be async (per-epoch robust evaluation, say). */
  onEpoch?: (r: EpochRecord) => void | Promise<void>;
  /** Polled after every batch; true stops the run (the last checkpoint stays as it was). */
  shouldStop?: () => boolean;
}

export interface BatchProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy?: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainResult {
  history: EpochRecord[];
  /** True when shouldStop ended the run early. */
  stopped: boolean;
  /** Epoch the run started from (0, or the checkpoint's when resumed). */
  startEpoch: number;
  optimizer: Optimizer;
}

/**
 * Batches per epoch for `count` examples in batches of `B`: ⌈count/B⌉, one fewer when the last would hold a single
 * example (it joins the batch before it).
 * @example
 *   epochBatches(10_000, 128);   // 79 (the last holds 16)
 *   epochBatches(129, 128);      // 1 (one batch of 129)
 */
export function epochBatches(count: number, B: number): number {
  const batches = Math.ceil(count / B);
  return count > 1 && B > 1 && count % B === 1 ? batches - 1 : batches;
}

// Yielding once per batch lets signals (Ctrl-C) and the progress bar's timers run during a long synchronous run.
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Train `model` on `data`.
 * @example
 *   const { history } = await train(model, loadMnistPackage(), { epochs: 3, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 0 });
 */
export async function train(model: Sequential, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new Error(`train: epochs must be a positive integer, got ${opts.epochs}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`train: batch size must be a positive integer, got ${opts.batchSize}`);
  if (data.count < 1) throw new Error(`train: dataset ${data.name} is empty`);
  const bn1d = model.layers.findIndex((l) => l.spec().type === 'batchnorm1d');
  if (bn1d >= 0 && (data.count < 2 || opts.batchSize < 2)) {
    throw new Error(`train: layer ${bn1d} (batchnorm1d) needs batches of at least 2 examples in training, got ${data.count < 2 ? `a dataset of ${data.count}` : `batch size ${opts.batchSize}`}`);
  }
  const params = model.parameters();
  const opt = makeOptimizer(opts.optimizer, params, { lr: opts.lr, momentum: opts.momentum, weightDecay: opts.weightDecay });
  const objective = opts.objective ?? crossEntropyObjective;
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  if (opts.resume && opts.checkpoint) {
    const info = loadCheckpoint(opts.checkpoint, model, opt);
    startEpoch = info.epoch;
    history = ((info.state as { history?: EpochRecord[] } | null)?.history ?? []).slice(0, startEpoch);
  }
  const tensors = params.map(([, t]) => t);
  const B = opts.batchSize;
  const batches = epochBatches(data.count, B);
  let step = startEpoch * batches;
  for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
    const rng = Rng.derive(opts.seed, epoch);
    const order = rng.permutation(data.count);
    model.layers.forEach((l, i) => {
      if (l.stochastic) l.reseed(Rng.derive(opts.seed, epoch, 1000 + i));
    });
    // Training mode for a model in evaluation mode; a training model keeps each layer's own flag (a frozen batch-norm).
    if (!model.training) model.train();
    const t0 = performance.now();
    let lossSum = 0, correct = 0, seen = 0;
    for (let b = 0; b < batches; b++) {
      const { x, y } = getBatch(data, order, b * B, b === batches - 1 ? data.count : (b + 1) * B);
      opt.lr = scheduledLr(opts.lrSchedule ?? 'constant', opts.lr, step, opts.epochs * batches);
      const { loss, logits } = trainingStep(model, opt, tensors, objective, x, y, { rng, epoch, step, stepsPerEpoch: batches });
      step++;
      const l = loss.item();
      if (!Number.isFinite(l)) throw new Error(`train: loss became ${l} at epoch ${epoch + 1}, batch ${b + 1} (lower the learning rate?)`);
      lossSum += l * y.length;
      const pred = argmax(logits);
      for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) correct++;
      seen += y.length;
      const seconds = (performance.now() - t0) / 1000;
      opts.onBatch?.({ epoch, epochs: opts.epochs, batch: b + 1, batches, loss: lossSum / seen, accuracy: correct / seen, imagesPerSecond: seen / seconds });
      await yieldToEventLoop();
      if (opts.shouldStop?.()) return { history, stopped: true, startEpoch, optimizer: opt };
    }
    const seconds = (performance.now() - t0) / 1000;
    const rec: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, trainAccuracy: correct / seen, seconds, imagesPerSecond: seen / seconds };
    if (opts.evalSet) rec.testAccuracy = evaluate(model, opts.evalSet, { limit: opts.evalLimit }).accuracy;
    history.push(rec);
    if (opts.checkpoint) saveCheckpoint(opts.checkpoint, model, opt, { epoch: epoch + 1, state: { history, options: opts.runOptions } });
    await opts.onEpoch?.(rec);
    // a stop asked for during onEpoch (the overfitting guard, Ctrl-C) takes effect before the next epoch's first batch
    if (epoch + 1 < opts.epochs && opts.shouldStop?.()) return { history, stopped: true, startEpoch, optimizer: opt };
  }
  return { history, stopped: false, startEpoch, optimizer: opt };
}
