// Shared CLI plumbing: option parsing with one-line errors, results on stdout (`result`, `printJson`), messages on
// stderr (`say`), output paths checked and locked before work (`claimOutputs`), Ctrl-C turned into a clean stop.
import { checkWritable, filesWritten, lockOutput, OutputPathError } from '../io/atomic.js';
import { jsonText } from '../report/json.js';
import { stopAllProgress } from './progress.js';
import { getBatch } from '../data/batches.js';
import type { Dataset } from '../data/datasets.js';

export { progressBar, stopAllProgress, type Progress } from './progress.js';
export { plural } from '../report/text.js';

/** An error meant for the user: printed as one line, exit code 2 (bad input). */
export class UsageError extends Error {}

/** The user pressed Ctrl-C: printed as one line, exit code 130 (the shell's convention for SIGINT). */
export class Interrupted extends Error {}

export function int(flag: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`${flag} must be an integer ≥ ${min}, got '${v}'`);
    }
    return n;
  };
}

/** A number in [lo, hi]; lo = 0 with `positive` means (0, hi]. */
export function num(flag: string, lo = -Infinity, hi = Infinity, positive = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < lo || n > hi || (positive && n <= 0)) {
      const range = positive ? '> 0' : hi === Infinity ? `≥ ${lo}` : `in [${lo}, ${hi}]`;
      throw new UsageError(`${flag} must be a number ${range}, got '${v}'`);
    }
    return n;
  };
}

export function intList(flag: string, min = 0) {
  const one = int(flag, min);
  return (v: string): number[] => v.split(',').map((s) => one(s.trim()));
}

/** Print one JSON document on stdout (numbers without float noise: see jsonText). */
export function printJson(doc: unknown): void {
  process.stdout.write(jsonText(doc));
}

/** Progress, notices and warnings go to stderr, so stdout holds only results (`nablax info … | grep` works). */
export function say(msg: string): void {
  process.stderr.write(msg + '\n');
}

/** A line of the command's result, on stdout. */
export function result(msg: string): void {
  process.stdout.write(msg + '\n');
}

/** A deprecation notice on stderr: the old name still works for one release. */
export function deprecated(what: string, instead: string): void {
  say(`notice: ${what} is deprecated and goes in the next release; use ${instead}`);
}


/** An output a command will write: a file (a model, a PNG) or a folder of files (a report). */
export interface OutputSpec {
  path: string;
  kind: 'file' | 'dir';
  /** The flag that named it, for the message. */
  flag?: string;
}

/**
 * Check every output before work starts (UsageError in words: read-only file system, not a directory, permission
 * denied, /proc) and lock each for this run (a second run on the same output fails at once; a dead run's lock is
 * taken over). The locks go when the process exits.
 * @example
 *   claimOutputs([{ path: o.out, kind: 'dir', flag: '--out' }]);
 */
export function claimOutputs(outputs: (OutputSpec | null | undefined | false | '')[]): void {
  const list = outputs.filter((o): o is OutputSpec => !!o);
  for (const o of list) {
    try {
      checkWritable(o.path, o.kind);
    } catch (e) {
      if (e instanceof OutputPathError) throw new UsageError(`${o.flag ? o.flag + ' ' : ''}${e.message}`);
      throw e;
    }
  }
  for (const o of list) lockOutput(o.path, o.kind);
}

// Ctrl-C state: commands handling it themselves (withInterrupt), writes that must not be cut, an interrupt waiting.
let owners = 0;
let critical = 0;
let pending = false;
let currentCommand = '';

/**
 * Run `fn` with Ctrl-C turned into a stop request that `stopped()` reports: the progress bars end first, then one
 * line says what happens; the caller says what was kept and throws Interrupted (exit 130).
 */
export async function withInterrupt<T>(
  fn: (stopped: () => boolean) => Promise<T>,
  stopping = 'stopping after the batch in progress; the epoch in progress is not kept',
): Promise<T> {
  let flag = false;
  owners++; // this command handles Ctrl-C itself: the process-wide handler stands aside
  const onSig = () => {
    stopAllProgress();
    if (flag) {
      say('interrupt: quitting at once; the last checkpoint on disk is intact');
      process.exit(130);
    }
    flag = true;
    say(`interrupt: ${stopping} (Ctrl-C again quits at once)`);
  };
  process.on('SIGINT', onSig);
  try {
    return await fn(() => flag);
  } finally {
    process.off('SIGINT', onSig);
    owners--;
  }
}

// The process-wide Ctrl-C handler (installed by main.ts): every command without its own (withInterrupt) stops at the
// next turn of the event loop with exit code 130, after the progress bars end, with one line saying what was kept.
const keepers = new Set<() => string | null>();

/**
 * Register what an interrupted command keeps (a partial result already written): `describe` returns the words, or
 * null while nothing is kept. Returns the function that unregisters it.
 * @example
 *   const done = keepOnInterrupt(() => `kept ${n} rows in ${file}`); …; done();
 */
export function keepOnInterrupt(describe: () => string | null): () => void {
  keepers.add(describe);
  return () => keepers.delete(describe);
}

/**
 * Let the event loop turn once (between two batches of synchronous work), so that a Ctrl-C waiting there is handled:
 * the process-wide handler stops the bars, says what was kept and exits 130 before the next batch starts.
 * @example
 *   for (const batch of batches) { work(batch); await letInterruptIn(); }
 */
export function letInterruptIn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Run `fn` (writing a set of output files) without being cut by Ctrl-C: an interrupt during it waits until it ends,
 * so a report folder is all there or not there.
 * @example
 *   await uninterrupted(async () => { writeFileAtomic(a, …); writeFileAtomic(b, …); });
 */
export async function uninterrupted<T>(fn: () => Promise<T> | T): Promise<T> {
  critical++;
  try {
    return await fn();
  } finally {
    critical--;
    if (critical === 0 && pending) interruptNow(currentCommand);
  }
}

function interruptNow(command: string): never {
  stopAllProgress();
  const kept = [...keepers].map((k) => k()).filter((k): k is string => !!k);
  // a command that computed in one synchronous stretch sees Ctrl-C only after it: say what it wrote meanwhile
  const files = filesWritten();
  if (files.length) kept.push(`wrote ${files.slice(0, 3).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more files` : ''}`);
  say(`nablax${command ? ' ' + command : ''}: interrupted: ${kept.length ? `${kept.join('; ')}; nothing else was written` : 'nothing was written'}`);
  process.exit(130);
}

/**
 * Install the process-wide Ctrl-C handler (once, in main.ts). `command` names the running command for the message.
 * @example
 *   installInterruptHandler(() => program.args[0] ?? '');
 */
let installed = false;
export function installInterruptHandler(command: () => string): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => {
    if (owners > 0) return;
    currentCommand = command();
    if (critical > 0) {
      pending = true;
      return;
    }
    interruptNow(currentCommand);
  });
}

/**
 * The test images of `ds` at `indices` (`--index`), as one batch.
 * @throws UsageError naming the first index past the end of the test set.
 * @example
 *   const { x, y } = pickImages(ds, [0, 1, 2]);   // x [3, 1, 28, 28]
 */
export function pickImages(ds: Dataset, indices: number[]): ReturnType<typeof getBatch> {
  for (const i of indices) if (i >= ds.count) throw new UsageError(`--index ${i} is out of range (the test set has ${ds.count} images)`);
  return getBatch(ds, Int32Array.from(indices), 0, indices.length);
}
