// docs/backprop-to-fgsm.md cannot rot: every ```ts block of the tutorial is extracted, its `from 'nablax'` pointed at
// src/index.ts, written to .tmp/tutorial/ (git-ignored) and imported, with console.log captured. Each snippet must run
// and print; the lines `CHECK <name> <number>` it prints are held to the rules below (hand-derived gradients equal the
// tape's, gradcheck errors, wᵀη = ε·m·n, FGSM lowers accuracy, adversarial training helps against FGSM), and every
// rule must be met by some snippet, so deleting a check from the tutorial fails too.
// TUTORIAL_PRINT=1 npx vitest run test/docs/tutorial.test.ts shows what every snippet printed.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const docPath = join(root, 'docs/backprop-to-fgsm.md');
const entry = join(root, 'src/index.ts');
const tmpDir = join(root, '.tmp/tutorial', `run-${process.pid}`);

interface Snippet {
  index: number;
  line: number;
  heading: string;
  code: string;
}

/** Every ```ts block, with the line it starts on and the nearest heading above it. */
function extractSnippets(markdown: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (h) heading = h[1].trim();
    if (lines[i].trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    if (i >= lines.length) throw new Error(`${docPath}:${start + 1}: unterminated \`\`\`ts block`);
    out.push({ index: out.length + 1, line: start + 1, heading, code: body.join('\n') + '\n' });
  }
  return out;
}

/** Point `from 'nablax'` at the sources; any other import would not be part of the public story. */
function rewriteImports(s: Snippet): string {
  const specifiers = [...s.code.matchAll(/\bfrom\s+(['"])([^'"]+)\1|\bimport\s*\(?\s*(['"])([^'"]+)\3/g)].map((m) => m[2] ?? m[4]);
  const foreign = specifiers.filter((p) => p !== 'nablax');
  if (foreign.length) throw new Error(`snippet ${s.index} (line ${s.line}) imports ${foreign.join(', ')}: snippets may import only from 'nablax'`);
  if (!specifiers.length) throw new Error(`snippet ${s.index} (line ${s.line}) imports nothing from 'nablax'`);
  return s.code.replace(/\bfrom\s+(['"])nablax\1/g, `from ${JSON.stringify(entry)}`);
}

type Rule = (value: number, all: Map<string, number>) => boolean;

const lessThan = (bound: number): Rule => (v) => Number.isFinite(v) && Math.abs(v) < bound;

/** What the printed numbers must satisfy. Every rule has to be met by a CHECK line of some snippet. */
const rules: Record<string, { why: string; ok: Rule }> = {
  'unit.handVsTape': { why: 'hand-derived δ·x, δ·w, δ equal grad()', ok: lessThan(1e-12) },
  'unit.gradcheck': { why: 'gradcheck of the unit below 1e-6', ok: lessThan(1e-6) },
  'layers.count': { why: 'one trace per layer of the 5-layer net', ok: (v) => v === 5 },
  'chain.loss': { why: 'softmax − onehot', ok: lessThan(1e-6) },
  'chain.dense': { why: 'dX = dY·W', ok: lessThan(1e-6) },
  'chain.flatten': { why: 'flatten passes the numbers through', ok: (v) => v === 0 },
  'chain.maxpool': { why: 'max-pool routes each window to its winner', ok: (v) => v === 0 },
  'chain.relu': { why: 'dX = dY·[x > 0]', ok: (v) => v === 0 },
  'chain.conv': { why: 'conv backward is a full correlation with the kernels', ok: lessThan(1e-5) },
  'net.gradcheck': { why: '∇x through the net against finite differences', ok: lessThan(1e-6) },
  'fgsm.handVsLibrary': { why: 'clip(x + ε·sign ∇x J) by hand equals fgsm.run', ok: lessThan(1e-7) },
  'fgsm.lossGain': { why: 'one sign step multiplies the loss of a confident digit', ok: (v) => v > 10 },
  'fgsm.clean': { why: 'one epoch on 2,000 digits learns something', ok: (v) => v > 0.6 && v <= 1 },
  'fgsm.eps0.1': { why: 'FGSM at ε = 0.1 lowers the accuracy', ok: (v, all) => v >= 0 && v < (all.get('fgsm.clean') ?? 0) - 0.1 },
  'linear.unitRatio': { why: 'wᵀη / (ε·m·n) = 1 within 1e-5', ok: lessThan(1e-5) },
  'linear.shiftOverGap': { why: 'at ε = 0.25, ε·m·n exceeds the typical logit margin', ok: (v) => v > 1 },
  'linear.networkRatio': { why: 'a softmax model is exactly first order along ε·sign ∇x z', ok: lessThan(1e-6) },
  'linear.fgsmError': { why: 'FGSM at ε = 0.25 fools the softmax model almost always', ok: (v) => v > 0.9 && v <= 1 },
  'advtrain.plain.clean': { why: 'the plain model learns', ok: (v) => v > 0.6 },
  'advtrain.adversarial.clean': { why: 'adversarial training keeps clean accuracy', ok: (v, all) => v > (all.get('advtrain.plain.clean') ?? 1) - 0.05 },
  'advtrain.plain.fgsm0.25': { why: 'FGSM at ε = 0.25 breaks the plain model', ok: (v, all) => v < (all.get('advtrain.plain.clean') ?? 0) - 0.3 },
  'advtrain.adversarial.fgsm0.25': { why: 'adversarial training raises the FGSM accuracy', ok: (v, all) => v > 2 * (all.get('advtrain.plain.fgsm0.25') ?? 1) + 0.1 },
};

const snippets = extractSnippets(readFileSync(docPath, 'utf8'));
const checks = new Map<string, number>();

/** Import one snippet as a module (top-level await included), returning what it printed with console.log. */
async function runSnippet(s: Snippet): Promise<string[]> {
  mkdirSync(tmpDir, { recursive: true });
  const file = join(tmpDir, `snippet-${String(s.index).padStart(2, '0')}.ts`);
  writeFileSync(file, `// ${docPath}:${s.line} (${s.heading})\n${rewriteImports(s)}`);
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    printed.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  };
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = log;
  }
  return printed;
}

describe('docs/backprop-to-fgsm.md', () => {
  afterAll(() => rmSync(tmpDir, { recursive: true, force: true }));

  it('has runnable ts snippets', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(8);
  });

  for (const s of snippets) {
    it(`snippet ${s.index} (line ${s.line}, ${s.heading}) runs and prints`, async () => {
      const printed = await runSnippet(s);
      if (process.env.TUTORIAL_PRINT) process.stdout.write(`\n--- snippet ${s.index} (line ${s.line})\n${printed.join('\n')}\n`);
      const context = `snippet ${s.index} at docs/backprop-to-fgsm.md:${s.line} printed:\n${printed.join('\n')}`;
      expect(printed.length, context).toBeGreaterThan(0);
      expect(printed.some((l) => !l.startsWith('CHECK ')), `${context}\n(only CHECK lines: a snippet should show the reader something)`).toBe(true);
      for (const line of printed.filter((l) => l.startsWith('CHECK '))) {
        const m = /^CHECK (\S+) (\S+)$/.exec(line);
        expect(m, `malformed check line '${line}'\n${context}`).not.toBeNull();
        const [, name, raw] = m!;
        expect(rules[name], `no rule for 'CHECK ${name}': add one to test/docs/tutorial.test.ts\n${context}`).toBeDefined();
        expect(checks.has(name), `'CHECK ${name}' printed twice`).toBe(false);
        checks.set(name, Number(raw));
      }
      for (const [name, value] of checks) {
        if (!printed.some((l) => l.startsWith(`CHECK ${name} `))) continue;
        expect(rules[name].ok(value, checks), `CHECK ${name} = ${value}: ${rules[name].why}\n${context}`).toBe(true);
      }
    });
  }

  it('every check the tutorial promises was printed', () => {
    const missing = Object.keys(rules).filter((name) => !checks.has(name));
    expect(missing).toEqual([]);
  });
});
