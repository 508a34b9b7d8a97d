// Model files by path (Node): safetensors with the architecture in __metadata__ and tensors named and laid out as the
// equivalent torch.nn.Sequential's state_dict (float32, little-endian), so a file saved here loads into PyTorch
// with load_state_dict. Loading checks the architecture, every tensor's presence, dtype, shape and values; a plain
// PyTorch state_dict (safetensors.torch.save_file, no metadata) loads when the caller gives the architecture. The
// encoding and every check are in ./model-bytes.ts (no Node API; the browser lab uses it), re-exported here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Sequential } from '../layers/sequential.js';
import { writeFileAtomic } from './atomic.js';
import { decodeModel, encodeModel, type LoadedModel, type LoadModelOptions } from './model-bytes.js';

export {
  MODEL_FORMAT, MODEL_VERSION, decodeModel, encodeModel, loadState, specFromMetadata, stateTensors, type LoadedModel, type LoadModelOptions,
} from './model-bytes.js';

/**
 * Save a model atomically (temporary file, then rename).
 * @example
 *   saveModel('runs/cnn.safetensors', model, { testAccuracy: '0.9893' });
 */
export function saveModel(path: string, model: Sequential, extra: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeModel(model, extra, `saveModel: ${path}`));
}

/**
 * Load a model file, validating everything; the model comes back in evaluation mode. A nablax file carries its
 * architecture; a plain PyTorch state_dict needs `opts.spec`. PyTorch's `num_batches_tracked` tensors are ignored.
 * Errors name the file and what is wrong (missing or misshapen tensor, non-finite value, newer version, …).
 * @example
 *   const { model } = loadModel('runs/demo/cnn.safetensors');
 *   const { model: fromTorch } = loadModel('torch-cnn.safetensors', { spec: zooSpec('cnn') });
 */
export function loadModel(path: string, opts: LoadModelOptions = {}): LoadedModel {
  if (!existsSync(path)) throw new Error(`loadModel: no such file: ${path}`);
  if (statSync(path).isDirectory()) throw new Error(`loadModel: ${path} is a directory, expected a .safetensors file`);
  return decodeModel(readFileSync(path), path, 'loadModel', opts);
}
