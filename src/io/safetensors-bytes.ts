// safetensors encoder/decoder (F32 and F64 only), following the format spec at
// https://github.com/huggingface/safetensors: an 8-byte little-endian u64 header length N, then N bytes of
// UTF-8 JSON mapping tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte buffer that follows) plus an optional "__metadata__" object of strings, then the byte buffer itself.
// The header is space-padded so that 8 + N is a multiple of 8; tensors tile the buffer with no holes or overlaps.
// This file is the codec on bytes (no Node API, so the browser lab uses it too); ./safetensors.ts adds files.

export type StDType = 'F32' | 'F64';

export interface StTensor {
  dtype: StDType;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

/** Tensors by name, as a Map or a plain record. */
export type TensorInput = Map<string, StTensor> | Record<string, StTensor>;

/** Largest header accepted, as in the reference Rust implementation (MAX_HEADER_SIZE). */
const MAX_HEADER = 100_000_000;
const ITEMSIZE: Record<StDType, number> = { F32: 4, F64: 8 };
/** Sizes of the other safetensors dtypes: a tensor a caller skips (e.g. PyTorch's I64 num_batches_tracked) may have one. */
const OTHER_ITEMSIZE: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, I64: 8, U64: 8 };

/** Options of the safetensors readers. */
export interface DecodeOptions {
  /** Tensors to leave out of the result (their offsets are still checked); they may have any safetensors dtype. */
  skip?: (name: string) => boolean;
}
/** Whether typed arrays are little-endian here (the byte order of 1 as a uint16); no Node API, so browsers too. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Quote a tensor or metadata name for a one-line error message. */
function q(name: string): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  return `'${name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

/** Whitespace runs collapsed to one space: an error message stays one line. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Element count of `shape`; 0 if any dimension is 0, possibly non-finite / unsafe for absurd shapes. */
function numel(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Little-endian bytes of `data`: a view on little-endian machines, a converted copy otherwise. */
function leBytes(data: Float32Array | Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  if (data instanceof Float32Array) for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  else for (let i = 0; i < data.length; i++) dv.setFloat64(i * 8, data[i], true);
  return out;
}

/** Header + prefix bytes and the per-tensor data chunks, in order; shared by encode and write. */
export function encodeParts(fn: string, where: string, tensors: TensorInput, metadata: Record<string, string> | undefined): Uint8Array[] {
  const fail = (msg: string): never => {
    throw new Error(`${fn}: ${where}: ${msg}`);
  };
  const entries: [string, StTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const fields: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail('metadata must be an object of strings');
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata ${q(k)} must be a string, got ${typeof v}`);
    }
    if (Object.keys(metadata).length > 0) fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') fail(`tensor name '__metadata__' is reserved for metadata`);
    if (!isPlainObject(t)) fail(`tensor ${q(name)} is not an object`);
    const { dtype, shape, data } = t;
    if (dtype !== 'F32' && dtype !== 'F64') fail(`tensor ${q(name)} has unsupported dtype ${q(String(dtype))} (supported: F32, F64)`);
    const want = dtype === 'F32' ? Float32Array : Float64Array;
    if (!(data instanceof want)) fail(`tensor ${q(name)} has dtype ${dtype} but its data is not a ${want.name}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${q(name)} shape must be an array of non-negative integers, got ${oneLine(JSON.stringify(shape) ?? String(shape))}`);
    }
    const n = numel(shape);
    if (n !== data.length) fail(`tensor ${q(name)} shape [${shape.join(', ')}] has ${n} elements but data has ${data.length}`);
    const bytes = leBytes(data);
    const end = offset + bytes.byteLength;
    fields.push(`${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    chunks.push(bytes);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const pad = (8 - (json.byteLength % 8)) % 8;
  const head = new Uint8Array(8 + json.byteLength + pad);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.byteLength + pad), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.byteLength);
  return [head, ...chunks];
}

/**
 * Serialize tensors (in insertion order) and optional string metadata to safetensors bytes.
 * @example
 *   const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
 *   decodeSafetensors(bytes).tensors.get('w')!.data; // Float32Array [1, 2]
 */
export function encodeSafetensors(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array {
  const parts = encodeParts('encodeSafetensors', '<buffer>', tensors, metadata);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * The first key that appears twice in one object of a valid JSON text, with the keys leading to that object
 * (outermost first), as [key, ...path]; null if every object's keys are distinct.
 */
function duplicateKey(text: string): string[] | null {
  // one frame per open object (its keys, whether a key comes next, and its path) or array (null)
  const stack: ({ keys: Set<string>; expectKey: boolean; path: string[] } | null)[] = [];
  let lastKey: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const top = stack.length ? stack[stack.length - 1] : null;
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return [key, ...top.path];
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (ch === '{') {
      const parentPath = top ? top.path : [];
      stack.push({ keys: new Set(), expectKey: true, path: stack.length && top && lastKey !== null ? [...parentPath, lastKey] : [] });
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',' && top) {
      top.expectKey = true;
    }
  }
  return null;
}

export function decode(fn: string, where: string, buf: Uint8Array, opts: DecodeOptions = {}): StFile {
  const fail = (msg: string): never => {
    throw new Error(`${fn}: ${where}: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`file is ${buf.byteLength} bytes, shorter than the 8-byte header length prefix`);
  const n64 = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} exceeds the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (n > buf.byteLength - 8) fail(`header length ${n} exceeds file size (${buf.byteLength} bytes)`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${oneLine((e as Error).message).slice(0, 200)})`);
  }
  if (!isPlainObject(header)) fail(`header is not a JSON object`);
  const hdr = header as Record<string, unknown>;
  // JSON.parse keeps the last of two equal keys silently; a header that names a tensor twice is ambiguous.
  const dup = duplicateKey(text);
  if (dup) {
    const [key, ...path] = dup;
    fail(path.length === 0
      ? (key === '__metadata__' ? `'__metadata__' appears twice in the header` : `tensor ${q(key)} appears twice in the header`)
      : path[0] === '__metadata__' && path.length === 1
        ? `metadata key ${q(key)} appears twice in '__metadata__'`
        : `field ${q(key)} appears twice in ${path[0] === '__metadata__' ? "'__metadata__'" : `tensor ${q(path[0])}`}`);
  }

  const metadata: Record<string, string> = {};
  if ('__metadata__' in hdr) {
    const md = hdr['__metadata__'];
    if (!isPlainObject(md)) fail(`'__metadata__' must be an object of strings`);
    for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`metadata ${q(k)} must be a string, got ${v === null ? 'null' : typeof v}`);
      metadata[k] = v as string;
    }
  }

  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  interface Entry { name: string; dtype: StDType; shape: number[]; begin: number; end: number; count: number; skip: boolean }
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(hdr)) {
    if (name === '__metadata__') continue;
    if (!isPlainObject(raw)) fail(`tensor ${q(name)} entry is not an object`);
    const info = raw as Record<string, unknown>;
    for (const key of Object.keys(info)) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') fail(`tensor ${q(name)} has unknown field ${q(key)}`);
    }
    const dtype = info['dtype'];
    if (typeof dtype !== 'string') fail(`tensor ${q(name)} dtype must be a string`);
    const skip = opts.skip?.(name) === true;
    const size = dtype === 'F32' || dtype === 'F64' ? ITEMSIZE[dtype] : skip ? OTHER_ITEMSIZE[dtype as string] : undefined;
    if (size === undefined) fail(`tensor ${q(name)} has unsupported dtype ${q(dtype as string)} (supported: F32, F64)`);
    const shape = info['shape'];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${q(name)} shape must be an array of non-negative integers, got ${oneLine(JSON.stringify(shape) ?? 'nothing').slice(0, 100)}`);
    }
    const offs = info['data_offsets'];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor ${q(name)} data_offsets must be two non-negative integers, got ${oneLine(JSON.stringify(offs) ?? 'nothing').slice(0, 100)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`tensor ${q(name)} data_offsets [${begin}, ${end}] begin after they end`);
    if (end > dataLen) fail(`tensor ${q(name)} data_offsets [${begin}, ${end}] exceed the data buffer (${dataLen} bytes)`);
    const dims = shape as number[];
    const count = numel(dims);
    const need = count * size!;
    if (need !== end - begin) {
      fail(`tensor ${q(name)} shape [${dims.join(', ')}] of ${dtype as string} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as StDType, shape: [...dims], begin, end, count, skip });
  }

  // Tensors must tile [0, dataLen) exactly. A stable sort keeps header order among zero-size tensors.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    if (e.begin < pos) fail(`tensor ${q(e.name)} data_offsets [${e.begin}, ${e.end}] overlap tensor ${q(prev!.name)} [${prev!.begin}, ${prev!.end}]`);
    if (e.begin > pos) fail(`gap in the data buffer: bytes [${pos}, ${e.begin}) before tensor ${q(e.name)} belong to no tensor`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) fail(`trailing bytes: tensors cover ${pos} of the ${dataLen}-byte data buffer`);

  const tensors = new Map<string, StTensor>();
  for (const e of entries) {
    if (e.skip) continue;
    const data = e.dtype === 'F32' ? new Float32Array(e.count) : new Float64Array(e.count);
    const src = buf.subarray(dataStart + e.begin, dataStart + e.end);
    if (LITTLE_ENDIAN) {
      new Uint8Array(data.buffer).set(src);
    } else {
      const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
      const size = ITEMSIZE[e.dtype];
      for (let i = 0; i < e.count; i++) data[i] = size === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * Parse and fully validate safetensors bytes; tensor data is copied into fresh, aligned typed arrays.
 * @example
 *   const { tensors, metadata } = decodeSafetensors(readFileSync('model.safetensors'));
 *   const w = tensors.get('0.weight'); // { dtype: 'F32', shape: [...], data: Float32Array }
 */
export function decodeSafetensors(buf: Uint8Array, where = '<buffer>', opts: DecodeOptions = {}): StFile {
  return decode('decodeSafetensors', where, buf, opts);
}
