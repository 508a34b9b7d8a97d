// The linear explanation measured: every Dense unit moves by exactly ε·m·n under η = ε·sign(w), and each layer's
// units sum up into one summary; a whole network's logit change along ε·sign(∇x z) tends to first order as ε → 0
// (exactly first order for a softmax model); and `nablax linear` end to end through commander, with its one-line
// errors.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerSummary, networkLinearity, networkLinearityAsync, quantile, unitLinearity } from '../../src/analysis/linear.js';
import { registerLinear } from '../../src/cli/linear.js';
import { UsageError } from '../../src/cli/util.js';
import { Dense } from '../../src/layers/dense.js';
import type { ModelSpec } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { saveModel } from '../../src/io/model-file.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData } from '../../src/data/datasets.js';

const tanhMlp: ModelSpec = {
  input: [1, 28, 28],
  layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 64 }, { type: 'tanh' }, { type: 'dense', in: 64, out: 10 }],
};

let batch: ReturnType<typeof getBatch>;
beforeAll(() => {
  batch = getBatch(loadMnistData('test'), null, 0, 20);
});

describe('unitLinearity', () => {
  for (const name of ['softmax', 'mlp']) {
    it(`${name}: every unit of every Dense layer moves by ε·m·n (ratio 1 within 1e-5)`, () => {
      const model = buildModel(zooSpec(name), { seed: 3 });
      const eps = 0.25;
      const layers = unitLinearity(model, batch.x, eps);
      const dense = model.layers.flatMap((l, i) => (l instanceof Dense ? [[i, l] as const] : []));
      expect(layers.map((l) => l.layer)).toEqual(dense.map(([i]) => i));
      layers.forEach((l, d) => {
        const W = dense[d][1].weight;
        const [O, I] = W.shape;
        expect(l.units.length).toBe(O);
        for (const u of l.units) {
          // ε·m·n from the weights themselves
          let sumAbs = 0;
          for (let j = 0; j < I; j++) sumAbs += Math.abs(W.data[u.unit * I + j]);
          expect(u.n).toBe(I);
          expect(u.meanAbsW).toBeCloseTo(sumAbs / I, 12);
          expect(u.predicted).toBeCloseTo(eps * (sumAbs / I) * I, 10);
          expect(u.predicted).toBeGreaterThan(0);
          expect(Math.abs(u.ratio - 1)).toBeLessThan(1e-5);
          expect(u.measured).toBeCloseTo(u.predicted, 8);
        }
      });
    });
  }

  it('scales with ε and uses only the first image', () => {
    const model = buildModel(zooSpec('softmax'), { seed: 1 });
    const a = unitLinearity(model, batch.x, 0.1)[0].units;
    const b = unitLinearity(model, getBatch(loadMnistData('test'), null, 0, 1).x, 0.2)[0].units;
    for (let k = 0; k < a.length; k++) expect(b[k].measured).toBeCloseTo(2 * a[k].measured, 10);
  });

  it('rejects ε ≤ 0 and an image of the wrong shape', () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    expect(() => unitLinearity(model, batch.x, 0)).toThrow(/eps must be/);
    expect(() => unitLinearity(model, batch.x.to('float32'), NaN)).toThrow(/eps must be/);
    const bad = getBatch({ ...loadMnistData('test'), height: 14, width: 56 }, null, 0, 1).x;
    expect(() => unitLinearity(model, bad, 0.1)).toThrow(/x must be \[N ≥ 1, 1, 28, 28\], got \[1, 1, 14, 56\]/);
  });
});

describe('layerSummary', () => {
  it("sums up each Dense layer of the mlp: units, n, the means over its units, the ratio's range, the last layer", () => {
    const model = buildModel(zooSpec('mlp'), { seed: 3 });
    const layers = unitLinearity(model, batch.x, 0.25);
    const summaries = layers.map((l) => layerSummary(model, l));
    summaries.forEach((s, d) => {
      const { layer, units } = layers[d];
      const dense = model.layers[layer] as Dense;
      expect(s.layer).toBe(layer);
      expect(s.units).toBe(dense.outFeatures);
      expect(s.n).toBe(dense.inFeatures);
      expect(s.meanAbsW).toBeCloseTo(units.reduce((a, u) => a + u.meanAbsW, 0) / units.length, 12);
      expect(s.meanPredicted).toBeCloseTo(units.reduce((a, u) => a + u.predicted, 0) / units.length, 10);
      expect(s.minRatio).toBe(Math.min(...units.map((u) => u.ratio)));
      expect(s.maxRatio).toBe(Math.max(...units.map((u) => u.ratio)));
      expect(s.minRatio).toBeLessThanOrEqual(s.maxRatio);
    });
    expect(summaries.map((s) => s.last)).toEqual(summaries.map((_, d) => d === summaries.length - 1));
    expect(summaries[summaries.length - 1].layer).toBe(model.layers.length - 1);
  });

  it('rejects a layer that is not Dense', () => {
    const model = buildModel(zooSpec('mlp'), { seed: 3 });
    expect(() => layerSummary(model, { layer: 0, units: [] })).toThrow(/layerSummary: layer 0 of the model must be dense, got flatten/);
  });
});

describe('networkLinearity', () => {
  it('a smooth (tanh) MLP is first order as ε → 0, and less so at ε = 0.25', () => {
    const model = buildModel(tanhMlp, { seed: 0 });
    const [small, mid, big] = networkLinearity(model, batch.x, batch.y, [1e-4, 0.01, 0.25]);
    expect(small.ratios).toHaveLength(20);
    expect(Math.abs(small.medianRatio - 1)).toBeLessThan(1e-3);
    expect(Math.abs(small.medianRatio - 1)).toBeLessThan(Math.abs(mid.medianRatio - 1));
    expect(Math.abs(mid.medianRatio - 1)).toBeLessThan(Math.abs(big.medianRatio - 1));
    expect(small.p10).toBeLessThanOrEqual(small.medianRatio);
    expect(small.medianRatio).toBeLessThanOrEqual(small.p90);
  });

  it('a softmax (linear) model is exactly first order at every ε', () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    for (const logit of ['true', 'predicted'] as const) {
      for (const r of networkLinearity(model, batch.x, batch.y, [1e-4, 1e-3, 0.05, 0.25, 1], { logit, batchSize: 7 })) {
        for (const v of r.ratios) expect(Math.abs(v - 1)).toBeLessThan(1e-4);
      }
    }
  });

  it('checks labels and ε, and leaves the model in its mode', () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    expect(model.training).toBe(true);
    expect(() => networkLinearity(model, batch.x, [1, 2], [0.1])).toThrow(/2 labels for a batch x of shape \[20, 1, 28, 28\]/);
    expect(() => networkLinearity(model, batch.x, batch.y, [0.1, -1])).toThrow(/eps must be/);
    expect(() => networkLinearity(model, batch.x, Array(20).fill(10), [0.1])).toThrow(/label 10 of image 0 is not a class/);
    networkLinearity(model, batch.x, batch.y, [0.1]);
    expect(model.training).toBe(true);
  });

  it('networkLinearityAsync: the same numbers bit for bit, yielding and reporting after every batch', async () => {
    const model = buildModel(tanhMlp, { seed: 0 });
    const seen: number[] = [];
    let turns = 0;
    const timer = setInterval(() => turns++, 0); // runs only when the event loop turns between batches
    const a = await networkLinearityAsync(model, batch.x, batch.y, [0.01, 0.25], { batchSize: 6, onProgress: (done) => seen.push(done) });
    clearInterval(timer);
    expect(a).toEqual(networkLinearity(model, batch.x, batch.y, [0.01, 0.25], { batchSize: 6 }));
    expect(seen).toEqual([6, 12, 18, 20]);
    expect(turns).toBeGreaterThan(0);
    await expect(networkLinearityAsync(model, batch.x, [1, 2], [0.1])).rejects.toThrow(/2 labels for a batch x/);
  });

  it('quantile interpolates like numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.1)).toBeCloseTo(1, 12);
    expect(quantile([5], 0.9)).toBe(5);
  });
});

describe('nablax linear', () => {
  let dir = '';
  let softmaxFile = '';
  let convFile = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nablax-linear-'));
    softmaxFile = join(dir, 'softmax.safetensors');
    saveModel(softmaxFile, buildModel(zooSpec('softmax'), { seed: 0 }), { model: 'softmax' });
    // no Dense layer: a 28×28 convolution is the classifier
    convFile = join(dir, 'conv.safetensors');
    saveModel(convFile, buildModel({ input: [1, 28, 28], layers: [{ type: 'conv2d', in: 1, out: 10, kernel: 28 }, { type: 'flatten' }] }, { seed: 0 }));
  });

  async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerLinear(program);
    let stdout = '', stderr = '';
    const out = process.stdout.write, err = process.stderr.write;
    process.stdout.write = ((s: string) => ((stdout += s), true));
    process.stderr.write = ((s: string) => ((stderr += s), true));
    try {
      await program.parseAsync(['node', 'nablax', 'linear', ...args]);
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
    return { stdout, stderr };
  }

  it('--json prints the documented fields', async () => {
    const { stdout } = await run(['--model-file', softmaxFile, '--test-limit', '20', '--json']);
    const doc = JSON.parse(stdout);
    expect(doc.eps).toBe(0.25);
    expect(doc.layers).toHaveLength(1);
    expect(doc.layers[0].layer).toBe(1);
    expect(doc.layers[0].units).toHaveLength(10);
    for (const u of doc.layers[0].units) {
      expect(Object.keys(u).sort()).toEqual(['meanAbsW', 'measured', 'n', 'predicted', 'ratio', 'unit']);
      expect(u.n).toBe(784);
      expect(Math.abs(u.ratio - 1)).toBeLessThan(1e-5);
    }
    expect(doc.network.map((r: { eps: number }) => r.eps)).toEqual([0.001, 0.01, 0.05, 0.1, 0.25]);
    for (const r of doc.network) {
      for (const f of ['medianRatio', 'p10', 'p90']) expect(Math.abs(r[f] - 1), f).toBeLessThan(1e-4);
      expect(r.ratios).toHaveLength(20);
    }
  });

  it('--out writes the report, the plots, the sweeps and the n-scaling data', async () => {
    const out = join(dir, 'report');
    const { stdout, stderr } = await run(['--model-file', softmaxFile, '--test-limit', '10', '--eps', '0.01,0.25', '--index', '0,3', '--sweep-points', '11', '--out', out]);
    // the result on stdout, progress and notices on stderr
    expect(stdout).toMatch(/layer {2}1: 10 units, n = 784/);
    expect(stderr).toMatch(/linear: network, 2 ε 100% 10\/10/);
    for (const f of ['network.svg', 'sweep-0.svg', 'sweep-0-clipped.svg', 'sweep-3.svg', 'sweep-3-clipped.svg', 'n-scaling.svg']) {
      expect(readFileSync(join(out, f), 'utf8'), f).toContain('<svg');
    }
    const doc = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(doc.sweeps.map((s: { index: number }) => s.index)).toEqual([0, 3]);
    expect(doc.sweeps[0].eps).toHaveLength(11);
    expect(doc.nScaling.map((p: { n: number }) => p.n)).toEqual([16, 64, 196, 784, 3136, 12544]);
    const m = doc.layers[0].units.reduce((s: number, u: { meanAbsW: number }) => s + u.meanAbsW, 0) / 10;
    for (const p of doc.nScaling) expect(p.wEta).toBeCloseTo(0.25 * m * p.n, 4);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain(`softmax (logits): m = ${m.toPrecision(3)}, n = 784, ε·m·n = ${(0.25 * m * 784).toPrecision(3)} logits at ε = 0.25`);
    expect(md).toContain('| 0.25 | 1.0000 | 1.0000 | 1.0000 |');
  });

  it('a model without Dense layers measures the network only, with a notice', async () => {
    const { stdout, stderr } = await run(['--model-file', convFile, '--test-limit', '5', '--eps', '0.05,0.1', '--json']);
    expect(stderr).toMatch(/^notice: .* has no Dense layers/);
    const doc = JSON.parse(stdout);
    expect(doc.layers).toEqual([]);
    expect(Math.abs(doc.network[0].medianRatio - 1)).toBeLessThan(1e-4); // conv + flatten is linear too
  });

  it('--eps is a list like every command\'s; one value keeps its old meaning; --eps-list still works with a notice', async () => {
    const base = ['--model-file', softmaxFile, '--test-limit', '5', '--json'];
    const budgets = (stdout: string) => {
      const d = JSON.parse(stdout);
      return { eps: d.eps, network: d.network.map((r: { eps: number }) => r.eps), doc: d };
    };
    // a list: the network's budgets, the largest the per-unit one
    const list = await run([...base, '--eps', '0.01,0.25']);
    expect(list.stderr).not.toContain('notice');
    expect(budgets(list.stdout)).toMatchObject({ eps: 0.25, network: [0.01, 0.25] });
    // the old flag: the same result for the same budgets, with the notice
    const old = await run([...base, '--eps-list', '0.01,0.25']);
    expect(old.stderr.split('\n')[0]).toBe('notice: --eps-list is deprecated and goes in the next release; use --eps');
    expect(budgets(old.stdout).doc).toEqual(budgets(list.stdout).doc);
    // one value: the per-unit budget, the network at the default list (or at --eps-list, as before)
    expect(budgets((await run([...base, '--eps', '0.1'])).stdout)).toMatchObject({ eps: 0.1, network: [0.001, 0.01, 0.05, 0.1, 0.25] });
    expect(budgets((await run([...base, '--eps', '0.1', '--eps-list', '0.05'])).stdout)).toMatchObject({ eps: 0.1, network: [0.05] });
    const both = await run([...base, '--eps', '0.1,0.2', '--eps-list', '0.05']).then(() => null, (err: Error) => err);
    expect(both).toBeInstanceOf(UsageError);
    expect(both!.message).toBe('--eps-list and a list in --eps are the same option; give only --eps');
  });

  it('bad options are one-line usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--eps', '0'], /^--eps must be a number in \(0, 1\], got '0'$/],
      [['--eps', '1.5'], /^--eps must be a number in \(0, 1\], got '1.5'$/],
      [['--eps', '0.1,x'], /^--eps must be a number in \(0, 1\], got 'x'$/],
      [['--eps-list', '0.1,2'], /^--eps-list must be a number in \(0, 1\], got '2'$/],
      [['--eps-list', '0.1,,0.2'], /^--eps-list must be a number in \(0, 1\], got ''$/],
      [['--logit', 'max'], /^--logit must be 'true' or 'predicted'/],
      [['--index', '10000', '--out', join(dir, 'never')], /^--index 10000 is out of range/],
    ];
    for (const [extra, msg] of cases) {
      const e = await run(['--model-file', softmaxFile, ...extra]).then(() => null, (err: Error) => err);
      // commander passes a parser's own errors through unchanged (it wraps only InvalidArgumentError)
      expect(e, extra.join(' ')).toBeInstanceOf(UsageError);
      expect(e!.message, extra.join(' ')).toMatch(msg);
      expect(e!.message).not.toContain('\n');
    }
    const missing = await run(['--model-file', join(dir, 'nope.safetensors')]).then(() => null, (err: Error) => err);
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing!.message).toBe(`no such model file: ${join(dir, 'nope.safetensors')}`);
  });
});
