// scripts/compare-bits.mjs on hand-made result folders: timing fields and the folders' own paths are ignored, any
// other difference (a value, a tensor byte, a file on one side only, an exit code) is reported with its key and
// makes the exit code 1; scripts/compare-bits.sh refuses bad usage with exit 2 before building anything.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'nablax-compare-bits-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A safetensors file with one float32 tensor and the given metadata. */
function safetensors(values: number[], metadata: Record<string, string>): Buffer {
  const data = Buffer.from(new Float32Array(values).buffer);
  const header = Buffer.from(JSON.stringify({ __metadata__: metadata, w: { dtype: 'F32', shape: [values.length], data_offsets: [0, data.length] } }));
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([n, header, data]);
}

let count = 0;
/** Two result folders, base and head, with the given files; returns the compare script's outcome. */
function compare(base: Record<string, string | Buffer>, head: Record<string, string | Buffer>) {
  const dirs = ['base', 'head'].map((s) => join(work, `${count}`, s));
  count++;
  [base, head].forEach((files, i) => {
    for (const [name, body] of Object.entries(files)) {
      const p = join(dirs[i], name);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, typeof body === 'string' ? body.replaceAll('@DIR@', dirs[i]) : body);
    }
  });
  const r = spawnSync(process.execPath, [join(root, 'scripts/compare-bits.mjs'), ...dirs], { encoding: 'utf8' });
  const line = (f: string) => r.stdout.split('\n').find((l) => l.startsWith(f + ' ')) ?? '';
  return { status: r.status, stdout: r.stdout, line };
}

const report = (acc: number, seconds: number) =>
  JSON.stringify({ out: '@DIR@/model.safetensors', results: [{ accuracy: acc, attackSuccessRate: 0.5, seconds, imagesPerSecond: 100 / seconds }], trainSeconds: seconds });

describe('scripts/compare-bits.mjs', () => {
  it('calls two folders the same when only timings and their own paths differ', () => {
    const r = compare(
      { 'a.stdout.json': report(0.25, 1.5), 'a.exit': '0\n', 'm/model.safetensors': safetensors([1, 2], { format: 'x' }) },
      { 'a.stdout.json': report(0.25, 9.75), 'a.exit': '0\n', 'm/model.safetensors': safetensors([1, 2], { format: 'x' }) },
    );
    expect(r.status, r.stdout).toBe(0);
    expect(r.line('a.stdout.json')).toMatch(/ same$/);
    expect(r.line('m/model.safetensors')).toMatch(/same \(sha256 [0-9a-f]{12}\)/);
    expect(r.stdout).toMatch(/dropped timing fields.*seconds ×1.*imagesPerSecond ×1.*trainSeconds ×1/);
    expect(r.stdout).toMatch(/all 3 artefacts are the same/);
  });

  it('names the first differing key of a JSON file and exits 1 (a rate that is not a timing is compared)', () => {
    const r = compare({ 'a.stdout.json': report(0.25, 1) }, { 'a.stdout.json': report(0.25, 1).replace('"attackSuccessRate":0.5', '"attackSuccessRate":0.5000001') });
    expect(r.status).toBe(1);
    expect(r.line('a.stdout.json')).toMatch(/DIFFERENT at \$\.results\[0\]\.attackSuccessRate \(0\.5 vs 0\.5000001\)/);
  });

  it('accepts a checkpoint whose header differs only in timings, and catches one changed tensor byte', () => {
    const meta = (s: number) => ({ format: 'nablax-checkpoint', state: JSON.stringify({ history: [{ epoch: 1, loss: 0.5, seconds: s }] }) });
    const same = compare({ 'c.safetensors': safetensors([1, 2, 3], meta(1.25)) }, { 'c.safetensors': safetensors([1, 2, 3], meta(12.5)) });
    expect(same.status, same.stdout).toBe(0);
    expect(same.line('c.safetensors')).toMatch(/same tensors .* header same but for timing fields/);
    const loss = compare({ 'c.safetensors': safetensors([1, 2, 3], meta(1)) }, { 'c.safetensors': safetensors([1, 2, 3], { ...meta(1), state: JSON.stringify({ history: [{ epoch: 1, loss: 0.25, seconds: 1 }] }) }) });
    expect(loss.status).toBe(1);
    expect(loss.line('c.safetensors')).toMatch(/DIFFERENT at header\.__metadata__\.state\.history\[0\]\.loss/);
    const bytes = compare({ 'c.safetensors': safetensors([1, 2, 3], meta(1)) }, { 'c.safetensors': safetensors([1, 2, Math.fround(3) + 2 ** -22], meta(1)) });
    expect(bytes.status).toBe(1);
    expect(bytes.line('c.safetensors')).toMatch(/DIFFERENT at tensor bytes/);
  });

  it('reports a file on one side only, a different exit code and a failure on both sides', () => {
    const r = compare({ 'x.exit': '0\n', 'y.exit': '1\n', 'gone.stdout.json': '{}' }, { 'x.exit': '1\n', 'y.exit': '1\n' });
    expect(r.status).toBe(1);
    expect(r.line('gone.stdout.json')).toMatch(/DIFFERENT \(only in base\)/);
    expect(r.line('x.exit')).toMatch(/DIFFERENT \(exit 0 vs 1\)/);
    expect(r.line('y.exit')).toMatch(/FAILED on both sides \(exit 1\)/);
  });

  it('refuses bad usage with exit 2 and one line on stderr', () => {
    const none = spawnSync(process.execPath, [join(root, 'scripts/compare-bits.mjs')], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^usage: /);
    const sh = spawnSync('bash', [join(root, 'scripts/compare-bits.sh'), 'no-such-ref-of-nablax'], { cwd: root, encoding: 'utf8' });
    expect(sh.status).toBe(2);
    expect(sh.stderr.trim()).toBe("compare-bits: BASE_REF 'no-such-ref-of-nablax' is not a commit");
    const many = spawnSync('bash', [join(root, 'scripts/compare-bits.sh'), 'a', 'b', 'c'], { cwd: root, encoding: 'utf8' });
    expect(many.status).toBe(2);
    expect(many.stderr).toMatch(/^usage: scripts\/compare-bits.sh BASE_REF \[HEAD_REF\]/);
  });
});
