// Tests for the SVG charts (src/report/plot.ts): the SVG is well-nested markup with a size, a white background,
// the title, both axis titles and every series name (escaped); bad series fail with one-line messages;
// scatter charts draw a reference line only when asked; saveSvg writes atomically.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ChartOptions, lineChartSvg, saveSvg, scatterChartSvg } from '../../src/report/plot.js';

const eps = [0, 0.1, 0.2, 0.3];
const base = (): ChartOptions => ({
  title: 'Accuracy under attack',
  xTitle: 'epsilon',
  yTitle: 'test accuracy',
  series: [
    { name: 'FGSM', points: eps.map((x) => ({ x, y: 1 - 2 * x })) },
    { name: 'PGD-40', points: eps.map((x) => ({ x, y: 1 - 3 * x })) },
    { name: 'A<B & "C"', points: eps.map((x) => ({ x, y: 1 - x })) },
  ],
  yDomain: [0, 1],
});

/** Tag names opened and closed in order; throws on a mismatch, returns the list of opened tags. */
function checkNesting(svg: string): string[] {
  const stack: string[] = [];
  const opened: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (close) {
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}>`);
    } else {
      opened.push(name);
      if (!selfClose) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`);
  return opened;
}

async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('lineChartSvg', () => {
  it('is nested SVG with size, white background, title, axis titles and every series name', async () => {
    const svg = await lineChartSvg(base());
    const tags = checkNesting(svg);
    expect(tags[0]).toBe('svg');
    const open = svg.match(/^<svg[^>]*>/)?.[0] ?? '';
    const w = Number(open.match(/ width="(\d+(?:\.\d+)?)"/)?.[1]);
    const h = Number(open.match(/ height="(\d+(?:\.\d+)?)"/)?.[1]);
    // plot area 420×280 by default, plus axes, title and a legend on the right
    expect(w).toBeGreaterThan(420);
    expect(h).toBeGreaterThan(280);
    // the first drawn element is a full-size white rectangle
    expect(svg.slice(open.length)).toMatch(new RegExp(`^<rect width="${w}" height="${h}" fill="white"/>`));
    for (const t of ['Accuracy under attack', 'epsilon', 'test accuracy', 'FGSM', 'PGD-40']) {
      expect(svg).toContain(`>${t}</text>`);
    }
    expect(svg).toContain('>A&lt;B &amp; "C"</text>'); // escaped, and the nesting check above still holds
    expect(svg).toContain('mark-line');
    expect(svg).toContain('mark-symbol role-mark'); // points on the lines by default
  });

  it('honours points: false, width, height and yDomain', async () => {
    const svg = await lineChartSvg({ ...base(), points: false, width: 200, height: 100, yDomain: [0.25, 0.75] });
    checkNesting(svg);
    expect(svg).not.toContain('mark-symbol role-mark');
    const w = Number(svg.match(/^<svg[^>]* width="(\d+)"/)?.[1]);
    expect(w).toBeGreaterThan(200);
    expect(w).toBeLessThan(420);
    // the y axis keeps to 0.25..0.75 (its tick labels all lie inside) and lines leaving it are clipped
    const yAxis = svg.slice(svg.indexOf("Y-axis titled 'test accuracy'"), svg.indexOf('role-axis-title', svg.indexOf("Y-axis titled")));
    const yLabels = [...yAxis.matchAll(/>(-?\d+(?:\.\d+)?)<\/text>/g)].map((m) => Number(m[1]));
    expect(yLabels.length).toBeGreaterThan(0);
    for (const v of yLabels) expect(v >= 0.25 && v <= 0.75, `y label ${v}`).toBe(true);
    expect(svg).toMatch(/class="mark-line role-mark marks" clip-path=/);
  });

  it('rejects NaN, empty and duplicate series with one-line messages naming the place', async () => {
    const nan = base();
    nan.series[1].points[2] = { x: 0.2, y: NaN };
    const cases: [ChartOptions, RegExp][] = [
      [nan, /^lineChartSpec: opts\.series\[1\] \("PGD-40"\)\.points\[2\] expected finite x and y, got \{ x: 0\.2, y: NaN \}$/],
      [{ ...base(), series: [{ name: 'FGSM', points: [] }] }, /opts\.series\[0\] \("FGSM"\)\.points expected a non-empty array/],
      [{ ...base(), series: [] }, /opts\.series expected a non-empty array/],
      [{ ...base(), series: [base().series[0], base().series[0]] }, /opts\.series\[1\]\.name expected a unique name/],
      [{ ...base(), series: [{ name: '', points: [{ x: 0, y: 0 }] }] }, /opts\.series\[0\]\.name expected a non-empty string/],
      [{ ...base(), yDomain: [1, 0] }, /opts\.yDomain expected \[lo, hi\]/],
      [{ ...base(), xTitle: '' }, /opts\.xTitle expected a non-empty string/],
      [{ ...base(), width: 0 }, /opts\.width expected a positive integer/],
    ];
    for (const [opts, re] of cases) {
      const msg = await message(lineChartSvg(opts));
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    }
  });
});

describe('scatterChartSvg', () => {
  const opts = (): ChartOptions => ({
    title: 'Logit change vs prediction',
    xTitle: 'eps * |w|_1',
    yTitle: 'measured change',
    series: [{ name: 'dense', points: [0, 1, 2, 3].map((x) => ({ x, y: 0.9 * x + 0.1 })) }],
  });

  it('draws points only, plus a named dashed reference line when asked', async () => {
    const plain = await scatterChartSvg(opts());
    checkNesting(plain);
    expect(plain).toMatch(/^<svg[^>]* width="\d+" height="\d+"/);
    expect(plain).toMatch(/^<svg[^>]*><rect width="\d+" height="\d+" fill="white"\/>/);
    for (const t of ['Logit change vs prediction', 'eps * |w|_1', 'measured change', 'dense']) expect(plain).toContain(`>${t}</text>`);
    expect(plain).toContain('mark-symbol role-mark');
    expect(plain).not.toContain('mark-line');

    const withRef = await scatterChartSvg(opts(), { slope: 1, intercept: 0, name: 'y = x' });
    checkNesting(withRef);
    expect(withRef).toContain('mark-line');
    expect(withRef).toContain('stroke-dasharray');
    expect(withRef).toContain('>y = x</text>');
    expect(withRef).toContain('>dense</text>');
  });

  it('rejects a bad reference line and bad series', async () => {
    expect(await message(scatterChartSvg(opts(), { slope: NaN, intercept: 0, name: 'r' }))).toMatch(/reference expected finite slope/);
    expect(await message(scatterChartSvg(opts(), { slope: 1, intercept: 0, name: 'dense' }))).toMatch(/reference\.name expected a name no series has/);
    const bad = opts();
    bad.series[0].points[0].x = Infinity;
    const msg = await message(scatterChartSvg(bad));
    expect(msg).toMatch(/^scatterChartSpec: opts\.series\[0\] \("dense"\)\.points\[0\] expected finite x and y/);
    expect(msg).not.toContain('\n');
  });
});

describe('saveSvg', () => {
  it('writes the text atomically, replacing an old file and leaving no temporary files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-svg-'));
    try {
      const path = join(dir, 'sub', 'chart.svg');
      const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="white"/></svg>';
      saveSvg(path, svg);
      expect(readFileSync(path, 'utf8')).toBe(svg);
      writeFileSync(path, 'old');
      saveSvg(path, svg.replace('10"', '20"'));
      expect(readFileSync(path, 'utf8')).toContain('width="20"');
      expect(readdirSync(join(dir, 'sub'))).toEqual(['chart.svg']);
      expect(() => saveSvg(join(dir, 'x.svg'), 'not svg')).toThrow(/saveSvg: svg expected a string starting with <svg/);
      expect(() => saveSvg('', svg)).toThrow(/saveSvg: path/);
      expect(readdirSync(dir).sort()).toEqual(['sub']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
