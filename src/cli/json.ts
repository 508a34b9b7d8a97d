// JSON text for --json and report.json: numbers rounded to 12 significant digits, so that float noise such as
// 0.020000000000000018 (0.1 − 0.08) never reaches a report, while every measured digit that matters stays.

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
  return JSON.stringify(doc, (_k, v) => (typeof v === 'number' ? roundNoise(v) : v), 2) + '\n';
}
