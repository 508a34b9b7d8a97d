// The architecture options of every command that reads --model-file: `--arch NAME` (a zoo model) or
// `--spec FILE` (a JSON spec), needed for a plain PyTorch state_dict (safetensors.torch.save_file has no nablax
// metadata) and overriding a nablax file's own. One hook in main.ts adds them to every such command.
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { loadModel, type LoadedModel } from '../io/model-file.js';
import type { ModelSpec } from '../layers/sequential.js';
import { zooNames, zooSpec } from '../layers/zoo.js';
import { UsageError } from './util.js';

/**
 * Add `--arch` and `--spec` to every command (and subcommand) that has a `--model-file` option.
 * @example
 *   registerAttack(program); addArchOptions(program);
 *   // nablax attack --model-file torch.safetensors --arch cnn
 */
export function addArchOptions(program: Command): void {
  for (const cmd of program.commands) {
    if (cmd.options.some((o) => o.long === '--model-file')) {
      cmd.addOption(new Option('--arch <name>', `architecture of a plain PyTorch state_dict file: a zoo model (${zooNames.join(', ')})`).conflicts('spec'));
      cmd.addOption(new Option('--spec <file.json>', 'architecture of a plain PyTorch state_dict file: a JSON spec {input, layers}'));
    }
    addArchOptions(cmd);
  }
}

/**
 * The architecture given by `--arch` or `--spec`, or undefined when neither is (the file's own is used).
 * @example
 *   archSpec({ arch: 'cnn' }); // zooSpec('cnn')
 *   archSpec({ spec: 'my-net.json' }); // the parsed JSON
 */
export function archSpec(o: { arch?: string; spec?: string }): ModelSpec | undefined {
  if (o.arch !== undefined) {
    if (!zooNames.includes(o.arch as never)) throw new UsageError(`--arch must be one of ${zooNames.join(', ')}, got '${o.arch}' (a JSON spec goes to --spec)`);
    return zooSpec(o.arch);
  }
  if (o.spec !== undefined) {
    if (!existsSync(o.spec)) throw new UsageError(`--spec: no such file: ${o.spec}`);
    try {
      return JSON.parse(readFileSync(o.spec, 'utf8')) as ModelSpec;
    } catch (e) {
      throw new UsageError(`--spec: ${o.spec} is not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
    }
  }
  return undefined;
}

/**
 * Load `--model-file` with the architecture of `--arch`/`--spec` when given.
 * @example
 *   const { model } = loadModelOption(o); // o = { modelFile, arch?, spec? } from commander
 */
export function loadModelOption(o: { modelFile: string; arch?: string; spec?: string }): LoadedModel {
  return loadModel(o.modelFile, { spec: archSpec(o) });
}
