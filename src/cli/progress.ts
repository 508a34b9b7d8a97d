// Progress on stderr for every long run: count, rate and ETA, redrawn at least every second. In a terminal
// cli-progress draws the bar (cursor, line width); in a log (not a TTY) one plain line is written at most once a
// second, synchronously from update(), so a run that blocks the event loop still reports. The ETA is "–" until
// there is data (never "0s" before the first item), and the final line is written exactly once. stopAllProgress()
// ends every open bar, so that a message (Ctrl-C) never lands inside a half-drawn bar.
import cliProgress from 'cli-progress';

export interface Progress {
  /**
   * `done` items of the total (fractions allowed: 12.5 images through a batch); payload fills the {fields}. In a log
   * a line is written at most once a second, unless `now` (a new stage worth a line of its own).
   */
  update(done: number, payload?: Record<string, string | number>, now?: boolean): void;
  /** Draw the final line once and end the bar (idempotent). */
  stop(): void;
}

export interface ProgressOptions {
  /** Milliseconds clock (tests pass a fake one). */
  now?: () => number;
  /** Where the lines go (default process.stderr). */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Draw as a terminal bar (default: the stream is a TTY). */
  tty?: boolean;
  /** Longest gap between lines in a log, in ms (default 1000). */
  intervalMs?: number;
}

const open = new Set<Progress>();

/**
 * End every open progress bar (before printing a message such as the Ctrl-C notice).
 * @example
 *   stopAllProgress(); say('interrupt: stopping after the batch in progress');
 */
export function stopAllProgress(): void {
  for (const p of [...open]) p.stop();
}

/**
 * Seconds as "42s", "3m05s", "1h02m"; "–" when unknown.
 * @example
 *   formatDuration(185);   // '3m05s'
 */
export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s) || s < 0) return '–';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A rate as a short number: whole above 10, two significant figures below (one-pixel's 0.45 img/s).
 * @example
 *   formatRate(0.4521);   // '0.45'
 */
export function formatRate(r: number | null): string {
  if (r === null || !Number.isFinite(r) || r <= 0) return '–';
  return r >= 10 ? r.toFixed(0) : r.toPrecision(2);
}

/**
 * A progress bar on stderr: `label [bar] 40% 40/100 | fields | ETA 1m05s`. `fields` may name payload values in
 * braces and `{rate}`, which is filled from the clock (items per second) unless the payload gives it.
 * @example
 *   const bar = progressBar('epoch 1/3', 79, 'loss {loss} | {rate} img/s', { loss: '–' });
 *   bar.update(10, { loss: 0.3 }); bar.stop();
 */
export function progressBar(label: string, total: number, fields: string, initial: Record<string, string | number> = {}, opts: ProgressOptions = {}): Progress {
  const now = opts.now ?? (() => performance.now());
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const interval = opts.intervalMs ?? 1000;
  const t0 = now();
  let done = 0;
  let payload: Record<string, string | number> = { ...initial };
  let stopped = false;
  let lastLine = '';
  let lastAt = -Infinity;
  // an update not yet written: the final line is written only then (never twice at 100% with a drifted rate)
  let dirty = false;

  const stats = () => {
    const elapsed = (now() - t0) / 1000;
    const rate = done > 0 && elapsed > 0 ? done / elapsed : null;
    const eta = rate !== null ? (total - done) / rate : null;
    return { rate, eta };
  };
  const fill = (rate: number | null) =>
    fields.replace(/\{(\w+)\}/g, (_, k: string) => String(payload[k] ?? (k === 'rate' ? formatRate(rate) : '–')));
  const count = () => `${Number.isInteger(done) ? done : Math.floor(done)}/${total}`;
  const pct = () => (total > 0 ? Math.floor((100 * done) / total) : 100);

  let bar: cliProgress.SingleBar | null = null;
  if (tty) {
    bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: () => {
          const { rate, eta } = stats();
          const w = 24, f = Math.round((w * pct()) / 100);
          return `${label} [${'█'.repeat(f)}${'░'.repeat(w - f)}] ${pct()}% ${count()} | ${fill(rate)} | ETA ${formatDuration(eta)}`;
        },
        hideCursor: false, // a killed process must not leave the terminal without its cursor
        clearOnComplete: false,
        gracefulExit: false,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
  }
  const line = () => {
    const { rate, eta } = stats();
    return `${label} ${pct()}% ${count()} | ${fill(rate)} | ETA ${done >= total ? '0s' : formatDuration(eta)}`;
  };
  const writeLine = (force: boolean) => {
    const t = now();
    if (!force && t - lastAt < interval) return;
    const l = line();
    if (force && (l === lastLine || !dirty)) return;
    stream.write(l + '\n');
    lastLine = l;
    lastAt = t;
    dirty = false;
  };
  const self: Progress = {
    update(d, p, now = false) {
      if (stopped) return;
      done = Math.min(d, total);
      if (p) payload = { ...payload, ...p };
      dirty = true;
      if (bar) bar.update(Math.floor(done));
      else writeLine(now);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      open.delete(self);
      if (bar) {
        bar.update(Math.floor(done));
        bar.stop();
      } else writeLine(true);
    },
  };
  open.add(self);
  if (!tty) {
    dirty = true;
    writeLine(true);
  }
  return self;
}
