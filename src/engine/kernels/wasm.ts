// Kernels backed by hand-written WebAssembly SIMD (build/kernels.wasm, assembled from ./wasm/gemm.wat by
// scripts/build-wasm.mjs). Only gemm is replaced for now: the host copies op(A)/op(B) into linear memory
// (TypedArray.set, i.e. memcpy), WASM packs them into 4-row / 8-column float32 panels and runs a 4×8
// micro-kernel. Computation is float32: Float64Array operands fall back to the exact TypeScript reference
// unless asked otherwise, so float64 gradient checks keep their precision.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Data } from '../nd.js';
import type { Kernels } from './kernels.js';
import { referenceKernels } from './reference.js';

/** What the wasm gemm does with Float64Array operands. */
export type Float64Policy =
  /** Run the reference gemm (exact float64); the default. */
  | 'reference'
  /** Convert to float32 while copying in and compute in float32 (faster, float32 precision). */
  | 'float32';

export interface WasmKernelOptions {
  /** See {@link Float64Policy}. Default 'reference'. */
  float64?: Float64Policy;
  /** Path of the .wasm file; default build/kernels.wasm under the package root. */
  path?: string;
}

interface GemmExports {
  memory: WebAssembly.Memory;
  pack(src: number, rs: number, ks: number, n: number, K: number, dst: number, w: number): void;
  gemm_packed(M: number, N: number, K: number, pA: number, pB: number, pC: number, ldc: number, acc: number): void;
}

const MR = 4; // rows per A panel: must match gemm.wat
const NR = 8; // columns per B panel: must match gemm.wat
const SCRATCH = 256; // bytes [0, 256) hold the kernel's edge tile
const PAGE = 65536;
const MAX_BYTES = 65536 * PAGE - PAGE; // wasm32 limit; byte addresses stay below 2³² for the i32 parameters

/** The directory holding package.json, walking up from this module (src/… under tsx, dist/src/… after tsc). */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** build/kernels.wasm under the package root, or null when no package.json is found above this module. */
function defaultWasmPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, 'build', 'kernels.wasm');
}

/** Round a byte count up to a 64-byte (cache line) boundary (arithmetic, not `&`: counts may pass 2³¹). */
const align = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * Make the gemm function over one instance. Linear memory is reused across calls and only grows, so a
 * call allocates nothing but the few subarray views used to copy.
 */
function makeGemm(ex: GemmExports, float64: Float64Policy): Kernels['gemm'] {
  const memory = ex.memory;
  let f32 = new Float32Array(memory.buffer);

  /**
   * Make linear memory at least `bytes` long; false when it cannot grow that far (wasm32 tops out at 4 GiB,
   * V8 may refuse earlier). memory.grow detaches the old buffer, so the view is re-taken.
   */
  function ensure(bytes: number): boolean {
    const have = memory.buffer.byteLength;
    if (bytes > have) {
      if (bytes > MAX_BYTES) return false;
      try {
        memory.grow(Math.ceil((bytes - have) / PAGE));
      } catch {
        return false;
      }
    }
    if (f32.buffer !== memory.buffer) f32 = new Float32Array(memory.buffer);
    return true;
  }

  /**
   * Copy a rows×cols block stored with leading dimension ld from src[off…] to byte address dst; returns
   * the leading dimension of the copy. One set() over the whole span when the gaps are small, else row
   * by row into a tight block.
   */
  function copyIn(src: Data, off: number, rows: number, cols: number, ld: number, dst: number, byRow: boolean): number {
    const base = dst / 4;
    if (!byRow) {
      f32.set(src.subarray(off, off + (rows - 1) * ld + cols), base);
      return ld;
    }
    for (let r = 0; r < rows; r++) f32.set(src.subarray(off + r * ld, off + r * ld + cols), base + r * cols);
    return cols;
  }

  /** Elements to copy for a rows×cols block with leading dimension ld, and whether to copy it row by row. */
  function span(rows: number, cols: number, ld: number): [number, boolean] {
    const whole = (rows - 1) * ld + cols;
    // Copying the gaps too is one memcpy; worth it unless they would double the bytes moved.
    return whole <= 2 * rows * cols + 1024 ? [whole, false] : [rows * cols, true];
  }

  return function gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    A: Data, aOff: number, lda: number,
    B: Data, bOff: number, ldb: number,
    C: Data, cOff: number, ldc: number,
    accumulate: boolean,
  ): void {
    const anyF64 = A instanceof Float64Array || B instanceof Float64Array || C instanceof Float64Array;
    if ((anyF64 && float64 === 'reference') || M === 0 || N === 0 || K === 0) {
      referenceKernels.gemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
      return;
    }
    // Stored shapes: A is K×M when transposed, else M×K; B is N×K when transposed, else K×N.
    const aRows = transA ? K : M, aCols = transA ? M : K;
    const bRows = transB ? N : K, bCols = transB ? K : N;
    const [aLen, aByRow] = span(aRows, aCols, lda);
    const [bLen, bByRow] = span(bRows, bCols, ldb);
    const Mp = Math.ceil(M / MR) * MR;
    const Np = Math.ceil(N / NR) * NR;
    const aRaw = SCRATCH;
    const bRaw = align(aRaw + aLen * 4);
    const aPack = align(bRaw + bLen * 4);
    const bPack = align(aPack + Mp * K * 4);
    const cBuf = align(bPack + Np * K * 4);
    if (!ensure(cBuf + M * N * 4)) {
      // Too big for one wasm32 memory: still correct, just not fast.
      referenceKernels.gemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
      return;
    }

    const la = copyIn(A, aOff, aRows, aCols, lda, aRaw, aByRow);
    const lb = copyIn(B, bOff, bRows, bCols, ldb, bRaw, bByRow);
    // op(A)[i][k] = raw[i·rs + k·ks]; op(B)[k][j] likewise with j as the panel index.
    if (transA) ex.pack(aRaw, 1, la, M, K, aPack, MR);
    else ex.pack(aRaw, la, 1, M, K, aPack, MR);
    if (transB) ex.pack(bRaw, lb, 1, N, K, bPack, NR);
    else ex.pack(bRaw, 1, lb, N, K, bPack, NR);

    // Accumulating into float32 C happens in WASM (vector adds); into float64 C in JS, to keep C's precision.
    const accInWasm = accumulate && C instanceof Float32Array;
    const cBase = cBuf / 4;
    if (accInWasm) {
      if (ldc === N) f32.set(C.subarray(cOff, cOff + M * N), cBase);
      else for (let r = 0; r < M; r++) f32.set(C.subarray(cOff + r * ldc, cOff + r * ldc + N), cBase + r * N);
    }
    ex.gemm_packed(M, N, K, aPack, bPack, cBuf, N, accInWasm ? 1 : 0);

    if (accumulate && !accInWasm) {
      for (let r = 0; r < M; r++) {
        const o = cOff + r * ldc, s = cBase + r * N;
        for (let c = 0; c < N; c++) C[o + c] += f32[s + c];
      }
    } else if (ldc === N) {
      C.set(f32.subarray(cBase, cBase + M * N), cOff);
    } else {
      for (let r = 0; r < M; r++) C.set(f32.subarray(cBase + r * N, cBase + (r + 1) * N), cOff + r * ldc);
    }
  };
}

/**
 * Load the WebAssembly SIMD kernels, or null when build/kernels.wasm is missing or does not compile
 * (build it with `node scripts/build-wasm.mjs`). Nothing is printed: the caller decides what to say.
 * The wasm gemm computes in float32; see {@link WasmKernelOptions.float64} for Float64Array operands.
 * @example
 *   const wasm = loadWasmKernels();
 *   if (wasm) useKernels(wasm); else console.warn('wasm kernels not built; using TypeScript');
 */
export function loadWasmKernels(options: WasmKernelOptions = {}): Kernels | null {
  const path = options.path ?? defaultWasmPath();
  if (path === null) return null;
  let ex: GemmExports;
  try {
    // A copy into a plain Uint8Array: WebAssembly.Module wants an ArrayBuffer-backed view, not Node's Buffer type.
    const bytes = new Uint8Array(readFileSync(path));
    ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as GemmExports;
  } catch {
    return null; // missing, unreadable or not a valid module
  }
  // A stale build of some other module: refuse it rather than fail on the first gemm.
  if (!(ex.memory instanceof WebAssembly.Memory) || typeof ex.pack !== 'function' || typeof ex.gemm_packed !== 'function') {
    return null;
  }
  return { ...referenceKernels, name: 'wasm-simd', gemm: makeGemm(ex, options.float64 ?? 'reference') };
}
