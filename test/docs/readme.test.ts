// Every ```ts, ```js and ```bash block of README.md runs as written, as a reader would run it after the quick start:
// in a fresh folder holding runs/demo/cnn.safetensors (the quick start's model; here a short stand-in training, since
// `npm start` takes a minute), with `nablax` on PATH (what `npm link` gives; `npx nablax` is run as `nablax`, the
// one rewrite besides `from 'nablax'` pointing at src/index.ts). A block may be preceded by a marker comment:
//   <!-- readme-test: arguments only (why) -->  each `nablax …` line is parsed (command, flags, values) but not run:
//                                               the trainings and attacks that take minutes to hours (and each
//                                               `scripts/….sh` line checks its arguments with NABLAX_CHECK_ARGS=1);
//   <!-- readme-test: run by test/… -->         another test runs it (the named file must use the README);
//   <!-- readme-test: not run (why) -->         nothing is run; this list must stay tiny.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from './built.js';
import { blackBoxAttacks } from '../../src/attacks/black-box.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';

interface Block {
  line: number;
  lang: 'ts' | 'js' | 'bash';
  heading: string;
  marker: string | null;
  code: string;
}

/** Every fenced ts/js/bash block, with its line, the nearest heading above and the marker comment right before it. */
function extractBlocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (h) heading = h[1].trim();
    const fence = /^```(ts|js|bash|sh)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const start = i;
    let j = start - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    const m = j >= 0 ? /^<!-- readme-test: (.*) -->$/.exec(lines[j].trim()) : null;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    if (i >= lines.length) throw new Error(`README.md:${start + 1}: unterminated code block`);
    const lang = fence[1] === 'sh' ? 'bash' : (fence[1] as Block['lang']);
    out.push({ line: start + 1, lang, heading, marker: m ? m[1].trim() : null, code: body.join('\n') + '\n' });
  }
  return out;
}

const blocks = extractBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
const notRun = blocks.filter((b) => b.marker?.startsWith('not run'));
const argsOnly = blocks.filter((b) => b.marker?.startsWith('arguments only'));
const elsewhere = blocks.filter((b) => b.marker?.startsWith('run by '));
const runHere = blocks.filter((b) => b.marker === null);

let work: string;
let env: NodeJS.ProcessEnv;
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'nablax-readme-'));
  const bin = join(work, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'nablax'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot, 'dist/src/cli/main.js'))} "$@"\n`);
  chmodSync(join(bin, 'nablax'), 0o755);
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1', FORCE_COLOR: '0' };
  // the quick start's model file, from a short training instead of npm start's minute
  const r = spawnSync('nablax', ['train', '--model', 'cnn', '--data', 'mnist', '--limit', '2000', '--epochs', '1', '--test-limit', '200', '--out', 'runs/demo/cnn.safetensors'], { cwd: work, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`stand-in for the quick start failed\n${show(r)}`);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The `nablax …` command lines of a bash block (comments stripped), with `npx nablax` read as `nablax`. */
function commandLines(code: string): string[] {
  return code
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').replace(/^npx nablax\b/, 'nablax').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('README.md code blocks', () => {
  it('has blocks of each kind, and only a tiny list that nothing runs', () => {
    expect(runHere.filter((b) => b.lang === 'ts').length).toBeGreaterThanOrEqual(3);
    expect(runHere.filter((b) => b.lang === 'bash').length).toBeGreaterThanOrEqual(1);
    expect(argsOnly.length).toBeGreaterThanOrEqual(1);
    expect(notRun.map((b) => `README.md:${b.line} ${b.marker}`).length, notRun.map((b) => `README.md:${b.line} ${b.marker}`).join('\n')).toBeLessThanOrEqual(2);
    for (const b of [...notRun, ...argsOnly]) expect(b.marker, `README.md:${b.line}: a marker gives its reason`).toMatch(/\(.{10,}\)$/);
    const unknown = blocks.filter((b) => b.marker !== null && !notRun.includes(b) && !argsOnly.includes(b) && !elsewhere.includes(b));
    expect(unknown.map((b) => `README.md:${b.line} ${b.marker}`)).toEqual([]);
  });

  it('blocks run by another test are used there', () => {
    for (const b of elsewhere) {
      const file = /^run by (test\/\S+\.test\.ts)/.exec(b.marker!)?.[1];
      expect(file, `README.md:${b.line}: marker names a test file`).toBeDefined();
      expect(existsSync(join(repoRoot, file!)), `${file} exists`).toBe(true);
      expect(readFileSync(join(repoRoot, file!), 'utf8'), `${file} reads the README`).toMatch(/README\.md/);
    }
  });

  for (const b of runHere) {
    it(`README.md:${b.line} (${b.lang}, ${b.heading}) runs and prints`, () => {
      let r: SpawnSyncReturns<string>;
      if (b.lang === 'bash') {
        const script = commandLines(b.code).join('\n') + '\n';
        r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: work, env, encoding: 'utf8', timeout: 300_000 });
      } else {
        const foreign = [...b.code.matchAll(/\bfrom\s+(['"])([^'"]+)\1/g)].map((m) => m[2]).filter((p) => p !== 'nablax');
        expect(foreign, 'snippets import only from nablax').toEqual([]);
        const file = join(work, `snippet-${b.line}.mts`);
        writeFileSync(file, b.code.replace(/\bfrom\s+(['"])nablax\1/g, `from ${JSON.stringify(join(repoRoot, 'src/index.ts'))}`));
        r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], { cwd: work, env, encoding: 'utf8', timeout: 300_000 });
      }
      expect(r.error, show(r)).toBeUndefined();
      expect(r.status, show(r)).toBe(0);
      expect(r.stdout.trim().length + r.stderr.trim().length, `prints something\n${show(r)}`).toBeGreaterThan(0);
      expect(r.stderr, show(r)).not.toMatch(/Error|TypeScript kernels/);
      if (b.lang === 'ts') expect(r.stdout.trim().length, `a snippet shows its result on stdout\n${show(r)}`).toBeGreaterThan(0);
    });
  }

  it('"The engine in one screen" prints its gradients, which agree with finite differences', () => {
    const b = runHere.find((x) => x.heading === 'The engine in one screen');
    expect(b).toBeDefined();
    const file = join(work, 'engine-check.mts');
    writeFileSync(file, b!.code.replace(/\bfrom\s+(['"])nablax\1/g, `from ${JSON.stringify(join(repoRoot, 'src/index.ts'))}`));
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^loss \d\.\d{4} {2}dx = \[[-\d., ]+\] {2}dW = \[[-\d., ]+\]$/m);
    const errs = /finite differences: (.*)$/m.exec(r.stdout)![1].split(', ').map(Number);
    expect(errs).toHaveLength(3);
    for (const e of errs) expect(e).toBeLessThan(1e-6);
  });

  for (const b of argsOnly) {
    it(`README.md:${b.line} (${b.heading}): every command line parses`, () => {
      const lines = commandLines(b.code);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) {
        // the repository's own scripts (scripts/compare-bits.sh) honour NABLAX_CHECK_ARGS too, run from the repo root;
        // a command may start with environment assignments (GLIBC_TUNABLES=… nablax bench), as bash takes them
        expect(l, `README.md:${b.line}: an arguments-only block holds nablax commands and repository scripts only`).toMatch(/^([A-Z][A-Z0-9_]*=\S+ )*(nablax |scripts\/[\w-]+\.sh )/);
        const cwd = l.startsWith('scripts/') ? repoRoot : work;
        const r = spawnSync('bash', ['-c', l], { cwd, env: { ...env, NABLAX_CHECK_ARGS: '1' }, encoding: 'utf8', timeout: 60_000 });
        expect(r.status, `${l}\n${show(r)}`).toBe(0);
        expect(r.stderr, `${l}\n${show(r)}`).toBe('');
      }
    });
  }
});

describe('README.md and the attack records', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  it('counts the attacks of the records (AutoAttack apart, built from them) and names each as the CLI does', () => {
    const names = [...Object.keys(whiteBoxAttacks), ...Object.keys(blackBoxAttacks)];
    expect(readme).toContain(`${names.length} attacks in one record`);
    for (const n of [...names, 'autoattack']) expect(readme, n).toContain(`\`${n}\``);
  });
});
