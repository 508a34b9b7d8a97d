// Labels are checked against the class count when an IDX file is read (the error names the file
// and the index), and the class count comes from the model (10 for the zoo), a spec file or --classes, never from
// the data's largest label; a bad test label stops `train` before training, with no model or checkpoint written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTraining } from '../../src/experiments/training-run.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadDataset, loadIdxDir, withClasses } from '../../src/data/datasets.js';
import { outputClasses } from '../../src/layers/predict.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** An IDX ubyte buffer: magic 00 00 08 <dims>, big-endian uint32 dims, then the bytes. */
function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x0800 | dims.length);
  dims.forEach((d, k) => dv.setUint32(4 + 4 * k, d));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nablax-labels-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A directory with 8 train and 4 test images of 4×4 pixels and the given labels. */
function dataDir(name: string, train: number[], test: number[]): string {
  const dir = join(root, name);
  mkdirSync(dir);
  const px = (n: number) => Array.from({ length: n * 16 }, (_, i) => (i * 37) % 256);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([train.length, 4, 4], px(train.length)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([train.length], train));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([test.length, 4, 4], px(test.length)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([test.length], test));
  return dir;
}

const goodTrain = [0, 1, 2, 3, 4, 5, 6, 7];
const goodTest = [1, 2, 3, 9];

describe('labels are checked when an IDX file is read', () => {
  it('a training label byte of 200 is refused, naming the file and the index (not a 201-class model)', () => {
    const dir = dataDir('bad-train', [0, 1, 2, 3, 4, 200, 6, 7], goodTest);
    expect(() => loadIdxDir(dir, 'train')).toThrow(
      new RegExp(`^loadIdxDir: ${join(dir, 'train-labels-idx1-ubyte')}: label 200 at index 5 is not a class in 0..9 \\(10 classes\\)$`),
    );
    expect(() => loadDataset(dir, 'train')).toThrow(/label 200 at index 5/);
    // an explicit class count admits it
    expect(loadIdxDir(dir, 'train', 201).numClasses).toBe(201);
    expect(loadIdxDir(dataDir('fine', goodTrain, goodTest), 'test').numClasses).toBe(10); // never the data's max (9)
  });

  it('commands that read a model file check the test labels against the model’s output width (outputClasses)', () => {
    const dir = dataDir('model-classes', goodTrain, [1, 12, 3, 4]);
    const m13 = buildModel(zooSpec('softmax', [1, 4, 4], 13), { seed: 0 });
    expect(outputClasses(m13)).toBe(13);
    expect(loadDataset(dir, 'test', outputClasses(m13)).numClasses).toBe(13);
    expect(() => loadDataset(dir, 'test', outputClasses(buildModel(zooSpec('softmax', [1, 4, 4]), { seed: 0 })))).toThrow(/label 12 at index 1/);
  });

  it('the class count is the caller’s: fewer classes refuse larger labels, also for the mnist sources', () => {
    const dir = dataDir('few', goodTrain, goodTest);
    expect(() => loadIdxDir(dir, 'test', 5)).toThrow(/t10k-labels-idx1-ubyte: label 9 at index 3 is not a class in 0..4/);
    expect(() => loadDataset('mnist', 'train', 5)).toThrow(/^loadDataset: mnist:10000: label \d at index \d+ is not a class in 0..4/);
    expect(() => withClasses(loadIdxDir(dir, 'train'), 3)).toThrow(/^withClasses: .*few:train: label 3 at index 3 is not a class in 0..2/);
    expect(() => loadIdxDir(dir, 'train', 1)).toThrow(/^loadIdxDir: classes must be an integer in 2..256/);
  });
});

describe('train decides the class count from the model and checks both splits first', () => {
  const base = { model: 'softmax', epochs: 1, batchSize: 4, optimizer: 'sgd', lr: 0.01, seed: 0, quiet: true };

  it('a test label of 12 stops training before it starts: no model file, no checkpoint', async () => {
    const dir = dataDir('bad-test', goodTrain, [1, 12, 3, 4]);
    const out = join(root, 'bad-test-out', 'm.safetensors');
    await expect(runTraining({ ...base, data: dir, out })).rejects.toThrow(/t10k-labels-idx1-ubyte: label 12 at index 1 is not a class in 0..9/);
    expect(existsSync(join(root, 'bad-test-out')) ? readdirSync(join(root, 'bad-test-out')) : []).toEqual([]);
  });

  it('--classes 13 admits it and builds a 13-class model; a spec file’s output width is its class count', async () => {
    const dir = dataDir('classes', goodTrain, [1, 12, 3, 4]);
    const run = await runTraining({ ...base, data: dir, out: join(root, 'c13', 'm.safetensors'), classes: 13 });
    expect(run.model.stateDict().find(([n]) => n === '1.weight')![1].shape).toEqual([13, 16]);
    expect(run.testSet.numClasses).toBe(13);
    const spec = join(root, 'spec13.json');
    writeFileSync(spec, JSON.stringify({ input: [1, 4, 4], layers: [{ type: 'flatten' }, { type: 'dense', in: 16, out: 13 }] }));
    const fromSpec = await runTraining({ ...base, model: spec, data: dir, out: join(root, 's13', 'm.safetensors') });
    expect(fromSpec.testSet.numClasses).toBe(13);
    await expect(runTraining({ ...base, model: spec, data: dir, out: join(root, 's14', 'm.safetensors'), classes: 14 })).rejects.toThrow(
      /--classes 14 but .*spec13.json has 13 outputs/,
    );
  });

  it('the CLI: one line on stderr naming the file and the index, exit 1, nothing written', () => {
    const dir = dataDir('cli', [0, 1, 2, 3, 4, 200, 6, 7], goodTest);
    const out = join(root, 'cli-out', 'm.safetensors');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--model', 'softmax', '--data', dir, '--epochs', '1', '--out', out], {
      cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nablax train: .*train-labels-idx1-ubyte: label 200 at index 5 is not a class in 0\.\.9/);
    expect(existsSync(join(root, 'cli-out'))).toBe(false);
  }, 60_000);
});
