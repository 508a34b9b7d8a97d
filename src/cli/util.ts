// Shared CLI plumbing: option parsing with one-line errors, results on stdout (`result`, `printJson`), messages on
// stderr (`say`), output paths checked and locked before work (`claimOutputs`), Ctrl-C turned into a clean stop.
import { checkWritable, lockOutput, OutputPathError } from '../io/atomic.js';
import { jsonText } from './json.js';
import { stopAllProgress } from './progress.js';

export { progressBar, stopAllProgress, type Progress } from './progress.js';

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

/** `n thing` or `n things`, with the number grouped (1 epoch, 2 epochs, 10,000 images). */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
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

/**
 * Run `fn` with Ctrl-C turned into a stop request that `stopped()` reports: the progress bars end first, then one
 * line says what happens; the caller says what was kept and throws Interrupted (exit 130).
 */
export async function withInterrupt<T>(fn: (stopped: () => boolean) => Promise<T>): Promise<T> {
  let flag = false;
  const onSig = () => {
    stopAllProgress();
    if (flag) {
      say('interrupt: quitting at once; the last checkpoint on disk is intact');
      process.exit(130);
    }
    flag = true;
    say('interrupt: stopping after the batch in progress; the epoch in progress is not kept (Ctrl-C again quits at once)');
  };
  process.on('SIGINT', onSig);
  try {
    return await fn(() => flag);
  } finally {
    process.off('SIGINT', onSig);
  }
}
