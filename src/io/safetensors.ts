// safetensors files: read and write by path (Node). The codec on bytes, which the browser lab uses too, is in
// ./safetensors-bytes.ts and re-exported here, so importers of this file see one module.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { decode, encodeParts, oneLine, type StFile, type TensorInput } from './safetensors-bytes.js';

export { decodeSafetensors, encodeSafetensors, type DecodeOptions, type StDType, type StFile, type StTensor } from './safetensors-bytes.js';

/**
 * Write tensors and metadata to `path` as safetensors, atomically (temp file, fsync, rename).
 * @example
 *   writeSafetensors('model.safetensors', new Map([['w', { dtype: 'F64', shape: [], data: new Float64Array([1]) }]]));
 *   readSafetensors('model.safetensors').tensors.get('w')!.shape; // []
 */
export function writeSafetensors(path: string, tensors: TensorInput, metadata?: Record<string, string>): void {
  const parts = encodeParts('writeSafetensors', path, tensors, metadata);
  try {
    writeFileAtomic(path, parts);
  } catch (err) {
    throw new Error(`writeSafetensors: ${path}: cannot write (${oneLine((err as Error).message)})`, { cause: err });
  }
}

/**
 * Read and validate a safetensors file.
 * @example
 *   const { tensors } = readSafetensors('model.safetensors');
 *   for (const [name, t] of tensors) console.log(name, t.dtype, t.shape);
 */
export function readSafetensors(path: string): StFile {
  let buf: Uint8Array;
  try {
    buf = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`readSafetensors: no such file: ${path}`, { cause: err });
    throw new Error(`readSafetensors: ${path}: cannot read (${oneLine((err as Error).message)})`, { cause: err });
  }
  return decode('readSafetensors', path, buf);
}
