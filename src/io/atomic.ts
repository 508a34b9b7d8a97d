// Atomic file writes: write to a temporary file beside the target, then rename.
// A crash or an error part-way leaves the old file (or no file) in place, never half of a new one.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Write `chunks` to `path` atomically (temporary file in the same folder, fsync, rename).
 * @example
 *   writeFileAtomic('model.safetensors', [header, body]);
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | (Uint8Array | string)[]): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const list = Array.isArray(chunks) ? chunks : [chunks];
  let fd = -1;
  try {
    fd = openSync(tmp, 'w');
    for (const c of list) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}
