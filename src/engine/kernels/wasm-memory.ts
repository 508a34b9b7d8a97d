// The WebAssembly kernels' linear memory, seen from the host: float32/int32/byte views that follow memory.grow, and
// named layouts (each call's regions carved one after another, cache-line aligned) instead of positional offsets.
// Bytes [0, SCRATCH) are the main thread's scratch (the GEMM's edge tile). Then the arena: blocks that hold tensors'
// data between calls, so a kernel reads its operands where the previous op wrote them instead of copying them in and
// out: first the lasting blocks (a model's parameters, an optimiser's state; freed when their view is collected),
// then the scope's blocks (inside a recycling scope, engine/recycle.ts hands out views of them as op outputs; all
// freed when it ends). Each call's work layout starts after the arena's blocks (`base`). Memory is shared with the
// worker threads (./threads.ts) and only grows, to the largest problem seen; views of a shared memory stay valid when
// it grows.
import type { Data } from '../nd.js';
import type { Arena } from '../recycle.js';

/** Bytes [0, SCRATCH) hold the main thread's edge tile (wasm/gemm.wat). */
export const SCRATCH = 256;
const PAGE = 65536;
const MAX_BYTES = 65536 * PAGE - PAGE; // wasm32 limit; byte addresses stay below 2³² for the i32 parameters
/** The arena's blocks end below this byte: beyond it op outputs are ordinary arrays (linear memory never shrinks). */
const ARENA_MAX = 2 ** 30;
/**
 * The lasting blocks end below this byte: they are freed only when the garbage collector finalises their views, so
 * many optimisers made in a tight loop would otherwise fill the arena before a collection runs; beyond it an
 * optimiser's state or a model's parameter is an ordinary array.
 */
const LASTING_MAX = 2 ** 28;

/** Round a byte count up to a 64-byte (cache line) boundary (arithmetic, not `&`: counts may pass 2³¹). */
export const align = (n: number): number => Math.ceil(n / 64) * 64;

/** Whether every operand is float32 (null: absent), the only type the WebAssembly kernels compute in. */
export const isF32 = (...arrays: (Data | null)[]): boolean => arrays.every((a) => a === null || a instanceof Float32Array);

/**
 * Linear memory of one instance with float32/int32/byte views. It is reused across calls and only grows, so a call
 * allocates nothing but the few subarray views used to copy. As an {@link Arena} it hands out float32 and byte
 * views of blocks after the scratch bytes: a freed block waits for a request of its size, `reset` frees them all.
 */
export class LinearMemory implements Arena {
  f32: Float32Array;
  i32: Int32Array;
  u8: Uint8Array;
  /** First byte after the arena's blocks: each call's work layout starts here. */
  base = SCRATCH;
  /** First byte after the lasting blocks: the scope's blocks start here. */
  #lastingEnd = SCRATCH;
  /** Freed blocks by byte length: the scope's, and the lasting ones whose views were collected. */
  readonly #free = new Map<number, number[]>();
  readonly #lastingFree = new Map<number, number[]>();
  readonly #collected = new FinalizationRegistry<[number, number]>(([at, bytes]) => push(this.#lastingFree, bytes, at));
  /** The buffers the arena's views were made on (a shared memory's buffer object changes as it grows). */
  readonly #mine = new WeakSet<ArrayBufferLike>();
  /** Whether views stay valid when memory grows (a shared memory): else there is no arena. */
  readonly #shared: boolean;
  constructor(readonly memory: WebAssembly.Memory) {
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.u8 = new Uint8Array(memory.buffer);
    this.#shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  }

  /** A view of a block of n float32s ('f32') or bytes ('u8'), zeroed when asked; null when the arena is full. */
  take(kind: 'f32' | 'u8', n: number, zero: boolean): Float32Array | Uint8Array | null {
    if (!this.#shared) return null;
    const bytes = align(kind === 'f32' ? 4 * n : n);
    let at = this.#free.get(bytes)?.pop();
    if (at === undefined) {
      if (this.base + bytes > ARENA_MAX || !this.ensure(this.base + bytes)) return null;
      at = this.base;
      this.base += bytes;
    }
    const buffer = this.f32.buffer;
    this.#mine.add(buffer);
    const a = kind === 'f32' ? new Float32Array(buffer, at, n) : new Uint8Array(buffer, at, n);
    if (zero) zeroShared(a);
    return a;
  }

  /** Give a view's block back (a view `take` returned). */
  release(a: ArrayBufferView): void {
    push(this.#free, align(a.byteLength), a.byteOffset);
  }

  /** Free every block `take` handed out: those views must no longer be read (their bytes become work space). */
  reset(): void {
    this.base = this.#lastingEnd;
    this.#free.clear();
  }

  /**
   * A zeroed view of n float32s that lasts until the view is garbage-collected (a model's parameters, an optimiser's moments), or null
   * when the arena cannot place one now: while a scope's blocks are live above the lasting ones, or when the lasting
   * region is full (256 MiB).
   */
  lasting(n: number): Float32Array | null {
    if (!this.#shared || this.base !== this.#lastingEnd || n === 0) return null;
    const bytes = align(4 * n);
    let at = this.#lastingFree.get(bytes)?.pop();
    if (at === undefined) {
      if (this.base + bytes > LASTING_MAX || !this.ensure(this.base + bytes)) return null;
      at = this.base;
      this.base = this.#lastingEnd = this.base + bytes;
    }
    const buffer = this.f32.buffer;
    this.#mine.add(buffer);
    const a = new Float32Array(buffer, at, n);
    zeroShared(a);
    this.#collected.register(a, [at, bytes]);
    return a;
  }

  /** Whether a is a view of this memory's arena. */
  owns(a: ArrayBufferView): boolean {
    return this.#mine.has(a.buffer);
  }

  /** Whether a is a view of a lasting block (below the scope's blocks). */
  lasts(a: ArrayBufferView): boolean {
    return this.owns(a) && a.byteOffset < this.#lastingEnd;
  }

  /**
   * The byte address of a's first element when a lives in this memory (a kernel then reads or writes it in place),
   * else -1 (the caller copies it in or out). Null → -1.
   * @example
   *   const ax = mem.addressOf(x); if (ax < 0) mem.f32.set(x, at.x / 4);
   */
  addressOf(a: ArrayBufferView | null): number {
    return a !== null && this.#mine.has(a.buffer) ? a.byteOffset : -1;
  }

  /**
   * As addressOf, for an output a kernel writes in place: -1 also when it shares bytes with one of the inputs that
   * live here (the kernels read their inputs while they write; a copy keeps them apart).
   * @example
   *   const ay = mem.outputAddress(y, x); // write y in place unless it overlaps x
   */
  outputAddress(out: ArrayBufferView | null, ...inputs: (ArrayBufferView | null)[]): number {
    const at = this.addressOf(out);
    if (at < 0) return -1;
    const end = at + out!.byteLength;
    for (const a of inputs) {
      const b = this.addressOf(a);
      if (b >= 0 && b < end && at < b + a!.byteLength) return -1;
    }
    return at;
  }
  /**
   * Make linear memory at least `bytes` long; false when it cannot grow that far (wasm32 tops out at 4 GiB,
   * V8 may refuse earlier). memory.grow detaches the old buffer, so the views are re-taken.
   */
  ensure(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      if (bytes > MAX_BYTES) return false;
      try {
        this.memory.grow(Math.ceil((bytes - have) / PAGE));
      } catch {
        return false;
      }
    }
    // (compare lengths: a shared memory's buffer getter may hand out a new SharedArrayBuffer object each time)
    if (this.f32.byteLength !== this.memory.buffer.byteLength) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
      this.u8 = new Uint8Array(this.memory.buffer);
    }
    return true;
  }
}

/** Zeros to copy from: V8's fill() on a view of shared memory runs at a tenth of set()'s speed. */
const ZEROS = new Uint8Array(1 << 18);

/** Zero a view of shared memory by copies of ZEROS (its bytes, whatever its type). */
function zeroShared(a: Float32Array | Uint8Array): void {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < bytes.length; i += ZEROS.length) bytes.set(i + ZEROS.length <= bytes.length ? ZEROS : ZEROS.subarray(0, bytes.length - i), i);
}

function push(lists: Map<number, number[]>, bytes: number, at: number): void {
  let list = lists.get(bytes);
  if (list === undefined) lists.set(bytes, (list = []));
  list.push(at);
}

/** Byte addresses of a layout's named regions, and `end`, the first byte after the last one. */
export type Layout<K extends string> = Record<K, number> & { end: number };

/**
 * Lay out named regions of the given float32 counts (4 bytes each; a byte region counts ⌈bytes/4⌉) one after
 * another from byte `start`, each on a cache line; a count of 0 takes no room (its address is the next region's).
 * @example
 *   const at = carve({ x: 784 * 32, out: 10 * 32 }); // at.x = 256, at.out = 256 + 100352, at.end = at.out + 1280
 *   mem.ensure(at.end);
 */
export function carve<K extends string>(floats: Readonly<Record<K, number>>, start = SCRATCH): Layout<K> {
  const at = {} as Record<string, number>;
  let end = start;
  for (const name of Object.keys(floats) as K[]) {
    at[name] = end;
    end = align(end + floats[name] * 4);
  }
  at.end = end;
  return at as Layout<K>;
}

/**
 * `threads` copies of one layout, one after another from `start` (each thread's own work buffers), and the end.
 * @example
 *   const work = carveEach({ cols: 4096, scratch: 32 }, 2, shared.end); // work.at[1].cols, work.end
 */
export function carveEach<K extends string>(floats: Readonly<Record<K, number>>, threads: number, start: number): { at: Layout<K>[]; end: number } {
  const at: Layout<K>[] = [];
  let end = start;
  for (let t = 0; t < threads; t++) {
    at.push(carve(floats, end));
    end = at[t].end;
  }
  return { at, end };
}
