// The reports of `nablax trace` from a Trace (analysis/trace.ts): the forward and backward tables, as aligned text for
// stdout and as markdown, the summary and ∇x lines, and trace.md with the chain rule written out. The CLI prints and
// writes them.
import type { Trace } from '../analysis/trace.js';
import { fmt } from './trace-figure.js';

/** A table as text cells: the header and the rows. */
export type Table = { header: string[]; rows: string[][] };

/**
 * The forward table (layer, output shape, statistics) and the backward table (last layer first).
 * @example
 *   const { forward, backward } = traceTables(trace);
 */
export function traceTables(trace: Trace): { forward: Table; backward: Table } {
  const forward: Table = {
    header: ['#', 'layer', 'output', 'mean', 'std', 'min', 'max', 'zeros'],
    rows: trace.layers.map((l) => [String(l.index), l.type, l.outputShape.join('×'), fmt(l.output.mean), fmt(l.output.std), fmt(l.output.min), fmt(l.output.max), `${(100 * l.output.fractionZero).toFixed(1)}%`]),
  };
  const backward: Table = {
    header: ['#', 'layer', '‖∂J/∂out‖₂', '‖∂J/∂out‖∞', 'mean'],
    rows: trace.layers.slice().reverse().map((l) => [String(l.index), l.type, fmt(l.grad.norm2), fmt(l.grad.normInf), fmt(l.grad.mean)]),
  };
  return { forward, backward };
}

/**
 * A table as aligned plain-text lines (numbers right-aligned, the layer name left-aligned), for stdout.
 * @example
 *   for (const line of textTable(traceTables(trace).forward)) console.log(line);
 */
export function textTable(t: Table): string[] {
  const all = [t.header, ...t.rows];
  const w = t.header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  // numbers right-aligned, the layer name left-aligned
  return all.map((r) => '  ' + r.map((s, j) => (j === 1 ? s.padEnd(w[j]) : s.padStart(w[j]))).join('  '));
}

function mdTable(t: Table): string[] {
  return [`| ${t.header.join(' | ')} |`, `|${t.header.map((_, j) => (j === 1 ? ' --- ' : ' ---: ')).join('|')}|`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** The one-line summary of a traced test image: label, prediction, its probability, the loss. */
export const traceSummary = (t: Trace, index: number): string =>
  `test image ${index}: label ${t.label}, predicted ${t.predicted} (p = ${t.probabilities[t.predicted].toFixed(4)}), loss J = ${fmt(t.loss)}`;
/** The norms of ∇x J on one line. */
export const dxLine = (t: Trace): string => `∇x J: ‖·‖₁ ${fmt(t.dxNorm.l1)}   ‖·‖₂ ${fmt(t.dxNorm.l2)}   ‖·‖∞ ${fmt(t.dxNorm.linf)}`;

/**
 * trace.md of `nablax trace --out`: the summary, the forward and backward tables, ∇x's norms, the chain rule written
 * out and the link to trace.png (which goes beside it).
 * @example
 *   writeFileAtomic(join(dir, 'trace.md'), traceMarkdown(trace, 3, 'runs/cnn.safetensors', chainRule(model, trace)));
 */
export function traceMarkdown(t: Trace, index: number, modelFile: string, chain: string[]): string {
  const { forward, backward } = traceTables(t);
  return [
    `# Trace of test image ${index}`,
    '',
    `Model \`${modelFile}\`; ${traceSummary(t, index)}.`,
    '',
    '## Forward: each layer\'s output',
    '',
    ...mdTable(forward),
    '',
    '## Backward: the gradient of the loss at each layer\'s output',
    '',
    ...mdTable(backward),
    '',
    dxLine(t),
    '',
    '## The chain rule, from the loss back to the input',
    '',
    'z₀ = x; layer #i maps zᵢ to zᵢ₊₁; the last z is the logits.',
    '',
    '```',
    ...chain,
    '```',
    '',
    '## Picture',
    '',
    '![trace](trace.png)',
    '',
  ].join('\n');
}
