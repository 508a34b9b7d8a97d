// `nablax info`: a model file's architecture, tensor shapes, parameter counts and metadata.
import type { Command } from 'commander';
import { shapeStr } from '../engine/tensor.js';
import { loadModelOption } from './model-option.js';
import type { InfoJson } from '../report/json-types.js';
import { jsonOption } from './options.js';
import { letInterruptIn, printJson, result } from './util.js';

export function registerInfo(program: Command): void {
  const cmd = program
    .command('info')
    .description('architecture, tensor shapes and parameter counts of a model file')
    .requiredOption('--model-file <path>', 'model file (.safetensors)');
  jsonOption(cmd).action(async (o) => {
      const { model, metadata } = loadModelOption(o);
      await letInterruptIn();
      const tensors = model.stateDict().map(([name, t]) => ({ name, shape: t.shape.slice(), size: t.size }));
      const layers = model.layers.map((l, i) => ({ index: i, ...l.spec(), parameters: l.parameters().reduce((s, [, t]) => s + t.size, 0) }));
      const { spec: _spec, ...meta } = metadata;
      if (o.json) {
        const doc: InfoJson = { modelFile: o.modelFile, input: model.input, parameters: model.numParameters(), layers, tensors, metadata: meta };
        printJson(doc);
        return;
      }
      result(`${o.modelFile}: input [N, ${model.input.join(', ')}], ${model.numParameters().toLocaleString('en-US')} parameters`);
      for (const l of layers) {
        const { index, parameters, type, ...rest } = l;
        result(`  ${String(index).padStart(2)} ${type.padEnd(11)} ${JSON.stringify(rest).replace(/"/g, '')}${parameters ? `  (${parameters.toLocaleString('en-US')})` : ''}`);
      }
      for (const t of tensors) result(`  ${t.name.padEnd(18)} ${shapeStr(t.shape)}`);
      for (const [k, v] of Object.entries(meta)) result(`  ${k}: ${v}`);
    });
}
