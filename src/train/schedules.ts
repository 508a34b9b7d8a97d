// Schedules for robust training recipes: the one-cycle learning rate of Wong, Rice & Kolter ("Fast is better than
// free", ICLR 2020, arXiv 2001.03994, §5.1 and their code: lr rises linearly from 0 to its peak at 2/5 of the run,
// then falls linearly to 0), and a curriculum of attack steps (fewer PGD steps early, more late; Cai et al. 2018,
// "Curriculum adversarial training", IJCAI, and Wang et al. 2019, "On the convergence and robustness of adversarial
// training", ICML, grow the attack's strength during training). Epochs are 0-based inside, 1-based in the syntax.

/**
 * One-cycle learning rate at optimiser step `step` (0-based) of `total`: Wong et al. evaluate their piecewise-linear
 * schedule at t = (step + 1)/total of the run, so the first step is already above 0 and the last one is 0.
 *   η(t) = η_max·t/0.4 for t ≤ 0.4,   η_max·(1 − t)/0.6 after
 * @example
 *   oneCycleLr(1e-3, 39, 100);   // 1e-3, the peak at 2/5 of the run
 *   oneCycleLr(1e-3, 99, 100);   // 0
 */
export function oneCycleLr(lr: number, step: number, total: number): number {
  if (!(total >= 1)) throw new Error(`oneCycleLr: total must be ≥ 1 step, got ${total}`);
  const t = Math.min(step + 1, total) / total;
  return t <= 0.4 ? (lr * t) / 0.4 : (lr * (1 - t)) / 0.6;
}

/** PGD steps of the inner maximisation as a function of the 0-based epoch. */
export type StepsSchedule = ((epoch: number) => number) & { text: string };

const usage = "expected 'E:K,E:K,…' (from epoch E, 1-based and rising, the first one 1, use K steps) or 'K0-K1' (a linear ramp from K0 steps in the first epoch to K1 in the last)";

/**
 * Parse a curriculum of attack steps for a run of `epochs` epochs:
 *   '1:5,3:10,5:40'  epochs 1–2 use 5 steps, 3–4 use 10, 5 and later 40 (the first entry must be epoch 1);
 *   '5-40'           a linear ramp: 5 steps in the first epoch, 40 in the last, rounded to the nearest integer.
 * @example
 *   parseStepsSchedule('1:5,3:10', 4)(2);   // 10 (the third epoch)
 *   parseStepsSchedule('5-40', 8)(7);       // 40
 */
export function parseStepsSchedule(text: string, epochs: number): StepsSchedule {
  const f = 'parseStepsSchedule';
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${f}: epochs must be a positive integer, got ${epochs}`);
  const t = text.trim();
  const intOf = (s: string, what: string, min: number): number => {
    if (!/^\d+$/.test(s.trim())) throw new Error(`${f}: ${what} must be an integer ≥ ${min}, got '${s}' in '${text}'; ${usage}`);
    const n = Number(s);
    if (n < min) throw new Error(`${f}: ${what} must be an integer ≥ ${min}, got '${s}' in '${text}'; ${usage}`);
    return n;
  };
  const ramp = /^(\d+)\s*-\s*(\d+)$/.exec(t);
  if (ramp) {
    const k0 = intOf(ramp[1], 'the first epoch\'s steps', 1), k1 = intOf(ramp[2], 'the last epoch\'s steps', 1);
    // k(e) = round(k0 + (k1 − k0)·e/(epochs − 1))
    const fn = (e: number) => (epochs === 1 ? k1 : Math.round(k0 + ((k1 - k0) * Math.min(Math.max(e, 0), epochs - 1)) / (epochs - 1)));
    return Object.assign(fn, { text: t });
  }
  if (!t.includes(':')) throw new Error(`${f}: cannot read '${text}'; ${usage}`);
  const pairs = t.split(',').map((p) => {
    const [e, k, ...rest] = p.split(':');
    if (k === undefined || rest.length) throw new Error(`${f}: '${p}' is not E:K in '${text}'; ${usage}`);
    return { from: intOf(e, 'an epoch', 1) - 1, steps: intOf(k, 'a step count', 1) };
  });
  if (pairs[0].from !== 0) throw new Error(`${f}: the first entry must start at epoch 1, got epoch ${pairs[0].from + 1} in '${text}'; ${usage}`);
  for (let i = 1; i < pairs.length; i++) {
    if (pairs[i].from <= pairs[i - 1].from) throw new Error(`${f}: epochs must rise, got ${pairs[i - 1].from + 1} then ${pairs[i].from + 1} in '${text}'; ${usage}`);
  }
  const fn = (e: number) => {
    let k = pairs[0].steps;
    for (const p of pairs) if (e >= p.from) k = p.steps;
    return k;
  };
  return Object.assign(fn, { text: t });
}

/** The attack an objective runs at one training step. */
/**
 * How a training objective's inner attack is set and scheduled (TRADES, MART): the L∞ radius and step, and the
 * recipes that change them over the run. Defaults are each method's own (TRADES' MNIST script: ε 0.3, 40 steps of 0.01).
 */
export interface TrainingAttackOptions {
  /** L∞ radius (default 0.3). */
  eps?: number;
  /** Attack steps (default 40). */
  steps?: number;
  /** Step length (default 0.01; with a steps schedule: 2.5·ε/k unless given). */
  stepSize?: number;
  /** Grow ε (and the step) linearly from 0 over this many epochs (default 0: off). */
  warmupEpochs?: number;
  /** Attack steps per epoch (a curriculum), replacing `steps`. */
  stepsSchedule?: StepsSchedule;
}

export interface AttackSettings {
  eps: number;
  steps: number;
  stepSize: number;
}

/**
 * The attack at `epoch` with ε warm-up fraction `w`: the schedule's steps when there is one, with a step of
 * 2.5·ε/k unless the step size was given (Madry et al.'s rule of thumb: k steps travel 2.5·ε), else the fixed
 * steps; ε and the step are both scaled by w.
 * @example
 *   attackAt({ eps: 0.3, steps: 7, stepSize: 0.1 }, parseStepsSchedule('1:5,2:10', 2), undefined, 1, 1);   // 10 steps of 0.075
 */
export function attackAt(base: AttackSettings, schedule: StepsSchedule | undefined, givenStepSize: number | undefined, epoch: number, w: number): AttackSettings {
  if (!schedule) return { eps: w * base.eps, steps: base.steps, stepSize: w * base.stepSize };
  const steps = schedule(epoch);
  const stepSize = givenStepSize ?? (2.5 * base.eps) / steps;
  return { eps: w * base.eps, steps, stepSize: w * stepSize };
}
