// The Square attack (Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a query-efficient black-box
// adversarial attack via random search", ECCV 2020), L∞, score-based random search on the margin loss.
// Update: x' = clip[0,1](x + δ) with δ = δ_best except on a random s×s square where δ = ±ε per channel; the
// proposal is kept if the margin decreases. Start: vertical stripes of ±ε. Shapes: x [N, C, H, W] in [0, 1], y [N];
// each iteration asks the oracle about every unfinished example's proposal in one call.
import { Rng } from '../engine/random.js';
import type { Data } from '../engine/nd.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import { linfClamp } from './ball.js';
import { checkTargets, type AttackOptions, type AttackResult, type BlackBoxAttack } from './attack.js';
import type { ScoreOracle } from './oracle.js';
import { settings } from './settings.js';

export interface SquareOptions extends AttackOptions {
  /** Query budget per example, the clean check included (default 10,000, the paper's). */
  maxQueries?: number;
  /** Initial fraction p of pixels in the square (default 0.8, the paper's value for MNIST). */
  pInit?: number;
  /** Rescale the p schedule to `maxQueries` (default true); AutoAttack's 5,000-query Square does not (its
   *  reference runs `resc_schedule=False`, keeping the 10,000-query marks). */
  rescaleSchedule?: boolean;
  /** Called after each iteration with the fraction of the query budget spent (for progress bars). */
  onProgress?: (fraction: number) => void;
}

/**
 * The L∞ Square attack against a score oracle.
 * Loss: the margin on the oracle's float64 log-probabilities, untargeted log p_y − max_{j≠y} log p_j, targeted
 * max_{j≠t} log p_j − log p_t. Log-softmax shifts every logit of an image by the same constant, so this is the
 * paper's logit margin: it never saturates (no probability is formed), and scaling the logits by a positive factor
 * scales every margin alike, so the search (and its successes, for a given seed) does not change. The paper's code
 * uses cross-entropy for targeted runs; here both use the margin.
 * Schedule: the square's side is s = round(√(p·H·W)) (a fraction p of one channel's pixels), clamped to
 * [1, min(H, W) − 1], with p = pInit halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of a
 * 10,000-query budget, rescaled to `maxQueries` as in the paper. The square's ±ε is drawn per channel and redrawn if it would leave x' unchanged.
 * Queries per example: 1 for the clean check (already adversarial examples are returned unchanged), 1 for the
 * stripes, 1 per iteration; with early stop (default) an example stops once it is misclassified (or in its target).
 * Each example draws from its own generator derived from `seed`.
 * @example
 *   const r = square.run(new ScoreOracle(model), x, y, { eps: 0.3, maxQueries: 1000, seed: 1 });
 *   const fooled = r.success.reduce((a, b) => a + b, 0), spent = r.queries!;
 */
export const square: BlackBoxAttack<SquareOptions> = {
  name: 'square',
  kind: 'black-box',
  norm: 'linf',
  settings: [{ ...settings.maxQueries, default: '10000' }, settings.earlyStop],
  run: runSquare,
};

/**
 * The paper's p schedule: p_init halved at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000,
 * with the iteration rescaled to a budget of `maxQueries`.
 * @example
 *   squareP(0.8, 0, 10000);     // 0.8
 *   squareP(0.8, 60, 1000);     // 0.8 / 16 (iteration 600 of 10,000)
 */
export function squareP(pInit: number, it: number, maxQueries: number, rescale = true): number {
  const i = rescale ? Math.floor((it / maxQueries) * 10000) : it;
  let halvings = 0;
  for (const mark of [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000]) if (i > mark) halvings++;
  return i > 10000 ? pInit : pInit / 2 ** halvings;
}

function runSquare(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: SquareOptions): AttackResult {
  const { eps, maxQueries, pInit, seed, earlyStop } = checkOptions(oracle, x, y, opts);
  const targets = opts.targets;
  const [N, C, H, W] = x.shape;
  const plane = H * W;
  const per = C * plane;
  const classes = oracle.classes;
  const xd = x.data;

  const best = x.data.slice(); // x_best = clip(x + δ_best)
  const margin = new Float64Array(N); // margin of x_best
  const success = new Uint8Array(N); // whether x_best is adversarial
  const iterations = new Int32Array(N);
  const queries = new Int32Array(N);

  // lp: a row of log-probabilities
  const marginOf = (n: number, lp: Data, off: number): number => {
    const cls = targets ? targets[n] : y[n];
    let other = -Infinity;
    for (let c = 0; c < classes; c++) if (c !== cls) other = Math.max(other, lp[off + c]);
    const m = lp[off + cls] - other;
    return targets ? -m : m;
  };
  const fooled = (n: number, p: Data, off: number): boolean => {
    let top = 0;
    for (let c = 1; c < classes; c++) if (p[off + c] > p[off + top]) top = c;
    return targets ? top === targets[n] : top !== y[n];
  };

  // The clean check: an example that is already adversarial is done.
  let todo: number[] = [];
  const clean = oracle.logProbabilities(x).data;
  for (let n = 0; n < N; n++) {
    queries[n] = 1;
    if (fooled(n, clean, n * classes)) success[n] = 1;
    else todo.push(n);
  }
  if (eps === 0 || maxQueries < 2) todo = [];

  // Every pixel the search sets is x ± ε held to the ball and [0, 1] (|x' − x| ≤ fround(ε) exactly, ball.ts): its two
  // possible values, computed once per pixel of the examples attacked, for the stripes and every proposal.
  const up = alloc(x.dtype, N * per), down = alloc(x.dtype, N * per);
  for (const n of todo) {
    for (let i = n * per; i < (n + 1) * per; i++) {
      up[i] = linfClamp(xd[i] + eps, xd[i], eps, up);
      down[i] = linfClamp(xd[i] - eps, xd[i], eps, down);
    }
  }

  // Start: vertical stripes, one ±ε per channel and column.
  const rngs = todo.map((n) => Rng.derive(seed, n));
  todo.forEach((n, a) => {
    const rng = rngs[a];
    for (let c = 0; c < C; c++) {
      for (let w = 0; w < W; w++) {
        const pick = rng.next() < 0.5 ? down : up;
        for (let h = 0; h < H; h++) {
          const i = n * per + c * plane + h * W + w;
          best[i] = pick[i];
        }
      }
    }
  });
  let active = todo.map((n, a) => ({ n, rng: rngs[a], row: 0 }));
  if (active.length) {
    const p = oracle.logProbabilities(gather(best, active, per, x.shape)).data;
    active.forEach(({ n }, b) => {
      queries[n]++;
      margin[n] = marginOf(n, p, b * classes);
      success[n] = fooled(n, p, b * classes) ? 1 : 0;
    });
    if (earlyStop) active = active.filter(({ n }) => !success[n]);
  }
  // Each proposal changes one square of x_best: the oracle's windowed queries recompute the model's leading local
  // layers only around it (the same scores as whole images). Row r of its base is active[r]'s x_best.
  active.forEach((e, r) => (e.row = r));
  const proposals = active.length ? oracle.windowed(gather(best, active, per, x.shape)) : null;

  const side = Math.max(1, Math.min(H, W) - 1);
  for (let it = 0; proposals && active.length && it < maxQueries - 2; it++) {
    const p = squareP(pInit, it, maxQueries, opts.rescaleSchedule ?? true);
    const s = Math.min(Math.max(Math.round(Math.sqrt((p * per) / C)), 1), side);
    const B = active.length, area = s * s;
    const rows = Int32Array.from(active, (e) => e.row), h0s = new Int32Array(B), w0s = new Int32Array(B);
    const patch = alloc(x.dtype, B * C * area); // [B, C, s, s]: the square of each proposal
    active.forEach(({ n, rng }, b) => {
      const h0 = (h0s[b] = rng.int(H - s + 1));
      const w0 = (w0s[b] = rng.int(W - s + 1));
      // x' = x ± ε on the square, per channel (up / down above); redraw signs that would change nothing (as the paper does).
      for (let tries = 0; tries < 100; tries++) {
        let changed = false;
        for (let c = 0; c < C; c++) {
          const pick = rng.next() < 0.5 ? down : up;
          for (let h = 0; h < s; h++) {
            for (let w = 0; w < s; w++) {
              const j = n * per + c * plane + (h0 + h) * W + w0 + w;
              patch[(b * C + c) * area + h * s + w] = pick[j];
              if (pick[j] !== best[j]) changed = true;
            }
          }
        }
        if (changed) break;
      }
    });
    const scores = proposals.logProbabilities(rows, h0s, w0s, s, s, patch).data;
    active.forEach(({ n }, b) => {
      queries[n]++;
      iterations[n]++;
      const m = marginOf(n, scores, b * classes);
      const ok = fooled(n, scores, b * classes);
      if (m < margin[n] || (ok && !success[n])) {
        for (let c = 0; c < C; c++) {
          for (let h = 0; h < s; h++) {
            const at = n * per + c * plane + (h0s[b] + h) * W + w0s[b];
            best.set(patch.subarray((b * C + c) * area + h * s, (b * C + c) * area + (h + 1) * s), at);
          }
        }
        proposals.accept(b);
        margin[n] = m;
        success[n] = ok ? 1 : 0;
      }
    });
    if (earlyStop) active = active.filter(({ n }) => !success[n]);
    opts.onProgress?.((it + 1) / (maxQueries - 2));
  }

  const result: AttackResult = { adversarial: new Tensor(best, x.shape), success, iterations, queries, earlyStopped: earlyStop };
  if (targets) result.targets = targets;
  return result;
}

function gather(data: Data, active: { n: number }[], per: number, shape: readonly number[]): Tensor {
  const out = alloc(data instanceof Float64Array ? 'float64' : 'float32', active.length * per);
  active.forEach(({ n }, b) => out.set(data.subarray(n * per, (n + 1) * per), b * per));
  return new Tensor(out, [active.length, ...shape.slice(1)]);
}

function checkOptions(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: SquareOptions) {
  const want = oracle.inputShape;
  if (x.ndim !== 4 || want.length !== 3 || x.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new Error(`square.run: x must be [N, ${want.join(', ')}] images, got ${shapeStr(x.shape)}`);
  }
  const N = x.shape[0];
  if (y.length !== N) throw new Error(`square.run: y must have ${N} labels (one per image), got ${y.length}`);
  assertFinite(x, 'square.run');
  const eps = opts.eps;
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`square.run: eps must be a finite number ≥ 0, got ${eps}`);
  const maxQueries = opts.maxQueries ?? 10000;
  if (!Number.isInteger(maxQueries) || maxQueries < 1) throw new Error(`square.run: maxQueries must be an integer ≥ 1, got ${maxQueries}`);
  const pInit = opts.pInit ?? 0.8;
  if (!Number.isFinite(pInit) || pInit <= 0 || pInit > 1) throw new Error(`square.run: pInit must be in (0, 1], got ${pInit}`);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`square.run: seed must be a finite number, got ${seed}`);
  if (opts.targets) checkTargets('square.run', opts.targets, y, oracle.classes);
  return { eps, maxQueries, pInit, seed, earlyStop: opts.earlyStop ?? true };
}
