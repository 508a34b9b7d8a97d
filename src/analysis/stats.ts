// Order statistics and summary statistics shared by the analyses, attack evaluation, experiments and the benchmark.

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

/**
 * Mean and sample standard deviation (n − 1 in the denominator; 0 for a single value, NaN for none).
 * @example
 *   meanStd([1, 2, 3]);  // { mean: 2, std: 1 }
 */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const ss = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}
