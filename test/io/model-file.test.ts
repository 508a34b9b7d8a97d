// Tests for src/io/model-file.ts: bit-exact save/load of every zoo model, the PyTorch state_dict layout of the
// file (checked by parsing the safetensors bytes by hand), every way a bad file is refused with a one-line
// message, and atomic saves (a failed save leaves no temporary file and never damages an existing model).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { noGrad } from '../../src/engine/tape.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { loadModel, MODEL_FORMAT, saveModel, stateTensors } from '../../src/io/model-file.js';
import { encodeSafetensors, type StTensor } from '../../src/io/safetensors.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooNames, zooSpec } from '../../src/layers/zoo.js';
import { getBatch } from '../../src/data/batches.js';
import { loadMnistData, type Dataset } from '../../src/data/datasets.js';

// Wrap the fs functions that writeFileAtomic uses so that single calls can be made to fail (disk full, a rename
// refused); by default they do exactly what the real ones do.
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    renameSync: vi.fn(real.renameSync),
    writeSync: vi.fn(real.writeSync),
  };
});

const bytesOf = (t: { data: Float32Array | Float64Array }): Uint8Array =>
  new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

let dir: string;
let test: Dataset;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nablax-model-file-'));
  test = loadMnistData('test');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.mocked(fs.renameSync).mockReset();
  vi.mocked(fs.writeSync).mockReset();
});

/** `.tmp-` files left in a folder by writeFileAtomic. */
const tmpFiles = (d: string): string[] => readdirSync(d).filter((n) => n.includes('.tmp-'));

function logits(model: Sequential, x: Tensor): Float32Array {
  return noGrad(() => model.forward(x)).data as Float32Array;
}

/** A trained-looking model: the seeded initialisation plus awkward values that must survive bit for bit. */
function model(name: string, seed = 7): Sequential {
  const m = buildModel(zooSpec(name), { seed });
  const [, w] = m.stateDict()[0];
  w.data[0] = -0;
  w.data[1] = 1e-45; // the smallest float32 denormal
  w.data[2] = -3.4028234663852886e38; // -FLT_MAX
  w.data[3] = 1 / 3; // not exact in binary
  return m;
}

describe('saveModel / loadModel round trip', () => {
  for (const name of zooNames) {
    it(`${name}: every tensor bit-exact, same logits on real test images, eval mode`, () => {
      const m = model(name);
      const path = join(dir, `${name}.safetensors`);
      saveModel(path, m, { note: 'round trip' });
      const { model: back, metadata } = loadModel(path);

      expect(metadata.format).toBe(MODEL_FORMAT);
      expect(metadata.version).toBe('1');
      expect(metadata.note).toBe('round trip');
      expect(JSON.parse(metadata.spec)).toEqual(m.spec());
      expect(back.spec()).toEqual(m.spec());

      const a = m.stateDict();
      const b = back.stateDict();
      expect(b.map(([n]) => n)).toEqual(a.map(([n]) => n));
      for (let i = 0; i < a.length; i++) {
        const [n, ta] = a[i];
        const tb = b[i][1];
        expect(tb.shape, n).toEqual(ta.shape);
        expect(tb.dtype, n).toBe('float32');
        expect(Buffer.compare(Buffer.from(bytesOf(tb)), Buffer.from(bytesOf(ta))), `${n} bytes`).toBe(0);
        // no bytes in common (both may be views of the kernels' linear memory, one buffer)
        const shared = tb.data.buffer === ta.data.buffer &&
          tb.data.byteOffset < ta.data.byteOffset + ta.data.byteLength && ta.data.byteOffset < tb.data.byteOffset + tb.data.byteLength;
        expect(shared, `${n} is a copy, not shared`).toBe(false);
      }
      expect(Object.is(b[0][1].data[0], -0)).toBe(true);
      expect(b[0][1].data[1]).toBe(Math.fround(1e-45));

      expect(back.training).toBe(false);
      for (const l of back.layers) expect(l.training).toBe(false);

      m.eval();
      const { x } = getBatch(test, Int32Array.from([0, 1, 2, 3, 4, 9999]), 0, 6);
      const la = logits(m, x);
      const lb = logits(back, x);
      expect(lb.length).toBe(6 * 10);
      expect(lb.every(Number.isFinite)).toBe(true);
      expect(Buffer.compare(Buffer.from(lb.buffer, lb.byteOffset, lb.byteLength), Buffer.from(la.buffer, la.byteOffset, la.byteLength))).toBe(0);
    });
  }

  it('saving the same model twice gives identical bytes; a second model overwrites the first', () => {
    const p = join(dir, 'twice.safetensors');
    saveModel(p, model('softmax', 1));
    const first = readFileSync(p);
    saveModel(p, model('softmax', 1));
    expect(readFileSync(p).equals(first)).toBe(true);
    saveModel(p, model('softmax', 2));
    expect(readFileSync(p).equals(first)).toBe(false);
    expect(loadModel(p).model.stateDict()[0][1].data[10]).toBe(model('softmax', 2).stateDict()[0][1].data[10]);
    expect(tmpFiles(dir)).toEqual([]);
  });
});

describe('file layout (what torch.nn.Sequential.load_state_dict expects)', () => {
  it('cnn: tensor names, shapes, F32, offsets and the header parsed by hand', () => {
    const m = model('cnn');
    const path = join(dir, 'layout-cnn.safetensors');
    saveModel(path, m);
    const buf = readFileSync(path);

    const n = Number(buf.readBigUInt64LE(0));
    expect(n).toBeGreaterThan(0);
    expect((8 + n) % 8).toBe(0); // space-padded to 8 bytes, like the reference writer
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;

    const expected: Record<string, number[]> = {
      '0.weight': [16, 1, 5, 5],
      '0.bias': [16],
      '3.weight': [32, 16, 5, 5],
      '3.bias': [32],
      '7.weight': [128, 512],
      '7.bias': [128],
      '9.weight': [10, 128],
      '9.bias': [10],
    };
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names.sort()).toEqual(Object.keys(expected).sort());

    const md = header.__metadata__ as Record<string, unknown>;
    expect(md.format).toBe('nablax-model');
    expect(md.version).toBe('1');
    expect(typeof md.spec).toBe('string');
    expect(JSON.parse(md.spec as string)).toEqual(m.spec());
    expect(buildModel(JSON.parse(md.spec as string)).spec()).toEqual(buildModel(zooSpec('cnn')).spec());
    for (const v of Object.values(md)) expect(typeof v).toBe('string');

    const state = new Map(m.stateDict());
    const dataStart = 8 + n;
    const spans: [number, number][] = [];
    for (const [name, shape] of Object.entries(expected)) {
      const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      expect(Object.keys(e).sort()).toEqual(['data_offsets', 'dtype', 'shape']);
      expect(e.dtype, name).toBe('F32');
      expect(e.shape, name).toEqual(shape);
      const [begin, end] = e.data_offsets;
      expect(end - begin, name).toBe(4 * shape.reduce((a, b) => a * b, 1));
      spans.push([begin, end]);
      // the bytes are the row-major little-endian float32 values ([out, in, kh, kw] for conv, [out, in] for dense)
      const raw = buf.subarray(dataStart + begin, dataStart + end);
      const t = state.get(name)!;
      expect(raw.equals(Buffer.from(bytesOf(t))), name).toBe(true);
      expect(raw.readFloatLE(4 * (shape.length > 1 ? 1 : 0))).toBe(t.data[shape.length > 1 ? 1 : 0]);
    }
    // the tensors tile the data buffer: no gaps, no overlaps, nothing after
    spans.sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [b, e] of spans) {
      expect(b).toBe(pos);
      pos = e;
    }
    expect(dataStart + pos).toBe(buf.length);
  });

  it('dense models use the indices after Flatten (softmax: 1.*, mlp/maxout: 1.*, 3.*, 5.*)', () => {
    const names = (name: string) => [...stateTensors(buildModel(zooSpec(name))).entries()].map(([k, t]) => `${k}:${t.shape.join('x')}`);
    expect(names('softmax')).toEqual(['1.weight:10x784', '1.bias:10']);
    expect(names('mlp')).toEqual(['1.weight:256x784', '1.bias:256', '3.weight:256x256', '3.bias:256', '5.weight:10x256', '5.bias:10']);
    expect(names('maxout')).toEqual(['1.weight:1200x784', '1.bias:1200', '3.weight:1200x240', '3.bias:1200', '5.weight:10x240', '5.bias:10']);
  });
});

describe('loadModel refuses bad files with a clear one-line message', () => {
  let good: Buffer;
  let headerLen: number;
  let tensors: Map<string, StTensor>;
  let metadata: Record<string, string>;

  beforeAll(() => {
    const m = model('softmax');
    const p = join(dir, 'good-softmax.safetensors');
    saveModel(p, m);
    good = readFileSync(p);
    headerLen = Number(good.readBigUInt64LE(0));
    tensors = stateTensors(m);
    metadata = { format: 'nablax-model', version: '1', spec: JSON.stringify(m.spec()) };
  });

  /** Write `bytes` to a fresh file and expect loadModel to throw an Error matching `re`, on one line. */
  function refuses(label: string, bytes: Uint8Array | null, re: RegExp, path = join(dir, `bad-${label}.safetensors`)): void {
    if (bytes) writeFileSync(path, bytes);
    let err: unknown;
    try {
      loadModel(path);
    } catch (e) {
      err = e;
    }
    expect(err, `${label}: loadModel should throw`).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg, label).toMatch(re);
    expect(msg, `${label}: one line`).not.toMatch(/\n/);
    expect(msg.length, `${label}: short`).toBeLessThan(400);
    expect(() => loadModel(path)).toThrow(re);
  }

  /** Tensors of the good softmax model with `edit` applied, encoded with `md` as metadata. */
  function withTensors(edit: (t: Map<string, StTensor>) => void, md: Record<string, string> | null = metadata): Uint8Array {
    const t = new Map([...tensors].map(([k, v]) => [k, { ...v, shape: v.shape.slice(), data: v.data.slice() }] as [string, StTensor]));
    edit(t);
    return encodeSafetensors(t, md ?? undefined);
  }

  /** A file from a header object and the data bytes, with a correct (padded) length prefix. */
  function rawFile(header: unknown, data: Uint8Array): Uint8Array {
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
    const h = Buffer.from(json, 'utf8');
    const out = Buffer.alloc(8 + h.length + data.length);
    out.writeBigUInt64LE(BigInt(h.length), 0);
    h.copy(out, 8);
    out.set(data, 8 + h.length);
    return out;
  }

  it('the unmodified file loads (sanity check for the cases below)', () => {
    expect(loadModel(join(dir, 'good-softmax.safetensors')).model.numParameters()).toBe(7850);
    expect(rawFile(JSON.parse(good.subarray(8, 8 + headerLen).toString()), good.subarray(8 + headerLen)).length).toBe(good.length);
    expect(() => loadModel(join(dir, 'sanity.safetensors'))).toThrow(/no such file/);
    writeFileSync(join(dir, 'sanity.safetensors'), rawFile(JSON.parse(good.subarray(8, 8 + headerLen).toString()), good.subarray(8 + headerLen)));
    expect(loadModel(join(dir, 'sanity.safetensors')).model.numParameters()).toBe(7850);
  });

  it('empty and truncated inside the 8-byte length prefix', () => {
    refuses('empty', new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header length prefix/);
    refuses('prefix-1', good.subarray(0, 1), /file is 1 bytes, shorter than the 8-byte header length prefix/);
    refuses('prefix-7', good.subarray(0, 7), /file is 7 bytes, shorter than the 8-byte header length prefix/);
  });

  it('truncated inside the header', () => {
    for (const cut of [8, 9, 8 + Math.floor(headerLen / 2), 8 + headerLen - 1]) {
      refuses(`header-${cut}`, good.subarray(0, cut), new RegExp(`header length ${headerLen} exceeds file size \\(${cut} bytes\\)`));
    }
  });

  it('truncated inside the data', () => {
    const dataLen = good.length - 8 - headerLen;
    for (const cut of [8 + headerLen, 8 + headerLen + 3, 8 + headerLen + Math.floor(dataLen / 2), good.length - 1]) {
      refuses(`data-${cut}`, good.subarray(0, cut), new RegExp(`data_offsets \\[\\d+, \\d+\\] exceed the data buffer \\(${cut - 8 - headerLen} bytes\\)`));
    }
  });

  it('a file with bytes appended after the data', () => {
    refuses('trailing', Buffer.concat([good, Buffer.alloc(4)]), /trailing bytes: tensors cover \d+ of the \d+-byte data buffer/);
  });

  it('corrupted header bytes', () => {
    const ascii = Buffer.from(good);
    ascii.write('#garbage#', 8 + 20, 'latin1');
    refuses('header-ascii-garbage', ascii, /header is not valid JSON/);
    const binary = Buffer.from(good);
    binary.fill(0xff, 8 + 5, 8 + 13);
    refuses('header-binary-garbage', binary, /header is not valid UTF-8/);
    const prefix = Buffer.from(good);
    prefix.writeBigUInt64LE(BigInt(good.length * 4), 0); // a length prefix that lies
    refuses('prefix-too-big', prefix, /header length \d+ exceeds file size/);
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(0xffffffffffffffffn, 0);
    refuses('prefix-huge', huge, /header length 18446744073709551615 exceeds the 100000000-byte limit/);
    const notObject = rawFile([1, 2, 3], good.subarray(8 + headerLen));
    refuses('header-array', notObject, /header is not a JSON object/);
  });

  it('a header that lies about data offsets (header length kept consistent)', () => {
    const header = JSON.parse(good.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    const data = good.subarray(8 + headerLen);
    const past = structuredClone(header);
    past['1.bias'].data_offsets = [data.length, data.length + 40];
    const f = rawFile(past, data);
    expect(Number(Buffer.from(f).readBigUInt64LE(0)) + 8 + data.length).toBe(f.length);
    refuses('offsets-past-end', f, new RegExp(`tensor '1.bias' data_offsets \\[${data.length}, ${data.length + 40}\\] exceed the data buffer \\(${data.length} bytes\\)`));

    const overlap = structuredClone(header);
    overlap['1.bias'].data_offsets = [0, 40]; // on top of 1.weight
    refuses('offsets-overlap', rawFile(overlap, data), /data_offsets \[\d+, \d+\] overlap tensor/);

    const wrongSize = structuredClone(header);
    const [b] = wrongSize['1.bias'].data_offsets;
    wrongSize['1.bias'].data_offsets = [b, b + 36];
    refuses('offsets-wrong-size', rawFile(wrongSize, data), /tensor '1.bias' shape \[10\] of F32 needs 40 bytes but data_offsets \[\d+, \d+\] span 36/);

    const backwards = structuredClone(header);
    backwards['1.bias'].data_offsets = [40, 0];
    refuses('offsets-backwards', rawFile(backwards, data), /data_offsets \[40, 0\] begin after they end/);
  });

  it('a tensor whose shape does not fit the architecture', () => {
    refuses('transposed', withTensors((t) => { t.get('1.weight')!.shape = [784, 10]; }), /tensor '1.weight' has shape \[784, 10\], the architecture needs \[10, 784\]/);
    refuses('bias-too-long', withTensors((t) => t.set('1.bias', { dtype: 'F32', shape: [11], data: new Float32Array(11) })), /tensor '1.bias' has shape \[11\], the architecture needs \[10\]/);
  });

  it('a missing tensor', () => {
    refuses('missing-bias', withTensors((t) => t.delete('1.bias')), /missing tensor '1.bias' \[10\]/);
  });

  it('an unexpected extra tensor', () => {
    refuses('extra', withTensors((t) => t.set('2.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) })), /unexpected tensor '2.weight' for this architecture/);
  });

  it('NaN or an infinity inside a weight', () => {
    refuses('nan', withTensors((t) => { t.get('1.weight')!.data[1234] = NaN; }), /tensor '1.weight' contains NaN at index 1234/);
    refuses('inf', withTensors((t) => { t.get('1.bias')!.data[9] = -Infinity; }), /tensor '1.bias' contains -Infinity at index 9/);
  });

  it('F64 tensors of the right shape are accepted (converted to the model dtype)', () => {
    const f = withTensors((t) => {
      for (const [k, v] of t) t.set(k, { dtype: 'F64', shape: v.shape, data: Float64Array.from(v.data) });
    });
    const p = join(dir, 'f64.safetensors');
    writeFileSync(p, f);
    const back = loadModel(p).model;
    expect(Buffer.from(bytesOf(back.stateDict()[0][1])).equals(Buffer.from(bytesOf(tensors.get('1.weight')!)))).toBe(true);
  });

  it('a safetensors file that is not a nablax model', () => {
    refuses('no-metadata', withTensors(() => {}, null), /not a nablax model file \(__metadata__\.format is undefined, expected 'nablax-model'\)/);
    refuses('other-format', withTensors(() => {}, { ...metadata, format: 'nablax-checkpoint' }), /not a nablax model file \(__metadata__\.format is "nablax-checkpoint"/);
    const { spec: _spec, ...noSpec } = metadata;
    refuses('no-spec', withTensors(() => {}, noSpec), /not a nablax model file \(no architecture 'spec' in __metadata__\)/);
    refuses('metadata-not-strings', rawFile({ __metadata__: { format: 1 } }, new Uint8Array(0)), /metadata 'format' must be a string, got number/);
  });

  it('an architecture in the metadata that is not valid JSON, or not a valid model', () => {
    refuses('spec-not-json', withTensors(() => {}, { ...metadata, spec: '{"input": [1, 28, 28], "layers": [' }), /the architecture in __metadata__ is not valid JSON/);
    refuses('spec-null', withTensors(() => {}, { ...metadata, spec: 'null' }), /bad architecture: buildModel: spec must be an object/);
    refuses('spec-bad-layer', withTensors(() => {}, { ...metadata, spec: JSON.stringify({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'resnet' }] }) }), /bad architecture: .*unknown layer type "resnet"/);
    refuses('spec-other-arch', withTensors(() => {}, { ...metadata, spec: JSON.stringify(zooSpec('mlp')) }), /missing tensor '3.weight'|tensor '1.weight' has shape \[10, 784\], the architecture needs \[256, 784\]/);
  });

  it('a missing path and a directory', () => {
    refuses('missing-path', null, /loadModel: no such file: .*does-not-exist\.safetensors/, join(dir, 'does-not-exist.safetensors'));
    const sub = join(dir, 'a-directory.safetensors');
    mkdirSync(sub);
    refuses('directory', null, /is a directory, expected a \.safetensors file/, sub);
  });
});

describe('atomic save', () => {
  it('a save whose final rename fails (the target is a directory) throws and leaves no temporary file', () => {
    const d = mkdtempSync(join(dir, 'atomic-dir-'));
    const target = join(d, 'm.safetensors');
    mkdirSync(target);
    writeFileSync(join(d, 'other.txt'), 'keep');
    expect(() => saveModel(target, model('softmax'))).toThrow(/EISDIR|directory/i);
    expect(tmpFiles(d)).toEqual([]);
    expect(readdirSync(d).sort()).toEqual(['m.safetensors', 'other.txt']);
    expect(statSync(target).isDirectory()).toBe(true);
    expect(readdirSync(target)).toEqual([]);
    expect(readFileSync(join(d, 'other.txt'), 'utf8')).toBe('keep');
  });

  it('a good model file is left byte-identical when a later save onto it fails at the rename', () => {
    const d = mkdtempSync(join(dir, 'atomic-rename-'));
    const target = join(d, 'm.safetensors');
    saveModel(target, model('softmax', 1));
    const before = readFileSync(target);
    vi.mocked(fs.renameSync).mockClear();
    vi.mocked(fs.renameSync).mockImplementationOnce(() => {
      throw Object.assign(new Error('EXDEV: simulated rename failure'), { code: 'EXDEV' });
    });
    expect(() => saveModel(target, model('softmax', 2))).toThrow(/simulated rename failure/);
    expect(vi.mocked(fs.renameSync)).toHaveBeenCalledTimes(1);
    expect(readFileSync(target).equals(before)).toBe(true);
    expect(tmpFiles(d)).toEqual([]);
    expect(readdirSync(d)).toEqual(['m.safetensors']);
    expect(loadModel(target).model.stateDict()[0][1].data[5]).toBe(model('softmax', 1).stateDict()[0][1].data[5]);
  });

  it('a good model file is left byte-identical when a later save runs out of disk part-way through writing', async () => {
    const d = mkdtempSync(join(dir, 'atomic-enospc-'));
    const target = join(d, 'm.safetensors');
    saveModel(target, model('mlp', 1));
    const before = readFileSync(target);
    vi.mocked(fs.renameSync).mockClear();
    const realFs = await vi.importActual<typeof import('node:fs')>('node:fs');
    let written = 0;
    // the first write gets 100 bytes onto the disk, the next one finds it full
    vi.mocked(fs.writeSync)
      .mockImplementationOnce(((fd: number, buf: Uint8Array, off: number) => (written = realFs.writeSync(fd, buf, off, 100))) as typeof fs.writeSync)
      .mockImplementationOnce(() => {
        throw Object.assign(new Error('ENOSPC: simulated no space left on device'), { code: 'ENOSPC' });
      });
    expect(() => saveModel(target, model('mlp', 2))).toThrow(/ENOSPC/);
    expect(written).toBe(100);
    expect(vi.mocked(fs.renameSync)).not.toHaveBeenCalled();
    expect(readFileSync(target).equals(before)).toBe(true);
    expect(tmpFiles(d)).toEqual([]);
    expect(readdirSync(d)).toEqual(['m.safetensors']);
    // and the wrappers are back to the real functions: the next save works
    saveModel(target, model('mlp', 2));
    expect(readFileSync(target).equals(before)).toBe(false);
    expect(loadModel(target).model.numParameters()).toBe(model('mlp', 2).numParameters());
  });
});
