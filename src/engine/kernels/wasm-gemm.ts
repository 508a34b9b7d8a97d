// The GEMM family of the WebAssembly kernels, host side: copy op(A) and op(B) into linear memory as float32 (unless
// they live there), pack them into 4-row / 8-column panels (wasm/gemm.wat `pack`; an A that is not transposed stays
// as it is: `gemm_rows` reads its rows in place), run the 4×8 micro-kernel (`gemm_packed` / `gemm_rows`; for big
// products `*_shared`, whose threads claim blocks of B panels, pack them and multiply them) and copy C out. Must
// equal referenceKernels.gemm (./reference.ts) within float32 rounding; float64 operands run the reference itself
// unless the Float64Policy says otherwise.
import type { Data } from '../nd.js';
import type { Kernels } from './types.js';
import { referenceKernels } from './reference.js';
import type { Threads } from './thread-pool.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, type LinearMemory } from './wasm-memory.js';

/** What the wasm gemm does with Float64Array operands. */
export type Float64Policy =
  /** Run the reference gemm (exact float64); the default. */
  | 'reference'
  /** Convert to float32 while copying in and compute in float32 (faster, float32 precision). */
  | 'float32';

const MR = 4; // rows per A panel: must match gemm.wat
const NR = 8; // columns per B panel: must match gemm.wat

/** Multiply-adds (M·N·K) from which a GEMM is worth splitting across threads (a dispatch costs microseconds). */
const SPLIT_FLOPS = 1 << 20;
/**
 * Blocks per thread that a threaded product's B panels (and a transposed A's pack) are claimed in: enough that a
 * thread starting late leaves most of its share to the others, few enough that a claim (one atomic add) costs nothing.
 */
const GEMM_BLOCKS = 8;
const PACK_BLOCKS = 4;

let parallelPack = true;
/**
 * Split the packing of a threaded GEMM's transposed A among its threads (default) or not; returns the previous setting.
 * For A/B measurements. (B's panels are always packed by the threads that multiply them.)
 */
export function setParallelPack(on: boolean): boolean {
  const prev = parallelPack;
  parallelPack = on;
  return prev;
}

/**
 * Make the gemm function over one instance.
 * @example
 *   const gemm = makeGemm(ex, mem, 'reference', pool); gemm(false, false, M, N, K, A, 0, K, B, 0, N, C, 0, N, false);
 */
export function makeGemm(ex: WasmExports, mem: LinearMemory, float64: Float64Policy, pool: Threads): Kernels['gemm'] {
  /**
   * Copy a rows×cols block stored with leading dimension ld from src[off…] to byte address dst; returns
   * the leading dimension of the copy. One set() over the whole span when the gaps are small, else row
   * by row into a tight block.
   */
  function copyIn(src: Data, off: number, rows: number, cols: number, ld: number, dst: number, byRow: boolean): number {
    const base = dst / 4;
    const f32 = mem.f32;
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

  /**
   * `pack` of n rows into panels of w, on T threads that claim blocks of whole panels from the counter at byte
   * address ctr (the same bytes for any T, and whichever thread packs a block).
   */
  function pack(src: number, rs: number, ks: number, n: number, K: number, dst: number, w: number, T: number, ctr: number): void {
    const panels = Math.ceil(n / w);
    if (T === 1 || !parallelPack) {
      ex.pack(src, rs, ks, n, K, dst, w);
      return;
    }
    mem.i32[ctr >> 2] = 0;
    const q = Math.ceil(panels / (PACK_BLOCKS * T));
    pool.share('pack_shared', T, () => [ctr, q, src, rs, ks, n, K, dst, w]);
  }

  // C = op(A)·op(B) (or +=), as referenceKernels.gemm
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
    // Big products split their B panels (columns of C) among the threads; each has its own 128-byte edge scratch.
    const T = M * N * K >= SPLIT_FLOPS ? pool.threadsFor(Np / NR) : 1;
    // operands that live in linear memory (the arena) are packed from where they are, C written in place
    const aIn = mem.addressOf(A), bIn = mem.addressOf(B), cIn = mem.outputAddress(C, A, B);
    // op(A) = A row-major (not transposed): the micro-kernel reads its rows where they are (gemm_rows), unpacked
    const rowsA = !transA;
    const at = carve({
      aRaw: aIn < 0 ? aLen : 0, bRaw: bIn < 0 ? bLen : 0, aPack: rowsA ? 0 : Mp * K, bPack: Np * K, c: cIn < 0 ? M * N : 0,
      scratch: 32 * T, counters: 32,
    }, mem.base);
    if (!mem.ensure(at.end)) {
      // Too big for one wasm32 memory: still correct, just not fast.
      referenceKernels.gemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
      return;
    }

    const aSrc = aIn >= 0 ? aIn + 4 * aOff : at.aRaw, bSrc = bIn >= 0 ? bIn + 4 * bOff : at.bRaw;
    const la = aIn >= 0 ? lda : copyIn(A, aOff, aRows, aCols, lda, at.aRaw, aByRow);
    const lb = bIn >= 0 ? ldb : copyIn(B, bOff, bRows, bCols, ldb, at.bRaw, bByRow);
    // op(A)[i][k] = raw[i·rs + k·ks]; op(B)[k][j] likewise with j as the panel index.
    // two counters a cache line apart: A's pack, the product's blocks
    const ctr = at.counters;
    if (transA) pack(aSrc, 1, la, M, K, at.aPack, MR, T, ctr);
    // op(B)[k][j] = raw[j·brs + k·bks]; with threads, each packs the panels it multiplies (below)
    const brs = transB ? lb : 1, bks = transB ? 1 : lb;
    if (T === 1) ex.pack(bSrc, brs, bks, N, K, at.bPack, NR);

    // Accumulating into float32 C happens in WASM (vector adds); into float64 C in JS, to keep C's precision.
    const accInWasm = accumulate && C instanceof Float32Array;
    const cAt = cIn >= 0 ? cIn + 4 * cOff : at.c, cld = cIn >= 0 ? ldc : N;
    const cBase = at.c / 4;
    const f32 = mem.f32;
    if (accInWasm && cIn < 0) {
      if (ldc === N) f32.set(C.subarray(cOff, cOff + M * N), cBase);
      else for (let r = 0; r < M; r++) f32.set(C.subarray(cOff + r * ldc, cOff + r * ldc + N), cBase + r * N);
    }
    const acc = accInWasm ? 1 : 0;
    if (T === 1) {
      if (rowsA) ex.gemm_rows(M, N, K, aSrc, la, at.bPack, cAt, cld, acc, 0);
      else ex.gemm_packed(M, N, K, at.aPack, at.bPack, cAt, cld, acc, 0);
    } else {
      // Every element of C is computed by one thread in the same order: the same bits for any thread count. The
      // threads claim blocks of B panels (columns of C), so one that starts late takes fewer.
      const q = Math.ceil(Np / NR / (GEMM_BLOCKS * T)), c0 = ctr + 64;
      mem.i32[c0 >> 2] = 0;
      pool.share(rowsA ? 'gemm_rows_shared' : 'gemm_packed_shared', T, (t) => {
        const scr = at.scratch + 128 * t;
        return rowsA
          ? [c0, q, M, N, K, aSrc, la, bSrc, brs, bks, at.bPack, cAt, cld, acc, scr]
          : [c0, q, M, N, K, at.aPack, bSrc, brs, bks, at.bPack, cAt, cld, acc, scr];
      });
    }

    if (cIn >= 0) return;
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
 * Whether this gemm rounds a·b + c once (a fused multiply-add) rather than twice, found by running it: with
 * a = 1 + 2⁻¹², a² = 1 + 2⁻¹¹ + 2⁻²⁴ rounds to 1 + 2⁻¹¹ in float32, so a² − (1 + 2⁻¹¹) is 0 unfused and 2⁻²⁴ fused.
 * (The relaxed build still multiplies and adds separately on a CPU without FMA3.)
 * @example
 *   const name = fusesMultiplyAdd(gemm) ? 'wasm-simd-fma' : 'wasm-simd';
 */
export function fusesMultiplyAdd(gemm: Kernels['gemm']): boolean {
  const a = 1 + 2 ** -12;
  const A = new Float32Array([-(1 + 2 ** -11), a]), B = new Float32Array([1, a]), C = new Float32Array(1);
  gemm(false, false, 1, 1, 2, A, 0, 2, B, 0, 1, C, 0, 1, false);
  return C[0] !== 0;
}
