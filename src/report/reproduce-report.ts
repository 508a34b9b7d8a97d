// The report of `nablax reproduce goodfellow2015` (Goodfellow, Shlens & Szegedy, ICLR 2015, on MNIST;
// experiments/goodfellow2015.ts) from its result: the table paper | PyTorch reference | nablax per quantity (also
// printed on stdout) and report.md with the sizes, warnings and notes. The CLI prints and writes them.

const pct = (v: number, digits = 1) => `${(100 * v).toFixed(digits)}%`;

/** One quantity of the reproduction: the paper's value, the PyTorch reference's, nablax's (a fraction). */
export interface Goodfellow2015Row {
  id: string;
  quantity: string;
  paper: string;
  reference: string | null;
  nablax: number;
  unit: '%' | 'prob';
}

/**
 * A row's nablax value as text: percentages with 2 decimals below 10%, else 1; probabilities with 3.
 * @example
 *   formatValue({ nablax: 0.0123, unit: '%' });   // '1.23%'
 */
export function formatValue(row: Pick<Goodfellow2015Row, 'nablax' | 'unit'>): string {
  // one unit in the whole table: errors and confidences (probabilities) alike as percentages, as the paper gives them
  if (row.unit === 'prob') return pct(row.nablax, 1);
  return pct(row.nablax, row.nablax < 0.1 ? 2 : 1);
}

/**
 * The rows as a Markdown table: quantity | paper | PyTorch reference | nablax.
 * @example
 *   console.log(markdownTable(result.rows));
 */
export function markdownTable(rows: Goodfellow2015Row[]): string {
  const lines = ['| quantity | paper | PyTorch reference | nablax |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.quantity} | ${r.paper} | ${r.reference ?? '—'} | ${formatValue(r)} |`);
  return lines.join('\n');
}

/** What the report reads of a run of `reproduce goodfellow2015` (experiments/goodfellow2015.ts's result). */
export interface Goodfellow2015Report {
  quick: boolean;
  seed: number;
  sizes: { trainLimit: number; testLimit: number; pgdLimit: number; epochs: { softmax: number; maxout: number; adversarial: number } };
  rows: Goodfellow2015Row[];
  notes: string[];
  warnings: string[];
  seconds: number;
}

/**
 * report.md of `reproduce goodfellow2015 --out`: title, the table, the warnings, the notes.
 * @example
 *   writeFileAtomic(join(dir, 'report.md'), goodfellow2015Markdown(await runGoodfellow2015({ quick: true, seed: 0 })));
 */
export function goodfellow2015Markdown(r: Goodfellow2015Report): string {
  const s = r.sizes;
  return [
    `# Goodfellow, Shlens & Szegedy 2015 on MNIST, reproduced with nablax${r.quick ? ' (quick)' : ''}`,
    '',
    `Seed ${r.seed}; ${s.trainLimit.toLocaleString('en-US')} training images, epochs softmax ${s.epochs.softmax} / maxout ${s.epochs.maxout} / ` +
      `adversarial ${s.epochs.adversarial}; ${s.testLimit.toLocaleString('en-US')} test images (PGD: ${s.pgdLimit.toLocaleString('en-US')}); ` +
      `${r.seconds.toFixed(0)} s.`,
    '',
    markdownTable(r.rows),
    '',
    ...(r.warnings.length ? ['Warnings:', '', ...r.warnings.map((w) => `- ${w}`), ''] : []),
    '## Notes',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
