// Kernels backed by hand-written WebAssembly SIMD (build/kernels-fma.wasm or build/kernels.wasm, assembled from
// ./wasm/gemm.wat and ./wasm/nn.wat by scripts/build-wasm.mjs). The host copies operands into linear memory
// (TypedArray.set, i.e. memcpy), WASM does the work, the host copies the result out.
// - gemm: WASM packs op(A)/op(B) into 4-row / 8-column float32 panels and runs a 4×8 micro-kernel, with fused
//   multiply-adds (relaxed-simd) where this Node can run them, else the portable unfused build.
// - conv2d (stride 1): a chunk of images at a time, im2col into one wide matrix [C·KH·KW, n·L], so each chunk is
//   one large GEMM instead of n small ones (unpadded with an output width that is a multiple of 8: an implicit
//   GEMM that reads the images themselves), then the [OC, n, L] result is permuted to NCHW with the bias added, or
//   bias, ReLU and 2×2 pooling in one pass for the fused block. Backward likewise: dW = dY·colsᵀ and
//   dCols = Wᵀ·dY over the chunk, col2im per image. Threads claim chunks from a shared counter; weight gradients
//   are summed per chunk in chunk order (reproducible bits for any thread count). A padded forward (madry) runs as
//   the implicit GEMM over images widened in linear memory when that wastes little (see wideGeometry).
// - peak_fma: the machine's multiply-add ceiling on every thread, for `nablax bench` (peakGflops).
// - ReLU and 2×2 max pooling: vector loops over cache-sized chunks.
// Computation is float32: Float64Array operands fall back to the exact TypeScript reference (unless asked
// otherwise, for gemm), so float64 gradient checks keep their precision.
// No Node API here (the browser lab instantiates these kernels from fetched bytes): finding and reading the
// build, setting V8 flags and starting worker threads are in ./wasm-node.ts.
import type { Data } from '../nd.js';
import type { Kernels, Window2d } from './types.js';
import { referenceKernels } from './reference.js';
import { splitRange } from './split-range.js';

/**
 * A pool of worker threads over the kernels' shared memory, as the kernels drive it: Node's KernelThreads
 * (./threads.ts, worker_threads) or the browser lab's Web Worker twin (lab/src/platform/threads.browser.ts).
 */
export interface KernelThreadPool {
  readonly count: number;
  /** Start `names[fn](...args)` on thread t ≥ 1 and return at once. */
  start(t: number, fn: number, args: number[]): void;
  /** Wait for every started call; throws if one failed. */
  join(): void;
  close(): void;
}

/** What the wasm gemm does with Float64Array operands. */
export type Float64Policy =
  /** Run the reference gemm (exact float64); the default. */
  | 'reference'
  /** Convert to float32 while copying in and compute in float32 (faster, float32 precision). */
  | 'float32';

export interface WasmKernelOptions {
  /** See {@link Float64Policy}. Default 'reference'. */
  float64?: Float64Policy;
  /**
   * Use the GEMM with fused multiply-adds (build/kernels-fma.wasm) when this Node can run relaxed-simd: 1.4–1.7×
   * faster GEMMs, results within float32 rounding of the unfused ones. false: the portable build/kernels.wasm,
   * whose results are the same bits on every CPU. Default: true unless the environment sets NABLAX_FMA=0.
   */
  fma?: boolean;
  /** Path of the .wasm file to load (either build); default as chosen by `fma`, under the package root. */
  path?: string;
  /** Threads for the convolution kernels (default: {@link defaultThreads}). */
  threads?: number;
}

interface WasmExports {
  memory: WebAssembly.Memory;
  pack(src: number, rs: number, ks: number, n: number, K: number, dst: number, w: number): void;
  gemm_packed(M: number, N: number, K: number, pA: number, pB: number, pC: number, ldc: number, acc: number, scr: number): void;
  zero_f32(dst: number, n: number): void;
  add_f32(dst: number, src: number, n: number): void;
  relu_fwd(x: number, out: number, n: number): void;
  relu_bwd(g: number, x: number, dx: number, n: number): void;
  maxpool2_fwd(x: number, NC: number, H: number, W: number, OH: number, OW: number, out: number, arg: number, base: number): void;
  maxpool_bwd(g: number, arg: number, n: number, dx: number): void;
  conv_fwd(...args: number[]): void;
  conv_bwd(...args: number[]): void;
  peak_fma(iters: number, out: number): void;
  copy2d(src: number, srcRow: number, srcPlane: number, dst: number, dstRow: number, dstPlane: number, planes: number, rows: number, cols: number): void;
}

const exportNames: (keyof WasmExports)[] = [
  'pack', 'gemm_packed', 'zero_f32', 'add_f32', 'relu_fwd', 'relu_bwd', 'maxpool2_fwd', 'maxpool_bwd', 'conv_fwd', 'conv_bwd', 'peak_fma', 'copy2d',
];

const MR = 4; // rows per A panel: must match gemm.wat
const NR = 8; // columns per B panel: must match gemm.wat
const SCRATCH = 256; // bytes [0, 256) hold the kernel's edge tile
const PAGE = 65536;
const MAX_BYTES = 65536 * PAGE - PAGE; // wasm32 limit; byte addresses stay below 2³² for the i32 parameters

/** Round a byte count up to a 64-byte (cache line) boundary (arithmetic, not `&`: counts may pass 2³¹). */
const align = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * Linear memory of one instance with float32/int32 views. It is reused across calls and only grows, so a call
 * allocates nothing but the few subarray views used to copy.
 */
class LinearMemory {
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

/** Byte offsets of consecutive float32 regions of the given lengths, from SCRATCH, each cache-line aligned; the last entry is the end. */
function layout(...lengths: number[]): number[] {
  const at = [SCRATCH];
  for (const n of lengths) at.push(align(at[at.length - 1] + n * 4));
  return at;
}

/**
 * Make the gemm function over one instance.
 */
function makeGemm(ex: WasmExports, mem: LinearMemory, float64: Float64Policy, pool: Threads): Kernels['gemm'] {
  const ensure = (bytes: number) => mem.ensure(bytes);

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
    // Big products split their B panels (columns of C) among the threads; each has its own 128-byte edge scratch.
    const T = M * N * K >= SPLIT_FLOPS ? pool.threadsFor(Np / NR) : 1;
    const scratch = align(cBuf + M * N * 4);
    if (!ensure(scratch + 128 * T)) {
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
    const f32 = mem.f32;
    if (accInWasm) {
      if (ldc === N) f32.set(C.subarray(cOff, cOff + M * N), cBase);
      else for (let r = 0; r < M; r++) f32.set(C.subarray(cOff + r * ldc, cOff + r * ldc + N), cBase + r * N);
    }
    if (T === 1) ex.gemm_packed(M, N, K, aPack, bPack, cBuf, N, accInWasm ? 1 : 0, 0);
    else {
      // Every element of C is computed by one thread in the same order: the same bits for any thread count.
      pool.run('gemm_packed', splitRange(Np / NR, T), (t, [p0, p1]) =>
        [M, Math.min(N, p1 * NR) - p0 * NR, K, aPack, bPack + p0 * NR * K * 4, cBuf + p0 * NR * 4, N, accInWasm ? 1 : 0, scratch + 128 * t]);
    }

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
 * How much wider than the true output a widened convolution forward may compute (its extra columns are wasted work).
 * Measured (bench/ab-wide.ts and per layer, one thread, alternating, on a busy machine): madry's forward blocks
 * (waste 14%) ran faster widened; smallcnn's first conv (26 → 32, waste 23%) did not; and the backward widened the
 * same way (dY padded with zeros, dX cropped) ran 10–30% slower than the im2col backward, so only forwards widen.
 */
let wideMaxWaste = 0.15;

/**
 * The widened geometry under which a stride-1 convolution that is padded, or whose output width is not a multiple
 * of 8, runs as an unpadded implicit GEMM: images of the padded height H + 2·pad and a width W' whose output width
 * OW' = W' − KW + 1 is OW rounded up to a multiple of 8; null when the convolution needs no widening (unpadded with
 * OW a multiple of 8), has another stride, or would waste more than {@link wideMaxWaste} of its work on the extra
 * columns (madry's 28 → 32 and 14 → 16 waste 14%; smallcnn's 26 → 32, 23%, stays on im2col).
 */
export function wideGeometry(g: Window2d): Window2d | null {
  if (g.stride !== 1 || (g.pad === 0 && g.OW % 8 === 0)) return null;
  const OW = Math.ceil(g.OW / 8) * 8;
  if (OW > (1 + wideMaxWaste) * g.OW) return null;
  return { ...g, H: g.H + 2 * g.pad, W: OW + g.KW - 1, pad: 0, OW };
}

/**
 * Set the waste bound of {@link wideGeometry} (0.15 by default; −1 turns widening off): for A/B measurements and
 * tests. Returns the previous bound.
 * @example
 *   const prev = setWideMaxWaste(-1); try { ... } finally { setWideMaxWaste(prev); }
 */
export function setWideMaxWaste(w: number): number {
  const prev = wideMaxWaste;
  wideMaxWaste = w;
  return prev;
}

/** Multiply-adds (M·N·K) from which a GEMM is worth splitting across threads (a dispatch costs microseconds). */
const SPLIT_FLOPS = 1 << 20;

/** Elements per chunk of the streaming kernels (ReLU, pooling): 64 Ki floats = 256 KiB, which stays in L2. */
const STREAM = 1 << 16;
/** Target float count of a convolution chunk's im2col matrix (4 MiB): sets how many images share one GEMM. */
const COLS_TARGET = 1 << 18;

const isF32 = (...arrays: (Data | null)[]): boolean => arrays.every((a) => a === null || a instanceof Float32Array);

/** [0, n) for each of `parts` threads: the range they claim chunks of together. */
const sameRange = (n: number, parts: number): [number, number][] => Array.from({ length: parts }, () => [0, n] as [number, number]);

/** `items` repeated `times` times, flattened. */
const repeat = (items: number[], times: number): number[] => Array.from({ length: times }, () => items).flat();

/** Functions the worker threads may run, by index. */
const threadFunctions = ['conv_fwd', 'conv_bwd', 'gemm_packed', 'peak_fma'] as const;

/**
 * How many threads a kernel uses, and running an export on all of them: thread 0 (the caller) runs its range
 * while the workers run theirs. Workers start on first use.
 */
class Threads {
  private pool: KernelThreadPool | null = null;
  constructor(
    private readonly ex: WasmExports, private readonly module: WebAssembly.Module, public count: number,
    private readonly start: StartThreads | null,
  ) {}
  /** Threads for a batch of n items: never more than there are items. */
  threadsFor(n: number): number {
    return Math.max(1, Math.min(this.count, n));
  }
  setCount(n: number): void {
    if (n !== this.count) {
      this.pool?.close();
      this.pool = null;
      this.count = n;
    }
  }
  run(fn: (typeof threadFunctions)[number], ranges: [number, number][], args: (t: number, range: [number, number]) => number[]): void {
    if (ranges.length > 1) {
      if (!this.pool || this.pool.count < ranges.length) {
        this.pool?.close();
        this.pool = this.start!(this.module, this.ex.memory, threadFunctions, this.count);
      }
      const index = threadFunctions.indexOf(fn);
      for (let t = 1; t < ranges.length; t++) this.pool.start(t, index, args(t, ranges[t]));
    }
    let error: unknown = null;
    try {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it: the export's own type takes a fixed argument list
      (this.ex[fn] as (...a: number[]) => void)(...args(0, ranges[0]));
    } catch (e) {
      error = e;
    }
    if (ranges.length > 1) this.pool!.join(); // always wait: the workers are still writing shared memory
    if (error) throw error;
  }
}

/** The convolution, ReLU and pooling kernels over one instance; float64 or unsupported geometry → the reference. */
function makeNnKernels(ex: WasmExports, mem: LinearMemory, pool: Threads): Pick<Kernels,
  'conv2dForward' | 'conv2dBackward' | 'conv2dReluPoolForward' | 'conv2dReluPoolBackward' | 'reluForward' | 'reluBackward' | 'maxPoolForward' | 'maxPoolBackward'> {
  const ref = referenceKernels;
  /** Images per chunk: enough to make one wide GEMM, few enough that the chunk's buffers stay a few MiB. */
  const chunkOf = (N: number, CKK: number, L: number) => Math.max(1, Math.min(N, Math.floor(COLS_TARGET / (CKK * L))));

  /**
   * Images per chunk of S, which the threads claim from a counter: at least 16 chunks (8 per thread on two cores),
   * so the last claims even out, within chunkOf's cap. Measured on the `cnn` against fixed halves of the batch:
   * inference 4 of 4 runs faster (by 6–100%), ∇x and training 3 of 4. It does not depend on the thread count,
   * because the backward's chunks decide how the weight gradient's partial sums are grouped (see convBackward).
   */
  const claimChunk = (S: number, CKK: number, L: number) => Math.max(1, Math.min(chunkOf(S, CKK, L), Math.floor(S / 16)));

  /** Images per outer step: bounds the memory a batch's input and output take in linear memory. */
  const SUPER = 512;

  /**
   * The batched convolution; with `fused`, followed by ReLU and 2×2/2 max pooling: y is then the pooled output
   * [N, OC, ⌊OH/2⌋, ⌊OW/2⌋], the convolution's own output never leaves the threads' work buffers, and the routes
   * are copied out when `route` is given (a forward with no backward to come needs none). A padded convolution, or
   * one whose output width is not a multiple of 8, runs as the unpadded implicit GEMM over widened images when
   * {@link wideGeometry} says so: the images are copied into zeroed buffers of the padded height and a width whose
   * output is a multiple of 8, and the output (or pooled output and routes) is cropped back.
   */
  function convForward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data, fused: boolean, route: Uint8Array | null,
  ): boolean {
    const { C, H, W, KH, KW, pad, OH, OW } = g;
    const wide = wideGeometry(g);
    const gi = wide ?? g; // the geometry the kernel runs
    const L = OH * gi.OW, CKK = C * KH * KW, CHW = C * H * W, CHWi = C * gi.H * gi.W;
    const PH = OH >> 1, PW = OW >> 1;
    const YL = fused ? PH * PW : OH * OW; // output floats per image and channel, as returned
    const YLi = fused ? PH * (gi.OW >> 1) : L; // … as the kernel writes them
    const T = pool.threadsFor(N);
    const S = Math.min(N, SUPER);
    const nb = claimChunk(S, CKK, L);
    // per thread: cols (or the implicit GEMM's offset table), bPack, cbuf (rows up to a multiple of 4: the implicit
    // GEMM writes whole 4-row tiles), scratch
    const perThread = [CKK * nb * L, Math.ceil((nb * L) / 8) * 8 * CKK, Math.ceil(OC / 4) * 4 * nb * L, 32];
    const at = layout(S * CHWi, S * OC * YLi, fused ? Math.ceil((S * OC * YLi) / 4) : 0, OC * CKK, Math.ceil(OC / 4) * 4 * CKK, OC, 1,
      wide ? S * CHW : 0, wide ? S * OC * YL : 0, wide && fused ? Math.ceil((S * OC * YL) / 4) : 0,
      ...repeat(perThread, T));
    const [xin, yout, argOut, wRaw, wPack, bias, ctr, xraw, ycrop, argCrop] = at;
    const work = (t: number) => at.slice(10 + 4 * t, 14 + 4 * t);
    if (!mem.ensure(at[at.length - 1])) return false;
    const { f32, u8, i32 } = mem;
    f32.set(w.subarray(0, OC * CKK), wRaw / 4);
    f32.set(b.subarray(0, OC), bias / 4);
    ex.pack(wRaw, CKK, 1, OC, CKK, wPack, 4);
    if (wide) ex.zero_f32(xin, S * CHWi); // the borders stay zero; each step overwrites the interior
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      if (wide) {
        f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), xraw / 4);
        ex.copy2d(xraw, W * 4, H * W * 4, xin + (pad * gi.W + pad) * 4, gi.W * 4, gi.H * gi.W * 4, sn * C, H, W * 4);
      } else f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), xin / 4);
      // every thread claims chunks of the whole range from one counter (see conv_fwd)
      i32[ctr / 4] = 0;
      pool.run('conv_fwd', sameRange(sn, T), (t, [n0, n1]) => {
        const [cols, bPack, cbuf, scr] = work(t);
        return [xin, yout, n0, n1, nb, C, gi.H, gi.W, KH, KW, gi.pad, OH, gi.OW, OC, wPack, bias, cols, bPack, cbuf, scr,
          fused ? argOut : 0, ctr];
      });
      let yAt = yout, argAt = argOut;
      if (wide) {
        // crop the kernel's rows of gi.OW (pooled: gi.OW/2) outputs to OW (⌊OW/2⌋)
        const [rows, cols, colsI] = fused ? [PH, PW, gi.OW >> 1] : [OH, OW, gi.OW];
        ex.copy2d(yout, colsI * 4, rows * colsI * 4, ycrop, cols * 4, rows * cols * 4, sn * OC, rows, cols * 4);
        if (fused && route) ex.copy2d(argOut, colsI, rows * colsI, argCrop, cols, rows * cols, sn * OC, rows, cols);
        yAt = ycrop;
        argAt = argCrop;
      }
      y.set(f32.subarray(yAt / 4, yAt / 4 + sn * OC * YL), s0 * OC * YL);
      if (route) route.set(u8.subarray(argAt, argAt + sn * OC * YL), s0 * OC * YL);
    }
    return true;
  }

  function conv2dForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void {
    if (g.stride !== 1 || !isF32(x, w, b, y) || !convForward(x, N, g, w, OC, b, y, false, null)) ref.conv2dForward(x, N, g, w, OC, b, y);
  }

  function conv2dReluPoolForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, out: Data, route: Uint8Array | null): void {
    if (g.stride !== 1 || g.OH < 2 || g.OW < 2 || !isF32(x, w, b, out) || !convForward(x, N, g, w, OC, b, out, true, route)) {
      ref.conv2dReluPoolForward(x, N, g, w, OC, b, out, route);
    }
  }

  /**
   * The batched convolution's backward for upstream dy [N, OC, OH, OW], or, for a fused block (`pooled`), from
   * the block's routes and upstream gradient [N, OC, ⌊OH/2⌋, ⌊OW/2⌋]: each thread then builds its chunks' dY in
   * its own work buffer. False when linear memory cannot hold the problem.
   */
  function convBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, dy: Data | null, dx: Data | null, dw: Data | null, db: Data | null,
    pooled: { route: Uint8Array; dOut: Data } | null,
  ): boolean {
    const { C, H, W, KH, KW, pad, OH, OW } = g;
    const L = OH * OW, CKK = C * KH * KW, CHW = C * H * W, PL = (OH >> 1) * (OW >> 1);
    const YL = pooled ? PL : L; // upstream floats per image and channel
    const T = pool.threadsFor(N);
    const S = Math.min(N, SUPER);
    // The threads claim chunks from a counter. The chunk size does not depend on the thread count, and each chunk
    // writes its weight and bias gradients to a slot of its own, added here in chunk order: so dW and db are the
    // same bits for any number of threads, whichever thread did which chunk.
    const nb = claimChunk(S, CKK, L);
    const NL = nb * L;
    const chunks = Math.ceil(S / nb);
    const slotFloats = align((OC * CKK + OC) * 4) / 4; // a chunk's dW [OC, CKK] then db [OC]
    // per thread: cols (also dCols), dyP, aPack, bPack, scratch
    const perThread = [CKK * NL, OC * NL, Math.ceil(OC / 4) * 4 * NL, Math.max(Math.ceil(CKK / 8) * 8 * NL, Math.ceil(NL / 8) * 8 * OC), 32];
    const up = S * OC * YL;
    const at = layout(dw ? S * CHW : 0, up, pooled ? Math.ceil(up / 4) : 0, dx ? S * CHW : 0, OC * CKK,
      dx ? Math.ceil(CKK / 4) * 4 * OC : 0, 1, dw || db ? chunks * slotFloats : 0, dw || db ? slotFloats : 0,
      ...repeat(perThread, T));
    const [xin, dyin, routeIn, dxout, wRaw, wtPack, ctr, slots, total] = at;
    const work = (t: number) => at.slice(9 + 5 * t, 14 + 5 * t);
    if (!mem.ensure(at[at.length - 1])) return false;
    const { f32, u8, i32 } = mem;
    if (dx) {
      f32.set(w.subarray(0, OC * CKK), wRaw / 4);
      ex.pack(wRaw, 1, CKK, CKK, OC, wtPack, 4); // Wᵀ as the A operand: row i of Wᵀ is column i of W
    }
    if (dw || db) ex.zero_f32(total, slotFloats);
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      const span = (a: { subarray(b: number, e: number): ArrayLike<number> }) => a.subarray(s0 * OC * YL, (s0 + sn) * OC * YL);
      f32.set(span(pooled ? pooled.dOut : dy!), dyin / 4);
      if (pooled) u8.set(span(pooled.route), routeIn);
      if (dw) f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), xin / 4);
      i32[ctr / 4] = 0;
      pool.run('conv_bwd', sameRange(sn, T), (t) => {
        const [cols, dyP, aPack, bPack, scr] = work(t);
        return [xin, dyin, 0, sn, nb, C, H, W, KH, KW, pad, OH, OW, OC, wtPack,
          dx ? dxout : 0, dw ? slots : 0, db ? slots + OC * CKK * 4 : 0, cols, dyP, aPack, bPack, scr,
          ...(pooled ? [dyin, routeIn] : [0, 0]), ctr, slotFloats * 4];
      });
      if (dx) dx.set(f32.subarray(dxout / 4, dxout / 4 + sn * CHW), s0 * CHW);
      // the chunks' partial sums in chunk order (both parts of a slot: each is written when it is wanted)
      if (dw || db) for (let c = 0; c < Math.ceil(sn / nb); c++) ex.add_f32(total, slots + c * slotFloats * 4, OC * CKK + OC);
    }
    if (dw) dw.set(f32.subarray(total / 4, total / 4 + OC * CKK));
    if (db) db.set(f32.subarray(total / 4 + OC * CKK, total / 4 + OC * CKK + OC));
    return true;
  }

  function conv2dBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, dy: Data, dx: Data | null, dw: Data | null, db: Data | null,
  ): void {
    const ok = g.stride === 1 && isF32(x, w, dy, dx, dw, db) && convBackward(x, N, g, w, OC, dy, dx, dw, db, null);
    if (!ok) ref.conv2dBackward(x, N, g, w, OC, dy, dx, dw, db);
  }

  function conv2dReluPoolBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, route: Uint8Array, dOut: Data,
    dx: Data | null, dw: Data | null, db: Data | null,
  ): void {
    const ok = g.stride === 1 && g.OH >= 2 && g.OW >= 2 && isF32(x, w, dOut, dx, dw, db) &&
      convBackward(x, N, g, w, OC, null, dx, dw, db, { route, dOut });
    if (!ok) ref.conv2dReluPoolBackward(x, N, g, w, OC, route, dOut, dx, dw, db);
  }

  function reluForward(x: Data, out: Data): void {
    if (!isF32(x, out)) return ref.reluForward(x, out);
    const n = x.length;
    const [buf, end] = layout(Math.min(n, STREAM));
    if (!mem.ensure(end)) return ref.reluForward(x, out);
    const f32 = mem.f32;
    for (let i = 0; i < n; i += STREAM) {
      const m = Math.min(STREAM, n - i);
      f32.set(x.subarray(i, i + m), buf / 4);
      ex.relu_fwd(buf, buf, m);
      out.set(f32.subarray(buf / 4, buf / 4 + m), i);
    }
  }

  function reluBackward(dOut: Data, x: Data, dx: Data): void {
    if (!isF32(dOut, x, dx)) return ref.reluBackward(dOut, x, dx);
    const n = x.length;
    const [gb, xb, end] = layout(Math.min(n, STREAM), Math.min(n, STREAM));
    if (!mem.ensure(end)) return ref.reluBackward(dOut, x, dx);
    const f32 = mem.f32;
    for (let i = 0; i < n; i += STREAM) {
      const m = Math.min(STREAM, n - i);
      f32.set(dOut.subarray(i, i + m), gb / 4);
      f32.set(x.subarray(i, i + m), xb / 4);
      ex.relu_bwd(gb, xb, gb, m);
      dx.set(f32.subarray(gb / 4, gb / 4 + m), i);
    }
  }

  function maxPoolForward(x: Data, N: number, g: Window2d, out: Data, argmax: Int32Array): void {
    const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
    if (KH !== 2 || KW !== 2 || stride !== 2 || pad !== 0 || !isF32(x, out)) return ref.maxPoolForward(x, N, g, out, argmax);
    const planes = N * C, HW = H * W, OHW = OH * OW;
    const per = Math.max(1, Math.floor(STREAM / HW)); // planes per chunk
    const [xin, o, arg, end] = layout(per * HW, per * OHW, per * OHW);
    if (!mem.ensure(end)) return ref.maxPoolForward(x, N, g, out, argmax);
    const { f32, i32 } = mem;
    for (let p0 = 0; p0 < planes; p0 += per) {
      const np = Math.min(per, planes - p0);
      f32.set(x.subarray(p0 * HW, (p0 + np) * HW), xin / 4);
      ex.maxpool2_fwd(xin, np, H, W, OH, OW, o, arg, p0 * HW);
      out.set(f32.subarray(o / 4, o / 4 + np * OHW), p0 * OHW);
      argmax.set(i32.subarray(arg / 4, arg / 4 + np * OHW), p0 * OHW);
    }
  }

  // dx = 0, then dx[argmax[o]] += dOut[o]: a scatter, in the reference's order.
  function maxPoolBackward(dOut: Data, argmax: Int32Array, dx: Data): void {
    if (!isF32(dOut, dx)) return ref.maxPoolBackward(dOut, argmax, dx);
    const n = dOut.length;
    const [g, arg, d, end] = layout(n, n, dx.length);
    if (!mem.ensure(end)) return ref.maxPoolBackward(dOut, argmax, dx);
    const { f32, i32 } = mem;
    f32.set(dOut, g / 4);
    i32.set(argmax, arg / 4);
    ex.zero_f32(d, dx.length);
    ex.maxpool_bwd(g, arg, n, d);
    dx.set(f32.subarray(d / 4, d / 4 + dx.length));
  }

  return { conv2dForward, conv2dBackward, conv2dReluPoolForward, conv2dReluPoolBackward, reluForward, reluBackward, maxPoolForward, maxPoolBackward };
}

/** Starts the worker threads of a pool (Node: ./wasm-node.ts; the browser lab: lab/src/kernels.ts); without one, the kernels run on one thread. */
export type StartThreads = (module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], count: number) => KernelThreadPool;

/**
 * Instantiate the WebAssembly SIMD kernels from a compiled module (either build), or null when it does not
 * instantiate or lacks an export (a stale build). Node callers use `loadWasmKernels` (./wasm-node.ts), which finds
 * and compiles the build; a browser compiles fetched bytes itself. `threads` above 1 needs `startThreads`.
 * @example
 *   const k = instantiateKernels(await WebAssembly.compile(bytes), { threads: 1 });
 *   if (k) useKernels(k);
 */
export function instantiateKernels(
  module: WebAssembly.Module,
  options: { float64?: Float64Policy; threads?: number; startThreads?: StartThreads } = {},
): Kernels | null {
  let ex: WasmExports;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    ex = { ...exports, memory } as unknown as WasmExports;
  } catch {
    return null; // a module that wants other imports (a stale build), or no shared memory here
  }
  // A stale build of some other module: refuse it rather than fail on the first call.
  if (exportNames.some((k) => typeof ex[k] !== 'function')) return null;
  const mem = new LinearMemory(ex.memory);
  const start = options.startThreads ?? null;
  const pool = new Threads(ex, module, start === null ? 1 : checkThreads(options.threads ?? 1), start);
  const gemm = makeGemm(ex, mem, options.float64 ?? 'reference', pool);
  return {
    ...referenceKernels,
    name: fusesMultiplyAdd(gemm) ? 'wasm-simd-fma' : 'wasm-simd',
    gemm,
    ...makeNnKernels(ex, mem, pool),
    peakGflops: (ms?: number) => measurePeak(ex, mem, pool, ms),
    memoryBytes: () => ex.memory.buffer.byteLength,
    getThreads: () => pool.count,
    setThreads: (n: number) => pool.setCount(start === null ? 1 : checkThreads(n)),
  };
}

/** FLOPs of one peak_fma iteration: 10 multiply-adds of 4 lanes, 2 FLOPs each (see nn.wat). */
const PEAK_FLOPS_PER_ITER = 10 * 4 * 2;

/**
 * The best GFLOP/s of nn.wat's peak_fma (independent SIMD multiply-adds, no memory traffic) run on every thread at
 * once, over five rounds that take about `ms` milliseconds in all, after a warm-up that also starts the workers.
 * The best round, not the median: a ceiling is what the CPU can do when nothing else gets in the way.
 */
function measurePeak(ex: WasmExports, mem: LinearMemory, pool: Threads, ms = 300): number {
  if (!(ms > 0)) throw new Error(`peakGflops: ms must be a positive number of milliseconds, got ${ms}`);
  const T = pool.count;
  const at = layout(...Array.from({ length: T }, () => 4)); // each thread's 16-byte result
  if (!mem.ensure(at[T])) return 0;
  // Calibrate on this thread: iterations for one round of ms/5.
  let iters = 1 << 14, dt: number;
  for (;;) {
    const t0 = performance.now();
    ex.peak_fma(iters, at[0]);
    dt = performance.now() - t0;
    if (dt >= 2 || iters >= 1 << 28) break;
    iters *= 4;
  }
  iters = Math.max(1, Math.min(2 ** 30, Math.round((iters * ms) / 5 / Math.max(dt, 1e-3))));
  const run = () => pool.run('peak_fma', sameRange(1, T), (t) => [iters, at[t]]);
  run(); // warm-up: workers start and compile
  let best = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    run();
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, (T * iters * PEAK_FLOPS_PER_ITER) / s / 1e9);
  }
  return best;
}

/**
 * Whether this gemm rounds a·b + c once (a fused multiply-add) rather than twice, found by running it: with
 * a = 1 + 2⁻¹², a² = 1 + 2⁻¹¹ + 2⁻²⁴ rounds to 1 + 2⁻¹¹ in float32, so a² − (1 + 2⁻¹¹) is 0 unfused and 2⁻²⁴ fused.
 * (The relaxed build still multiplies and adds separately on a CPU without FMA3.)
 */
function fusesMultiplyAdd(gemm: Kernels['gemm']): boolean {
  const a = 1 + 2 ** -12;
  const A = new Float32Array([-(1 + 2 ** -11), a]), B = new Float32Array([1, a]), C = new Float32Array(1);
  gemm(false, false, 1, 1, 2, A, 0, 2, B, 0, 1, C, 0, 1, false);
  return C[0] !== 0;
}

/** A thread count, or an error naming the bad value. */
export function checkThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`threads must be an integer from 1 to 64, got ${n}`);
  return n;
}
