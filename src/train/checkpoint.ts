// Training checkpoints: model state, optimiser state and progress in one safetensors file, written atomically
// at the end of every epoch, so an interrupted run loses at most the epoch in progress and resumes exactly.
// Auxiliary state (AdvProp's second batch-norm) is kept under 'aux.', beside the model's state under 'model.'.
import { existsSync, readFileSync } from 'node:fs';
import type { Sequential } from '../layers/sequential.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadState, specFromMetadata, stateTensors } from '../io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { Optimizer } from './optimizers.js';

export const CHECKPOINT_FORMAT = 'nablax-checkpoint';

export interface CheckpointInfo {
  /** Epochs completed. */
  epoch: number;
  /** Anything the loop needs to continue, as JSON: `history`, and `options` (the run's options, checked on --resume). */
  state: unknown;
}

/**
 * Write a checkpoint atomically.
 * @example
 *   saveCheckpoint('runs/cnn.ckpt.safetensors', model, opt, { epoch: 2, state: { history } });
 */
export function saveCheckpoint(path: string, model: Sequential, opt: Optimizer, info: CheckpointInfo): void {
  const tensors = stateTensors(model, 'model.');
  for (const [k, t] of stateTensors(model, 'aux.', model.auxStateDict())) tensors.set(k, t);
  for (const [k, t] of opt.state()) {
    tensors.set(`optim.${k}`, { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: t.shape.slice(), data: t.data });
  }
  const metadata = {
    format: CHECKPOINT_FORMAT,
    spec: JSON.stringify(model.spec()),
    optimizer: opt.name,
    epoch: String(info.epoch),
    state: JSON.stringify(info.state),
  };
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Restore model and optimiser state from a checkpoint; the model must have the checkpoint's architecture.
 * @example
 *   const { epoch, state } = loadCheckpoint(path, model, opt);
 */
export function loadCheckpoint(path: string, model: Sequential, opt: Optimizer): CheckpointInfo {
  const where = `loadCheckpoint: ${path}`;
  if (!existsSync(path)) throw new Error(`loadCheckpoint: no such file: ${path}`);
  const file = decodeSafetensors(readFileSync(path), path);
  if (file.metadata.format !== CHECKPOINT_FORMAT) throw new Error(`${where}: not a nablax checkpoint`);
  const spec = specFromMetadata(file.metadata, where);
  if (JSON.stringify(spec) !== JSON.stringify(model.spec())) throw new Error(`${where}: the checkpoint is for a different architecture`);
  if (file.metadata.optimizer !== opt.name) {
    throw new Error(`${where}: the checkpoint used optimiser '${file.metadata.optimizer}', this run uses '${opt.name}'`);
  }
  loadState(model, file.tensors, where, 'model.');
  const aux = model.auxStateDict();
  if (aux.length === 0 && [...file.tensors.keys()].some((k) => k.startsWith('aux.'))) {
    throw new Error(`${where}: the checkpoint has auxiliary batch-norm state (AdvProp) and this model has none`);
  }
  loadState(model, file.tensors, where, 'aux.', aux);
  const optState = new Map<string, Float32Array | Float64Array>();
  for (const [k, t] of file.tensors) if (k.startsWith('optim.')) optState.set(k.slice(6), t.data);
  opt.loadState(optState);
  const epoch = Number(file.metadata.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`${where}: bad epoch ${JSON.stringify(file.metadata.epoch)}`);
  return { epoch, state: JSON.parse(file.metadata.state ?? 'null') };
}

/**
 * A checkpoint's epoch and state (the run's options, the history), read without restoring anything.
 * @example
 *   const { epoch, state } = checkpointHeader('runs/cnn.ckpt.safetensors');   // state.options: the run's options
 */
export function checkpointHeader(path: string): CheckpointInfo {
  const file = decodeSafetensors(readFileSync(path), path);
  if (file.metadata.format !== CHECKPOINT_FORMAT) throw new Error(`checkpointHeader: ${path}: not a nablax checkpoint`);
  const epoch = Number(file.metadata.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`checkpointHeader: ${path}: bad epoch ${JSON.stringify(file.metadata.epoch)}`);
  let state: unknown;
  try {
    state = JSON.parse(file.metadata.state ?? 'null');
  } catch {
    throw new Error(`checkpointHeader: ${path}: its state is not valid JSON`);
  }
  return { epoch, state };
}

/**
 * The number of epochs a checkpoint has completed, read from its header alone.
 * @example
 *   const done = checkpointEpoch('runs/cnn.ckpt.safetensors');   // 2
 */
export function checkpointEpoch(path: string): number {
  const file = decodeSafetensors(readFileSync(path), path);
  if (file.metadata.format !== CHECKPOINT_FORMAT) throw new Error(`checkpointEpoch: ${path}: not a nablax checkpoint`);
  const epoch = Number(file.metadata.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`checkpointEpoch: ${path}: bad epoch ${JSON.stringify(file.metadata.epoch)}`);
  return epoch;
}
