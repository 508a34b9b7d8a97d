// `--arch NAME` / `--spec FILE` on the commands that take --model-file: a plain PyTorch-style state_dict file (no
// nablax metadata) gives the same logits through `predict --arch` and `--spec` as the nablax file it came from;
// without an architecture, or with an unknown one, the command fails with one line naming the way out.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveModel, stateTensors } from '../../src/io/model-file.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function cli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
}
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

let dir: string;
let nablaxFile: string;
let plainFile: string;
let specFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nablax-model-option-'));
  const model = buildModel(zooSpec('softmax'), { seed: 3 });
  nablaxFile = join(dir, 'softmax.safetensors');
  saveModel(nablaxFile, model);
  plainFile = join(dir, 'plain.safetensors');
  writeFileSync(plainFile, encodeSafetensors(stateTensors(model))); // what safetensors.torch.save_file(state_dict) writes
  specFile = join(dir, 'softmax.json');
  writeFileSync(specFile, JSON.stringify(zooSpec('softmax')));
});

describe('--arch and --spec', () => {
  it('predict on a plain state_dict with --arch or --spec equals predict on the nablax file', () => {
    const runs = [[nablaxFile], [plainFile, '--arch', 'softmax'], [plainFile, '--spec', specFile]].map(([f, ...rest]) => {
      const r = cli('predict', '--model-file', f, ...rest, '--index', '0,1', '--json');
      expect(r.status, show(r)).toBe(0);
      return (JSON.parse(r.stdout) as { images: { logits: number[] }[] }).images.map((im) => im.logits);
    });
    expect(runs[0][0]).toHaveLength(10);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  it('a plain state_dict without an architecture: one line naming --arch and --spec', () => {
    const r = cli('info', '--model-file', plainFile);
    expect(r.status, show(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n'), show(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/^nablax info: .*not a nablax model file.*--arch NAME or --spec FILE/);
  });

  it('an unknown --arch or a missing --spec file is a usage error (exit 2)', () => {
    const bad = cli('eval', '--model-file', plainFile, '--arch', 'resnet50');
    expect(bad.status, show(bad)).toBe(2);
    expect(bad.stderr).toMatch(/^nablax eval: --arch must be one of softmax, mlp, maxout, cnn, cnn-bn, cnn-w2, cnn-w4, madry, smallcnn, got 'resnet50'/);
    const missing = cli('grad', '--model-file', plainFile, '--spec', join(dir, 'nope.json'));
    expect(missing.status, show(missing)).toBe(2);
    expect(missing.stderr).toMatch(/^nablax grad: --spec: no such file: .*nope\.json/);
  });
});
