// A file's identity for caches and resumable runs: the SHA-256 of its bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * SHA-256 of a file's bytes, in hex (64 characters); a resumable run keys what it keeps by the model file's hash.
 * @throws the fs error when the file cannot be read.
 * @example
 *   fileHash('runs/robust.safetensors');   // '52bb4ee1…'
 */
export const fileHash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
