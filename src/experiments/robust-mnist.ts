// `nablax experiment robust-mnist` (issue 17): train a list of (architecture, method, recipe) runs, each within a
// wall-clock budget, then measure every result (and its weight average) with clean accuracy, PGD-40 and AutoAttack
// 'standard' (Croce & Hein, ICML 2020: APGD-CE, APGD-T, FAB-T, Square) at ε = 0.3 on the official test images.
// Training time is the loop's own (the per-epoch PGD-40 measurements on a test slice are not counted). A run stops at
// the end of the batch where its budget is spent, or after its epochs; the model as it is then is kept and measured.
// Per run, in <out>/runs/<name>/: model.safetensors, its checkpoint after every epoch, model.ema.safetensors, state.json
// (the run, its epoch ends, the per-epoch curve), autoattack.json (the AutoAttack chunks measured so far; see
// ./robust-mnist-measure.ts) and result.json once measured; a resume skips measured runs, measures trained ones and
// continues the others from their checkpoint (the time before it counts against the budget).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { enableAuxBatchNorm } from '../layers/batchnorm.js';
import type { Sequential } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { zooSpec } from '../layers/zoo.js';
import { checkpointEpoch, checkpointHeader } from '../train/checkpoint.js';
import { subset, type Dataset } from '../data/datasets.js';
import { WeightAverage } from '../train/ema.js';
import { epochBatches, train } from '../train/loop.js';
import { methodObjective } from '../train/methods.js';
import { parseStepsSchedule } from '../train/schedules.js';
import { ExperimentInterrupted, measureModel, pct, pgd40, type ModelEvaluation, type RobustMnistHooks, type RobustMnistSettings } from './robust-mnist-measure.js';
import type { ResolvedRun } from './robust-mnist-runs.js';
import { residentParameters } from '../layers/resident.js';

export { ExperimentInterrupted, measureModel, type ModelEvaluation, type RobustMnistHooks, type RobustMnistSettings };

/** One point of a run's curve: robust accuracy on the slice against training time. */
export interface CurvePoint {
  epoch: number;
  trainSeconds: number;
  cleanAccuracy: number;
  pgdAccuracy: number;
}

export interface TrainingRecord {
  /** Epochs done, fractional when the budget stopped the run inside an epoch. */
  epochs: number;
  epochsCompleted: number;
  steps: number;
  stepsPerEpoch: number;
  trainSeconds: number;
  stoppedBy: 'epochs' | 'budget';
  trainCount: number;
}

export interface RunResult {
  run: ResolvedRun;
  parameters: number;
  training: TrainingRecord;
  curve: CurvePoint[];
  final: ModelEvaluation;
  ema: ModelEvaluation | null;
  /** The settings it was measured with: a resume with other settings measures again. */
  evaluatedWith: Omit<RobustMnistSettings, 'budgetMinutes' | 'epochTestLimit'>;
}

/** A run's state on disk, beside its checkpoint. */
interface RunState {
  run: ResolvedRun;
  trainCount: number;
  /** Training seconds at the end of each completed epoch. */
  epochEnds: { epoch: number; trainSeconds: number }[];
  curve: CurvePoint[];
  /** Set once training has ended and model.safetensors holds the result. */
  training: TrainingRecord | null;
}

export function runPaths(out: string, name: string) {
  const dir = join(out, 'runs', name);
  return { dir, model: join(dir, 'model.safetensors'), checkpoint: join(dir, 'model.ckpt.safetensors'), ema: join(dir, 'model.ema.safetensors'), state: join(dir, 'state.json'), result: join(dir, 'result.json'),
    autoattack: join(dir, 'autoattack.json'), autoattackEma: join(dir, 'autoattack-ema.json') };
}

const readJson = <T>(path: string): T | null => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What a resume would do with each run: 'measured' (skipped), 'trained' (measure only), 'checkpoint' (continue) or
 * 'new'. Throws an Error naming the run when its folder holds a run with other options.
 * @example
 *   runStatus('runs/robust', runs[0], 60000);   // 'new'
 */
export function runStatus(out: string, run: ResolvedRun, trainCount: number): 'measured' | 'trained' | 'checkpoint' | 'new' {
  const p = runPaths(out, run.name);
  const state = readJson<RunState>(p.state);
  if (!state) return 'new';
  if (!same(state.run, run) || state.trainCount !== trainCount) {
    throw new Error(`run '${run.name}': ${p.state} holds a run with other options or data; give the run another name, or start afresh in another --out`);
  }
  if (state.training && existsSync(p.model)) return existsSync(p.result) ? 'measured' : 'trained';
  return existsSync(p.checkpoint) ? 'checkpoint' : 'new';
}

/**
 * Train one run within the budget (resuming from its checkpoint when `resume`), save the model and its average.
 * @example
 *   const { model, ema, training } = await trainRun(run, { out, train, evalSlice, settings, resume: false });
 */
export async function trainRun(run: ResolvedRun, a: { out: string; train: Dataset; evalSlice: Dataset | null; settings: RobustMnistSettings; resume: boolean; hooks?: RobustMnistHooks }): Promise<{ model: Sequential; ema: Sequential | null; training: TrainingRecord; curve: CurvePoint[] }> {
  const h = a.hooks ?? {};
  const now = h.now ?? (() => performance.now());
  const o = run.options;
  const p = runPaths(a.out, run.name);
  const schedule = o.stepsSchedule !== null ? parseStepsSchedule(o.stepsSchedule, o.epochs) : undefined;
  const method = { eps: o.eps, steps: o.steps ?? undefined, stepSize: o.stepSize ?? undefined, epsWarmup: o.epsWarmup, beta: o.beta ?? undefined, lambda: o.lambda ?? undefined, alpha: o.alpha ?? undefined };
  const { objective } = methodObjective(run.method, method, schedule);
  const model = buildModel(zooSpec(run.model, [a.train.channels, a.train.height, a.train.width], 10), { seed: o.seed });
  if (run.method === 'advprop') enableAuxBatchNorm(model);
  residentParameters(model);
  const resume = a.resume && existsSync(p.checkpoint);
  const done = resume ? checkpointEpoch(p.checkpoint) : 0;
  const saved = resume ? readJson<RunState>(p.state) : null;
  const state: RunState = { run, trainCount: a.train.count, epochEnds: [], curve: [], training: null };
  let base = 0; // training seconds before this process: those of the checkpoint's epoch
  if (done > 0) {
    const end = saved?.epochEnds.find((e) => e.epoch === done);
    // a state file one epoch behind the checkpoint (killed between the two writes): the loop's own epoch times
    const history = (checkpointHeader(p.checkpoint).state as { history?: { seconds: number }[] } | null)?.history ?? [];
    base = end?.trainSeconds ?? history.slice(0, done).reduce((s, r) => s + r.seconds, 0);
    state.epochEnds = (saved?.epochEnds ?? []).filter((e) => e.epoch < done).concat([{ epoch: done, trainSeconds: base }]);
    state.curve = (saved?.curve ?? []).filter((c) => c.epoch <= done);
    h.onMessage?.(`${run.name}: resuming after epoch ${done} (${base.toFixed(0)} s of training)`);
  }
  writeFileAtomic(p.state, JSON.stringify(state, null, 2) + '\n');
  let ema: WeightAverage | null = null;
  if (o.ema !== null) {
    ema = new WeightAverage(model, { decay: o.ema });
    if (done > 0) {
      // the average continues when its file belongs to the checkpoint's epoch, else restarts at the resumed weights
      const meta = existsSync(p.ema) ? ema.load(p.ema) : null;
      if (!meta || Number(meta.epoch) !== done) ema = null;
    }
  }
  const restartEma = o.ema !== null && ema === null;
  const budget = 60 * a.settings.budgetMinutes;
  let epochStart = now(), spentHere = 0, steps = done * epochBatches(a.train.count, o.batchSize);
  const elapsed = () => base + spentHere + (now() - epochStart) / 1000;
  const interrupted = () => h.interrupted?.() ?? false;
  let avg: WeightAverage | null = ema;
  const result = await train(model, a.train, {
    epochs: o.epochs, batchSize: o.batchSize, optimizer: o.optimizer, lr: o.lr, lrSchedule: o.lrSchedule, momentum: o.momentum ?? undefined,
    seed: o.seed, objective, checkpoint: p.checkpoint, resume, runOptions: { run, trainCount: a.train.count },
    shouldStop: () => interrupted() || elapsed() >= budget,
    onBatch: (b) => {
      steps = b.epoch * b.batches + b.batch;
      if (restartEma && avg === null) avg = new WeightAverage(model, { decay: o.ema! });
      avg?.update(model);
      h.onBatch?.(run, b, budget - elapsed());
    },
    onEpoch: async (r) => {
      spentHere += (now() - epochStart) / 1000;
      const trainSeconds = base + spentHere;
      state.epochEnds.push({ epoch: r.epoch, trainSeconds });
      avg?.save(p.ema, { epoch: String(r.epoch) });
      if (a.evalSlice && !interrupted()) {
        const m = await pgd40(model, a.evalSlice, a.settings.eps, o.seed, `${run.name} epoch ${r.epoch}: PGD-40`, h);
        state.curve.push({ epoch: r.epoch, trainSeconds, cleanAccuracy: m.cleanAccuracy, pgdAccuracy: m.accuracy });
        h.onMessage?.(`${run.name} epoch ${r.epoch}: ${trainSeconds.toFixed(0)} s of training, clean ${pct(m.cleanAccuracy)}, PGD-40 ${pct(m.accuracy)} (first ${a.evalSlice.count} test images)`);
      }
      writeFileAtomic(p.state, JSON.stringify(state, null, 2) + '\n');
      epochStart = now();
    },
  });
  if (result.stopped && interrupted()) {
    const last = state.epochEnds.at(-1)?.epoch ?? 0;
    throw new ExperimentInterrupted(`run '${run.name}' interrupted; ${last ? `kept the checkpoint of epoch ${last} at ${p.checkpoint}` : 'no epoch of it had completed'}; finished runs are kept; continue with --resume`);
  }
  const batches = epochBatches(a.train.count, o.batchSize);
  const training: TrainingRecord = {
    epochs: steps / batches, epochsCompleted: Math.floor(steps / batches), steps, stepsPerEpoch: batches,
    trainSeconds: elapsed(), stoppedBy: result.stopped ? 'budget' : 'epochs', trainCount: a.train.count,
  };
  model.eval();
  saveModel(p.model, model, { experiment: 'robust-mnist', run: run.name, adversarialTraining: run.method, adversarialEps: String(o.eps), epochs: training.epochs.toFixed(3), trainSeconds: training.trainSeconds.toFixed(1) });
  avg?.save(p.ema, { epoch: training.epochs.toFixed(3), final: 'true' });
  state.training = training;
  writeFileAtomic(p.state, JSON.stringify(state, null, 2) + '\n');
  return { model, ema: avg?.model ?? null, training, curve: state.curve };
}

/**
 * Train (or resume, or skip) and measure every run in turn; returns every run's result, in the list's order.
 * @example
 *   const results = await runRobustMnist(runs, { out: 'runs/robust', train, test, settings, resume: false });
 */
export async function runRobustMnist(runs: ResolvedRun[], a: { out: string; train: Dataset; test: Dataset; settings: RobustMnistSettings; resume: boolean; hooks?: RobustMnistHooks }): Promise<(RunResult & { skipped: boolean })[]> {
  const h = a.hooks ?? {};
  const s = a.settings;
  const testSet = subset(a.test, 0, Math.min(s.testLimit, a.test.count));
  const robust = subset(a.test, 0, Math.min(s.robustLimit, a.test.count));
  const evalSlice = s.epochTestLimit > 0 ? subset(a.test, 0, Math.min(s.epochTestLimit, a.test.count)) : null;
  const evaluatedWith = { eps: s.eps, testLimit: s.testLimit, robustLimit: s.robustLimit, autoattackSteps: s.autoattackSteps, squareQueries: s.squareQueries, autoattackChunk: s.autoattackChunk ?? 1000 };
  const status = runs.map((r) => (a.resume ? runStatus(a.out, r, a.train.count) : 'new'));
  const out: (RunResult & { skipped: boolean })[] = [];
  for (const [i, run] of runs.entries()) {
    const p = runPaths(a.out, run.name);
    const old = status[i] === 'measured' ? readJson<RunResult>(p.result) : null;
    if (old && same(old.evaluatedWith, evaluatedWith)) {
      h.onMessage?.(`run ${i + 1}/${runs.length} ${run.name}: measured earlier, skipped`);
      out.push({ ...old, skipped: true });
      continue;
    }
    if (h.interrupted?.()) throw new ExperimentInterrupted(`interrupted before run '${run.name}'; finished runs are kept; continue with --resume`);
    let trained: { model: Sequential; ema: Sequential | null; training: TrainingRecord; curve: CurvePoint[] };
    if (status[i] === 'trained' || status[i] === 'measured') {
      const state = readJson<RunState>(p.state)!;
      h.onMessage?.(`run ${i + 1}/${runs.length} ${run.name}: trained earlier (${state.training!.trainSeconds.toFixed(0)} s); measuring`);
      trained = { model: loadModel(p.model).model, ema: run.options.ema !== null && existsSync(p.ema) ? loadModel(p.ema).model : null, training: state.training!, curve: state.curve };
    } else {
      h.onMessage?.(`run ${i + 1}/${runs.length} ${run.name}: ${run.model}, ${run.method}, up to ${run.options.epochs} epochs within ${s.budgetMinutes} min`);
      trained = await trainRun(run, { out: a.out, train: a.train, evalSlice, settings: s, resume: status[i] === 'checkpoint', hooks: h });
    }
    const t = trained.training;
    h.onMessage?.(`${run.name}: trained ${t.epochs.toFixed(2)} epochs (${t.steps} steps) in ${t.trainSeconds.toFixed(0)} s, stopped by ${t.stoppedBy === 'budget' ? 'the budget' : 'its epochs'}; measuring`);
    // AutoAttack's chunks are reused on --resume only for this very model and these settings
    const key = { evaluatedWith, steps: t.steps, trainSeconds: t.trainSeconds };
    let final: ModelEvaluation, ema: ModelEvaluation | null = null;
    try {
      final = await measureModel(trained.model, p.model, testSet, robust, s, run.options.seed, run.name, h, { path: p.autoattack, key });
      if (trained.ema) ema = await measureModel(trained.ema, p.ema, testSet, robust, s, run.options.seed, `${run.name} (EMA)`, h, { path: p.autoattackEma, key });
    } catch (e) {
      if (e instanceof ExperimentInterrupted) throw new ExperimentInterrupted(`${e.message}; run '${run.name}' is trained (${p.model}) and --resume measures the rest`);
      throw e;
    }
    const res: RunResult = { run, parameters: trained.model.numParameters(), training: t, curve: trained.curve, final, ema, evaluatedWith };
    writeFileAtomic(p.result, JSON.stringify(res, null, 2) + '\n');
    h.onMessage?.(`${run.name}: clean ${pct(final.cleanAccuracy)}, PGD-40 ${pct(final.pgdAccuracy)}, AutoAttack ${pct(final.autoattackAccuracy)}` +
      (ema ? `; EMA: clean ${pct(ema.cleanAccuracy)}, PGD-40 ${pct(ema.pgdAccuracy)}, AutoAttack ${pct(ema.autoattackAccuracy)}` : ''));
    if (h.interrupted?.()) throw new ExperimentInterrupted(`interrupted after run '${run.name}'; finished runs are kept; continue with --resume`);
    out.push({ ...res, skipped: false });
  }
  return out;
}
