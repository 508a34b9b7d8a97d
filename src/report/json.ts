// JSON text for --json and report.json: numbers rounded to 12 significant digits, so that float noise such as
// 0.020000000000000018 (0.1 − 0.08) never reaches a report, while every measured digit that matters stays.
// Distances (maxLinf, meanL2, …) are rounded down instead, so that a printed bound is never above the true one:
// fround(0.3) = 0.30000001192092896 prints as 0.30000001192, not 0.300000011921.

/** A number without float noise: 12 significant digits (integers untouched). */
export function roundNoise(v: number): number {
  return Number.isInteger(v) || !Number.isFinite(v) ? v : Number(v.toPrecision(12));
}

/**
 * `JSON.stringify(doc, null, 2)` with every number rounded by roundNoise, and a final newline.
 * @example
 *   jsonText({ eps: 0.1 - 0.08 });   // '{\n  "eps": 0.02\n}\n'
 */
export function jsonText(doc: unknown): string {
  return JSON.stringify(doc, (k: string, v: unknown): unknown => (typeof v !== 'number' ? v : isDistance(k) ? roundNoiseDown(v) : roundNoise(v)), 2) + '\n';
}

/** A key naming a perturbation's size in some norm: maxLinf, meanL2, medianL0, … */
const isDistance = (key: string): boolean => /(Linf|L2|L1|L0)$/.test(key);

/**
 * roundNoise, but never above v: 12 significant digits rounded toward −∞.
 * @example
 *   roundNoiseDown(Math.fround(0.3));   // 0.30000001192 (roundNoise gives 0.300000011921 > fround(0.3))
 */
export function roundNoiseDown(v: number): number {
  const r = roundNoise(v);
  if (r <= v || !Number.isFinite(v)) return r;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 11);
  return Number((r - unit).toPrecision(12));
}
