// The L2 Square attack (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020, arXiv 1912.00049, §3.2 and Alg. 3),
// score-based random search on the margin. Start: a 5×5 grid of windows, each the "η" pattern (two concentric-square
// bumps of opposite sign) with a random sign per channel, scaled to ‖δ‖₂ = ε. Step: move the mass of one s×s window
// into another, add a fresh ±η there and rescale so that ‖δ‖₂ = ε; keep it if the margin drops. Shapes: x [N, C, H, W]
// in [0, 1], y [N]. Schedule, window mass bookkeeping and defaults follow the reference (fra31/auto-attack, square.py).
import { Rng } from '../engine/random.js';
import type { Data } from '../engine/nd.js';
import { Tensor, alloc, assertFinite, shapeStr } from '../engine/tensor.js';
import type { AttackResult, BlackBoxAttack } from './attack.js';
import { projectL2 } from './ball.js';
import type { ScoreOracle } from './oracle.js';
import { checkTargets } from './attack.js';
import { squareP, type SquareOptions } from './square.js';
import { settings } from './settings.js';

/**
 * η for an s×s window: the top half +, the bottom half −, each a sum of 1/(k+1)² concentric rectangles; ‖η‖₂ = 1;
 * `transpose` turns it sideways (the attack flips a coin).
 * @example
 *   const eta = squareEta(5, false);   // Float64Array(25), rows 0–1 positive, rows 2–4 negative
 *   const side = squareEta(5, true);
 */
export function squareEta(s: number, transpose: boolean): Float64Array {
  const out = new Float64Array(s * s);
  const top = rectangles(s >> 1, s), bottom = rectangles(s - (s >> 1), s);
  for (let i = 0; i < s >> 1; i++) for (let j = 0; j < s; j++) out[i * s + j] = top[i * s + j];
  for (let i = 0; i < s - (s >> 1); i++) for (let j = 0; j < s; j++) out[((s >> 1) + i) * s + j] = -bottom[i * s + j];
  normalise(out);
  if (!transpose) return out;
  const t = new Float64Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = out[i * s + j];
  return t;
}

function rectangles(h: number, w: number): Float64Array {
  const d = new Float64Array(h * w);
  let r = (h >> 1), c = (w >> 1);
  for (let k = 0; k < Math.max((h >> 1) + 1, (w >> 1) + 1); k++, r--, c--) {
    for (let i = Math.max(r, 0); i < Math.min(r + 2 * k + 1, h); i++) {
      for (let j = Math.max(c, 0); j < Math.min(c + 2 * k + 1, w); j++) d[i * w + j] += 1 / (k + 1) ** 2;
    }
  }
  normalise(d);
  return d;
}

function normalise(v: Float64Array): void {
  let s = 0;
  for (const a of v) s += a * a;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
}

/**
 * The L2 Square attack against a score oracle (margin on log-probabilities, which equals the logit margin).
 * Options as the L∞ Square (maxQueries default 10,000 with the clean check and the start counted, pInit 0.8,
 * rescaleSchedule true); the window side is s = max(round(√(p·H·W)), 3), made odd. Each example draws from its own
 * generator derived from `seed`; with early stop (default) an example stops once misclassified (or in its target).
 * @example
 *   const r = squareL2.run(new ScoreOracle(model), x, y, { eps: 2, maxQueries: 1000, seed: 1 });
 *   const fooled = r.success.reduce((a, b) => a + b, 0);
 */
export const squareL2: BlackBoxAttack<SquareOptions> = { name: 'square-l2', kind: 'black-box', norm: 'l2', settings: [{ ...settings.maxQueries, default: '10000' }, settings.earlyStop], run: runSquareL2 };

function runSquareL2(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: SquareOptions): AttackResult {
  const { eps, maxQueries, pInit, seed, earlyStop } = check(oracle, x, y, opts);
  const targets = opts.targets;
  const [N, C, H, W] = x.shape;
  const plane = H * W, per = C * plane, K = oracle.classes, xd = x.data;
  const best = x.data.slice();
  const margin = new Float64Array(N), success = new Uint8Array(N), iterations = new Int32Array(N), queries = new Int32Array(N);
  // margin > 0 while the attack has not succeeded: untargeted log p_y − max_{j≠y} log p_j; targeted max_{j≠t} log p_j − log p_t.
  const judge = (n: number, p: ArrayLike<number>, off: number): [number, boolean] => {
    const cls = targets ? targets[n] : y[n];
    let other = -Infinity, top = 0;
    for (let c = 0; c < K; c++) {
      if (c !== cls) other = Math.max(other, p[off + c]);
      if (p[off + c] > p[off + top]) top = c;
    }
    const m = p[off + cls] - other; // log-probability margin: never ±∞ where float32 probabilities underflow
    return [targets ? -m : m, targets ? top === targets[n] : top !== y[n]];
  };

  let todo: number[] = [];
  const clean = oracle.logProbabilities(x).data;
  for (let n = 0; n < N; n++) {
    queries[n] = 1;
    if (judge(n, clean, n * K)[1]) success[n] = 1;
    else todo.push(n);
  }
  if (eps === 0 || maxQueries < 2) todo = [];
  const rngs = new Map(todo.map((n) => [n, Rng.derive(seed, n)]));
  const delta = new Float64Array(N * per); // δ of x_best (before clipping), per example

  // Start: a grid of 5×5 windows of side ⌊H/5⌋ centred in the image, each ±η per channel; then ‖δ‖₂ = ε.
  const s0 = Math.floor(H / 5), off0 = (H - 5 * s0) >> 1;
  for (const n of todo) {
    const rng = rngs.get(n)!;
    const d = delta.subarray(n * per, (n + 1) * per);
    if (s0 > 0) {
      for (let a = 0, vh = off0; a < Math.floor(H / s0); a++, vh += s0) {
        for (let b = 0, vw = off0; b < Math.floor(W / s0); b++, vw += s0) {
          const eta = squareEta(s0, rng.next() > 0.5);
          for (let c = 0; c < C; c++) {
            const sign = rng.next() < 0.5 ? -1 : 1;
            for (let i = 0; i < s0; i++) for (let j = 0; j < s0; j++) if (vh + i < H && vw + j < W) d[c * plane + (vh + i) * W + vw + j] += sign * eta[i * s0 + j];
          }
        }
      }
    }
    store(n, d);
  }
  let active = todo.slice();
  if (active.length) {
    const p = oracle.logProbabilities(gather(active)).data;
    active.forEach((n, b) => {
      queries[n]++;
      const [m, ok] = judge(n, p, b * K);
      margin[n] = m;
      success[n] = ok ? 1 : 0;
    });
    if (earlyStop) active = active.filter((n) => !success[n]);
  }

  const cand = new Float64Array(N * per);
  let queryBuf: Data | null = null;
  for (let it = 0; active.length && it < maxQueries - 2; it++) {
    const pFrac = squareP(pInit, it, maxQueries, opts.rescaleSchedule ?? true);
    let s = Math.max(Math.round(Math.sqrt((pFrac * per) / C)), 3);
    if (s % 2 === 0) s++;
    s = Math.min(s, H, W);
    // the query batch's array is reused while the batch keeps its size (every row is written below)
    if (queryBuf === null || queryBuf.length !== active.length * per) queryBuf = alloc(x.dtype, active.length * per);
    const imgs = new Tensor(queryBuf, [active.length, C, H, W]);
    active.forEach((n, b) => {
      const rng = rngs.get(n)!;
      const cur = delta.subarray(n * per, (n + 1) * per), d = cand.subarray(n * per, (n + 1) * per);
      d.set(cur);
      const vh = rng.int(Math.max(H - s, 1)), vw = rng.int(Math.max(W - s, 1));
      const vh2 = rng.int(Math.max(H - s, 1)), vw2 = rng.int(Math.max(W - s, 1));
      const inW1 = (h: number, w: number) => h >= vh && h < vh + s && w >= vw && w < vw + s;
      const inW2 = (h: number, w: number) => h >= vh2 && h < vh2 + s && w >= vw2 && w < vw2 + s;
      // ‖δ‖² of the image and of the union of both windows: the mass the new window may take.
      let img2 = 0, win2 = 0;
      for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
        const v = cur[c * plane + h * W + w];
        img2 += v * v;
        if (inW1(h, w) || inW2(h, w)) win2 += v * v;
      }
      const eta = squareEta(s, rng.next() > 0.5);
      const fresh = new Float64Array(s * s);
      for (let c = 0; c < C; c++) {
        const sign = rng.next() < 0.5 ? -1 : 1;
        let w1 = 0;
        for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) w1 += cur[c * plane + (vh + i) * W + vw + j] ** 2;
        w1 = Math.sqrt(w1);
        // new = ±η + δ_window/‖δ_window‖, rescaled to √(max(ε² − ‖δ‖², 0)/C + ‖δ_windows‖²)
        let f2 = 0;
        for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) {
          fresh[i * s + j] = sign * eta[i * s + j] + cur[c * plane + (vh + i) * W + vw + j] / (1e-12 + w1);
          f2 += fresh[i * s + j] ** 2;
        }
        const scale = Math.sqrt(Math.max(eps * eps - img2, 0) / C + win2) / (1e-12 + Math.sqrt(f2));
        for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) d[c * plane + (vh2 + i) * W + vw2 + j] = 0;
        for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) d[c * plane + (vh + i) * W + vw + j] = fresh[i * s + j] * scale;
      }
      imgs.data.set(candidate(n, d), b * per);
    });
    const p = oracle.logProbabilities(imgs).data;
    active.forEach((n, b) => {
      queries[n]++;
      iterations[n]++;
      const [m, ok] = judge(n, p, b * K);
      // Keep the proposal if the margin dropped or the example is now misclassified (as the reference does).
      if (m < margin[n] || ok) {
        margin[n] = m;
        best.set(imgs.data.subarray(b * per, (b + 1) * per), n * per);
        // δ of x_best is what x_best holds (clipping included), as the reference recomputes it from x_best.
        for (let j = 0; j < per; j++) delta[n * per + j] = best[n * per + j] - xd[n * per + j];
        success[n] = ok ? 1 : 0;
      }
    });
    if (earlyStop) active = active.filter((n) => !success[n]);
    opts.onProgress?.((it + 1) / (maxQueries - 2));
  }
  const result: AttackResult = { adversarial: new Tensor(best, x.shape), success, iterations, queries, earlyStopped: earlyStop };
  if (targets) result.targets = targets;
  return result;

  /** x_new = clip[0,1](x + ε·δ/‖δ‖₂), in x's precision, with ‖x_new − x‖₂ ≤ ε enforced after rounding. */
  function candidate(n: number, d: Float64Array): Data {
    let s2 = 0;
    for (let j = 0; j < per; j++) s2 += d[j] * d[j];
    const k = eps / (Math.sqrt(s2) + 1e-12);
    const out = alloc(x.dtype, per);
    for (let j = 0; j < per; j++) out[j] = Math.min(1, Math.max(0, xd[n * per + j] + d[j] * k));
    projectL2(out, xd.subarray(n * per, (n + 1) * per), eps);
    return out;
  }
  function store(n: number, d: Float64Array): void {
    const v = candidate(n, d);
    best.set(v, n * per);
    for (let j = 0; j < per; j++) delta[n * per + j] = v[j] - xd[n * per + j];
  }
  function gather(rows: number[]): Tensor {
    const out = alloc(x.dtype, rows.length * per);
    rows.forEach((n, b) => out.set(best.subarray(n * per, (n + 1) * per), b * per));
    return new Tensor(out, [rows.length, C, H, W]);
  }
}

function check(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: SquareOptions) {
  const f = 'square-l2.run';
  const want = oracle.inputShape;
  if (x.ndim !== 4 || want.length !== 3 || x.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new Error(`${f}: x must be [N, ${want.join(', ')}] images, got ${shapeStr(x.shape)}`);
  }
  const N = x.shape[0];
  if (y.length !== N) throw new Error(`${f}: y must have ${N} labels (one per image), got ${y.length}`);
  assertFinite(x, f);
  if (!Number.isFinite(opts.eps) || opts.eps < 0) throw new Error(`${f}: eps must be a finite number ≥ 0, got ${opts.eps}`);
  const maxQueries = opts.maxQueries ?? 10000;
  if (!Number.isInteger(maxQueries) || maxQueries < 1) throw new Error(`${f}: maxQueries must be an integer ≥ 1, got ${maxQueries}`);
  const pInit = opts.pInit ?? 0.8;
  if (!Number.isFinite(pInit) || pInit <= 0 || pInit > 1) throw new Error(`${f}: pInit must be in (0, 1], got ${pInit}`);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new Error(`${f}: seed must be a finite number, got ${seed}`);
  if (opts.targets) checkTargets(f, opts.targets, y, oracle.classes);
  return { eps: opts.eps, maxQueries, pInit, seed, earlyStop: opts.earlyStop ?? true };
}
