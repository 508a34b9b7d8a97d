// PyTorch files in: a plain state_dict as safetensors.torch.save_file writes it (no __metadata__, tensors in
// state_dict order, BatchNorm's I64 num_batches_tracked included) loads when the architecture is given, and a
// nablax file from a future version is refused. The files are written byte by byte here, so torch is not needed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/engine/tape.js';
import { Tensor } from '../../src/engine/tensor.js';
import { loadModel } from '../../src/io/model-file.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { Rng } from '../../src/engine/random.js';

interface RawTensor { name: string; dtype: 'F32' | 'I64'; shape: number[]; bytes: Uint8Array }

/** A safetensors file written by hand, as safetensors' Rust writer lays it out (header padded to 8 bytes). */
function handWritten(tensors: RawTensor[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + h.length + offset);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  let at = 8 + h.length;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** A model's state_dict as PyTorch saves it: F32 tensors, plus an I64 `num_batches_tracked` after each BatchNorm's. */
function torchStateDict(model: ReturnType<typeof buildModel>, batches: bigint): RawTensor[] {
  const out: RawTensor[] = [];
  for (const [name, t] of model.stateDict()) {
    const f = Float32Array.from(t.data);
    out.push({ name, dtype: 'F32', shape: t.shape.slice(), bytes: new Uint8Array(f.buffer) });
    if (name.endsWith('.running_var')) {
      const n = new BigInt64Array([batches]);
      out.push({ name: name.replace(/running_var$/, 'num_batches_tracked'), dtype: 'I64', shape: [], bytes: new Uint8Array(n.buffer) });
    }
  }
  return out;
}

/** A model with random (seeded) weights and batch-norm statistics, so that loading the wrong thing shows. */
function randomModel(name: string, seed: number) {
  const m = buildModel(zooSpec(name), { seed });
  const rng = new Rng(seed + 100);
  for (const [n, t] of m.stateDict()) {
    for (let i = 0; i < t.data.length; i++) t.data[i] = n.endsWith('running_var') ? 0.5 + rng.uniform() : rng.uniform() - 0.5;
  }
  return m;
}

function logits(model: ReturnType<typeof buildModel>, x: Tensor): Float32Array | Float64Array {
  return noGrad(() => model.eval().forward(x)).data;
}

let dir: string;
let x: Tensor;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nablax-pytorch-files-'));
  const rng = new Rng(7);
  x = Tensor.from(Array.from({ length: 3 * 784 }, () => rng.uniform()), [3, 1, 28, 28]);
});

describe('a plain PyTorch state_dict (no nablax metadata)', () => {
  it('is refused without an architecture, naming --arch/--spec and loadModel(path, { spec })', () => {
    const p = join(dir, 'plain-cnn.safetensors');
    writeFileSync(p, handWritten(torchStateDict(randomModel('cnn', 1), 0n)));
    expect(() => loadModel(p)).toThrow(/not a nablax model file .*--arch NAME or --spec FILE; loadModel\(path, \{ spec \}\)/);
  });

  it('loads with { spec } and gives the same logits as the model it came from', () => {
    const src = randomModel('cnn', 2);
    const p = join(dir, 'plain-cnn-2.safetensors');
    writeFileSync(p, handWritten(torchStateDict(src, 0n)));
    const { model, metadata } = loadModel(p, { spec: zooSpec('cnn') });
    expect(metadata).toEqual({});
    expect(Array.from(logits(model, x))).toEqual(Array.from(logits(src, x)));
  });

  it('loads a BatchNorm2d model whose file holds I64 num_batches_tracked tensors (ignored)', () => {
    const src = randomModel('cnn-bn', 3);
    const p = join(dir, 'plain-cnn-bn.safetensors');
    const raw = torchStateDict(src, 469n);
    expect(raw.filter((t) => t.dtype === 'I64').map((t) => t.name)).toEqual(['1.num_batches_tracked', '5.num_batches_tracked']);
    writeFileSync(p, handWritten(raw, { format: 'pt' }));
    const { model } = loadModel(p, { spec: zooSpec('cnn-bn') });
    expect(Array.from(logits(model, x))).toEqual(Array.from(logits(src, x)));
  });

  it('still checks the tensors against the architecture given', () => {
    const p = join(dir, 'plain-cnn-3.safetensors');
    writeFileSync(p, handWritten(torchStateDict(randomModel('cnn', 4), 0n)));
    expect(() => loadModel(p, { spec: zooSpec('mlp') })).toThrow(/tensor '0.weight' for this architecture|missing tensor '1.weight'/);
  });

  it('an I64 tensor other than num_batches_tracked is still refused', () => {
    const raw = torchStateDict(randomModel('softmax', 5), 0n);
    raw.push({ name: 'step', dtype: 'I64', shape: [], bytes: new Uint8Array(8) });
    const p = join(dir, 'plain-extra-i64.safetensors');
    writeFileSync(p, handWritten(raw));
    expect(() => loadModel(p, { spec: zooSpec('softmax') })).toThrow(/tensor 'step' has unsupported dtype 'I64'/);
  });
});

describe('the model-file version', () => {
  function withVersion(version: string): string {
    const p = join(dir, `v-${version || 'empty'}.safetensors`);
    const m = randomModel('softmax', 6);
    const raw = torchStateDict(m, 0n);
    writeFileSync(p, handWritten(raw, { format: 'nablax-model', version, spec: JSON.stringify(m.spec()) }));
    return p;
  }

  it('version 1 loads', () => {
    expect(loadModel(withVersion('1')).model.numParameters()).toBe(7850);
  });

  it('a future version is refused with one clear line, even with an architecture given', () => {
    const p = withVersion('2');
    expect(() => loadModel(p)).toThrow(/model file version 2 was written by a newer nablax; this one reads version 1 and older$/);
    expect(() => loadModel(p, { spec: zooSpec('softmax') })).toThrow(/model file version 2 was written by a newer nablax/);
  });

  it('a version that is not a positive integer is refused', () => {
    expect(() => loadModel(withVersion('1.5'))).toThrow(/model file version "1.5" is not a positive integer/);
    expect(() => loadModel(withVersion('0'))).toThrow(/model file version "0" is not a positive integer/);
  });
});
