// Small text helpers shared by the report builders and the CLI: counts with their noun, percentages.

/**
 * `n thing` or `n things`, with the number grouped (1 epoch, 2 epochs, 10,000 images).
 * @example
 *   plural(1, 'epoch');        // '1 epoch'
 *   plural(10000, 'image');    // '10,000 images'
 */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * A fraction as a percentage with one decimal.
 * @example
 *   pct(0.9876);   // '98.8%'
 *   pct(0.5);      // '50.0%'
 */
export function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}

/**
 * A wall-clock duration in seconds, with a decimal below 10 s and minutes beside it from 100 s on.
 * @example
 *   duration(0.42);    // '0.4 s'
 *   duration(3585);    // '3,585 s (59.8 min)'
 */
export function duration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = `${Math.round(seconds).toLocaleString('en-US')} s`;
  return seconds < 100 ? s : `${s} (${(seconds / 60).toFixed(1)} min)`;
}
