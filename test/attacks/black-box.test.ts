// Score-based black-box attacks (one-pixel by differential evolution, Square by random search) on real trained
// models: they never ask for a gradient, stay inside their budgets, fool the cnn, count queries honestly, stop early,
// and are seeded. Budgets are far below the papers' (400×100 DE, 10,000 queries) to keep the file fast.
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBoxAttacks, onePixel, ScoreOracle, square, squareP } from '../../src/attacks/black-box.js';
import type { AttackResult } from '../../src/attacks/attack.js';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { allOps } from '../../src/engine/ops/index.js';
import { softmax } from '../../src/engine/ops/loss.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { trainedModel, testBatch } from './fixtures.js';

const PER = 784;
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

// Probabilities straight from the model (not through an oracle, so no queries are counted).
function probs(model: Sequential, x: Tensor): Float32Array | Float64Array {
  model.eval();
  return softmax(noGrad(() => model.forward(x))).data;
}

function argmaxRow(p: ArrayLike<number>, n: number): number {
  let top = 0;
  for (let c = 1; c < 10; c++) if (p[n * 10 + c] > p[n * 10 + top]) top = c;
  return top;
}

// The images `idx` of a batch, as a new batch.
function select(x: Tensor, y: Int32Array, idx: number[]): { x: Tensor; y: Int32Array } {
  const out = Tensor.zeros([idx.length, 1, 28, 28]);
  idx.forEach((i, b) => out.data.set(x.data.subarray(i * PER, (i + 1) * PER), b * PER));
  return { x: out, y: Int32Array.from(idx, (i) => y[i]) };
}

let cnn: Sequential;
let soft: Sequential;
let correct: { x: Tensor; y: Int32Array }; // 20 test images the cnn classifies correctly
let weakest: { x: Tensor; y: Int32Array }; // the 20 correct ones (of the first 200) with the lowest p_y
let small: { x: Tensor; y: Int32Array }; // 10 test images for the softmax model

beforeAll(async () => {
  cnn = await trainedModel('cnn');
  soft = await trainedModel('softmax');
  const { x, y } = testBatch(200);
  const p = probs(cnn, x);
  const ok = [...Array(200).keys()].filter((n) => argmaxRow(p, n) === y[n]);
  correct = select(x, y, ok.slice(0, 20));
  weakest = select(x, y, ok.sort((a, b) => p[a * 10 + y[a]] - p[b * 10 + y[b]]).slice(0, 20));
  small = testBatch(10);
});

describe('black-box attacks never use a gradient', () => {
  it('the oracle exposes only scores (logits, log-probabilities, probabilities, windowed queries), labels and its counter', () => {
    const oracle = new ScoreOracle(cnn);
    expect(Object.keys(oracle).sort()).toEqual(['classes', 'inputShape', 'queries']);
    expect(Object.getOwnPropertyNames(ScoreOracle.prototype).sort()).toEqual(['constructor', 'labels', 'logProbabilities', 'logits', 'scores', 'windowed']);
    // windowed queries: scores and the choice of base image, nothing else
    const ws = oracle.windowed(small.x);
    expect(Object.keys(ws).sort()).toEqual(['accept', 'logProbabilities']);
    const q = oracle.queries;
    ws.logProbabilities(Int32Array.of(0, 1), Int32Array.of(0, 3), Int32Array.of(5, 0), 2, 2, new Float32Array(8));
    expect(oracle.queries).toBe(q + 2);
    expect(Object.keys(blackBoxAttacks).sort()).toEqual(['one-pixel', 'square', 'square-l2']);
    for (const a of Object.values(blackBoxAttacks)) expect(a.kind).toBe('black-box');
  });

  it('run with every op’s backward replaced by a tripwire, and count queries exactly', () => {
    const saved = new Map<string, unknown>();
    const ops = allOps as Record<string, { backward: unknown }>;
    let calls = 0;
    for (const [name, op] of Object.entries(ops)) {
      saved.set(name, op.backward);
      op.backward = () => {
        calls++;
        throw new Error(`gradient requested through op ${name}`);
      };
    }
    let sq: AttackResult, px: AttackResult;
    const oracle = new ScoreOracle(cnn);
    const q0 = oracle.queries;
    let q1: number;
    try {
      // The tripwire can fire: a white-box gradient hits it.
      expect(() => inputGradient(cnn, correct.x, correct.y)).toThrow(/gradient requested through op/);
      expect(calls).toBeGreaterThan(0);
      calls = 0;
      sq = square.run(oracle, correct.x, correct.y, { eps: 0.3, maxQueries: 300, seed: 1 });
      q1 = oracle.queries;
      px = onePixel.run(oracle, correct.x, correct.y, { eps: 0, pixels: 5, population: 20, generations: 3, seed: 1 });
    } finally {
      for (const [name, op] of Object.entries(ops)) op.backward = saved.get(name);
    }
    expect(calls).toBe(0);
    expect(sum(sq.success)).toBeGreaterThan(10);
    expect(sum(sq.queries!)).toBe(q1 - q0);
    expect(sum(px.queries!)).toBe(oracle.queries - q1);
    // One-pixel: 1 clean query, then the population at generation 0 and at each generation it ran.
    for (let n = 0; n < 20; n++) expect(px.queries![n]).toBe(1 + 20 * (px.iterations[n] + 1));
  });
});

describe('onePixel (Su et al. 2019), L0 by differential evolution', () => {
  it('changes at most k pixels and stays in [0, 1], for k = 1, 3, 5', () => {
    for (const k of [1, 3, 5]) {
      const r = onePixel.run(new ScoreOracle(soft), small.x, small.y, { eps: 0, pixels: k, population: 20, generations: 5, seed: k });
      expect(r.adversarial.shape).toEqual(small.x.shape);
      for (let n = 0; n < 10; n++) {
        let l0 = 0;
        for (let j = 0; j < PER; j++) {
          const v = r.adversarial.data[n * PER + j];
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          if (v !== small.x.data[n * PER + j]) l0++;
        }
        expect(l0).toBeLessThanOrEqual(k);
      }
    }
  });

  it('k = 5 fools the cnn on some of 20 correctly classified images, stopping early where it does', () => {
    // The 20 least confident correct images: with this small budget (50×10, ~550 queries an image, against the
    // paper's 400×100) the attack reaches only those near the boundary.
    const P = 50, G = 10, budget = 1 + P * (G + 1);
    const oracle = new ScoreOracle(cnn);
    const r = onePixel.run(oracle, weakest.x, weakest.y, { eps: 0, pixels: 5, population: P, generations: G, seed: 7 });
    const fooled = sum(r.success);
    expect(fooled).toBeGreaterThanOrEqual(2);
    const pred = probs(cnn, r.adversarial);
    for (let n = 0; n < 20; n++) {
      // Reported success is real, and only successful examples stop before the budget.
      expect(argmaxRow(pred, n) !== weakest.y[n]).toBe(r.success[n] === 1);
      if (r.success[n]) expect(r.queries![n]).toBeLessThan(budget);
      else expect(r.queries![n]).toBe(budget);
    }
    const perSuccess = sum(r.queries!.filter((_, n) => r.success[n])) / fooled;
    expect(perSuccess).toBeLessThan(budget);
    expect(sum(r.queries!)).toBe(oracle.queries);
  });

  it('targeted: raises the target’s probability', () => {
    const t = Int32Array.from(small.y, (c) => (c + 1) % 10);
    const r = onePixel.run(new ScoreOracle(soft), small.x, small.y, { eps: 0, pixels: 5, population: 40, generations: 10, seed: 2, targets: t });
    expect(r.targets).toBe(t);
    const p0 = probs(soft, small.x), p1 = probs(soft, r.adversarial);
    for (let n = 0; n < 10; n++) {
      expect(p1[n * 10 + t[n]]).toBeGreaterThan(p0[n * 10 + t[n]]);
      expect(argmaxRow(p1, n) === t[n]).toBe(r.success[n] === 1);
    }
  });

  it('is bit-identical for a seed and differs across seeds', () => {
    const go = (seed: number) => onePixel.run(new ScoreOracle(soft), small.x, small.y, { eps: 0, pixels: 3, population: 20, generations: 5, seed });
    const a = go(3), b = go(3), c = go(4);
    expect(Array.from(a.adversarial.data)).toEqual(Array.from(b.adversarial.data));
    expect(Array.from(a.queries!)).toEqual(Array.from(b.queries!));
    expect(Array.from(a.success)).toEqual(Array.from(b.success));
    expect(Array.from(a.adversarial.data)).not.toEqual(Array.from(c.adversarial.data));
  });

  it('rejects bad options with one-line errors', () => {
    const o = new ScoreOracle(soft);
    const bad = (opts: object, re: RegExp) => {
      let msg = '';
      try {
        onePixel.run(o, small.x, small.y, { eps: 0, ...opts });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    };
    bad({ pixels: 0 }, /^onePixel\.run: pixels must be an integer in \[1, 784\], got 0$/);
    bad({ pixels: 785 }, /pixels must be an integer in \[1, 784\], got 785/);
    bad({ pixels: 2.5 }, /pixels .* got 2\.5/);
    bad({ population: 3 }, /^onePixel\.run: population must be an integer ≥ 4 .*got 3$/);
    bad({ targets: new Int32Array(3) }, /targets must have 10 entries .*got 3/);
    expect(() => onePixel.run(o, Tensor.zeros([2, 784]), small.y, { eps: 0 })).toThrow(/x must be \[N, 1, 28, 28\] images, got \[2, 784\]/);
  });
});

describe('square (Andriushchenko et al. 2020), L∞ random search', () => {
  it('fools the cnn on most of 20 correct images at ε = 0.3 within 1,000 queries, inside the ε-ball and [0, 1]', () => {
    const eps = 0.3;
    const oracle = new ScoreOracle(cnn);
    const r = square.run(oracle, correct.x, correct.y, { eps, maxQueries: 1000, seed: 1 });
    expect(sum(r.success)).toBeGreaterThanOrEqual(15);
    expect(sum(r.queries!)).toBe(oracle.queries);
    for (let i = 0; i < correct.x.size; i++) {
      const v = r.adversarial.data[i];
      expect(Math.abs(v - correct.x.data[i])).toBeLessThanOrEqual(eps + 1e-6);
      expect(v >= 0 && v <= 1).toBe(true);
    }
    const pred = probs(cnn, r.adversarial);
    for (let n = 0; n < 20; n++) {
      expect(argmaxRow(pred, n) !== correct.y[n]).toBe(r.success[n] === 1);
      if (r.success[n]) expect(r.queries![n]).toBeLessThan(1000);
      else expect(r.queries![n]).toBe(1000);
      expect(r.queries![n]).toBe(r.iterations[n] + 2);
    }
    const perSuccess = sum(r.queries!.filter((_, n) => r.success[n])) / sum(r.success);
    expect(perSuccess).toBeLessThan(500);
  });

  it('without early stop spends the whole budget on every initially correct example', () => {
    const r = square.run(new ScoreOracle(soft), small.x, small.y, { eps: 0.1, maxQueries: 50, seed: 1, earlyStop: false });
    const clean = probs(soft, small.x), adv = probs(soft, r.adversarial);
    for (let n = 0; n < 10; n++) {
      expect(r.queries![n]).toBe(argmaxRow(clean, n) === small.y[n] ? 50 : 1);
      expect(argmaxRow(adv, n) !== small.y[n]).toBe(r.success[n] === 1);
    }
    expect(r.earlyStopped).toBe(false);
  });

  it('ε = 0 returns x', () => {
    const r = square.run(new ScoreOracle(soft), small.x, small.y, { eps: 0, maxQueries: 100 });
    expect(Array.from(r.adversarial.data)).toEqual(Array.from(small.x.data));
  });

  it('follows the paper’s p schedule, rescaled to the budget', () => {
    expect(squareP(0.8, 0, 10000)).toBe(0.8);
    expect(squareP(0.8, 11, 10000)).toBe(0.4);
    expect(squareP(0.8, 60, 1000)).toBe(0.8 / 16);
    expect(squareP(0.8, 9999, 10000)).toBe(0.8 / 512);
  });

  it('is bit-identical for a seed and differs across seeds', () => {
    const go = (seed: number) => square.run(new ScoreOracle(cnn), correct.x, correct.y, { eps: 0.2, maxQueries: 100, seed });
    const a = go(5), b = go(5), c = go(6);
    expect(Array.from(a.adversarial.data)).toEqual(Array.from(b.adversarial.data));
    expect(Array.from(a.queries!)).toEqual(Array.from(b.queries!));
    expect(Array.from(a.adversarial.data)).not.toEqual(Array.from(c.adversarial.data));
  });

  it('gives the same bits whether its proposals run on crops around each square or on whole images', () => {
    // the oracle's windowed queries recompute the model's first block only around the square (layers/windowed.ts)
    const go = (windowed: boolean) => {
      const oracle = new ScoreOracle(cnn, { windowed });
      const r = square.run(oracle, correct.x, correct.y, { eps: 0.2, maxQueries: 300, seed: 3, rescaleSchedule: false });
      return { r, queries: oracle.queries };
    };
    const a = go(true), b = go(false);
    expect(sum(a.r.success)).toBeGreaterThan(0);
    expect(sum(a.r.success)).toBeLessThan(correct.y.length);
    expect(Array.from(a.r.adversarial.data)).toEqual(Array.from(b.r.adversarial.data));
    expect(Array.from(a.r.queries!)).toEqual(Array.from(b.r.queries!));
    expect(a.queries).toBe(b.queries);
  });

  it('rejects a negative ε with a one-line error', () => {
    expect(() => square.run(new ScoreOracle(soft), small.x, small.y, { eps: -0.1 })).toThrow(/^square\.run: eps must be a finite number ≥ 0, got -0\.1$/);
    expect(() => square.run(new ScoreOracle(soft), small.x, small.y, { eps: 0.1, maxQueries: 0 })).toThrow(/maxQueries must be an integer ≥ 1, got 0/);
  });
});
