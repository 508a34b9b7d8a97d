// Score-based attacks search on log-probability margins, so a model whose logits are
// scaled by 100 (same predictions, float32 probabilities saturated to 0 and 1) is attacked exactly like the unscaled
// one; and every attack, white-box or black-box, refuses a target equal to the true label.
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBoxAttacks, onePixel, ScoreOracle, square } from '../../src/attacks/black-box.js';
import type { WhiteBoxAttack } from '../../src/attacks/attack.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';
import { buildModel } from '../../src/layers/spec.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadDataset } from '../../src/data/datasets.js';
import { argmax, predict } from '../../src/layers/predict.js';
import { train } from '../../src/train/loop.js';

let unscaled: Sequential;
let scaled: Sequential;
const { x, y } = getBatch(loadDataset('mnist', 'test'), null, 0, 20);

beforeAll(async () => {
  // The model: nablax train --model softmax --data mnist --epochs 2 --seed 0, and a copy with its Linear ×100.
  unscaled = buildModel(zooSpec('softmax'), { seed: 0 });
  await train(unscaled, loadDataset('mnist', 'train'), { epochs: 2, batchSize: 128, optimizer: 'adam', lr: 2e-3, lrSchedule: 'cosine', seed: 0 });
  unscaled.eval();
  scaled = buildModel(zooSpec('softmax'), { seed: 0 }).eval();
  scaled.parameters().forEach(([, t], k) => { for (let i = 0; i < t.size; i++) t.data[i] = 100 * unscaled.parameters()[k][1].data[i]; });
}, 60_000);

describe('score-based attacks do not depend on a positive scaling of the logits', () => {
  it('the ×100 model predicts the same and its float32 probabilities are saturated', () => {
    expect(Array.from(argmax(predict(scaled, x)))).toEqual(Array.from(argmax(predict(unscaled, x))));
    const p = new ScoreOracle(scaled).scores(x).data;
    let zeros = 0;
    for (const v of p) if (v === 0) zeros++;
    expect(zeros).toBeGreaterThan(100);
  });

  it('square: test digit #2 is fooled after 46 queries (ε = 0.1, 300 queries) with or without the ×100', () => {
    const one = getBatch(loadDataset('mnist', 'test'), null, 2, 3);
    for (const m of [unscaled, scaled]) {
      const r = square.run(new ScoreOracle(m), one.x, one.y, { eps: 0.1, maxQueries: 300, seed: 0 });
      expect(r.success[0]).toBe(1);
      expect(r.queries![0]).toBe(46);
    }
  });

  it('square: the same successes, queries and images on 20 digits', () => {
    const opts = { eps: 0.1, maxQueries: 300, seed: 3 };
    const a = square.run(new ScoreOracle(unscaled), x, y, opts);
    const b = square.run(new ScoreOracle(scaled), x, y, opts);
    expect(Array.from(b.success)).toEqual(Array.from(a.success));
    expect(Array.from(b.queries!)).toEqual(Array.from(a.queries!));
    expect(Array.from(b.adversarial.data)).toEqual(Array.from(a.adversarial.data));
    expect(a.success.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
  });

  it('one-pixel: the same successes, queries and images (untargeted and targeted)', () => {
    const targets = Int32Array.from(y, (v) => (v + 1) % 10);
    for (const extra of [{}, { targets }]) {
      const opts = { eps: 0, pixels: 5, population: 16, generations: 8, seed: 1, ...extra };
      const a = onePixel.run(new ScoreOracle(unscaled), x, y, opts);
      const b = onePixel.run(new ScoreOracle(scaled), x, y, opts);
      expect(Array.from(b.success)).toEqual(Array.from(a.success));
      expect(Array.from(b.queries!)).toEqual(Array.from(a.queries!));
      expect(Array.from(b.adversarial.data)).toEqual(Array.from(a.adversarial.data));
    }
  });

  it('the oracle counts one query per image for logits, log-probabilities, probabilities and labels', () => {
    const o = new ScoreOracle(scaled);
    const lp = o.logProbabilities(x);
    expect(lp.dtype).toBe('float64');
    for (const v of lp.data) expect(Number.isFinite(v)).toBe(true);
    o.logits(x); o.scores(x); o.labels(x);
    expect(o.queries).toBe(80);
  });
});

describe('every attack refuses a target equal to the true label', () => {
  const targets = Int32Array.from(y);
  for (const [name, attack] of Object.entries(whiteBoxAttacks) as [string, WhiteBoxAttack][]) {
    it(name, () => {
      // InvFGSM is untargeted by definition and refuses any targets
      const want = name === 'invfgsm' ? /invfgsm.run: targets must be undefined/ : /targets\[0\] must differ from the true label, got 7 for both/;
      expect(() => attack.run(unscaled, x, y, { eps: 0.1, targets })).toThrow(want);
    });
  }
  for (const [name, attack] of Object.entries(blackBoxAttacks)) {
    it(name, () => {
      const oracle = new ScoreOracle(unscaled);
      expect(() => attack.run(oracle, x, y, { eps: 0.1, targets })).toThrow(/targets\[0\] must differ from the true label, got 7 for both/);
      expect(oracle.queries).toBe(0); // refused before any query
    });
  }
});
