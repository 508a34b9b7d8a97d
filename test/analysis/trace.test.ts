// The trace: the same ∇x as inputGradient through every layer, statistics that agree with the layer outputs, the chain rule written
// out for the cnn, a picture of a sane size, and `nablax trace` end to end through commander (in-process).
import { Command } from 'commander';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chainRule, traceExample, traceToJson, type Trace } from '../../src/analysis/trace.js';
import { inputGradient } from '../../src/attacks/input-gradient.js';
import { registerTrace } from '../../src/cli/trace.js';
import { UsageError } from '../../src/cli/util.js';
import { saveModel } from '../../src/io/model-file.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { traceFigure } from '../../src/report/trace-figure.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData } from '../../src/data/datasets.js';

const test = loadMnistData('test');
const model = buildModel(zooSpec('cnn'), { seed: 0 });
const { x, y } = getBatch(test, null, 0, 1);
let trace: Trace;

beforeAll(() => {
  trace = traceExample(model, x, y[0]);
});

describe('traceExample', () => {
  it('gives exactly the ∇x, loss and logits of inputGradient through every layer, and the fused model’s ∇x within float32 rounding', () => {
    const g = inputGradient(model, x, [y[0]], { layers: true });
    expect(trace.dx.shape).toEqual([1, 1, 28, 28]);
    expect(Array.from(trace.dx.data)).toEqual(Array.from(g.dx.data));
    expect(trace.loss).toBe(g.loss);
    // the fused blocks' dX (conv_pool_dx) adds the same products in another order
    const fused = inputGradient(model, x, [y[0]]);
    expect(fused.loss).toBe(g.loss);
    const scale = Math.max(...Array.from(g.dx.data, Math.abs));
    expect(Math.max(...Array.from(g.dx.data, (v, i) => Math.abs(v - fused.dx.data[i])))).toBeLessThan(1e-5 * scale);
    let best = 0;
    for (let c = 1; c < 10; c++) if (g.logits.data[c] > g.logits.data[best]) best = c;
    expect(trace.predicted).toBe(best);
    expect(trace.label).toBe(y[0]);
    expect(trace.probabilities).toHaveLength(10);
    expect(trace.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(trace.loss).toBeCloseTo(-Math.log(trace.probabilities[y[0]]), 4);
    const d = Array.from(g.dx.data);
    expect(trace.dxNorm.l1).toBeCloseTo(d.reduce((s, v) => s + Math.abs(v), 0), 6);
    expect(trace.dxNorm.l2).toBeCloseTo(Math.sqrt(d.reduce((s, v) => s + v * v, 0)), 7);
    expect(trace.dxNorm.linf).toBe(Math.max(...d.map(Math.abs)));
  });

  it('traces every layer with statistics that agree with its output and gradient', () => {
    expect(trace.layers).toHaveLength(model.layers.length);
    expect(trace.layers.map((l) => l.type)).toEqual(zooSpec('cnn').layers.map((s) => s.type));
    expect(trace.layers.map((l) => l.outputShape)).toEqual([
      [16, 24, 24], [16, 24, 24], [16, 12, 12], [32, 8, 8], [32, 8, 8], [32, 4, 4], [512], [128], [128], [10],
    ]);
    for (const l of trace.layers) {
      const o = Array.from(l.tensors.output.data);
      const g = Array.from(l.tensors.grad.data);
      expect(l.tensors.output.shape).toEqual([1, ...l.outputShape]);
      expect(l.tensors.grad.shape).toEqual(l.tensors.output.shape);
      expect(l.spec).toEqual(model.layers[l.index].spec());
      expect(l.output.min).toBe(Math.min(...o));
      expect(l.output.max).toBe(Math.max(...o));
      expect(l.output.mean).toBeCloseTo(o.reduce((a, b) => a + b, 0) / o.length, 6);
      expect(l.output.std).toBeGreaterThanOrEqual(0);
      expect(l.output.fractionZero).toBe(o.filter((v) => v === 0).length / o.length);
      expect(l.grad.normInf).toBe(Math.max(...g.map(Math.abs)));
      expect(l.grad.norm2).toBeCloseTo(Math.sqrt(g.reduce((s, v) => s + v * v, 0)), 7);
      if (l.type === 'relu') {
        expect(l.output.min).toBeGreaterThanOrEqual(0);
        expect(l.output.fractionZero).toBeGreaterThan(0);
      }
    }
    // the last layer's output is the logits, its gradient softmax(z) − onehot(y)
    const last = trace.layers[9];
    trace.probabilities.forEach((p, c) => expect(last.tensors.grad.data[c]).toBeCloseTo(p - (c === y[0] ? 1 : 0), 6));
    // flatten only reshapes: same values, same gradient norm
    expect(trace.layers[6].output).toEqual(trace.layers[5].output);
    expect(trace.layers[6].grad.norm2).toBeCloseTo(trace.layers[5].grad.norm2, 9);
  });

  it('rejects a batch of more than one example', () => {
    const two = getBatch(test, null, 0, 2);
    expect(() => traceExample(model, two.x, 0)).toThrow(/traceExample: x must be one example \[1, 1, 28, 28\], got \[2, 1, 28, 28\]/);
  });

  it('JSON form: statistics only, ∇x on request', () => {
    const j = traceToJson(trace);
    expect(j.dx).toBeUndefined();
    expect(j.layers[0]).not.toHaveProperty('tensors');
    const text = JSON.stringify(j);
    expect(text.length).toBeLessThan(10_000);
    expect(JSON.parse(text).layers[3].outputShape).toEqual([32, 8, 8]);
    expect(traceToJson(trace, { withDx: true }).dx).toEqual(Array.from(trace.dx.data));
  });
});

describe('chainRule', () => {
  const lines = chainRule(model);
  it('writes one line per layer between the loss and the input', () => {
    expect(lines).toHaveLength(model.layers.length + 2);
    expect(lines[0]).toMatch(/^∂J\/∂z₁₀ = softmax\(z₁₀\) − onehot\(y\)\s+\[10\]/);
    expect(lines[1]).toMatch(/^∂J\/∂z₉\s+= ∂J\/∂z₁₀ · W₉\s+\[128\]\s+#9 dense 128→10/);
    expect(lines[2]).toMatch(/^∂J\/∂z₈\s+= ∂J\/∂z₉ ⊙ \[z₈ > 0\]/);
    expect(lines[4]).toContain('reshape(∂J/∂z₇, 32×4×4)');
    expect(lines[5]).toMatch(/max/);
    expect(lines[7]).toContain('col2im(W₃ᵀ · ∂J/∂z₄)');
    expect(lines[7]).toContain('[16×12×12]');
    expect(lines[10]).toMatch(/^∂J\/∂z₀\s+= col2im\(W₀ᵀ · ∂J\/∂z₁\)\s+\[1×28×28\]/);
    expect(lines[11]).toMatch(/^∇x J\s+= ∂J\/∂z₀\s+\[1×28×28\]/);
    const all = lines.join('\n');
    expect(all).toContain('col2im');
    expect(all).toContain('softmax');
    // the '=' signs line up
    expect(new Set(lines.map((l) => l.indexOf(' = '))).size).toBe(1);
  });

  it('covers the other layer types', () => {
    const m = buildModel({ input: [1, 8, 8], layers: [
      { type: 'conv2d', in: 1, out: 2, kernel: 3, padding: 1 }, { type: 'batchnorm2d', features: 2 }, { type: 'tanh' },
      { type: 'avgpool2d', kernel: 2 }, { type: 'flatten' }, { type: 'dropout', p: 0.5 }, { type: 'dense', in: 32, out: 20 },
      { type: 'maxout', pieces: 2 }, { type: 'sigmoid' }, { type: 'dense', in: 10, out: 3 },
    ] }, { seed: 1 });
    const l = chainRule(m);
    expect(l).toHaveLength(12);
    expect(l.join('\n')).toMatch(/γ₁/);
    expect(l.join('\n')).toMatch(/1 − z₃²/);
    expect(l.join('\n')).toMatch(/÷4/);
    expect(l.join('\n')).toMatch(/identity in evaluation/);
    expect(l.join('\n')).toMatch(/winning piece \(of 2\)/);
    expect(l.join('\n')).toMatch(/z₉ ⊙ \(1 − z₉\)/);
    expect(l.join('\n')).not.toMatch(/undefined/);
  });
});

describe('traceFigure', () => {
  it('draws a legible picture of a sane size', () => {
    const c = traceFigure(trace, x, { index: 0 });
    expect(c.width).toBeGreaterThan(800);
    expect(c.width).toBeLessThan(2000);
    expect(c.height).toBeGreaterThan(1000);
    expect(c.height).toBeLessThan(3000);
    const png = PNG.sync.read(Buffer.from(c.toPng()));
    expect([png.width, png.height]).toEqual([c.width, c.height]);
    let ink = 0, red = 0;
    for (let i = 0; i < c.rgba.length; i += 4) {
      if (c.rgba[i] < 250 || c.rgba[i + 1] < 250 || c.rgba[i + 2] < 250) ink++;
      if (c.rgba[i] > 150 && c.rgba[i + 1] < 120 && c.rgba[i + 2] < 120) red++;
    }
    expect(ink / (c.width * c.height)).toBeGreaterThan(0.1);
    expect(red).toBeGreaterThan(50); // the diverging gradient maps are there
  });
});

describe('nablax trace (through commander)', () => {
  let dir: string;
  let modelFile: string;
  const out: string[] = [];
  const err: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nablax-trace-'));
    modelFile = join(dir, 'cnn.safetensors');
    saveModel(modelFile, model);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(...args: string[]): Promise<void> {
    out.length = 0;
    err.length = 0;
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    try {
      const program = new Command().exitOverride().configureOutput({ writeErr: (s) => err.push(s), writeOut: (s) => out.push(s) });
      registerTrace(program);
      await program.parseAsync(['node', 'nablax', 'trace', '--model-file', modelFile, ...args]);
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
  }

  it('writes trace.png, trace.md and trace.json, and prints the tables', async () => {
    const o = join(dir, 'out');
    await run('--index', '0', '--out', o);
    expect(readdirSync(o).sort()).toEqual(['trace.json', 'trace.md', 'trace.png']);
    const png = PNG.sync.read(readFileSync(join(o, 'trace.png')));
    expect(png.width).toBeGreaterThan(800);
    const md = readFileSync(join(o, 'trace.md'), 'utf8');
    expect(md).toContain('```\n∂J/∂z₁₀ = softmax(z₁₀) − onehot(y)');
    expect(md).toContain('col2im');
    expect(md).toContain('![trace](trace.png)');
    expect(md).toMatch(/\| 0 \| conv2d \| 16×24×24 \|/);
    const json = JSON.parse(readFileSync(join(o, 'trace.json'), 'utf8'));
    expect(json.index).toBe(0);
    expect(json.label).toBe(y[0]);
    expect(json.layers).toHaveLength(10);
    expect(json.dx).toBeUndefined();
    expect(json.dxNorm.linf).toBeCloseTo(trace.dxNorm.linf, 9);
    // the tables are the result: stdout; the "wrote" notice goes to stderr
    const text = out.join('');
    expect(text).toMatch(/^test image 0: label 7, predicted \d/);
    expect(text).toMatch(/forward:\n/);
    expect(text).toMatch(/backward:\n\s+#\s+layer\s+‖∂J\/∂out‖₂/);
    expect(text).toMatch(/\n\s+0\s+conv2d\s+16×24×24/);
    expect(text).toMatch(/∇x J: ‖·‖₁ /);
    expect(err.join('')).toMatch(/^wrote .*trace\.png, trace\.md, trace\.json\n$/);
  });

  it('--json prints one document, with ∇x only under --with-dx', async () => {
    await run('--index', '3', '--json');
    const a = JSON.parse(out.join(''));
    expect(a.index).toBe(3);
    expect(a.dx).toBeUndefined();
    expect(a.layers[0]).toMatchObject({ index: 0, type: 'conv2d', outputShape: [16, 24, 24] });
    await run('--index', '3', '--json', '--with-dx');
    const b = JSON.parse(out.join(''));
    expect(b.dx).toHaveLength(784);
    expect(b.loss).toBe(a.loss);
  });

  it('a bad index is a one-line usage error, and nothing is written', async () => {
    const o = join(dir, 'bad');
    for (const [index, re] of [['10000', /--index 10000 is out of range \(the test set has 10000 images/], ['-1', /--index must be an integer ≥ 0, got '-1'/], ['1.5', /--index must be an integer/]] as const) {
      const p = run('--index', index, '--out', o);
      await expect(p).rejects.toThrow(UsageError);
      await expect(p).rejects.toThrow(re);
      const msg = await p.catch((e: Error) => e.message);
      expect(String(msg).split('\n')).toHaveLength(1);
    }
    await expect(run('--index', '0', '--with-dx', '--out', o)).rejects.toThrow(/--with-dx only goes with --json/);
    expect(existsSync(o)).toBe(false);
  });
});
