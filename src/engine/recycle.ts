// Recycling the large arrays of a computation whose results are known. An attack's inner loop calls the model
// thousands of times on batches of one shape; each call allocates the same activations and gradients afresh, and a
// fresh multi-megabyte array costs page faults and garbage collection on its first writes, more than the
// arithmetic on it (cnn: ∇x 8% and inference 3% of a call, measured by pooling them). Inside `recycling(fn, kept)`,
// every array Tensor.zeros or Tensor.empty allocates is noted; when fn returns, the noted arrays that share no buffer
// with what it returns (`kept`) go to a pool, from which Tensor.zeros takes an array of the same type and length
// (zeroed) before allocating one, and Tensor.empty likewise without zeroing it (for outputs their kernels write in
// full), and so are the fused block's byte arrays of routes (recycledByteArray, zeroed). Only code that knows every
// array that outlives the call may use it: the attacks' gradient and prediction helpers in evaluation mode, and a
// training step of a recyclable objective (train/objective.ts: the optimiser's state, the parameters and batch-norm
// statistics are allocated outside the step and updated in place). A throw releases nothing. Values never change: a
// recycled array is zeroed exactly as a fresh one is, or written in full before it is read.
// When the kernels have an arena (the WebAssembly kernels' linear memory, useArena), float32 and byte arrays inside a
// scope are views of it instead: the kernels then read and write them in place, with no copy in or out per call.
// What a scope drops goes back to the arena; when the outermost scope ends, the kept tensors whose data lives there
// get a copy on the JS heap (Tensor.moveToHeap) and the arena is emptied: nothing outside a scope is a view of it.
import type { Data } from './nd.js';

/** What a scope keeps: a tensor (./tensor.ts), as far as recycling needs it. */
export interface Kept {
  readonly data: Data;
  /** Replace data by a copy on the JS heap (the same values). */
  moveToHeap(): void;
}

/**
 * Memory the kernels read in place (the WebAssembly kernels' linear memory, kernels/wasm-memory.ts): `take` a view of
 * n float32s or bytes (null when it has no room), `release` one back, `reset` frees all, `owns` says whose a view is.
 */
export interface Arena {
  take(kind: 'f32' | 'u8', n: number, zero: boolean): Float32Array | Uint8Array | null;
  /** A zeroed view of n float32s outside any scope, kept until the view is collected (null: none now). */
  lasting(n: number): Float32Array | null;
  release(a: ArrayBufferView): void;
  reset(): void;
  owns(a: ArrayBufferView): boolean;
  /** Whether a is a view of one of the lasting blocks (which outlive every scope). */
  lasts(a: ArrayBufferView): boolean;
}

/** Arrays shorter than this are cheap to allocate and are not pooled. */
const MIN_LENGTH = 1 << 12;
/** The pool holds at most this many bytes; a release beyond it empties the pool first (lengths change over a run). */
const MAX_POOL_BYTES = 128 * 2 ** 20;

/** What the pool holds: float arrays, and the byte arrays of a fused block's routes (ops/conv.ts). */
type Pooled = Data | Uint8Array;
type Kind = 'f32' | 'f64' | 'u8';

const pool = new Map<string, Pooled[]>();
let pooledBytes = 0;
const scopes: Pooled[][] = [];
/** The arena scopes take float32 and byte arrays from (null: none), and the arenas handed out from since the outermost scope began. */
let arena: Arena | null = null;
const arenaOf = new WeakMap<Pooled, Arena>();
const touched = new Set<Arena>();

/**
 * Take float32 and byte arrays inside recycling scopes from this arena (null: from the JS heap); kernels/kernels.ts
 * sets the active kernels' arena. Returns the previous one.
 * @example
 *   const prev = useArena(null); // every array on the JS heap
 */
export function useArena(a: Arena | null): Arena | null {
  const prev = arena;
  arena = a;
  return prev;
}

const keyOf = (kind: Kind, n: number) => `${kind}:${n}`;
const kindOf = (a: Pooled): Kind => (a instanceof Float64Array ? 'f64' : a instanceof Uint8Array ? 'u8' : 'f32');

function take(kind: Kind, n: number, zero: boolean): Pooled | null {
  if (n < MIN_LENGTH) return null;
  if (arena !== null && kind !== 'f64' && scopes.length > 0) {
    const a = arena.take(kind, n, zero);
    if (a !== null) {
      arenaOf.set(a, arena);
      touched.add(arena);
      return a;
    }
  }
  if (pooledBytes === 0) return null;
  const a = pool.get(keyOf(kind, n))?.pop();
  if (a === undefined) return null;
  pooledBytes -= a.byteLength;
  if (zero) a.fill(0);
  return a;
}

/**
 * A pooled array of the type and length, zeroed (with `zero` false: as it was left, for a caller that writes every
 * element before reading any), or null when none waits (then the caller allocates).
 * @example
 *   const a = takeRecycled(false, 1 << 16) ?? new Float32Array(1 << 16);
 */
export function takeRecycled(f64: boolean, n: number, zero = true): Data | null {
  return take(f64 ? 'f64' : 'f32', n, zero) as Data | null;
}

/**
 * A zeroed byte array of length n: a pooled one when one waits, else a fresh one; noted, so inside a recycling scope
 * it goes back to the pool at the scope's end (the fused block's routes: a fresh half-megabyte array per block per
 * step costs page faults on its first writes).
 * @example
 *   const route = recycledByteArray(out.size);
 */
export function recycledByteArray(n: number): Uint8Array {
  const a = (take('u8', n, true) as Uint8Array | null) ?? new Uint8Array(n);
  noteAllocation(a);
  return a;
}

/** Note an array Tensor.zeros or Tensor.empty just handed out: inside a recycling scope it may be pooled at its end. */
export function noteAllocation(a: Pooled): void {
  if (scopes.length > 0 && a.length >= MIN_LENGTH) scopes[scopes.length - 1].push(a);
}

/**
 * Run fn; then pool the arrays Tensor.zeros and Tensor.empty allocated during it, except those sharing memory with
 * `kept(result)` (every tensor the caller may still read; a view keeps the array it views). Scopes nest: what an inner
 * scope keeps belongs to the outer one. When the outermost scope ends, a kept tensor whose data is a view of the
 * arena moves to the JS heap (same values). On a throw nothing is pooled (an outermost scope's arena is emptied).
 * @example
 *   const logits = recycling(() => noGrad(() => model.forward(x)), (z) => [z]);
 */
export function recycling<T>(fn: () => T, kept: (result: T) => readonly Kept[]): T {
  const mine: Pooled[] = [];
  scopes.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    if (scopes.length > 0) scopes[scopes.length - 1].push(...mine);
    else resetArenas();
    throw e;
  }
  scopes.pop();
  const keptTensors = kept(result);
  const keep = new Set<ArrayBufferLike>(keptTensors.map((t) => t.data.buffer));
  const outer = scopes[scopes.length - 1];
  for (const a of mine) {
    const home = arenaOf.get(a);
    if (home === undefined) {
      if (keep.has(a.buffer)) outer?.push(a);
      else release(a);
    } else if (keptTensors.some((t) => home.owns(t.data) && overlaps(t.data, a))) outer?.push(a);
    else home.release(a);
  }
  if (outer === undefined) {
    // a scope's blocks are freed now; a lasting block (a parameter, an optimiser's moment) stays where it is
    for (const t of keptTensors) if (touched.size > 0 && [...touched].some((h) => h.owns(t.data) && !h.lasts(t.data))) t.moveToHeap();
    resetArenas();
  }
  return result;
}

/** Whether two views of one arena share bytes (its views may be on different buffer objects of one memory). */
const overlaps = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;

function resetArenas(): void {
  for (const h of touched) h.reset();
  touched.clear();
}

function release(a: Pooled): void {
  if (a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return; // only whole arrays
  if (pooledBytes + a.byteLength > MAX_POOL_BYTES) {
    pool.clear();
    pooledBytes = 0;
    if (a.byteLength > MAX_POOL_BYTES) return;
  }
  const k = keyOf(kindOf(a), a.length);
  let list = pool.get(k);
  if (list === undefined) pool.set(k, (list = []));
  list.push(a);
  pooledBytes += a.byteLength;
}

/**
 * n zeroed float32s that kernels read and write in place across calls (an optimiser's moments): a lasting view of
 * the active kernels' arena when it has room and no recycling scope is open, else an ordinary array.
 * @example
 *   const m = lastingZeros(w.size);
 */
export function lastingZeros(n: number): Float32Array {
  return lastingBlock(n) ?? new Float32Array(n);
}

/** A zeroed lasting view of n float32s, or null: no arena, a scope open, too short to be worth it, or no room. */
function lastingBlock(n: number): Float32Array | null {
  return scopes.length === 0 && n >= MIN_LENGTH ? arena?.lasting(n) ?? null : null;
}

/**
 * The values of a as an array that kernels read and write in place across calls (a model's float32 parameters): a
 * lasting view of the active kernels' arena holding a copy of them when it has room and no recycling scope is open,
 * else a itself. A lasting block is freed when its view is collected: keep the view (the tensor), not only a
 * subarray of it, for as long as its values are read.
 * @example
 *   const weight = new Tensor(lastingCopy(w.data), w.shape);
 */
export function lastingCopy(a: Float32Array): Float32Array {
  const home = lastingBlock(a.length);
  if (!home) return a;
  home.set(a);
  return home;
}

/** Bytes waiting in the pool (for tests and the memory report). */
export function recycledBytes(): number {
  return pooledBytes;
}
