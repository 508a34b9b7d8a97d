// `nablax bench`'s FLOP accounting (multiply-adds counted from the spec) and its peak: the counts by hand for the
// zoo's convolutional models, the JSON fields, a peak loop that does measurable work on every thread, and --peers'
// checks made before any work. No timing is asserted: only that the figures are consistent with each other.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { flopsPerImage, modelMacs } from '../../src/experiments/bench/macs.js';
import { torchMissing } from '../../src/experiments/bench/peers.js';
import { referenceKernels } from '../../src/engine/kernels/reference.js';
import { loadWasmKernels } from '../../src/engine/kernels/wasm-node.js';
import { zooSpec } from '../../src/layers/zoo.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('multiply-adds per image from the spec', () => {
  it('counts the cnn, madry, smallcnn and the wide cnn by hand', () => {
    // cnn: conv1 16·25·24², conv2 32·400·8², fc1 512·128, fc2 128·10
    expect(modelMacs(zooSpec('cnn'))).toEqual({ forward: 16 * 25 * 576 + 32 * 400 * 64 + 512 * 128 + 1280, first: 230400 });
    // madry: same-padded convolutions keep 28² and 14²
    expect(modelMacs(zooSpec('madry')).forward).toBe(32 * 25 * 784 + 64 * 800 * 196 + 3136 * 1024 + 10240);
    // smallcnn: 26², 24², pool, 10², 8², pool
    expect(modelMacs(zooSpec('smallcnn')).forward).toBe(32 * 9 * 676 + 32 * 288 * 576 + 64 * 288 * 100 + 64 * 576 * 64 + 1024 * 200 + 200 * 200 + 2000);
    expect(modelMacs(zooSpec('cnn-w2')).forward).toBe(32 * 25 * 576 + 64 * 800 * 64 + 1024 * 256 + 2560);
    expect(modelMacs(zooSpec('maxout')).forward).toBe(784 * 1200 + 240 * 1200 + 2400);
  });

  it('training is 3F − F₁, ∇x 2F, inference F, at 2 FLOP a multiply-add (the issue’s images/s at 102 GFLOP/s)', () => {
    const m = modelMacs(zooSpec('cnn'));
    expect(flopsPerImage(m, 'inference')).toBe(2 * m.forward);
    expect(flopsPerImage(m, 'inputGradient')).toBe(4 * m.forward);
    expect(flopsPerImage(m, 'train')).toBe(2 * (3 * m.forward - m.first));
    // at 102 GFLOP/s, 75% / 80% / 85% of the peak are about 12,300 / 18,300 / 38,900 cnn images/s
    expect(Math.round((0.75 * 102e9) / flopsPerImage(m, 'train') / 100) * 100).toBe(12300);
    expect(Math.round((0.8 * 102e9) / flopsPerImage(m, 'inputGradient') / 100) * 100).toBe(18300);
    expect(Math.round((0.85 * 102e9) / flopsPerImage(m, 'inference') / 100) * 100).toBe(38800);
  });
});

describe('the peak loop', () => {
  it('runs on 1 and 2 threads and gives a positive, finite figure; the reference kernels have none', () => {
    const k = loadWasmKernels({ threads: 1 });
    expect(k, 'the WebAssembly kernels are built by npm ci').not.toBeNull();
    for (const t of [1, 2]) {
      k!.setThreads(t);
      const p = k!.peakGflops!(20);
      expect(Number.isFinite(p) && p > 0).toBe(true);
    }
    expect(() => k!.peakGflops!(0)).toThrow(/peakGflops: ms must be a positive number of milliseconds, got 0/);
    k!.setThreads(1); // stops the workers
    expect('peakGflops' in referenceKernels).toBe(false);
  });
});

describe('nablax bench --json', () => {
  it('reports peakGflops, and gflops and fractionOfPeak per figure, consistent with images/s', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--models', 'softmax', '--seconds', '0.05', '--rounds', '1', '--json'], {
      cwd: repoRoot, encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // the document on stdout, the progress on stderr (figures done, rate, ETA), ending on the last figure
    expect(r.stderr).toMatch(/^bench 100% 3\/3 \| softmax inference \d+ images\/s \| [\d.]+ figures\/s \| ETA 0s$/m);
    const doc = JSON.parse(r.stdout);
    expect(doc.peakGflops).toBeGreaterThan(0);
    expect(doc.results).toHaveLength(3);
    const m = modelMacs(zooSpec('softmax'));
    for (const f of doc.results) {
      const gflops = (f.imagesPerSecond * flopsPerImage(m, f.measure)) / 1e9;
      expect(f.gflops).toBeCloseTo(gflops, 1); // imagesPerSecond is rounded to a whole image
      expect(f.fractionOfPeak).toBeCloseTo(f.gflops / doc.peakGflops, 2);
    }
  });
});

describe('nablax bench --peers checks (before any work)', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env });

  it('an unknown peer, and JavaScript peers with none of their models: one line, exit 2', () => {
    for (const [args, re] of [
      [['--peers', 'torch,jax'], /unknown peer 'jax' \(expected convnetjs, tfjs-cpu, tfjs-wasm, torch\)/],
      [['--models', 'madry', '--peers', 'tfjs-wasm'], /--peers tfjs-wasm measure cnn and mlp, and --models has neither/],
    ] as [string[], RegExp][]) {
      const r = run(args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });

  it('--peers torch without PyTorch says in one line what is wrong, exit 1: a named interpreter missing or without torch', () => {
    // an interpreter that runs but cannot import torch: a script that fails whatever it is asked
    const dir = mkdtempSync(join(tmpdir(), 'nablax-torch-'));
    const noTorch = join(dir, 'python3');
    writeFileSync(noTorch, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    try {
      for (const [python, re] of [
        ['/nonexistent/python3', /^nablax bench: PyTorch not found: NABLAX_TORCH_PYTHON names \/nonexistent\/python3, which does not exist; point it at a Python that imports torch, or unset it/],
        [noTorch, /^nablax bench: PyTorch not found: NABLAX_TORCH_PYTHON names \S+python3, which cannot import torch;/],
        ['nablax-no-such-python', /NABLAX_TORCH_PYTHON names nablax-no-such-python, which does not exist/],
        [dir, /NABLAX_TORCH_PYTHON names \S+, which cannot be run \(EACCES\)/], // a directory
      ] as [string, RegExp][]) {
        const r = run(['--models', 'cnn', '--peers', 'torch'], { ...process.env, NABLAX_TORCH_PYTHON: python });
        expect(r.status, r.stderr).toBe(1);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(re);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a PyTorch peer that fails: the error names the last line of its stderr, non-zero exit, no document', () => {
    // an interpreter that imports "torch" (prints a version) but whose peer script fails with a traceback
    const dir = mkdtempSync(join(tmpdir(), 'nablax-torch-'));
    const python = join(dir, 'python3');
    writeFileSync(python, '#!/bin/sh\nif [ "$1" = -c ]; then echo 9.9; exit 0; fi\ncat > /dev/null\necho "Traceback (most recent call last):" >&2\necho "ValueError: boom" >&2\nexit 1\n', { mode: 0o755 });
    try {
      const r = run(['--models', 'softmax', '--peers', 'torch', '--seconds', '0.05', '--rounds', '1', '--json'], { ...process.env, NABLAX_TORCH_PYTHON: python });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/--peers torch: \S+python3 \S+torch_peer\.py exited with code 1: ValueError: boom/);
      expect(r.stderr).not.toMatch(/Traceback/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("Debian's Python without torch: the line says how to install it", () => {
    expect(torchMissing('/usr/bin/python3', false)).toBe(
      'PyTorch not found (/usr/bin/python3 cannot import torch); install it with: apt-get install python3-torch libopenblas0-pthread');
  });
});
