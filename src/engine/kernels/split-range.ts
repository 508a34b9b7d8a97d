// Splitting an index range among threads; apart from ./threads.ts (worker_threads) so the browser build needs no Node API.

/**
 * Split [0, n) into `parts` contiguous ranges, the first ones one longer when n does not divide evenly.
 * @example
 *   splitRange(5, 2); // [[0, 3], [3, 5]]
 */
export function splitRange(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  const q = Math.floor(n / parts), r = n % parts;
  let at = 0;
  for (let t = 0; t < parts; t++) {
    const len = q + (t < r ? 1 : 0);
    out.push([at, at + len]);
    at += len;
  }
  return out;
}
