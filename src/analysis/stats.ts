// Order statistics shared by the analyses, attack evaluation and the benchmark.

/**
 * The q-quantile (0 ≤ q ≤ 1) of sorted values, interpolating linearly between neighbours (numpy's default).
 * @example
 *   quantile([1, 2, 3, 4], 0.5);  // 2.5
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The median of unsorted values; 0 for none (a count or a rate with nothing to report).
 * @example
 *   median([3, 1, 2]);  // 2
 */
export function median(xs: readonly number[]): number {
  return xs.length ? quantile(xs.slice().sort((a, b) => a - b), 0.5) : 0;
}
