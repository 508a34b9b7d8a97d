// Shared CLI plumbing: option parsing with one-line errors, the progress bar on stderr, JSON output on stdout.
import cliProgress from 'cli-progress';

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

/** Print one JSON document on stdout. */
export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

/** Messages for people go to stderr, so stdout stays clean for --json. */
export function say(msg: string): void {
  process.stderr.write(msg + '\n');
}

export interface Progress {
  update(done: number, payload: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr with rate and ETA; in a non-interactive log it prints a line every few seconds.
 * @example
 *   const bar = progressBar('epoch 1/3', 79, 'img/s'); bar.update(10, { loss: 0.3 }); bar.stop();
 */
export function progressBar(label: string, total: number, fields: string, initial: Record<string, string | number> = {}): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {value}/{total} | ${fields} | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: true,
      noTTYOutput: !process.stderr.isTTY,
      notTTYSchedule: 5000,
      etaBuffer: 20,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, initial);
  return {
    update: (done, payload) => bar.update(done, payload),
    stop: () => bar.stop(),
  };
}

/** Run `fn` with Ctrl-C turned into a polite stop request that `stopped()` reports. */
export async function withInterrupt<T>(fn: (stopped: () => boolean) => Promise<T>): Promise<T> {
  let flag = false;
  const onSig = () => {
    if (flag) process.exit(130);
    flag = true;
    say('\ninterrupt: finishing the current batch (press Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSig);
  try {
    return await fn(() => flag);
  } finally {
    process.off('SIGINT', onSig);
  }
}
