// A safetensors header that names a tensor (or a metadata key, or a field) twice is refused with
// one line naming the key; JSON.parse alone would keep the last entry silently.
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../src/io/safetensors.js';

/** A file from raw header text and a data buffer, the header space-padded to a multiple of 8. */
function build(json: string, data: Uint8Array): Uint8Array {
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const bytes = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);
const decode = (json: string, n: number) => () => decodeSafetensors(build(json, bytes(n)));

describe('safetensors duplicate keys', () => {
  it('two w entries at [0, 8) and [8, 16): refused naming w (not "gap in the data buffer")', () => {
    const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
    expect(decode(json, 4)).toThrow(/^decodeSafetensors: <buffer>: tensor 'w' appears twice in the header$/);
  });

  it('w as F32[2] then F64[1] over the same bytes: refused, not loaded as the last one', () => {
    const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}';
    expect(decode(json, 2)).toThrow(/tensor 'w' appears twice in the header/);
  });

  it('a duplicate key in __metadata__, a duplicate __metadata__, a duplicate field in an entry', () => {
    const t = '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expect(decode(`{"__metadata__":{"k":"1","j":"x","k":"2"},${t}}`, 1)).toThrow(/metadata key 'k' appears twice in '__metadata__'/);
    expect(decode(`{"__metadata__":{"k":"1"},${t},"__metadata__":{"k":"2"}}`, 1)).toThrow(/'__metadata__' appears twice in the header/);
    expect(decode('{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', 1)).toThrow(/field 'dtype' appears twice in tensor 'a'/);
  });

  it('keys that only look alike (escapes, strings holding quotes and braces) are not duplicates', () => {
    const json = '{"__metadata__":{"k":"{\\"k\\": 1}","k2":"a,\\"k\\""},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w\\u0031":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    const f = decodeSafetensors(build(json, bytes(2)));
    expect([...f.tensors.keys()]).toEqual(['w', 'w1']);
    expect(f.metadata).toEqual({ k: '{"k": 1}', k2: 'a,"k"' });
    // an escaped spelling of an existing name is the same name
    const dup = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(decode(dup, 2)).toThrow(/tensor 'w' appears twice in the header/);
  });
});
