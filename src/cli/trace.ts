// `nablax trace`: one test digit's trip through a model. On the way forward each layer's output statistics, on
// the way back the norms of ∂J/∂output, then ∇x J; --out writes the picture (trace.png), a report with the
// tables and the chain rule written out (trace.md) and the numbers (trace.json).
import type { Command } from 'commander';
import { join } from 'node:path';
import { chainRule, traceExample, traceToJson, type Trace } from '../analysis/trace.js';
import { loadModelOption } from './model-option.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fmt, traceFigure } from '../report/trace-figure.js';
import { getBatch } from '../data/batches.js';
import { loadDataset } from '../data/datasets.js';
import { outputClasses } from '../train/evaluate.js';
import { dataOption, jsonOption, outOption } from './options.js';
import { claimOutputs, intList, letInterruptIn, printJson, result, say, UsageError } from './util.js';
import { jsonText } from './json.js';

type Table = { header: string[]; rows: string[][] };

/** The forward table (layer, output shape, statistics) and the backward table (last layer first). */
export function traceTables(trace: Trace): { forward: Table; backward: Table } {
  const forward: Table = {
    header: ['#', 'layer', 'output', 'mean', 'std', 'min', 'max', 'zeros'],
    rows: trace.layers.map((l) => [String(l.index), l.type, l.outputShape.join('×'), fmt(l.output.mean), fmt(l.output.std), fmt(l.output.min), fmt(l.output.max), `${(100 * l.output.fractionZero).toFixed(1)}%`]),
  };
  const backward: Table = {
    header: ['#', 'layer', '‖∂J/∂out‖₂', '‖∂J/∂out‖∞', 'mean'],
    rows: trace.layers.slice().reverse().map((l) => [String(l.index), l.type, fmt(l.grad.norm2), fmt(l.grad.normInf), fmt(l.grad.mean)]),
  };
  return { forward, backward };
}

function textTable(t: Table): string[] {
  const all = [t.header, ...t.rows];
  const w = t.header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  // numbers right-aligned, the layer name left-aligned
  return all.map((r) => '  ' + r.map((s, j) => (j === 1 ? s.padEnd(w[j]) : s.padStart(w[j]))).join('  '));
}

function mdTable(t: Table): string[] {
  return [`| ${t.header.join(' | ')} |`, `|${t.header.map((_, j) => (j === 1 ? ' --- ' : ' ---: ')).join('|')}|`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)];
}

const summary = (t: Trace, index: number) =>
  `test image ${index}: label ${t.label}, predicted ${t.predicted} (p = ${t.probabilities[t.predicted].toFixed(4)}), loss J = ${fmt(t.loss)}`;
const dxLine = (t: Trace) => `∇x J: ‖·‖₁ ${fmt(t.dxNorm.l1)}   ‖·‖₂ ${fmt(t.dxNorm.l2)}   ‖·‖∞ ${fmt(t.dxNorm.linf)}`;

function markdown(t: Trace, index: number, modelFile: string, chain: string[]): string {
  const { forward, backward } = traceTables(t);
  return [
    `# Trace of test image ${index}`,
    '',
    `Model \`${modelFile}\`; ${summary(t, index)}.`,
    '',
    '## Forward: each layer\'s output',
    '',
    ...mdTable(forward),
    '',
    '## Backward: the gradient of the loss at each layer\'s output',
    '',
    ...mdTable(backward),
    '',
    dxLine(t),
    '',
    '## The chain rule, from the loss back to the input',
    '',
    'z₀ = x; layer #i maps zᵢ to zᵢ₊₁; the last z is the logits.',
    '',
    '```',
    ...chain,
    '```',
    '',
    '## Picture',
    '',
    '![trace](trace.png)',
    '',
  ].join('\n');
}

export function registerTrace(program: Command): void {
  const cmd = program
    .command('trace')
    .description("one test image's trip through a model: every layer's output and ∂J/∂output, then ∇x J")
    .requiredOption('--model-file <path>', 'model file (.safetensors)')
    .requiredOption('--index <i>', 'the test image index (one; the same --index as grad and predict)', intList('--index', 0));
  dataOption(cmd, 'mnist', 'test data');
  outOption(cmd, 'dir', 'folder for trace.png, trace.md and trace.json');
  jsonOption(cmd).option('--with-dx', 'with --json: include ∇x J as a number[]');
  cmd.action(async (o) => {
      if ((o.index as number[]).length !== 1) throw new UsageError(`--index: trace follows one image, got ${(o.index as number[]).length} (${(o.index as number[]).join(',')})`);
      if (o.withDx && !o.json) throw new UsageError('--with-dx only goes with --json');
      const { model } = loadModelOption(o);
      const ds = loadDataset(o.data, 'test', outputClasses(model));
      const index = (o.index as number[])[0];
      if (index >= ds.count) throw new UsageError(`--index ${index} is out of range (the test set has ${ds.count} images, 0..${ds.count - 1})`);
      claimOutputs([o.out && { path: o.out, kind: 'dir', flag: '--out' }]);
      const { x, y } = getBatch(ds, null, index, index + 1);
      const trace = traceExample(model, x, y[0]);
      await letInterruptIn(); // a Ctrl-C during the work stops here, before anything is written
      const doc = { modelFile: o.modelFile, data: ds.name, index, ...traceToJson(trace, { withDx: Boolean(o.json && o.withDx) }) };

      if (o.out) {
        const chain = chainRule(model);
        const png = traceFigure(trace, x, { index }).toPng(); // everything computed before anything is written
        await letInterruptIn();
        writeFileAtomic(join(o.out, 'trace.png'), png);
        writeFileAtomic(join(o.out, 'trace.md'), markdown(trace, index, o.modelFile, chain));
        writeFileAtomic(join(o.out, 'trace.json'), jsonText(doc));
      }
      if (o.json) {
        printJson(doc);
        return;
      }
      const { forward, backward } = traceTables(trace);
      result(summary(trace, index));
      result('forward:');
      for (const line of textTable(forward)) result(line);
      result('backward:');
      for (const line of textTable(backward)) result(line);
      result(dxLine(trace));
      if (o.out) say(`wrote ${join(o.out, 'trace.png')}, trace.md, trace.json`);
    });
}
