import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type StTensor,
} from '../../src/io/safetensors.js';

const bytesOf = (a: Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Build a file from a header object (or raw header text) and a data buffer, padding like Python does. */
function build(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function sample(): Map<string, StTensor> {
  // Special values, bit-exact: NaN with a payload, -0, denormals, infinities.
  const f32 = new Float32Array(6);
  const u32 = new Uint32Array(f32.buffer);
  u32.set([0x7fc01234, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0x3f800000]);
  const f64 = new Float64Array([NaN, -0, 5e-324, -Number.MAX_VALUE, Math.PI, -Infinity]);
  new DataView(f64.buffer).setBigUint64(0, 0x7ff8deadbeef0001n, true);
  return new Map<string, StTensor>([
    ['layer.0.weight', { dtype: 'F32', shape: [2, 3], data: f32 }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ['scalar', { dtype: 'F64', shape: [], data: new Float64Array([-1.5]) }],
    ['layer.0.bias', { dtype: 'F64', shape: [6], data: f64 }],
    ['odd', { dtype: 'F32', shape: [1, 1, 3], data: new Float32Array([1, 2, 3]) }],
  ]);
}

function expectSame(got: Map<string, StTensor>, want: Map<string, StTensor>): void {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    expect(g.dtype).toBe(w.dtype);
    expect(g.shape).toEqual(w.shape);
    expect(g.data).toBeInstanceOf(w.dtype === 'F32' ? Float32Array : Float64Array);
    expect(g.data.length).toBe(w.data.length);
    expect(Buffer.from(bytesOf(g.data)).equals(Buffer.from(bytesOf(w.data)))).toBe(true);
  }
}

function headerText(file: Uint8Array): string {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return Buffer.from(file.subarray(8, 8 + n)).toString('utf8');
}

describe('encode/decode round trip', () => {
  it('is bit-exact for F32 and F64, scalars and zero-size tensors, and keeps insertion order', () => {
    const t = sample();
    const file = encodeSafetensors(t);
    const back = decodeSafetensors(file);
    expectSame(back.tensors, t);
    expect(back.metadata).toEqual({});
    expect(headerText(file)).not.toContain('__metadata__');
  });

  it('accepts a plain object of tensors', () => {
    const rec = Object.fromEntries(sample());
    expectSame(decodeSafetensors(encodeSafetensors(rec)).tensors, sample());
  });

  it('pads the header with spaces so the data starts on an 8-byte boundary', () => {
    for (const name of ['a', 'ab', 'abc', 'abcd', 'abcde', 'abcdef', 'abcdefg', 'abcdefgh']) {
      const file = encodeSafetensors({ [name]: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
      const n = Number(new DataView(file.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      expect(file.length).toBe(8 + n + 4);
      const text = headerText(file);
      expect(text.trimEnd().endsWith('}')).toBe(true);
      expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
      JSON.parse(text);
    }
  });

  it('preserves metadata', () => {
    const md = { format: 'pt', note: 'héllo "quoted"\nline', empty: '' };
    const back = decodeSafetensors(encodeSafetensors(sample(), md));
    expect(back.metadata).toEqual(md);
    expectSame(back.tensors, sample());
  });

  it('returns fresh, aligned arrays even from an unaligned Buffer slice', () => {
    const file = encodeSafetensors(sample());
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    const back = decodeSafetensors(big.subarray(3));
    expectSame(back.tensors, sample());
    for (const t of back.tensors.values()) {
      expect(t.data.byteOffset).toBe(0);
      expect(t.data.buffer).not.toBe(big.buffer);
    }
  });
});

describe('files as other writers produce them', () => {
  it('decodes a hand-built file laid out like Python safetensors writes it', () => {
    // Python's safetensors: compact JSON, __metadata__ first, data laid out in a different order than the header.
    const bias = new Float64Array([0.25, -0.5]);
    const weight = new Float32Array([1, 2, 3, 4, 5, 6]);
    const data = new Uint8Array(16 + 24);
    data.set(bytesOf(bias), 0);
    data.set(bytesOf(weight), 16);
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]},' +
      '"fc.bias":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}';
    const file = build(header, data);
    expect((file.length - data.length) % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['fc.bias', 'fc.weight']); // data order
    expect(tensors.get('fc.weight')).toEqual({ dtype: 'F32', shape: [2, 3], data: weight });
    expect(tensors.get('fc.bias')).toEqual({ dtype: 'F64', shape: [2], data: bias });
  });

  it('accepts a zero-size tensor listed after a tensor that starts at the same offset', () => {
    const data = bytesOf(new Float32Array([1, 2]));
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      z: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      y: { dtype: 'F64', shape: [3, 0], data_offsets: [8, 8] },
    };
    const { tensors } = decodeSafetensors(build(header, data));
    expect([...tensors.keys()]).toEqual(['z', 'a', 'y']);
    expect(tensors.get('z')!.data).toEqual(new Float32Array(0));
    expect(tensors.get('y')).toEqual({ dtype: 'F64', shape: [3, 0], data: new Float64Array(0) });
  });

  it('accepts an unpadded header and an empty file with no tensors', () => {
    const data = bytesOf(new Float32Array([7]));
    const file = build({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data, false);
    expect(decodeSafetensors(file).tensors.get('x')!.data[0]).toBe(7);
    const empty = decodeSafetensors(build({}, new Uint8Array(0), false));
    expect(empty.tensors.size).toBe(0);
    expect(decodeSafetensors(encodeSafetensors({})).tensors.size).toBe(0);
  });
});

describe('decode errors', () => {
  const good = () => encodeSafetensors(sample(), { format: 'pt' });
  const err = (buf: Uint8Array) => () => decodeSafetensors(buf, 'model.safetensors');
  const f32 = (n: number) => new Uint8Array(n * 4);

  it('rejects a file cut inside the length prefix', () => {
    for (const cut of [0, 1, 7]) {
      expect(err(good().subarray(0, cut))).toThrow(
        new RegExp(`^decodeSafetensors: model\\.safetensors: file is ${cut} bytes, shorter than the 8-byte`),
      );
    }
  });

  it('rejects a file cut inside the header', () => {
    const file = good();
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    for (const cut of [8, 9, 8 + Math.floor(n / 2), 8 + n - 1]) {
      expect(err(file.subarray(0, cut))).toThrow(new RegExp(`header length ${n} exceeds file size \\(${cut} bytes\\)`));
    }
  });

  it('rejects a file cut inside the data', () => {
    const file = good();
    for (const cut of [file.length - 1, file.length - 4, file.length - 30]) {
      expect(err(file.subarray(0, cut))).toThrow(/tensor '[^']+' data_offsets \[\d+, \d+\] exceed the data buffer \(\d+ bytes\)/);
    }
  });

  it('rejects a header length that lies', () => {
    const file = good();
    const huge = file.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(err(huge)).toThrow(/header length 9223372036854775808 exceeds the 100000000-byte limit/);
    const big = file.slice();
    new DataView(big.buffer).setBigUint64(0, BigInt(file.length - 7), true);
    expect(err(big)).toThrow(new RegExp(`header length ${file.length - 7} exceeds file size \\(${file.length} bytes\\)`));
    const small = file.slice();
    new DataView(small.buffer).setBigUint64(0, 10n, true);
    expect(err(small)).toThrow(/^decodeSafetensors: model\.safetensors: header is not valid JSON \(/);
  });

  it('rejects offsets pointing outside the buffer', () => {
    const file = build({ w: { dtype: 'F32', shape: [400], data_offsets: [0, 1600] } }, f32(300));
    expect(err(file)).toThrow(
      /^decodeSafetensors: model\.safetensors: tensor 'w' data_offsets \[0, 1600\] exceed the data buffer \(1200 bytes\)$/,
    );
    const rev = build({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(2));
    expect(err(rev)).toThrow(/tensor 'w' data_offsets \[8, 4\] begin after they end/);
    const neg = build({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, f32(1));
    expect(err(neg)).toThrow(/tensor 'w' data_offsets must be two non-negative integers, got \[-4,0\]/);
    const three = build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, f32(1));
    expect(err(three)).toThrow(/tensor 'w' data_offsets must be two non-negative integers/);
  });

  it('rejects overlapping offsets', () => {
    const file = build(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      f32(3),
    );
    expect(err(file)).toThrow(/tensor 'b' data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/);
    const same = build(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      },
      f32(2),
    );
    expect(err(same)).toThrow(/overlap tensor/);
  });

  it('rejects a gap between tensors', () => {
    const file = build(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      },
      f32(3),
    );
    expect(err(file)).toThrow(/gap in the data buffer: bytes \[4, 8\) before tensor 'b' belong to no tensor/);
    const lead = build({ b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2));
    expect(err(lead)).toThrow(/gap in the data buffer: bytes \[0, 4\)/);
  });

  it('rejects trailing bytes after the last tensor', () => {
    const file = build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2));
    expect(err(file)).toThrow(/trailing bytes: tensors cover 4 of the 8-byte data buffer/);
    const extra = new Uint8Array(good().length + 1);
    extra.set(good());
    expect(err(extra)).toThrow(/trailing bytes/);
    expect(err(build({}, f32(1)))).toThrow(/trailing bytes: tensors cover 0 of the 4-byte data buffer/);
  });

  it('rejects a size mismatch between shape and offsets', () => {
    const file = build({ a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, f32(5));
    expect(err(file)).toThrow(/tensor 'a' shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] span 20/);
    const f64 = build({ a: { dtype: 'F64', shape: [3], data_offsets: [0, 12] } }, f32(3));
    expect(err(f64)).toThrow(/tensor 'a' shape \[3\] of F64 needs 24 bytes/);
    const huge = build({ a: { dtype: 'F64', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32(2));
    expect(err(huge)).toThrow(/tensor 'a' shape .* needs .* bytes but data_offsets \[0, 8\] span 8/);
  });

  it('rejects malformed shapes', () => {
    for (const shape of [[-1], [1.5], ['2'], 3, null]) {
      const file = build({ a: { dtype: 'F32', shape, data_offsets: [0, 4] } }, f32(1));
      expect(err(file)).toThrow(/tensor 'a' shape must be an array of non-negative integers/);
    }
    const missing = build({ a: { dtype: 'F32', data_offsets: [0, 4] } }, f32(1));
    expect(err(missing)).toThrow(/tensor 'a' shape must be an array of non-negative integers, got nothing/);
  });

  it('rejects unsupported dtypes, naming the dtype and tensor', () => {
    for (const dtype of ['F16', 'BF16', 'I64', 'f32']) {
      const file = build({ 'emb.weight': { dtype, shape: [2], data_offsets: [0, 4] } }, f32(1));
      expect(err(file)).toThrow(new RegExp(`tensor 'emb\\.weight' has unsupported dtype '${dtype}' \\(supported: F32, F64\\)`));
    }
    const num = build({ a: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, f32(1));
    expect(err(num)).toThrow(/tensor 'a' dtype must be a string/);
  });

  it('rejects a non-JSON header, a non-object header, bad UTF-8 and bad entries', () => {
    expect(err(build('{"a": {', f32(0)))).toThrow(/^decodeSafetensors: model\.safetensors: header is not valid JSON \([^\n]*\)$/);
    expect(err(build('not json at all', f32(0)))).toThrow(/header is not valid JSON/);
    expect(err(build('[1, 2]', f32(0)))).toThrow(/header is not a JSON object/);
    expect(err(build('null', f32(0)))).toThrow(/header is not a JSON object/);
    const bad = build('{"\u00e9":1}', f32(0));
    bad[10] = 0xff; // break the UTF-8 sequence of é
    expect(err(bad)).toThrow(/header is not valid UTF-8/);
    expect(err(build({ a: 5 }, f32(0)))).toThrow(/tensor 'a' entry is not an object/);
    const extraKey = build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], foo: 1 } }, f32(1));
    expect(err(extraKey)).toThrow(/tensor 'a' has unknown field 'foo'/);
  });

  it('rejects bad metadata', () => {
    expect(err(build({ __metadata__: [1] }, f32(0)))).toThrow(/'__metadata__' must be an object of strings/);
    expect(err(build({ __metadata__: 'x' }, f32(0)))).toThrow(/'__metadata__' must be an object of strings/);
    expect(err(build({ __metadata__: { epoch: 3 } }, f32(0)))).toThrow(/metadata 'epoch' must be a string, got number/);
  });

  it('keeps messages on one line even for odd tensor names', () => {
    const file = build({ 'a\nb': { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(err(file)).toThrow(/^[^\n]*tensor 'a\\u000ab' has unsupported dtype 'F16'[^\n]*$/);
  });
});

describe('encode errors', () => {
  it('rejects data whose length does not match the shape, naming the tensor', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /^encodeSafetensors: <buffer>: tensor 'w' shape \[2, 2\] has 4 elements but data has 3$/,
    );
  });

  it('rejects dtype/data mismatches, bad shapes, bad metadata and the reserved name', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float64Array(1) } })).toThrow(
      /tensor 'w' has dtype F32 but its data is not a Float32Array/,
    );
    const f16 = { dtype: 'F16', shape: [1], data: new Float32Array(1) } as unknown as StTensor;
    expect(() => encodeSafetensors({ h: f16 })).toThrow(/tensor 'h' has unsupported dtype 'F16'/);
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } })).toThrow(
      /tensor 'w' shape must be an array of non-negative integers/,
    );
    const md = { epoch: 3 } as unknown as Record<string, string>;
    expect(() => encodeSafetensors({}, md)).toThrow(/metadata 'epoch' must be a string, got number/);
    const t: StTensor = { dtype: 'F32', shape: [], data: new Float32Array(1) };
    expect(() => encodeSafetensors(new Map([['__metadata__', t]]))).toThrow(/'__metadata__' is reserved/);
  });
});

describe('readSafetensors / writeSafetensors', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nablax-st-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips through a file and leaves no temp files', () => {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, sample(), { format: 'pt' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(encodeSafetensors(sample(), { format: 'pt' })))).toBe(true);
    const back = readSafetensors(path);
    expectSame(back.tensors, sample());
    expect(back.metadata).toEqual({ format: 'pt' });
    // Overwrite in place.
    writeSafetensors(path, { x: { dtype: 'F64', shape: [], data: new Float64Array([2]) } });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect([...readSafetensors(path).tensors.keys()]).toEqual(['x']);
  });

  it('is atomic: a failed final rename throws and leaves no temp file', () => {
    const target = join(dir, 'model.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'x');
    expect(() => writeSafetensors(target, sample())).toThrow(/^writeSafetensors: .*model\.safetensors: cannot write \(/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(false);
    expect(statSync(target).isDirectory()).toBe(true);
  });

  it('reports encode errors with the path and writes nothing', () => {
    const path = join(dir, 'bad.safetensors');
    expect(() => writeSafetensors(path, { w: { dtype: 'F32', shape: [2], data: new Float32Array(1) } })).toThrow(
      new RegExp(`^writeSafetensors: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: tensor 'w' shape \\[2\\] has 2 elements`),
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports a missing file and names the path in decode errors', () => {
    const path = join(dir, 'nope.safetensors');
    expect(() => readSafetensors(path)).toThrow(`readSafetensors: no such file: ${path}`);
    const trunc = join(dir, 'trunc.safetensors');
    writeFileSync(trunc, Buffer.from([1, 2, 3]));
    expect(() => readSafetensors(trunc)).toThrow(`readSafetensors: ${trunc}: file is 3 bytes, shorter than the 8-byte header length prefix`);
    expect(() => readSafetensors(dir)).toThrow(/^readSafetensors: .*: cannot read \(EISDIR/);
  });
});
