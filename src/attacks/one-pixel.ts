// The one-pixel attack (Su, Vargas, Sakurai, "One pixel attack for fooling deep neural networks", IEEE TEVC 2019),
// generalised to k pixels: L0, score-based, differential evolution over candidates of k tuples (row, col, v_1..v_C).
// Update (DE/rand/1, no crossover): child_i = x_r1 + F·(x_r2 − x_r3), r1, r2, r3, i distinct; the child replaces its
// parent only if its fitness is better. Fitness (to minimise): the log-probability margin log p_y − max_{j≠y} log p_j
// (untargeted) or max_{j≠t} log p_j − log p_t (targeted), where the paper minimises p_y (maximises p_t): see below.
// Shapes: x [N, C, H, W] in [0, 1], y [N]; the generation's candidates of all unfinished examples go to the oracle
// in large batches, since each oracle call is one forward pass.
import { Rng } from '../engine/random.js';
import type { Data } from '../engine/nd.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import { checkTargets, type AttackOptions, type AttackResult, type BlackBoxAttack } from './attack.js';
import type { ScoreOracle } from './oracle.js';
import { settings } from './settings.js';

export interface OnePixelOptions extends AttackOptions {
  /** k, the number of pixels changed: the L0 budget (default 1; the paper reports 1, 3 and 5). `eps` is ignored. */
  pixels?: number;
  /** Candidates per example (default 400, the paper's). */
  population?: number;
  /** Maximum DE generations (default 100, the paper's). */
  generations?: number;
  /** DE scale factor F (default 0.5, the paper's). */
  F?: number;
  /** Most images per oracle call (default 1024). */
  batchSize?: number;
}

/**
 * The k-pixel attack by differential evolution, against a score oracle. The budget is `pixels`, not `eps`.
 * Defaults follow the paper: population 400, at most 100 generations, DE/rand/1 with F = 0.5 and no crossover.
 * Initial positions are uniform over the image; initial values are U(0, 1) per channel (the paper draws RGB values
 * from N(128, 127) on a 0..255 scale; for [0, 1] grayscale digits U(0, 1) is the analogue). A mutant coordinate that
 * leaves its range is redrawn uniformly inside it (as scipy's differential_evolution, which the authors used, does).
 * Fitness: the paper scores a candidate by the probability p_y (or p_t); here by the margin of the oracle's float64
 * log-probabilities (= the logit margin), which decides success the same way, never saturates (a float32 probability
 * of a confident model is exactly 0 or 1 for every candidate, leaving the search blind) and does not depend on a
 * positive scaling of the logits, so scaled and unscaled models see the same search for a given seed.
 * Early stop: untargeted as soon as a candidate is misclassified (the paper stops ImageNet runs once the true class
 * falls below 5%; on MNIST we stop at misclassification), targeted as soon as the target wins; the check runs after
 * each generation. Examples the oracle already misclassifies (or puts in their target) are returned unchanged.
 * Queries per example count every image asked about it: 1 for the clean check, then `population` per generation
 * (the initial population included). Each example draws from its own generator derived from `seed`.
 * @example
 *   const r = onePixel.run(new ScoreOracle(model), x, y, { eps: 0, pixels: 3, seed: 1 });
 *   const fooled = r.success.reduce((a, b) => a + b, 0), spent = r.queries!;
 */
export const onePixel: BlackBoxAttack<OnePixelOptions> = {
  name: 'one-pixel',
  kind: 'black-box',
  norm: 'l0',
  settings: [{ ...settings.pixels, default: '1' }, { ...settings.population, default: '400' }, { ...settings.generations, default: '100' }, settings.earlyStop],
  run: runOnePixel,
};

function runOnePixel(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: OnePixelOptions): AttackResult {
  const o = checkOptions(oracle, x, y, opts);
  const { k, P, G, F, batchSize, earlyStop, seed } = o;
  const targets = opts.targets;
  const [N, C, H, W] = x.shape;
  const plane = H * W;
  const per = C * plane;
  const S = 2 + C; // one pixel: row, col, v_1..v_C
  const D = k * S;
  const classes = oracle.classes;
  const xd = x.data;

  const adv = x.data.slice();
  const success = new Uint8Array(N);
  const iterations = new Int32Array(N);
  const queries = new Int32Array(N);

  // Fitness to minimise and the success test, from one row of log-probabilities.
  const fitness = (n: number, lp: Data, off: number): number => {
    const cls = targets ? targets[n] : y[n];
    let other = -Infinity;
    for (let c = 0; c < classes; c++) if (c !== cls) other = Math.max(other, lp[off + c]);
    const m = lp[off + cls] - other;
    return targets ? -m : m;
  };
  const fooled = (n: number, p: Data, off: number): boolean => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (p[off + c] > p[off + best]) best = c;
    return targets ? best === targets[n] : best !== y[n];
  };

  // The clean check: an example that is already adversarial is done.
  const todo: number[] = [];
  for (let start = 0; start < N; start += batchSize) {
    const B = Math.min(batchSize, N - start);
    const clean = oracle.logProbabilities(new Tensor(xd.subarray(start * per, (start + B) * per), [B, C, H, W])).data;
    for (let b = 0; b < B; b++) {
      const n = start + b;
      queries[n] = 1;
      if (fooled(n, clean, b * classes)) success[n] = 1;
      else todo.push(n);
    }
  }

  // Per example: its generator, population [P, D] and fitnesses, and the best successful candidate seen.
  const rngs = new Map<number, Rng>();
  const pops = new Map<number, Float64Array>();
  const fits = new Map<number, Float64Array>();
  const bestOk = new Map<number, { cand: Float64Array; fit: number }>();
  const hi = new Float64Array(D); // each coordinate's range [0, hi): rows, columns, values (values may reach 1)
  for (let j = 0; j < k; j++) {
    hi[j * S] = H;
    hi[j * S + 1] = W;
    for (let c = 0; c < C; c++) hi[j * S + 2 + c] = 1;
  }
  for (const n of todo) {
    const rng = Rng.derive(seed, n);
    const pop = new Float64Array(P * D);
    for (let i = 0; i < P * D; i++) pop[i] = rng.uniform(0, hi[i % D]);
    rngs.set(n, rng);
    pops.set(n, pop);
  }

  // Score a list of (example, candidate vector) pairs through the oracle, batchSize images at a time.
  let queryBuf: Data | null = null;
  const score = (jobs: { n: number; cand: Float64Array }[]): { fit: Float64Array; ok: Uint8Array } => {
    const fit = new Float64Array(jobs.length);
    const ok = new Uint8Array(jobs.length);
    for (let start = 0; start < jobs.length; start += batchSize) {
      const B = Math.min(batchSize, jobs.length - start);
      // the batch's array is reused while batches keep their size (every row is written below)
      if (queryBuf === null || queryBuf.length !== B * per) queryBuf = alloc(x.dtype, B * per);
      const imgs = new Tensor(queryBuf, [B, C, H, W]);
      for (let b = 0; b < B; b++) {
        const { n, cand } = jobs[start + b];
        imgs.data.set(xd.subarray(n * per, (n + 1) * per), b * per);
        paint(imgs.data, b * per, cand, k, C, H, W);
      }
      const p = oracle.logProbabilities(imgs).data;
      for (let b = 0; b < B; b++) {
        const n = jobs[start + b].n;
        fit[start + b] = fitness(n, p, b * classes);
        ok[start + b] = fooled(n, p, b * classes) ? 1 : 0;
        queries[n]++;
      }
    }
    return { fit, ok };
  };

  // Note every successful candidate; with early stop the example is done after this generation.
  const record = (jobs: { n: number; cand: Float64Array }[], fit: Float64Array, ok: Uint8Array): Set<number> => {
    const done = new Set<number>();
    for (let i = 0; i < jobs.length; i++) {
      if (!ok[i]) continue;
      const n = jobs[i].n;
      const prev = bestOk.get(n);
      if (!prev || fit[i] < prev.fit) bestOk.set(n, { cand: jobs[i].cand.slice(), fit: fit[i] });
      success[n] = 1;
      if (earlyStop) done.add(n);
    }
    return done;
  };

  // Generation 0: score the initial populations.
  let active = todo;
  {
    const jobs = active.flatMap((n) => rows(pops.get(n)!, P, D).map((cand) => ({ n, cand })));
    const { fit, ok } = score(jobs);
    active.forEach((n, a) => fits.set(n, fit.slice(a * P, (a + 1) * P)));
    const done = record(jobs, fit, ok);
    active = active.filter((n) => !done.has(n));
  }

  for (let g = 1; g <= G && active.length; g++) {
    const jobs: { n: number; cand: Float64Array }[] = [];
    for (const n of active) {
      const rng = rngs.get(n)!;
      const pop = pops.get(n)!;
      for (let i = 0; i < P; i++) jobs.push({ n, cand: mutant(pop, i, P, D, F, hi, rng) });
    }
    const { fit, ok } = score(jobs);
    // Selection: the child replaces its parent only if strictly better.
    active.forEach((n, a) => {
      const pop = pops.get(n)!;
      const f = fits.get(n)!;
      for (let i = 0; i < P; i++) {
        const j = a * P + i;
        if (fit[j] < f[i]) {
          f[i] = fit[j];
          pop.set(jobs[j].cand, i * D);
        }
      }
      iterations[n] = g;
    });
    const done = record(jobs, fit, ok);
    active = active.filter((n) => !done.has(n));
    opts.onProgress?.(g / G);
  }

  // Per example: the best successful candidate if there was one, else the fittest of the final population.
  for (const n of todo) {
    let cand = bestOk.get(n)?.cand;
    if (!cand) {
      const f = fits.get(n)!;
      let best = 0;
      for (let i = 1; i < P; i++) if (f[i] < f[best]) best = i;
      cand = pops.get(n)!.subarray(best * D, (best + 1) * D);
    }
    paint(adv, n * per, cand, k, C, H, W);
  }

  const result: AttackResult = { adversarial: new Tensor(adv, x.shape), success, iterations, queries, earlyStopped: earlyStop };
  if (targets) result.targets = targets;
  return result;
}

// x' = x with pixel (⌊row⌋, ⌊col⌋) set to (v_1..v_C), for each of the candidate's k pixels.
function paint(img: Data, off: number, cand: ArrayLike<number>, k: number, C: number, H: number, W: number): void {
  const S = 2 + C;
  for (let j = 0; j < k; j++) {
    const r = Math.min(H - 1, Math.floor(cand[j * S]));
    const c = Math.min(W - 1, Math.floor(cand[j * S + 1]));
    for (let ch = 0; ch < C; ch++) img[off + ch * H * W + r * W + c] = Math.min(1, Math.max(0, cand[j * S + 2 + ch]));
  }
}

// DE/rand/1 without crossover: x_r1 + F·(x_r2 − x_r3), a coordinate out of range redrawn uniformly in range.
function mutant(pop: Float64Array, i: number, P: number, D: number, F: number, hi: Float64Array, rng: Rng): Float64Array {
  let r1 = rng.int(P);
  while (r1 === i) r1 = rng.int(P);
  let r2 = rng.int(P);
  while (r2 === i || r2 === r1) r2 = rng.int(P);
  let r3 = rng.int(P);
  while (r3 === i || r3 === r1 || r3 === r2) r3 = rng.int(P);
  const child = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const v = pop[r1 * D + d] + F * (pop[r2 * D + d] - pop[r3 * D + d]);
    // Positions live in [0, H) and [0, W); values in [0, 1].
    const inside = v >= 0 && (hi[d] === 1 ? v <= 1 : v < hi[d]);
    child[d] = inside ? v : rng.uniform(0, hi[d]);
  }
  return child;
}

function rows(pop: Float64Array, P: number, D: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < P; i++) out.push(pop.subarray(i * D, (i + 1) * D));
  return out;
}

function checkOptions(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: OnePixelOptions) {
  const want = oracle.inputShape;
  if (x.ndim !== 4 || want.length !== 3 || x.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new Error(`onePixel.run: x must be [N, ${want.join(', ')}] images, got ${shapeStr(x.shape)}`);
  }
  const [N, , H, W] = x.shape;
  if (y.length !== N) throw new Error(`onePixel.run: y must have ${N} labels (one per image), got ${y.length}`);
  assertFinite(x, 'onePixel.run');
  const k = opts.pixels ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > H * W) throw new Error(`onePixel.run: pixels must be an integer in [1, ${H * W}], got ${k}`);
  const P = opts.population ?? 400;
  if (!Number.isInteger(P) || P < 4) throw new Error(`onePixel.run: population must be an integer ≥ 4 (DE/rand/1 draws 3 others), got ${P}`);
  const G = opts.generations ?? 100;
  if (!Number.isInteger(G) || G < 0) throw new Error(`onePixel.run: generations must be an integer ≥ 0, got ${G}`);
  const F = opts.F ?? 0.5;
  if (!Number.isFinite(F) || F <= 0) throw new Error(`onePixel.run: F must be a finite number > 0, got ${F}`);
  const batchSize = opts.batchSize ?? 1024;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`onePixel.run: batchSize must be an integer ≥ 1, got ${batchSize}`);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`onePixel.run: seed must be a finite number, got ${seed}`);
  if (opts.targets) checkTargets('onePixel.run', opts.targets, y, oracle.classes);
  return { k, P, G, F, batchSize, seed, earlyStop: opts.earlyStop ?? true };
}
