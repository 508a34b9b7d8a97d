// Atomic file writes: write to a temporary file beside the target, then rename.
// A crash or an error part-way leaves the old file (or no file) in place, never half of a new one; the temporary
// files of processes that died part-way are removed on the next write into the same folder. Output locks (a file
// holding the owner's pid) keep two runs from writing the same output; checkWritable says in words why an output
// cannot be written before any work starts. Folders are made one level at a time: Node's recursive mkdir spins
// forever under /proc, where mkdir answers ENOENT below a folder that exists.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * What an fs error code means, in words ("read-only file system", "permission denied", …).
 * @example
 *   fsErrorWords('EROFS');   // 'read-only file system'
 */
export function fsErrorWords(code: string | undefined): string {
  switch (code) {
    case 'EROFS': return 'read-only file system';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'not a directory';
    case 'EISDIR': return 'is a directory';
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'ENAMETOOLONG': return 'file name too long';
    case 'ENOENT': return 'no such file or directory';
    case 'EEXIST': return 'already exists';
    default: return code ?? 'unknown error';
  }
}

/** An output path that cannot be written: the message names the path and the reason in words. */
export class OutputPathError extends Error {}

// statfs f_type of the virtual file systems where files cannot be created (Linux magic numbers)
const VIRTUAL_FS: Record<number, string> = { 0x9fa0: '/proc', 0x62656572: '/sys', 0x1cd1: 'devpts', 0x64626720: 'debugfs', 0x73636673: 'securityfs', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2' };

function virtualFs(path: string): string | null {
  try {
    return VIRTUAL_FS[statfsSync(path).type] ?? null;
  } catch {
    return null;
  }
}

/** The nearest existing ancestor of `p` (itself when it exists). */
function nearestExisting(p: string): string {
  let cur = resolve(p);
  while (!existsSync(cur)) {
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

/**
 * Make folder `dir` and its missing parents, one level at a time; throws OutputPathError in words. Returns the
 * folders it made, outermost first.
 * @example
 *   makeDir('runs/attack');
 */
export function makeDir(dir: string): string[] {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let cur = target; !existsSync(cur); cur = dirname(cur)) {
    missing.unshift(cur);
    if (dirname(cur) === cur) break;
  }
  const base = missing.length ? dirname(missing[0]) : target;
  if (!statSync(base).isDirectory()) throw new OutputPathError(`cannot create ${dir}: ${base} is not a directory`);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      const v = virtualFs(dirname(d));
      throw new OutputPathError(`cannot create ${dir}: ${v ? `${v} is a virtual file system, no files can be made there` : fsErrorWords(code)}`);
    }
  }
  if (!statSync(target).isDirectory()) throw new OutputPathError(`cannot write into ${dir}: not a directory`);
  return missing;
}

/**
 * Check before any work that `path` can be written: a file (`kind: 'file'`, its folder may not exist yet) or a
 * folder of outputs (`kind: 'dir'`). Creates nothing; throws OutputPathError naming the path and the reason in words
 * ("read-only file system", "not a directory", "permission denied", a virtual file system such as /proc).
 * @example
 *   checkWritable('runs/cnn.safetensors', 'file');   // throws "… : read-only file system" on a read-only disk
 */
export function checkWritable(path: string, kind: 'file' | 'dir'): void {
  const abs = resolve(path);
  if (existsSync(abs)) {
    const isDir = statSync(abs).isDirectory();
    if (kind === 'file' && isDir) throw new OutputPathError(`cannot write ${path}: it is a directory (a file name is expected)`);
    if (kind === 'dir' && !isDir) throw new OutputPathError(`cannot write into ${path}: not a directory`);
  }
  const folder = kind === 'dir' ? abs : dirname(abs);
  const base = nearestExisting(folder);
  if (!statSync(base).isDirectory()) throw new OutputPathError(`cannot write ${path}: ${base} is not a directory`);
  const v = virtualFs(base);
  if (v) throw new OutputPathError(`cannot write ${path}: ${v} is a virtual file system, no files can be made there`);
  // a probe file where the first new entry would go: read-only mounts, permissions and full disks all show here
  const probe = join(base, `.nablax-probe-${process.pid}-${Date.now()}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    throw new OutputPathError(`cannot write ${path}: ${fsErrorWords((e as NodeJS.ErrnoException).code)}${base !== folder ? ` (in ${base})` : ''}`);
  }
  rmSync(probe, { force: true });
}

/**
 * Whether process `pid` is alive (signal 0 checks without sending anything).
 * @example
 *   pidAlive(process.pid);   // true
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const TMP_RE = /^\..+\.tmp-(\d+)-\d+$/;

/**
 * Remove the temporary files of atomic writes in `dir` whose process is dead (killed during a save).
 * @example
 *   cleanStaleTemps('runs');   // ['.cnn.safetensors.tmp-4242-1700000000000']
 */
export function cleanStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TMP_RE.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}

const written: string[] = [];

/**
 * The files this process has written with writeFileAtomic, in order (what an interrupted command says it kept).
 * @example
 *   filesWritten();   // ['runs/grad.png']
 */
export function filesWritten(): readonly string[] {
  return written;
}

/**
 * Write `chunks` to `path` atomically (temporary file in the same folder, fsync, rename).
 * @example
 *   writeFileAtomic('model.safetensors', [header, body]);
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | (Uint8Array | string)[]): void {
  const dir = dirname(path);
  makeDir(dir);
  cleanStaleTemps(dir);
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
    written.push(path);
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new OutputPathError(`cannot write ${path}: ${fsErrorWords(code)} (${(err as Error).message})`);
    throw err;
  }
}

/** A second run on an output another live run holds. */
export class OutputLockedError extends Error {}

/**
 * The lock file of an output, beside it: `<file>.lock`, `<dir>.lock` (the folder itself holds only the results).
 * @example
 *   lockPath('runs/attack', 'dir');   // '/abs/runs/attack.lock'
 */
export function lockPath(path: string, _kind: 'file' | 'dir'): string {
  return `${resolve(path)}.lock`;
}

/**
 * Lock an output for this process: a lock file holding our pid, removed by `release()` or at exit. A live holder
 * makes this throw OutputLockedError naming its pid; the lock of a dead process is taken over. A folder whose
 * parent cannot hold the lock file (a writable folder in a read-only place) is locked from inside (`.nablax.lock`).
 * @example
 *   const release = lockOutput('runs/cnn.safetensors', 'file');   // … write … ; release();
 */
export function lockOutput(path: string, kind: 'file' | 'dir'): () => void {
  let lock = lockPath(path, kind);
  // folders made only to hold the lock go again with it when the run wrote nothing into them
  const made = makeDir(dirname(lock));
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        const inside = join(resolve(path), '.nablax.lock');
        if (kind === 'dir' && lock !== inside && ['EACCES', 'EPERM', 'EROFS'].includes(code ?? '') && existsSync(path)) {
          lock = inside;
          continue;
        }
        throw new OutputPathError(`cannot lock ${path}: ${fsErrorWords(code)}`);
      }
      let holder = NaN;
      try {
        holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      } catch {
        // vanished between open and read: try again
      }
      if (holder !== process.pid && pidAlive(holder) && attempt < 3) {
        throw new OutputLockedError(`${path} is being written by another nablax run (pid ${holder}); wait for it to end or choose another output (lock file ${lock})`);
      }
      if (attempt >= 3) throw new OutputLockedError(`cannot take the lock ${lock} of ${path}`);
      rmSync(lock, { force: true }); // ours already, or a dead process's: take it over
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (Number.parseInt(readFileSync(lock, 'utf8'), 10) === process.pid) rmSync(lock, { force: true });
    } catch {
      // already gone
    }
    for (const d of [...made].reverse()) {
      try {
        if (readdirSync(d).length === 0) rmdirSync(d);
      } catch {
        // not ours to judge any more
      }
    }
  };
  process.on('exit', release);
  return release;
}
