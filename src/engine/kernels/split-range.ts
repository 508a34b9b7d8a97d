// Splitting an index range among threads, and finding runs of consecutive indices (one copy per run instead of per row); apart from ./threads.ts (worker_threads) so the browser build needs no Node API.

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

/**
 * The maximal runs [start, count] (start relative to i0) of list positions i0 … i0 + len − 1 where every list goes up
 * by one from each position to the next.
 * @example
 *   consecutiveRuns([Int32Array.of(0, 1, 5), Int32Array.of(3, 4, 9)], 0, 3); // [[0, 2], [2, 1]]
 */
export function consecutiveRuns(lists: readonly ArrayLike<number>[], i0: number, len: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 1; i <= len; i++) {
    if (i === len || lists.some((a) => a[i0 + i] !== a[i0 + i - 1] + 1)) {
      out.push([start, i - start]);
      start = i;
    }
  }
  return out;
}
