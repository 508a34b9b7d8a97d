// The WebAssembly kernels' linear memory, seen from the host: float32/int32/byte views that follow memory.grow, and
// named layouts (each call's regions carved one after another, cache-line aligned) instead of positional offsets.
// Bytes [0, SCRATCH) are the main thread's scratch (the GEMM's edge tile); every layout starts after them.
// Memory is shared with the worker threads (./threads.ts) and only grows, to the largest problem seen.
import type { Data } from '../nd.js';

/** Bytes [0, SCRATCH) hold the main thread's edge tile (wasm/gemm.wat). */
export const SCRATCH = 256;
const PAGE = 65536;
const MAX_BYTES = 65536 * PAGE - PAGE; // wasm32 limit; byte addresses stay below 2³² for the i32 parameters

/** Round a byte count up to a 64-byte (cache line) boundary (arithmetic, not `&`: counts may pass 2³¹). */
export const align = (n: number): number => Math.ceil(n / 64) * 64;

/** Whether every operand is float32 (null: absent), the only type the WebAssembly kernels compute in. */
export const isF32 = (...arrays: (Data | null)[]): boolean => arrays.every((a) => a === null || a instanceof Float32Array);

/**
 * Linear memory of one instance with float32/int32/byte views. It is reused across calls and only grows, so a call
 * allocates nothing but the few subarray views used to copy.
 */
export class LinearMemory {
  f32: Float32Array;
  i32: Int32Array;
  u8: Uint8Array;
  constructor(readonly memory: WebAssembly.Memory) {
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.u8 = new Uint8Array(memory.buffer);
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
