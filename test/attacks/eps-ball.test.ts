// The ε-ball holds exactly: |x′ − x| computed in float64 from the float32 arrays is ≤ fround(ε)
// for every L∞ attack (and the training attacks), ‖x′ − x‖₂ ≤ ε for the L2 ones, at several ε, including the maxLinf
// that evaluateAttack reports.
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBoxAttacks, ScoreOracle } from '../../src/attacks/black-box.js';
import { linfClamp, projectL2, projectLinf } from '../../src/attacks/ball.js';
import { evaluateAttack } from '../../src/analysis/attack-evaluation.js';
import type { AttackOptions, WhiteBoxAttack } from '../../src/attacks/attack.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';
import { Rng } from '../../src/engine/random.js';
import type { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { fastExample, fgsmExample, pgdExample } from '../../src/train/adversarial.js';
import { loadMnistData, subset } from '../../src/data/datasets.js';
import { testBatch, trainedModel } from './fixtures.js';

const LINF_EPS = [0.1, 0.3, 0.05, 1 / 255, 0.2, 0.7];
const L2_EPS = [0.5, 1, 2, 1 / 3];

function maxLinf(a: Tensor, x: Tensor): number {
  let m = 0;
  for (let i = 0; i < x.size; i++) m = Math.max(m, Math.abs(a.data[i] - x.data[i]));
  return m;
}

function maxL2(a: Tensor, x: Tensor): number {
  const D = x.size / x.shape[0];
  let m = 0;
  for (let n = 0; n < x.shape[0]; n++) {
    let s = 0;
    for (let j = n * D; j < (n + 1) * D; j++) s += (a.data[j] - x.data[j]) ** 2;
    m = Math.max(m, Math.sqrt(s));
  }
  return m;
}

function expectInside(a: Tensor, x: Tensor, eps: number, norm: string, what: string): void {
  expect(a.data.every((v) => v >= 0 && v <= 1), what).toBe(true);
  if (norm === 'l2') expect(maxL2(a, x), what).toBeLessThanOrEqual(eps);
  else expect(maxLinf(a, x), what).toBeLessThanOrEqual(Math.fround(eps));
}

let model: Sequential;
const { x, y } = testBatch(24);
beforeAll(async () => {
  model = await trainedModel('softmax');
}, 60_000);

describe('the projections', () => {
  it('L∞: a float32 x + ε that rounds outside is stepped back one ulp (x = 0.001, ε = 0.1)', () => {
    const x0 = Math.fround(0.001);
    const up = Math.fround(x0 + 0.1); // 0.10100000351667404: |up − x0| = 0.1000000035 > fround(0.1)
    expect(up - x0).toBeGreaterThan(Math.fround(0.1)); // the case exists
    const xo = Float32Array.of(x0, Math.fround(0.9), 0, 1, Math.fround(0.7));
    const xa = Float32Array.of(1, 0, 1, 0, 0.5);
    projectLinf(xa, xo, 0.1);
    for (let j = 0; j < xo.length; j++) expect(Math.abs(xa[j] - xo[j])).toBeLessThanOrEqual(Math.fround(0.1));
    const below = Float32Array.of(up);
    new Uint32Array(below.buffer)[0] -= 1; // one float32 ulp below
    expect(xa[0]).toBe(below[0]);
    expect(linfClamp(0.95, x0, 0.1, xa)).toBe(below[0]);
  });

  it('L∞ and L2 exact over many random points and radii, float32 and float64', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 300; t++) {
      const eps = rng.uniform(0, 0.5);
      for (const Arr of [Float32Array, Float64Array]) {
        const xo = new Arr(50);
        for (let j = 0; j < 50; j++) xo[j] = rng.next();
        const a = Arr.from(xo);
        for (let j = 0; j < 50; j++) a[j] = xo[j] + rng.uniform(-1, 1);
        const b = a.slice();
        projectLinf(a, xo, eps);
        const bound = Arr === Float32Array ? Math.fround(eps) : eps;
        let worst = 0;
        for (let j = 0; j < 50; j++) worst = Math.max(worst, Math.abs(a[j] - xo[j]));
        expect(worst).toBeLessThanOrEqual(bound);
        expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
        projectL2(b, xo, eps);
        let s = 0;
        for (let j = 0; j < 50; j++) s += (b[j] - xo[j]) ** 2;
        expect(Math.sqrt(s)).toBeLessThanOrEqual(eps);
      }
    }
  });
});

describe('every attack stays inside its ε-ball exactly', () => {
  // every attack with the same options: each takes the ones it knows (FAB's norm defaults to L∞)
  for (const [name, attack] of Object.entries(whiteBoxAttacks) as [string, WhiteBoxAttack<AttackOptions & Record<string, unknown>>][]) {
    it(name, () => {
      for (const eps of attack.norm === 'l2' ? L2_EPS : LINF_EPS) {
        const r = attack.run(model, x, y, { eps, steps: 5, stepSize: eps / 2, earlyStop: false, seed: 1 });
        expectInside(r.adversarial, x, eps, attack.norm, `${name} ε=${eps}`);
      }
    });
  }

  it('square', () => {
    for (const eps of LINF_EPS) {
      const r = blackBoxAttacks.square.run(new ScoreOracle(model), x, y, { eps, maxQueries: 30, seed: 1 });
      expectInside(r.adversarial, x, eps, 'linf', `square ε=${eps}`);
    }
  });

  it('the adversarial-training attacks (FGSM, PGD, fast)', () => {
    for (const eps of LINF_EPS) {
      model.train();
      expectInside(fgsmExample(model, x, y, { eps }), x, eps, 'linf', `fgsmExample ε=${eps}`);
      expectInside(pgdExample(model, x, y, { eps, steps: 3, stepSize: eps / 2, randomStart: true }, new Rng(1)), x, eps, 'linf', `pgdExample ε=${eps}`);
      expectInside(fastExample(model, x, y, { eps, alpha: 1.25 * eps }, new Rng(2)), x, eps, 'linf', `fastExample ε=${eps}`);
      model.eval();
    }
  });

  it('evaluateAttack’s reported maxLinf (FGSM, PGD) and maxL2 (FGM)', async () => {
    const ds = subset(loadMnistData('test'), 0, 24);
    for (const eps of LINF_EPS) {
      for (const attack of [whiteBoxAttacks.fgsm, whiteBoxAttacks.pgd]) {
        const { metrics } = await evaluateAttack(model, attack, ds, { eps, attackOptions: { steps: 3 } });
        expect(metrics.maxLinf).toBeLessThanOrEqual(Math.fround(eps));
      }
    }
    for (const eps of L2_EPS) {
      const { metrics } = await evaluateAttack(model, whiteBoxAttacks.fgm, ds, { eps });
      expect(metrics.maxL2).toBeLessThanOrEqual(eps);
    }
  });
});
