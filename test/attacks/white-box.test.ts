// White-box attacks on real trained models (fixtures: a cnn and a softmax regression on MNIST digits): every attack
// stays in its ε-ball and in [0, 1], ε = 0 is the identity, one PGD step is FGSM, PGD/MI-FGSM beat FGSM, targeted
// attacks reach their targets, early stop freezes, restarts only help, seeds reproduce, InvFGSM lowers the loss.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Attack, AttackResult } from '../../src/attacks/attack.js';
import { bim } from '../../src/attacks/bim.js';
import { fgsm } from '../../src/attacks/fgsm.js';
import { gradientAttack } from '../../src/attacks/gradient-attack.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';
import { invfgsm } from '../../src/attacks/invfgsm.js';
import { mifgsm } from '../../src/attacks/mifgsm.js';
import { pgd, pgdL2 } from '../../src/attacks/pgd.js';
import { chooseTargets } from '../../src/attacks/targets.js';
import { softmax, softmaxCrossEntropy } from '../../src/engine/ops/loss.js';
import { Rng } from '../../src/engine/random.js';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { argmax } from '../../src/layers/predict.js';
import { testBatch, trainedModel } from './fixtures.js';

const EPS: Record<string, number> = { linf: 0.1, l2: 1.5 };

let cnn: Sequential, soft: Sequential, x: Tensor, y: Int32Array;
beforeAll(async () => {
  cnn = await trainedModel('cnn');
  soft = await trainedModel('softmax');
  ({ x, y } = testBatch(64));
});

const logitsOf = (m: Sequential, t: Tensor) => noGrad(() => m.forward(t));
const accuracy = (m: Sequential, t: Tensor) => {
  const p = argmax(logitsOf(m, t));
  return p.reduce((a, c, n) => a + (c === y[n] ? 1 : 0), 0) / p.length;
};
const losses = (m: Sequential, t: Tensor, cls: ArrayLike<number>) => noGrad(() => softmaxCrossEntropy(logitsOf(m, t), cls, 'none')).data;
const meanProb = (m: Sequential, t: Tensor, cls: Int32Array) => {
  const p = softmax(logitsOf(m, t)).data, C = p.length / cls.length;
  return cls.reduce((a, c, n) => a + p[n * C + c], 0) / cls.length;
};
const rows = (t: Tensor, n: number) => new Tensor(t.data.slice(0, n * 784), [n, ...t.shape.slice(1)]);
const row = (t: Tensor, n: number) => Array.from(t.data.subarray(n * 784, (n + 1) * 784));
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

/** ‖x'ₙ − xₙ‖ ≤ ε (+1e-6) in the attack's norm and x' ∈ [0, 1], checked in float64. */
function expectInBounds(r: AttackResult, x0: Tensor, eps: number, norm: string): void {
  const N = x0.shape[0], D = x0.size / N, a = r.adversarial.data;
  expect(r.adversarial.shape).toEqual(x0.shape);
  let outside = 0, worst = 0;
  for (let n = 0; n < N; n++) {
    let linf = 0, l2 = 0;
    for (let j = n * D; j < (n + 1) * D; j++) {
      if (!(a[j] >= 0 && a[j] <= 1)) outside++;
      const d = Math.abs(a[j] - x0.data[j]);
      linf = Math.max(linf, d);
      l2 += d * d;
    }
    worst = Math.max(worst, norm === 'l2' ? Math.sqrt(l2) : linf);
  }
  expect(outside).toBe(0);
  expect(worst).toBeLessThanOrEqual(eps + 1e-6);
}

/** Index of the first element where a and b differ (bit for bit, lengths included), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('every white-box attack', () => {
  const entries: [string, Attack & { kind: 'white-box' }][] = Object.entries(whiteBoxAttacks);
  // The minimum-norm attacks search at any ε and CW at its defaults (9 × 1,000 Adam steps) alone takes ~45 s on 64
  // images, so these record-wide checks give them small budgets; their own test files cover their full settings.
  const budget: Record<string, object> = { 'cw-l2': { steps: 20, binarySteps: 2 }, fab: { steps: 10 }, 'fab-t': { steps: 10, nTargetClasses: 2 } };

  it('stays inside its ε-ball and inside [0, 1] (cnn and softmax, untargeted and targeted)', () => {
    for (const [name, attack] of entries) {
      expect(attack.name).toBe(name);
      const eps = EPS[attack.norm];
      // softmax: the attack's defaults on 64 images; cnn: 16 images, iterative attacks capped at 10 steps.
      for (const [m, xs, o] of [[soft, x, {}], [cnn, rows(x, 16), { steps: 10 }]] as const) {
        const N = xs.shape[0];
        const r = attack.run(m, xs, y.subarray(0, N), { eps, seed: 3, ...budget[name], ...o });
        expectInBounds(r, xs, eps, attack.norm);
        expect(r.success.length).toBe(N);
        expect(r.iterations.length).toBe(N);
      }
      if (name !== 'invfgsm') {
        const targets = chooseTargets({ kind: 'random' }, y, null, new Rng(5));
        const r = attack.run(soft, x, y, { eps, seed: 3, targets, ...budget[name] });
        expectInBounds(r, x, eps, attack.norm);
        expect(r.targets).toBe(targets);
      }
    }
  });

  it('returns x exactly at ε = 0', () => {
    for (const [name, attack] of entries) {
      for (const [m, xs, o] of [[soft, x, {}], [cnn, rows(x, 8), { steps: 5 }]] as const) {
        const r = attack.run(m, xs, y.subarray(0, xs.shape[0]), { eps: 0, seed: 1, ...budget[name], ...o });
        expect(firstDiff(r.adversarial.data, xs.data)).toBe(-1);
        expect(r.adversarial.data).not.toBe(xs.data);
      }
    }
  });

  it('restores the model’s training mode', () => {
    for (const [name, attack] of entries) {
      cnn.train();
      try {
        attack.run(cnn, rows(x, 4), y.subarray(0, 4), { eps: EPS[attack.norm], seed: 0, ...budget[name], steps: 5 }); // few steps: APGD-T runs 9 targets
        expect(cnn.training).toBe(true);
        expect(cnn.layers.every((l) => l.training)).toBe(true);
      } finally {
        cnn.eval();
      }
    }
    expect(cnn.training).toBe(false);
  });
});

describe('FGSM and PGD', () => {
  it('one PGD step from x with step ε equals FGSM bit for bit', () => {
    const eps = 0.1;
    const f = fgsm.run(cnn, x, y, { eps });
    const p = pgd.run(cnn, x, y, { eps, steps: 1, stepSize: eps, randomStart: false, earlyStop: false });
    expect(firstDiff(p.adversarial.data, f.adversarial.data)).toBe(-1);
    expect(Array.from(p.success)).toEqual(Array.from(f.success));
    // With early stop an example misclassified at x is already done and stays x; the rest are FGSM's.
    const e = pgd.run(cnn, x, y, { eps, steps: 1, stepSize: eps, randomStart: false });
    const clean = argmax(logitsOf(cnn, x));
    let wrong = 0;
    for (let n = 0; n < 64; n++) {
      if (clean[n] !== y[n]) wrong++;
      expect(firstDiff(row(e.adversarial, n), row(clean[n] === y[n] ? f.adversarial : x, n))).toBe(-1);
      expect(e.iterations[n]).toBe(clean[n] === y[n] ? 1 : 0);
    }
    expect(wrong).toBeLessThan(16);
    // Targeted too: one step down J(x, t).
    const targets = chooseTargets({ kind: 'least-likely' }, y, logitsOf(cnn, x), new Rng(0));
    const ft = fgsm.run(cnn, x, y, { eps, targets });
    const pt = pgd.run(cnn, x, y, { eps, targets, steps: 1, stepSize: eps, randomStart: false, earlyStop: false });
    expect(firstDiff(pt.adversarial.data, ft.adversarial.data)).toBe(-1);
  });

  it('targeted FGSM and PGD raise the target’s probability; PGD reaches most targets at ε = 0.3', () => {
    const targets = chooseTargets({ kind: 'random' }, y, null, new Rng(11));
    const before = meanProb(cnn, x, targets);
    const f = fgsm.run(cnn, x, y, { eps: 0.1, targets });
    const p = pgd.run(cnn, x, y, { eps: 0.3, targets, seed: 2 });
    expect(meanProb(cnn, f.adversarial, targets)).toBeGreaterThan(before + 0.02);
    // Early stop ends an example as soon as t is the argmax, so p(t) only just passes the runner-up.
    expect(meanProb(cnn, p.adversarial, targets)).toBeGreaterThan(before + 0.2);
    const reached = argmax(logitsOf(cnn, p.adversarial)).reduce((a, c, n) => a + (c === targets[n] ? 1 : 0), 0);
    expect(reached).toBe(sum(p.success));
    expect(reached / 64).toBeGreaterThan(0.75);
    const fs = fgsm.run(soft, x, y, { eps: 0.1, targets });
    expect(meanProb(soft, fs.adversarial, targets)).toBeGreaterThan(meanProb(soft, x, targets));
  });

  it('PGD (40 steps) is at least as strong as FGSM at ε = 0.1 and 0.25', () => {
    const clean = accuracy(cnn, x);
    for (const eps of [0.1, 0.25]) {
      const f = fgsm.run(cnn, x, y, { eps });
      const p = pgd.run(cnn, x, y, { eps, seed: 4 });
      const accF = accuracy(cnn, f.adversarial), accP = accuracy(cnn, p.adversarial);
      expect(accF).toBeCloseTo(1 - sum(f.success) / 64, 12);
      expect(accP).toBeCloseTo(1 - sum(p.success) / 64, 12);
      expect(accP).toBeLessThanOrEqual(accF);
      expect(accF).toBeLessThan(clean);
      if (eps === 0.25) expect(accP).toBeLessThan(0.1);
    }
  });

  it('FGSM at ε = 0.25 takes the softmax model below 10% (the linear argument)', () => {
    expect(accuracy(soft, x)).toBeGreaterThan(0.8);
    expect(accuracy(soft, fgsm.run(soft, x, y, { eps: 0.25 }).adversarial)).toBeLessThan(0.1);
  });
});

describe('the gradient core', () => {
  it('early stop: an example that succeeds early stops short of the budget and its iterate is frozen', () => {
    const opts = { eps: 0.15, stepSize: 0.02 };
    const x32 = rows(x, 32), y32 = y.subarray(0, 32);
    const short = bim.run(cnn, x32, y32, { ...opts, steps: 8 });
    const long = bim.run(cnn, x32, y32, { ...opts, steps: 16 });
    expect(long.earlyStopped).toBe(true);
    let early = 0;
    for (let n = 0; n < 32; n++) {
      expect(long.iterations[n]).toBeLessThanOrEqual(16);
      if (short.iterations[n] < 8) {
        if (short.iterations[n] > 0) early++; // 0: misclassified at x already
        expect(short.success[n]).toBe(1);
        expect(long.iterations[n]).toBe(short.iterations[n]);
        expect(firstDiff(row(long.adversarial, n), row(short.adversarial, n))).toBe(-1); // frozen: 8 more steps changed nothing
      }
    }
    expect(early).toBeGreaterThan(5);
    const full = bim.run(cnn, rows(x, 8), y.subarray(0, 8), { ...opts, steps: 5, earlyStop: false });
    expect(full.earlyStopped).toBe(false);
    expect(Array.from(full.iterations)).toEqual(new Array(8).fill(5));
  });

  it('restarts never do worse than a single run', () => {
    const eps = 0.1, x32 = rows(x, 32), y32 = y.subarray(0, 32);
    const one = pgd.run(cnn, x32, y32, { eps, seed: 9, steps: 10, stepSize: 0.02 });
    const three = pgd.run(cnn, x32, y32, { eps, seed: 9, steps: 10, stepSize: 0.02, restarts: 3 });
    for (let n = 0; n < 32; n++) expect(three.success[n]).toBeGreaterThanOrEqual(one.success[n]);
    expect(sum(three.iterations)).toBeGreaterThan(sum(one.iterations));
    // Without early stop every run maximises the loss; the kept one has at least the first run's loss.
    const x16 = rows(x, 16), y16 = y.subarray(0, 16);
    const o = { eps, seed: 9, steps: 8, stepSize: 0.02, earlyStop: false };
    const l1 = losses(cnn, pgd.run(cnn, x16, y16, o).adversarial, y16);
    const l3 = losses(cnn, pgd.run(cnn, x16, y16, { ...o, restarts: 3 }).adversarial, y16);
    for (let n = 0; n < 16; n++) expect(l3[n]).toBeGreaterThanOrEqual(l1[n]);
    expect(sum(l3)).toBeGreaterThan(sum(l1));
  });

  it('seeded runs are bit-identical; different seeds give different random starts', () => {
    for (const attack of [pgd, pgdL2]) {
      const eps = EPS[attack.norm];
      const x16 = rows(x, 16), y16 = y.subarray(0, 16);
      const a = attack.run(cnn, x16, y16, { eps, seed: 7, steps: 5 }), b = attack.run(cnn, x16, y16, { eps, seed: 7, steps: 5 });
      expect(firstDiff(a.adversarial.data, b.adversarial.data)).toBe(-1);
      expect(Array.from(a.iterations)).toEqual(Array.from(b.iterations));
      const s1 = attack.run(soft, x, y, { eps, seed: 1, steps: 0 }), s2 = attack.run(soft, x, y, { eps, seed: 2, steps: 0 });
      expectInBounds(s1, x, eps, attack.norm);
      expect(firstDiff(s1.adversarial.data, s2.adversarial.data)).not.toBe(-1);
      expect(firstDiff(s1.adversarial.data, x.data)).not.toBe(-1);
    }
  });

  it('rejects bad arguments with one-line messages', () => {
    const base = { eps: 0.1, norm: 'linf' as const, steps: 1, stepSize: 0.1, randomStart: false };
    const bad = new Tensor(x.data.slice(0, 784).map((v, i) => (i === 5 ? 1.5 : v)), [1, 1, 28, 28]);
    expect(() => gradientAttack(soft, bad, y.subarray(0, 1), base)).toThrow(/gradientAttack: x must lie in \[0, 1\], got 1.5/);
    expect(() => gradientAttack(soft, x, y, { ...base, targets: y.slice() })).toThrow(/targets\[0\] must differ from the true label/);
    expect(() => gradientAttack(soft, x, y, { ...base, eps: -1 })).toThrow(/eps must be a finite number ≥ 0, got -1/);
    expect(() => gradientAttack(soft, x, y.subarray(0, 3), base)).toThrow(/y must have 64 labels/);
    expect(() => invfgsm.run(soft, x, y, { eps: 0.1, targets: y })).toThrow(/invfgsm.run: targets must be undefined/);
  });
});

describe('chooseTargets', () => {
  it("'random' never picks the true label and covers every other class", () => {
    const rng = new Rng(3), yy = new Int32Array(2000).map((_, i) => i % 10);
    const t = chooseTargets({ kind: 'random' }, yy, null, rng);
    const seen = new Set<string>();
    for (let n = 0; n < yy.length; n++) {
      expect(t[n]).not.toBe(yy[n]);
      expect(t[n] >= 0 && t[n] < 10).toBe(true);
      seen.add(`${yy[n]}-${t[n]}`);
    }
    expect(seen.size).toBe(90);
  });

  it("'class' rejects a class equal to a label or out of range; 'least-likely' is argmin of the logits", () => {
    const yy = Int32Array.from([1, 2, 3]);
    expect(Array.from(chooseTargets({ kind: 'class', class: 7 }, yy, null, new Rng(0)))).toEqual([7, 7, 7]);
    expect(() => chooseTargets({ kind: 'class', class: 3 }, yy, null, new Rng(0))).toThrow('target class 3 equals the true label of example 2');
    expect(() => chooseTargets({ kind: 'class', class: 10 }, yy, null, new Rng(0))).toThrow(/target class must be an integer in 0..9, got 10/);
    const logits = Tensor.from([0, 1, 2, -5, 3, 4, 5, 6, 7, 8, /**/ 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, /**/ 9, 9, 9, -9, 9, 9, 9, 9, 9, 9], [3, 10]);
    expect(Array.from(chooseTargets({ kind: 'least-likely' }, yy, logits, new Rng(0)))).toEqual([3, 5, 0]); // example 2's argmin is its label
    expect(() => chooseTargets({ kind: 'least-likely' }, yy, null, new Rng(0))).toThrow(/needs the logits/);
  });
});

describe('InvFGSM and MI-FGSM', () => {
  it('InvFGSM lowers the loss and does not reduce accuracy', () => {
    for (const m of [cnn, soft]) {
      const r = invfgsm.run(m, x, y, { eps: 0.1 });
      const before = losses(m, x, y), after = losses(m, r.adversarial, y);
      expect(sum(after)).toBeLessThan(0.5 * sum(before));
      expect(accuracy(m, r.adversarial)).toBeGreaterThanOrEqual(accuracy(m, x));
      const pred = argmax(logitsOf(m, r.adversarial));
      for (let n = 0; n < 64; n++) expect(r.success[n]).toBe(pred[n] === y[n] ? 1 : 0); // success = still correct
    }
  });

  it('MI-FGSM is at least as strong as FGSM at ε = 0.2', () => {
    const eps = 0.2;
    const m = mifgsm.run(cnn, x, y, { eps });
    expectInBounds(m, x, eps, 'linf');
    expect(accuracy(cnn, m.adversarial)).toBeLessThanOrEqual(accuracy(cnn, fgsm.run(cnn, x, y, { eps }).adversarial));
    expect(Math.max(...m.iterations)).toBeLessThanOrEqual(10);
  });
});
