// Model files as bytes: safetensors with the architecture in __metadata__ and tensors named and laid out as the
// equivalent torch.nn.Sequential's state_dict (float32, little-endian). Encoding and decoding with every check, and
// no Node API, so the browser lab reads a model from fetched or picked bytes with the code the CLI uses. A plain
// PyTorch state_dict (safetensors.torch.save_file, no metadata) loads when the caller gives the architecture.
// ./model-file.ts reads and writes such files by path.
import { Tensor, shapeStr } from '../engine/tensor.js';
import type { Sequential, ModelSpec } from '../layers/sequential.js';
import { buildModel } from '../layers/spec.js';
import { decodeSafetensors, encodeSafetensors, type StTensor } from './safetensors-bytes.js';

export const MODEL_FORMAT = 'nablax-model';
/** The model-file version this nablax writes and the newest it reads. */
export const MODEL_VERSION = 1;

/** PyTorch's BatchNorm counter (an I64 scalar) that nablax does not use: skipped when loading. */
const isIgnoredTensor = (name: string): boolean => name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');

/** Tensors of a model's state_dict (or of `entries`, e.g. its auxiliary state) as safetensors entries (float32). */
export function stateTensors(model: Sequential, prefix = '', entries: [string, Tensor][] = model.stateDict()): Map<string, StTensor> {
  const out = new Map<string, StTensor>();
  for (const [name, t] of entries) {
    out.set(prefix + name, { dtype: 'F32', shape: t.shape.slice(), data: t.dtype === 'float32' ? t.data : Float32Array.from(t.data) });
  }
  return out;
}

/**
 * A model as model-file bytes; throws naming `where` and the tensor when a value is not finite.
 * @example
 *   const bytes = encodeModel(model, { testAccuracy: '0.9893' });
 *   const { model: same } = decodeModel(bytes);
 */
export function encodeModel(model: Sequential, extra: Record<string, string> = {}, where = 'encodeModel'): Uint8Array {
  for (const [name, t] of model.stateDict()) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new Error(`${where}: tensor '${name}' contains ${d[i]} at index ${i}; refusing to save`);
    }
  }
  const metadata = { ...extra, format: MODEL_FORMAT, version: String(MODEL_VERSION), spec: JSON.stringify(model.spec()) };
  return encodeSafetensors(stateTensors(model), metadata);
}

/** Copy the tensors named `prefix + name` into the model's state (or into `entries`), checking names, shapes and values. */
export function loadState(model: Sequential, tensors: Map<string, StTensor>, where: string, prefix = '', entries: [string, Tensor][] = model.stateDict()): void {
  const expected = new Map(entries.map(([n, t]) => [prefix + n, t] as [string, Tensor]));
  for (const name of tensors.keys()) {
    if (name.startsWith(prefix) && !expected.has(name)) throw new Error(`${where}: unexpected tensor '${name}' for this architecture`);
  }
  for (const [name, t] of expected) {
    const st = tensors.get(name);
    if (!st) throw new Error(`${where}: missing tensor '${name}' ${shapeStr(t.shape)}`);
    if (st.shape.length !== t.shape.length || st.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${where}: tensor '${name}' has shape ${shapeStr(st.shape)}, the architecture needs ${shapeStr(t.shape)}`);
    }
    const d = st.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new Error(`${where}: tensor '${name}' contains ${d[i]} at index ${i}`);
    }
    t.data.set(d);
  }
}

/** Parse and build the architecture stored in a file's metadata. */
export function specFromMetadata(metadata: Record<string, string>, where: string): ModelSpec {
  if (metadata.spec === undefined) throw new Error(`${where}: not a nablax model file (no architecture 'spec' in __metadata__)`);
  try {
    return JSON.parse(metadata.spec) as ModelSpec;
  } catch {
    throw new Error(`${where}: the architecture in __metadata__ is not valid JSON`);
  }
}

export interface LoadedModel {
  model: Sequential;
  metadata: Record<string, string>;
}

export interface LoadModelOptions {
  /**
   * The architecture, for a file without nablax metadata (a PyTorch `save_file(model.state_dict(), path)`); it
   * replaces the one in a nablax file's metadata. A zoo spec (`zooSpec('cnn')`) or a JSON spec.
   */
  spec?: ModelSpec;
}

/** Refuse a nablax file from a newer nablax (or with a version that is not a number) in one clear line. */
function checkVersion(metadata: Record<string, string>, where: string): void {
  const v = metadata.version;
  if (v === undefined) throw new Error(`${where}: nablax model file without a 'version' in __metadata__`);
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`${where}: model file version ${JSON.stringify(v)} is not a positive integer`);
  if (Number(v) > MODEL_VERSION) {
    throw new Error(`${where}: model file version ${v} was written by a newer nablax; this one reads version ${MODEL_VERSION} and older`);
  }
}

/**
 * Build a model from model-file bytes, validating everything (format and version, architecture, every tensor's
 * name, shape and values); errors start with `fn: name` (name: e.g. the file's) and say what is wrong. A nablax file
 * carries its architecture; a plain PyTorch state_dict needs `opts.spec`. PyTorch's `num_batches_tracked` tensors
 * are ignored. The model comes back in eval mode.
 * @example
 *   const { model, metadata } = decodeModel(new Uint8Array(await (await fetch('cnn.safetensors')).arrayBuffer()), 'cnn.safetensors');
 *   const { model: fromTorch } = decodeModel(torchBytes, 'torch-cnn.safetensors', 'decodeModel', { spec: zooSpec('cnn') });
 */
export function decodeModel(bytes: Uint8Array, name = '<buffer>', fn = 'decodeModel', opts: LoadModelOptions = {}): LoadedModel {
  const where = `${fn}: ${name}`;
  const file = decodeSafetensors(bytes, name, { skip: isIgnoredTensor });
  const isNablax = file.metadata.format === MODEL_FORMAT;
  if (isNablax) checkVersion(file.metadata, where);
  let spec: ModelSpec;
  if (opts.spec !== undefined) {
    spec = opts.spec;
  } else if (isNablax) {
    spec = specFromMetadata(file.metadata, where);
  } else {
    throw new Error(
      `${where}: not a nablax model file (__metadata__.format is ${JSON.stringify(file.metadata.format)}, expected '${MODEL_FORMAT}'); ` +
        'for a plain PyTorch state_dict give the architecture (--arch NAME or --spec FILE; loadModel(path, { spec }))',
    );
  }
  let model: Sequential;
  try {
    model = buildModel(spec);
  } catch (e) {
    throw new Error(`${where}: bad architecture: ${(e as Error).message}`, { cause: e });
  }
  loadState(model, file.tensors, where);
  return { model: model.eval(), metadata: file.metadata };
}
