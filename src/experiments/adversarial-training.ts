// An adversarial-training run as a library function (`nablax adv-train` is its CLI face): a training objective from
// train/methods.ts (Goodfellow's J̃, FGSM/InvFGSM augmentation, PGD, fast FGSM, AdvProp, TRADES, MART) through the
// training run of ./training-run.ts, then clean, FGSM, PGD-40 and AutoAttack accuracy on the official test images.
// Around the loop: the guard against catastrophic overfitting (Wong et al. 2020: PGD accuracy on the last N training
// images, held out), the weight average (Gowal et al. 2020; prepared on the fresh model, updated per batch, restarted
// on a resume that lacks it, saved per epoch), the per-epoch robust point and its leak warning, and the adversarial
// state beside the checkpoint (<model>.adv-state.json: robust curve, warnings, guard history) so that a resumed run
// reports every epoch. The result is the `adv-train --json` document (AdvTrainJson).
import { existsSync, readFileSync } from 'node:fs';
import { autoattackGapWarning } from '../attacks/autoattack-checks.js';
import { whiteBoxAttacks } from '../attacks/index.js';
import { loadDataset, subset } from '../data/datasets.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { enableAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import type { AdvTrainJson } from '../report/json-types.js';
import { pct, plural } from '../report/text.js';
import { checkpointEpoch } from '../train/checkpoint.js';
import { WeightAverage } from '../train/ema.js';
import { evaluate } from '../train/evaluate.js';
import { OverfittingGuard, pgdAccuracy, type GuardReport } from '../train/guard.js';
import type { EpochRecord, LrSchedule } from '../train/loop.js';
import { methodObjective } from '../train/methods.js';
import { parseStepsSchedule, type StepsSchedule } from '../train/schedules.js';
import { finalAutoAttack, leakWarning, measureAttack, robustPoint, type FinalAttack, type MeasureHooks, type RobustPoint } from './adversarial-training-measure.js';
import { checkpointPath, runTraining, TrainingSetupError, type TrainArgs, type TrainingRunHooks, type TrainRun } from './training-run.js';

/** Bad input found before any training (a guard slice as large as the data, a model AdvProp cannot train): exit 2. */
export class AdversarialTrainingSetupError extends TrainingSetupError {}

/** The run's options: the loop's, the method's (undefined: the method's default), the recipes', the measurements'. */
export interface AdversarialTrainingOptions {
  /** Zoo model or JSON spec (default cnn; cnn-bn for advprop). */
  model?: string;
  /** One of train/methods.ts's adversarialMethods. */
  method: string;
  data: string;
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  lrSchedule: LrSchedule;
  seed: number;
  /** Train on the first N training images (after the guard's slice is held out). */
  trainLimit?: number;
  /** Clean accuracy on the first N test images. */
  testLimit?: number;
  eps?: number;
  alpha?: number;
  steps?: number;
  stepSize?: number;
  beta?: number;
  lambda?: number;
  /** Epochs over which ε grows linearly from 0. */
  epsWarmup: number;
  /** Curriculum of attack steps as given ('E:K,E:K' or 'K0-K1'); replaces `steps`. */
  stepsSchedule?: string;
  /** Decay of the weight average; null: none. */
  ema: number | null;
  /** Images held out for the guard (default: 1000 for fast, else 0 = off). */
  guardSlice?: number;
  /** Guard every K optimiser steps (0: after every epoch). */
  guardEvery: number;
  guardSteps: number;
  guardRatio: number;
  guardFloor: number;
  /** Per-epoch robust point on the first N test images (0: off). */
  epochTestLimit: number;
  /** FGSM, PGD-40 and AutoAttack on the first N test images. */
  robustLimit: number;
  finalAttack: FinalAttack;
  finalAttackSteps: number;
  /** The model file; its checkpoint, adversarial state, weight average and the guard's best weights go beside it. */
  modelFile: string;
  resume?: boolean;
}

/** Messages, training progress and the stop request (./training-run.ts), and the measurements' progress. */
export interface AdversarialTrainingHooks extends TrainingRunHooks, MeasureHooks {
  /** Runs the training (default: runTraining with these hooks); the CLI passes its own, with bars and Ctrl-C. */
  train?: (a: TrainArgs) => Promise<TrainRun>;
}

/**
 * Files beside the model: its checkpoint, the adversarial state for --resume, the guard's best weights, the average.
 * @example
 *   advTrainPaths('runs/adv/model.safetensors').state;   // 'runs/adv/model.adv-state.json'
 */
export function advTrainPaths(out: string): { checkpoint: string; state: string; best: string; ema: string } {
  const base = out.replace(/\.safetensors$/, '');
  return { checkpoint: checkpointPath(out), state: `${base}.adv-state.json`, best: `${base}.best.safetensors`, ema: `${base}.ema.safetensors` };
}

/** What a run keeps beside its checkpoint so that --resume reports every epoch. */
interface AdvState {
  epoch: number;
  robustHistory: RobustPoint[];
  warnings: string[];
  guard: GuardReport | null;
}

/**
 * Train with an adversarial objective, then measure the model (and its weight average) with FGSM, PGD-40 and the
 * final AutoAttack on the first `robustLimit` test images.
 * @throws AdversarialTrainingSetupError (a TrainingSetupError) for bad input found before any training.
 * @example
 *   const doc = await runAdversarialTraining({ method: 'pgd', data: 'mnist', epochs: 1, …, modelFile: 'runs/adv/model.safetensors' });
 *   doc.robustAccuracy;   // min of FGSM, PGD-40 and AutoAttack accuracy
 */
export async function runAdversarialTraining(o: AdversarialTrainingOptions, h: AdversarialTrainingHooks = {}): Promise<AdvTrainJson> {
  const say = (msg: string) => h.onMessage?.(msg);
  let stepsSchedule: StepsSchedule | undefined;
  if (o.stepsSchedule !== undefined) {
    try {
      stepsSchedule = parseStepsSchedule(o.stepsSchedule, o.epochs);
    } catch (e) {
      throw new AdversarialTrainingSetupError(`--steps-schedule: ${(e as Error).message.replace(/^parseStepsSchedule: /, '')}`);
    }
  }
  const { objective, eps } = methodObjective(o.method, o, stepsSchedule);
  const model: string = o.model ?? (o.method === 'advprop' ? 'cnn-bn' : 'cnn');
  const modelFile = o.modelFile;
  const paths = advTrainPaths(modelFile);
  const curve: RobustPoint[] = [];
  const warnings: string[] = [];
  const evalSet = o.epochTestLimit > 0 ? subset(loadDataset(o.data, 'test'), 0, o.epochTestLimit) : null;

  // The guard's slice: the last N training images, never trained on.
  let trainData = loadDataset(o.data, 'train');
  const guardSlice: number = o.guardSlice ?? (o.method === 'fast' ? 1000 : 0);
  let guard: OverfittingGuard | null = null;
  if (guardSlice > 0) {
    if (guardSlice >= trainData.count) throw new AdversarialTrainingSetupError(`--guard-slice ${guardSlice} leaves no training images (${trainData.name} has ${trainData.count})`);
    const heldOut = subset(trainData, trainData.count - guardSlice, trainData.count);
    trainData = subset(trainData, 0, trainData.count - guardSlice);
    guard = new OverfittingGuard({
      measure: (m) => pgdAccuracy(m, heldOut, { eps, steps: o.guardSteps, stepSize: eps / 4, seed: o.seed }),
      ratio: o.guardRatio, floor: o.guardFloor, bestPath: paths.best,
      metadata: { adversarialTraining: o.method, adversarialEps: String(eps), guardSlice: heldOut.name },
    });
  }
  const trainCount = Math.min(o.trainLimit ?? trainData.count, trainData.count);
  const batches = Math.ceil(trainCount / o.batchSize);

  if (o.resume && existsSync(paths.checkpoint) && existsSync(paths.state)) {
    const done = checkpointEpoch(paths.checkpoint);
    const saved = JSON.parse(readFileSync(paths.state, 'utf8')) as AdvState;
    curve.push(...saved.robustHistory.filter((p) => p.epoch <= done));
    warnings.push(...saved.warnings.filter((w) => Number(/^epoch (\d+)/.exec(w)?.[1] ?? 0) <= done));
    if (guard && saved.guard) guard.resume(saved.guard, done * batches, existsSync(paths.best) ? loadModel(paths.best) : undefined);
    say(`resuming after epoch ${done}${saved.epoch < done ? ` (robust measurements of epochs ${saved.epoch + 1}–${done} were lost)` : ''}`);
  }
  // The weight average: built on the fresh model (prepare), continued from <out>.ema.safetensors on --resume when
  // that file belongs to the checkpoint's epoch, else restarted at the resumed weights before the first update.
  let ema: WeightAverage | null = null;
  let emaRestart = false;
  const prepareEma = (m: Sequential) => {
    if (o.ema === null) return;
    ema = new WeightAverage(m, { decay: o.ema });
    if (!o.resume || !existsSync(paths.checkpoint)) return;
    const done = checkpointEpoch(paths.checkpoint);
    if (done === 0) return;
    const meta = existsSync(paths.ema) ? ema.load(paths.ema) : null;
    if (meta && Number(meta.epoch) === done) return;
    emaRestart = true;
    say(`warning: no weight average of epoch ${done} at ${paths.ema}; the average restarts at the resumed weights`);
  };
  const emaUpdate = (m: Sequential) => {
    const avg = ema;
    if (!avg) return;
    if (emaRestart) {
      avg.copyFrom(m);
      emaRestart = false;
    }
    avg.update(m);
  };
  const guardCheck = (m: Sequential, epoch: number, step: number) => {
    if (!guard || guard.collapsed) return;
    const verdict = guard.check(m, { epoch, step });
    const last = guard.history[guard.history.length - 1];
    say(`guard: PGD-${o.guardSteps} accuracy ${pct(last.accuracy)} on ${plural(guardSlice, 'held-out training image')} at epoch ${epoch}, step ${step}` +
      (verdict === 'best' ? ' (best so far)' : ''));
    if (verdict === 'collapsed') say(`guard: ${guard.reason}; stopping`);
  };
  const saveState = (epoch: number) => {
    const state: AdvState = { epoch, robustHistory: curve, warnings, guard: guard?.report() ?? null };
    writeFileAtomic(paths.state, JSON.stringify(state, null, 2) + '\n');
  };
  const onEpoch = async (r: EpochRecord, m: Sequential) => {
    if (guard && o.guardEvery === 0) guardCheck(m, r.epoch, r.epoch * batches);
    if (evalSet) {
      const p = await robustPoint(m, evalSet, eps, r.epoch, h);
      curve.push(p);
      say(`epoch ${r.epoch}: clean ${pct(p.cleanAccuracy)}, FGSM ${pct(p.fgsmAccuracy)}, PGD-40 ${pct(p.pgdAccuracy)} (first ${plural(evalSet.count, 'test image')})`);
      const w = leakWarning(p, eps);
      if (w) {
        warnings.push(w);
        say(`warning: ${w}`);
      }
    }
    (ema)?.save(paths.ema, { epoch: String(r.epoch), adversarialTraining: o.method, adversarialEps: String(eps) });
    saveState(r.epoch);
  };
  const args: TrainArgs = {
    model, data: o.data, epochs: o.epochs, batchSize: o.batchSize, optimizer: o.optimizer, lr: o.lr, lrSchedule: o.lrSchedule, seed: o.seed,
    trainLimit: o.trainLimit, testLimit: o.testLimit, resume: o.resume,
    out: modelFile, command: 'adv-train', objective, onEpoch, trainData,
    runOptions: {
      method: o.method, eps, alpha: o.alpha ?? null, steps: o.steps ?? null, stepSize: o.stepSize ?? null, epsWarmup: o.epsWarmup,
      guardSlice, guardEvery: o.guardEvery, guardSteps: o.guardSteps, guardRatio: o.guardRatio, guardFloor: o.guardFloor,
      beta: o.beta ?? null, lambda: o.lambda ?? null, stepsSchedule: o.stepsSchedule ?? null, ema: o.ema,
    },
    prepare: (m) => {
      if (o.method === 'advprop') {
        try {
          enableAuxBatchNorm(m);
        } catch (e) {
          throw new AdversarialTrainingSetupError(`--method advprop: ${(e as Error).message.replace(/^enableAuxBatchNorm: /, '')}`);
        }
      }
      prepareEma(m);
    },
    onBatch: (p, m) => {
      emaUpdate(m);
      if (!guard || o.guardEvery === 0) return;
      const step = p.epoch * p.batches + p.batch;
      if (step % o.guardEvery === 0) guardCheck(m, p.epoch + 1, step);
    },
    shouldStop: guard ? () => guard.collapsed : undefined,
    onTrained: (m) => {
      if (!guard?.collapsed) return;
      const restored = guard.restoreBest(m);
      say(`guard: stopped at epoch ${guard.stoppedAt!.epoch}; ` +
        (restored ? `restored the best weights (PGD accuracy ${pct(guard.best!.accuracy)}, epoch ${guard.best!.epoch}, step ${guard.best!.step})` : 'no best weights to restore'));
    },
    metadata: {
      adversarialTraining: o.method, adversarialEps: String(eps),
      ...(o.method === 'advprop' ? { batchNorm: 'main (the auxiliary batch-norm of AdvProp training is not saved)' } : {}),
    },
  };
  const run = await (h.train ? h.train(args) : runTraining(args, h));

  // the final measurements, of the model and of its weight average, on the same images
  const slice = subset(run.testSet, 0, Math.min(o.robustLimit, run.testSet.count));
  const pgd40 = { steps: 40, stepSize: 0.01 };
  const fgsm = await measureAttack(run.model, slice, eps, 'FGSM', whiteBoxAttacks.fgsm, undefined, h);
  const pgd = await measureAttack(run.model, slice, eps, 'PGD-40', whiteBoxAttacks.pgd, pgd40, h);
  const aa = finalAutoAttack(run.model, slice, eps, { attack: o.finalAttack, seed: o.seed, steps: o.finalAttackSteps }, h);
  for (const w of aa.warnings) warnings.push(`AutoAttack: ${w}`);
  const gap = autoattackGapWarning(pgd.metrics.accuracy, aa.robustAccuracy, aa.version, eps);
  if (gap) {
    warnings.push(gap);
    say(`warning: ${gap}`);
  }
  let emaDoc: AdvTrainJson['ema'] = null;
  const avg = ema as WeightAverage | null;
  if (avg) {
    const test = evaluate(avg.model, run.testSet);
    const emaFgsm = await measureAttack(avg.model, slice, eps, 'FGSM (weight average)', whiteBoxAttacks.fgsm, undefined, h);
    const emaPgd = await measureAttack(avg.model, slice, eps, 'PGD-40 (weight average)', whiteBoxAttacks.pgd, pgd40, h);
    // the same final AutoAttack setting as the main model, on the same images, with its own PGD-gap warning
    const emaAa = finalAutoAttack(avg.model, slice, eps, { attack: o.finalAttack, seed: o.seed, steps: o.finalAttackSteps }, h);
    for (const w of emaAa.warnings) warnings.push(`weight average: AutoAttack: ${w}`);
    const emaGap = autoattackGapWarning(emaPgd.metrics.accuracy, emaAa.robustAccuracy, emaAa.version, eps);
    if (emaGap) {
      warnings.push(`weight average: ${emaGap}`);
      say(`warning: weight average: ${emaGap}`);
    }
    avg.save(paths.ema, { epoch: String(run.history.length), adversarialTraining: o.method, adversarialEps: String(eps), testAccuracy: test.accuracy.toFixed(4) });
    emaDoc = {
      decay: avg.decay, updates: avg.updates, cleanAccuracy: test.accuracy, fgsmAccuracy: emaFgsm.metrics.accuracy, pgdAccuracy: emaPgd.metrics.accuracy,
      autoattackAccuracy: emaAa.robustAccuracy, autoattackStages: emaAa.stages,
      robustAccuracy: Math.min(emaFgsm.metrics.accuracy, emaPgd.metrics.accuracy, emaAa.robustAccuracy), modelFile: paths.ema,
    };
  }
  return {
    model, method: o.method, eps, epochs: o.epochs, seed: o.seed, data: run.trainSet.name, trainCount: run.trainSet.count,
    ...(o.method === 'pgd' ? { steps: o.steps ?? 7, stepSize: o.stepSize ?? 0.1 } : {}),
    ...(o.method === 'advprop' ? { steps: o.steps ?? 5, stepSize: o.stepSize ?? 0.1 } : {}),
    ...(o.method === 'trades' ? { beta: o.beta ?? 1.0 } : {}),
    ...(o.method === 'mart' ? { lambda: o.lambda ?? 6 } : {}),
    ...(o.method === 'trades' || o.method === 'mart' ? { steps: o.steps ?? 40, stepSize: o.stepSize ?? 0.01 } : {}),
    ...(stepsSchedule ? { stepsSchedule: stepsSchedule.text, steps: undefined, stepSize: o.stepSize ?? '2.5·ε/k' } : {}),
    lrSchedule: o.lrSchedule, epsWarmup: o.epsWarmup,
    cleanAccuracy: run.test.accuracy, testCount: run.test.count,
    robustCount: slice.count, fgsmAccuracy: fgsm.metrics.accuracy, pgdAccuracy: pgd.metrics.accuracy,
    autoattackAccuracy: aa.robustAccuracy, autoattackVersion: aa.version, autoattackSteps: o.finalAttackSteps, autoattackStages: aa.stages,
    robustAccuracy: Math.min(fgsm.metrics.accuracy, pgd.metrics.accuracy, aa.robustAccuracy),
    history: run.history, robustHistory: curve, warnings,
    guard: guard ? { slice: guardSlice, every: o.guardEvery, steps: o.guardSteps, bestFile: guard.best ? paths.best : null, ...guard.report() } : null,
    ema: emaDoc,
    trainSeconds: run.seconds, modelFile,
    testAccuracy: run.test.accuracy, out: modelFile,
  };
}
