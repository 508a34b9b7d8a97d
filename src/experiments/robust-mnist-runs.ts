// The runs of `nablax experiment robust-mnist`: each an (architecture, method, recipe) as {name, model, method,
// options}, the built-in lists (full and quick), the check of a --runs file before any work, and the recipe in words.
// Methods and their defaults are adv-train's (src/train/methods.ts); recipes are its options: ε warm-up, the
// one-cycle learning rate (Wong et al. 2020), a curriculum of attack steps, the weight average (Gowal et al. 2020).
import { zooNames } from '../layers/zoo.js';
import { adversarialMethods, multiStepMethods } from '../train/methods.js';
import { parseStepsSchedule } from '../train/schedules.js';

/** A run's options: the method's (ε, steps…) and the recipe's (schedule, warm-up, EMA, optimiser). */
export interface RunOptions {
  /** Training ε (default: the experiment's evaluation ε). */
  eps?: number;
  steps?: number;
  stepSize?: number;
  /** Curriculum of attack steps, 'E:K,E:K' or 'K0-K1' (pgd, trades, mart). */
  stepsSchedule?: string;
  beta?: number;
  lambda?: number;
  alpha?: number;
  /** Epochs over which ε grows linearly from 0 (pgd, fast, trades, mart). */
  epsWarmup?: number;
  /** Decay of the weight average (true: 0.999); absent or false: none. */
  ema?: number | boolean;
  lr?: number;
  lrSchedule?: 'constant' | 'cosine' | 'onecycle';
  optimizer?: 'sgd' | 'momentum' | 'adam';
  momentum?: number;
  batchSize?: number;
  /** Default: the experiment's --epochs. */
  epochs?: number;
  /** Default: the experiment's --seed. */
  seed?: number;
}

/** One entry of the list (a --runs file holds an array of these). */
export interface RunSpec {
  name: string;
  model: string;
  method: string;
  options?: RunOptions;
}

/** A run with every default filled in: what trains, and what a resume is checked against. */
export interface ResolvedRun {
  name: string;
  model: string;
  method: string;
  options: Required<Omit<RunOptions, 'ema' | 'stepsSchedule' | 'steps' | 'stepSize' | 'beta' | 'lambda' | 'alpha' | 'momentum'>> & {
    ema: number | null;
    stepsSchedule: string | null;
    steps: number | null;
    stepSize: number | null;
    beta: number | null;
    lambda: number | null;
    alpha: number | null;
    momentum: number | null;
  };
}

/** The built-in list: PGD with warm-up, a wider cnn with one-cycle and EMA, TRADES β = 1 with fewer steps. */
export const defaultRuns: RunSpec[] = [
  { name: 'cnn-pgd-warmup', model: 'cnn', method: 'pgd', options: { steps: 7, stepSize: 0.1, epsWarmup: 2 } },
  { name: 'cnn-w2-pgd-onecycle-ema', model: 'cnn-w2', method: 'pgd', options: { steps: 7, stepSize: 0.1, epsWarmup: 2, lrSchedule: 'onecycle', lr: 2e-3, ema: 0.999 } },
  { name: 'cnn-trades-b1', model: 'cnn', method: 'trades', options: { beta: 1, steps: 10, stepSize: 0.075, epsWarmup: 1 } },
];

/** --quick: two tiny runs that exercise every part (warm-up, TRADES, one-cycle, EMA) in seconds. */
export const quickRuns: RunSpec[] = [
  { name: 'cnn-pgd', model: 'cnn', method: 'pgd', options: { steps: 2, stepSize: 0.15, epsWarmup: 1, batchSize: 32 } },
  { name: 'cnn-trades-ema', model: 'cnn', method: 'trades', options: { beta: 1, steps: 2, stepSize: 0.15, lrSchedule: 'onecycle', lr: 2e-3, ema: 0.9, batchSize: 32 } },
];

const optionKeys: (keyof RunOptions)[] = ['eps', 'steps', 'stepSize', 'stepsSchedule', 'beta', 'lambda', 'alpha', 'epsWarmup', 'ema', 'lr', 'lrSchedule', 'optimizer', 'momentum', 'batchSize', 'epochs', 'seed'];

/** Which methods an option applies to (absent: all). */
const optionMethods: Partial<Record<keyof RunOptions, readonly string[]>> = {
  steps: ['pgd', 'advprop', 'trades', 'mart'],
  stepSize: ['pgd', 'advprop', 'trades', 'mart'],
  stepsSchedule: multiStepMethods,
  beta: ['trades'],
  lambda: ['mart'],
  alpha: ['goodfellow', 'fast'],
  epsWarmup: ['pgd', 'fast', 'trades', 'mart'],
};

/** A --runs file or list that is wrong: the message names the run and what is wrong (the CLI exits 2). */
export class RunsError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkOption(at: string, k: keyof RunOptions, v: unknown): void {
  const bad = (expected: string) => new RunsError(`${at}: option '${k}' must be ${expected}, got ${JSON.stringify(v)}`);
  const number = (lo: number, hi: number, positive = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (positive && v <= 0)) throw bad(positive ? `a number in (${lo}, ${hi}]` : `a number in [${lo}, ${hi}]`);
  };
  const integer = (lo: number) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo) throw bad(`an integer ≥ ${lo}`);
  };
  switch (k) {
    case 'eps': return number(0, 1);
    case 'stepSize': return number(0, 1, true);
    case 'steps': case 'epochs': case 'batchSize': return integer(1);
    case 'seed': return integer(0);
    case 'beta': case 'lambda': case 'alpha': case 'epsWarmup': return number(0, Infinity);
    case 'lr': return number(0, Infinity, true);
    case 'momentum': return number(0, 1);
    case 'ema':
      if (v === true || v === false) return;
      return number(0, 1 - Number.EPSILON);
    case 'lrSchedule':
      if (!['constant', 'cosine', 'onecycle'].includes(v as string)) throw bad("'constant', 'cosine' or 'onecycle'");
      return;
    case 'optimizer':
      if (!['sgd', 'momentum', 'adam'].includes(v as string)) throw bad("'sgd', 'momentum' or 'adam'");
      return;
    case 'stepsSchedule':
      if (typeof v !== 'string') throw bad("a string such as '1:5,3:10' or '5-40'");
      return;
  }
}

/**
 * Check a list of runs (a parsed --runs file) and fill in every default; throws RunsError naming the first problem:
 * an unknown model, method or option, a bad value, an option the method does not take, a duplicate name.
 * @example
 *   const runs = resolveRuns([{ name: 'a', model: 'cnn', method: 'trades', options: { beta: 6 } }], { epochs: 10, seed: 0, eps: 0.3 });
 *   runs[0].options.steps;   // null: the method's default (40 for trades)
 */
export function resolveRuns(list: unknown, defaults: { epochs: number; seed: number; eps: number }): ResolvedRun[] {
  if (!Array.isArray(list) || list.length === 0) throw new RunsError(`the runs must be a non-empty JSON array of {name, model, method, options}, got ${Array.isArray(list) ? 'an empty array' : JSON.stringify(list)?.slice(0, 40)}`);
  const names = new Set<string>();
  return list.map((entry, i) => {
    let at = `run ${i + 1}`;
    if (!isObject(entry)) throw new RunsError(`${at}: expected an object {name, model, method, options}, got ${JSON.stringify(entry)}`);
    for (const k of Object.keys(entry)) if (!['name', 'model', 'method', 'options'].includes(k)) throw new RunsError(`${at}: unknown field '${k}' (expected name, model, method, options)`);
    const { name, model, method } = entry;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw new RunsError(`${at}: name must be 1–64 letters, digits, '.', '_' or '-' (it names the run's folder), got ${JSON.stringify(name)}`);
    }
    at = `run '${name}'`;
    if (names.has(name)) throw new RunsError(`${at}: a second run with this name`);
    names.add(name);
    if (!zooNames.includes(model as never)) throw new RunsError(`${at}: unknown model ${JSON.stringify(model)} (expected ${zooNames.join(', ')})`);
    if (!(adversarialMethods as readonly string[]).includes(method as string)) throw new RunsError(`${at}: unknown method ${JSON.stringify(method)} (expected ${adversarialMethods.join(', ')})`);
    const o = entry.options ?? {};
    if (!isObject(o)) throw new RunsError(`${at}: options must be an object, got ${JSON.stringify(o)}`);
    for (const [k, v] of Object.entries(o)) {
      if (!optionKeys.includes(k as keyof RunOptions)) throw new RunsError(`${at}: unknown option '${k}' (expected ${optionKeys.join(', ')})`);
      checkOption(at, k as keyof RunOptions, v);
      const only = optionMethods[k as keyof RunOptions];
      if (only && !only.includes(method as string)) throw new RunsError(`${at}: option '${k}' is for method ${only.join(', ')}, not ${method as string}`);
    }
    const opts = o as RunOptions;
    if (opts.stepsSchedule !== undefined && opts.steps !== undefined) throw new RunsError(`${at}: stepsSchedule replaces steps: give one of them`);
    if (method === 'advprop' && model !== 'cnn-bn') throw new RunsError(`${at}: method advprop needs a batch-norm model (cnn-bn), got ${model as string}`);
    const epochs = opts.epochs ?? defaults.epochs;
    if (opts.stepsSchedule !== undefined) {
      try {
        parseStepsSchedule(opts.stepsSchedule, epochs);
      } catch (e) {
        throw new RunsError(`${at}: option 'stepsSchedule': ${(e as Error).message.replace(/^parseStepsSchedule: /, '')}`);
      }
    }
    return {
      name, model: model as string, method: method as string,
      options: {
        eps: opts.eps ?? defaults.eps, steps: opts.steps ?? null, stepSize: opts.stepSize ?? null, stepsSchedule: opts.stepsSchedule ?? null,
        beta: opts.beta ?? null, lambda: opts.lambda ?? null, alpha: opts.alpha ?? null, epsWarmup: opts.epsWarmup ?? 0,
        ema: opts.ema === true ? 0.999 : typeof opts.ema === 'number' ? opts.ema : null,
        lr: opts.lr ?? 1e-3, lrSchedule: opts.lrSchedule ?? 'cosine', optimizer: opts.optimizer ?? 'adam', momentum: opts.momentum ?? null,
        batchSize: opts.batchSize ?? 128, epochs, seed: opts.seed ?? defaults.seed,
      },
    };
  });
}

/**
 * The method and its attack in words, for the report's table.
 * @example
 *   methodText(run);   // 'PGD-7 (step 0.1)'
 *   methodText(tradesRun);   // 'TRADES β = 1, 10 steps of 0.075'
 */
export function methodText(r: ResolvedRun): string {
  const o = r.options;
  const steps = o.stepsSchedule ? `steps ${o.stepsSchedule}` : null;
  const k = (d: number) => o.steps ?? d;
  switch (r.method) {
    case 'pgd': return `${steps ? `PGD, ${steps}` : `PGD-${k(7)}`} (step ${o.stepSize ?? (o.stepsSchedule ? '2.5·ε/k' : 0.1)})`;
    case 'trades': return `TRADES β = ${o.beta ?? 1}, ${steps ?? `${k(40)} steps`} of ${o.stepSize ?? (o.stepsSchedule ? '2.5·ε/k' : 0.01)}`;
    case 'mart': return `MART λ = ${o.lambda ?? 6}, ${steps ?? `${k(40)} steps`} of ${o.stepSize ?? (o.stepsSchedule ? '2.5·ε/k' : 0.01)}`;
    case 'fast': return `fast FGSM (step ${o.alpha ?? `1.25·ε`})`;
    case 'advprop': return `AdvProp (PGD-${k(5)}, step ${o.stepSize ?? 0.1})`;
    default: return r.method;
  }
}

/**
 * The recipe in words: ε if not the evaluation's, warm-up, curriculum, learning rate and schedule, EMA, batch.
 * @example
 *   recipeText(run, 0.3);   // 'ε warm-up 2 epochs, Adam 0.002 one-cycle lr, EMA 0.999, batch 128'
 */
export function recipeText(r: ResolvedRun, evalEps: number): string {
  const o = r.options;
  const lrName = { constant: 'constant', cosine: 'cosine', onecycle: 'one-cycle' }[o.lrSchedule];
  const opt = { adam: 'Adam', sgd: 'SGD', momentum: `momentum ${o.momentum ?? 0.9}` }[o.optimizer];
  return [
    o.eps !== evalEps ? `trained at ε = ${o.eps}` : null,
    o.epsWarmup > 0 ? `ε warm-up ${o.epsWarmup} epoch${o.epsWarmup === 1 ? '' : 's'}` : null,
    `${opt} ${o.lr} ${lrName} lr`,
    o.ema !== null ? `EMA ${o.ema}` : null,
    `batch ${o.batchSize}`,
    o.seed !== 0 ? `seed ${o.seed}` : null,
  ].filter((s) => s !== null).join(', ');
}

/**
 * The `nablax adv-train` command that trains the same run (method, recipe, epochs, seed, data) outside the experiment,
 * writing runs/NAME; null when the run uses an option adv-train lacks (momentum). adv-train has no wall-clock budget:
 * it trains every epoch.
 * @example
 *   advTrainCommand(run, 'mnist-data');   // 'nablax adv-train --model cnn --method pgd --eps 0.3 --steps 7 … --out runs/cnn-pgd-warmup'
 */
export function advTrainCommand(r: ResolvedRun, data: string, trainLimit?: number): string | null {
  const o = r.options;
  if (o.momentum !== null) return null;
  const flags: [string, string | number | null][] = [
    ['--model', r.model], ['--method', r.method], ['--eps', o.eps], ['--steps', o.steps], ['--step-size', o.stepSize],
    ['--steps-schedule', o.stepsSchedule], ['--beta', o.beta], ['--lambda', o.lambda], ['--alpha', o.alpha],
    ['--eps-warmup', o.epsWarmup || null], ['--ema', o.ema], ['--optimizer', o.optimizer === 'adam' ? null : o.optimizer],
    ['--lr', o.lr], ['--lr-schedule', o.lrSchedule], ['--batch-size', o.batchSize], ['--epochs', o.epochs], ['--seed', o.seed],
    ['--data', data], ['--train-limit', trainLimit ?? null], ['--out', `runs/${r.name}`],
  ];
  return ['nablax adv-train', ...flags.filter(([, v]) => v !== null).map(([f, v]) => `${f} ${v}`)].join(' ');
}
