// `nablax trace`: one test digit's trip through a model. On the way forward each layer's output statistics, on
// the way back the norms of ∂J/∂output, then ∇x J; --out writes the picture (trace.png), a report with the
// tables and the chain rule written out (trace.md) and the numbers (trace.json).
import type { Command } from 'commander';
import { join } from 'node:path';
import { chainRule, traceExample, traceToJson } from '../analysis/trace.js';
import { loadModelOption } from './model-option.js';
import { writeFileAtomic } from '../io/atomic.js';
import { traceFigure } from '../report/trace-figure.js';
import { dxLine, textTable, traceMarkdown, traceSummary, traceTables } from '../report/trace-report.js';
import { getBatch } from '../data/batches.js';
import { loadDataset } from '../data/datasets.js';
import { outputClasses } from '../layers/predict.js';
import { dataOption, jsonOption, outOption } from './options.js';
import { claimOutputs, intList, letInterruptIn, printJson, result, say, UsageError } from './util.js';
import { jsonText } from '../report/json.js';

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
        writeFileAtomic(join(o.out, 'trace.md'), traceMarkdown(trace, index, o.modelFile, chain));
        writeFileAtomic(join(o.out, 'trace.json'), jsonText(doc));
      }
      if (o.json) {
        printJson(doc);
        return;
      }
      const { forward, backward } = traceTables(trace);
      result(traceSummary(trace, index));
      result('forward:');
      for (const line of textTable(forward)) result(line);
      result('backward:');
      for (const line of textTable(backward)) result(line);
      result(dxLine(trace));
      if (o.out) say(`wrote ${join(o.out, 'trace.png')}, trace.md, trace.json`);
    });
}
