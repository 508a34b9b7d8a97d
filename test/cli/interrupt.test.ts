// Ctrl-C in the commands that used to compute in one synchronous stretch (eval, linear; info, predict, grad and
// trace share the same handler): their work yields once per batch, so SIGINT stops the bar, one line says what was
// kept, the exit code is 130, and --out holds no half-written report and no stale lock. The runs are made long
// (a big model, the whole test set) and the signal is sent once the bar's first line shows the command at work, so
// the test holds on a slow, busy machine; it never asserts a time.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/io/model-file.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };

let root: string;
const modelOf = (name: string) => join(root, `${name}.safetensors`);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nablax-sigint-'));
  // untrained weights: the commands' work costs the same, and no training is needed
  for (const name of ['madry', 'cnn']) saveModel(modelOf(name), buildModel(zooSpec(name), { seed: 0 }), { model: name });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Run the CLI, send SIGINT once `ready` matches stderr (the command is at work), and collect what it did. */
async function interrupt(argv: string[], ready: RegExp) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv], { cwd: repoRoot, env });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('exit', (code, sig) => res([code, sig])));
  for (let i = 0; i < 1200 && !ready.test(stderr) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  expect(stderr, 'the command started its work').toMatch(ready);
  child.kill('SIGINT');
  const [code, signal] = await exited;
  return { code, signal, stdout, lines: stderr.trimEnd().split('\n'), stderr };
}

describe('Ctrl-C in eval and linear', () => {
  it('eval: the bar stops, one line says nothing was written, exit 130, no result on stdout', async () => {
    const r = await interrupt(['eval', '--model-file', modelOf('madry')], /^eval 0% 0\/10000 /m);
    expect([r.code, r.signal], r.stderr).toEqual([130, null]);
    expect(r.lines.at(-1)).toBe('nablax eval: interrupted: nothing was written');
    expect(r.lines.filter((l) => /interrupt/.test(l))).toHaveLength(1);
    // the last bar line sits before the message, never after it: the bar stopped first, short of the end
    expect(r.lines.at(-2), r.stderr).toMatch(/^eval \d+% \d+\/10000 \| /);
    expect(r.lines.at(-2)).not.toMatch(/ 10000\/10000 /);
    expect(r.stdout).toBe('');
  }, 180_000);

  it('linear --out: exit 130 during the network measurement, the report folder neither written nor locked', async () => {
    const out = join(root, 'linear-report');
    const r = await interrupt(['linear', '--model-file', modelOf('cnn'), '--test-limit', '10000', '--out', out], /^linear: network, 5 ε 0% 0\/10000 /m);
    expect([r.code, r.signal], r.stderr).toEqual([130, null]);
    expect(r.lines.at(-1)).toBe('nablax linear: interrupted: nothing was written');
    expect(r.lines.at(-2), r.stderr).toMatch(/^linear: network, 5 ε \d+% \d+\/10000 \| /);
    expect(r.stdout).toBe('');
    expect(existsSync(out) ? readdirSync(out) : [], 'no file in --out').toEqual([]);
    expect(readdirSync(root).filter((n) => n.endsWith('.lock')), 'no stale lock').toEqual([]);
  }, 180_000);
});
