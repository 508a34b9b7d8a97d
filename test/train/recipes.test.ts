// Robust-training recipes: the one-cycle learning rate, the curriculum of attack steps, the weight average, and their
// combination with TRADES / MART / PGD, ε warm-up and checkpoint resumption in the training loop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/random.js';
import type { ModelSpec, Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { pgdObjective } from '../../src/train/adversarial.js';
import { loadDataset, subset } from '../../src/data/datasets.js';
import { WeightAverage } from '../../src/train/ema.js';
import { scheduledLr, train, type Objective } from '../../src/train/loop.js';
import { martObjective } from '../../src/train/mart.js';
import { attackAt, oneCycleLr, parseStepsSchedule } from '../../src/train/schedules.js';
import { tradesObjective } from '../../src/train/trades.js';
import { tinyBatch } from '../helpers.js';

describe('one-cycle learning rate (Wong et al. 2020)', () => {
  it('rises linearly to the peak at 2/5 of the run, falls linearly to 0 at the end', () => {
    const lr = 1e-3, total = 100;
    const at = (s: number) => oneCycleLr(lr, s, total);
    expect(at(39)).toBeCloseTo(lr, 15); // t = 0.4
    expect(at(19)).toBeCloseTo(lr / 2, 15); // t = 0.2
    expect(at(0)).toBeCloseTo(lr / 40, 15); // t = 0.01: the first step is already above 0
    expect(at(69)).toBeCloseTo(lr / 2, 15); // t = 0.7
    expect(at(99)).toBe(0);
    for (let s = 0; s < total; s++) expect(at(s)).toBeLessThanOrEqual(lr * (1 + 1e-12));
    expect(scheduledLr('onecycle', lr, 39, total)).toBe(at(39));
    expect(() => oneCycleLr(lr, 0, 0)).toThrow(/oneCycleLr: total must be ≥ 1 step, got 0/);
  });
});

describe('curriculum of attack steps', () => {
  it("'E:K,…' holds K steps from epoch E (1-based) on", () => {
    const s = parseStepsSchedule('1:5, 3:10,5:40', 6);
    expect([0, 1, 2, 3, 4, 5].map(s)).toEqual([5, 5, 10, 10, 40, 40]);
    expect(s.text).toBe('1:5, 3:10,5:40');
  });

  it("'K0-K1' ramps linearly from the first epoch to the last, rounded", () => {
    expect([0, 1, 2, 3, 4].map(parseStepsSchedule('5-40', 5))).toEqual([5, 14, 23, 31, 40]);
    expect(parseStepsSchedule('5-40', 1)(0)).toBe(40);
    expect([0, 1].map(parseStepsSchedule('10-2', 2))).toEqual([10, 2]);
  });

  it('rejects what it cannot read, naming the part', () => {
    expect(() => parseStepsSchedule('2:5,4:10', 5)).toThrow(/first entry must start at epoch 1, got epoch 2/);
    expect(() => parseStepsSchedule('1:5,1:10', 5)).toThrow(/epochs must rise, got 1 then 1/);
    expect(() => parseStepsSchedule('1:0', 5)).toThrow(/a step count must be an integer ≥ 1, got '0'/);
    expect(() => parseStepsSchedule('1:5:3', 5)).toThrow(/'1:5:3' is not E:K/);
    expect(() => parseStepsSchedule('ten', 5)).toThrow(/cannot read 'ten'/);
    expect(() => parseStepsSchedule('1:x', 5)).toThrow(/got 'x'/);
  });

  it('the attack at an epoch: the schedule’s steps with 2.5·ε/k steps unless a step was given, all scaled by the warm-up', () => {
    const base = { eps: 0.3, steps: 7, stepSize: 0.1 };
    const s = parseStepsSchedule('1:5,2:10', 2);
    expect(attackAt(base, undefined, undefined, 1, 0.5)).toEqual({ eps: 0.15, steps: 7, stepSize: 0.05 });
    const a = attackAt(base, s, undefined, 1, 1);
    expect(a.steps).toBe(10);
    expect(a.stepSize).toBeCloseTo(0.075, 15);
    expect(attackAt(base, s, 0.02, 0, 0.5)).toEqual({ eps: 0.15, steps: 5, stepSize: 0.01 });
  });

  it('objectives follow it: the epoch changes the attack, hence the loss; without a schedule PGD is as before', () => {
    const m = buildModel(spec, { seed: 2, dtype: 'float64' });
    const { x, y } = tinyBatch(6, 1);
    const sched = parseStepsSchedule('1:1,2:6', 2);
    for (const make of [
      (s?: ReturnType<typeof parseStepsSchedule>) => pgdObjective({ eps: 0.3, steps: 6, stepsSchedule: s }),
      (s?: ReturnType<typeof parseStepsSchedule>) => tradesObjective({ eps: 0.3, steps: 6, stepsSchedule: s }),
      (s?: ReturnType<typeof parseStepsSchedule>) => martObjective({ eps: 0.3, steps: 6, stepsSchedule: s }),
    ]) {
      const at = (objective: Objective, epoch: number) => objective(m, x, y, { rng: new Rng(4), epoch, step: 0 }).loss.item();
      expect(at(make(sched), 0)).not.toBe(at(make(sched), 1));
    }
    // the last epoch's 6 steps of 2.5·0.3/6 = 0.125 are the fixed objective's with that step
    const at = (objective: Objective, epoch: number) => objective(m, x, y, { rng: new Rng(4), epoch, step: 0 }).loss.item();
    expect(at(pgdObjective({ eps: 0.3, stepsSchedule: sched }), 1)).toBe(at(pgdObjective({ eps: 0.3, steps: 6, stepSize: 0.125 }), 1));
    expect(at(tradesObjective({ eps: 0.3, stepsSchedule: sched }), 1)).toBe(at(tradesObjective({ eps: 0.3, steps: 6, stepSize: 0.125 }), 1));
  });
});

const spec: ModelSpec = {
  input: [1, 4, 4],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 5 }, { type: 'tanh' }, { type: 'dense', in: 5, out: 3 }],
};

describe('weight average', () => {
  const weights = (m: Sequential) => m.stateDict().map(([, t]) => Array.from(t.data));

  it('θ̄ ← d_t·θ̄ + (1 − d_t)·θ with d_t = min(d, (1 + t)/(10 + t)), starting at the weights it was built on', () => {
    const m = buildModel(spec, { seed: 1, dtype: 'float64' });
    const ema = new WeightAverage(m, { decay: 0.5 });
    const w0 = weights(m);
    expect(weights(ema.model)).toEqual(w0);
    expect(ema.currentDecay()).toBeCloseTo(2 / 11, 15);
    m.stateDict().forEach(([, t]) => t.data.forEach((v, i) => (t.data[i] = v + 1)));
    ema.update(m); // d₁ = 2/11
    weights(ema.model).forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo(w0[i][j] + 9 / 11, 14)));
    for (let t = 0; t < 20; t++) ema.update(m);
    expect(ema.currentDecay()).toBe(0.5); // the warm-up is over: (1 + 22)/(10 + 22) > 0.5
    expect(ema.updates).toBe(21);
    expect(ema.model.training).toBe(false);
  });

  it('save → load continues exactly (float32 weights, the update count), and refuses another decay or architecture', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-ema-'));
    const m = buildModel(spec, { seed: 1 });
    const ema = new WeightAverage(m, { decay: 0.99 });
    m.stateDict().forEach(([, t]) => t.data.fill(0.25));
    for (let t = 0; t < 3; t++) ema.update(m);
    ema.save(join(dir, 'a.safetensors'), { epoch: '1' });
    const back = new WeightAverage(buildModel(spec, { seed: 5 }), { decay: 0.99 });
    expect(back.load(join(dir, 'a.safetensors')).epoch).toBe('1');
    expect(back.updates).toBe(3);
    expect(weights(back.model)).toEqual(weights(ema.model));
    ema.update(m);
    back.update(m);
    expect(weights(back.model)).toEqual(weights(ema.model));
    expect(() => new WeightAverage(m, { decay: 0.9 }).load(join(dir, 'a.safetensors'))).toThrow(/averages with decay 0.99, this run uses 0.9/);
    const other = buildModel({ ...spec, layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 3 }] }, { seed: 0 });
    expect(() => new WeightAverage(other, { decay: 0.99 }).load(join(dir, 'a.safetensors'))).toThrow(/different architecture/);
    expect(() => new WeightAverage(m, { decay: 1 })).toThrow(/WeightAverage: decay must be in \[0, 1\), got 1/);
  });
});

describe('the recipes together in the training loop', () => {
  const data = subset(loadDataset('mnist', 'train'), 0, 120);
  const mnistSpec: ModelSpec = { input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 10 }] };

  it('TRADES and MART with ε warm-up, a steps curriculum and one-cycle lr: learn, and resume bit-identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-recipes-'));
    for (const [name, make] of [
      ['trades', () => tradesObjective({ eps: 0.3, warmupEpochs: 1, stepsSchedule: parseStepsSchedule('1:1,2:3', 3) })],
      ['mart', () => martObjective({ eps: 0.3, warmupEpochs: 1, stepsSchedule: parseStepsSchedule('1-3', 3) })],
    ] as const) {
      const opts = { batchSize: 40, optimizer: 'adam', lr: 3e-3, lrSchedule: 'onecycle' as const, seed: 3 };
      const straight = buildModel(mnistSpec, { seed: 3 });
      const r = await train(straight, data, { ...opts, epochs: 3, objective: make() });
      expect(r.history[2].loss).toBeLessThan(r.history[0].loss);
      const ckpt = join(dir, `${name}.ckpt.safetensors`);
      // the same 3-epoch run (the one-cycle schedule spans all 3), stopped after its first epoch
      let done = false;
      await train(buildModel(mnistSpec, { seed: 3 }), data, {
        ...opts, epochs: 3, objective: make(), checkpoint: ckpt, onEpoch: () => { done = true; }, shouldStop: () => done,
      });
      const resumed = buildModel(mnistSpec, { seed: 3 });
      await train(resumed, data, { ...opts, epochs: 3, objective: make(), checkpoint: ckpt, resume: true });
      expect(weights(resumed)).toEqual(weights(straight));
    }
  });

  const weights = (m: Sequential) => m.stateDict().map(([, t]) => Array.from(t.data));
});
