// The convolution family of the WebAssembly kernels, host side (wasm/conv.wat, im2col.wat, conv-relu-pool.wat).
// Stride 1: a chunk of images at a time, im2col into one wide matrix [C·KH·KW, n·L], so each chunk is one large GEMM
// instead of n small ones (unpadded with an output width that is a multiple of 8: an implicit GEMM that reads the
// images themselves), then the [OC, n, L] result is permuted to NCHW with the bias added, or bias, ReLU and 2×2
// pooling in one pass for the fused block. Backward likewise: dW = dY·colsᵀ and dCols = Wᵀ·dY over the chunk, col2im
// per image. Threads claim chunks from a shared counter; weight gradients are summed per chunk in chunk order
// (reproducible bits for any thread count). A padded forward (madry) runs as the implicit GEMM over images widened in
// linear memory when that wastes little (see wideGeometry). Other strides and float64 run the reference (./reference.ts).
import type { Data } from '../nd.js';
import type { Kernels, Window2d } from './types.js';
import { referenceKernels } from './reference.js';
import { sameRange, type Threads } from './thread-pool.js';
import { positional, type WasmExports } from './wasm-exports.js';
import { align, carve, carveEach, isF32, type LinearMemory } from './wasm-memory.js';

/** conv_fwd's parameters (wasm/conv.wat), in order: byte addresses, the image range, chunk size and geometry. */
export const convFwdParams = [
  'x', 'y', 'n0', 'n1', 'nb', 'C', 'H', 'W', 'KH', 'KW', 'pad', 'OH', 'OW', 'OC', 'wPack', 'bias',
  'cols', 'bPack', 'cbuf', 'scr', 'route', 'ctr', 'epilogue',
] as const;
export type ConvFwdArgs = Record<(typeof convFwdParams)[number], number>;

/**
 * What conv_fwd does with a chunk's GEMM output: add the bias ('bias'), add it and apply ReLU ('relu'), or add it,
 * apply ReLU and 2×2 max pooling ('pool', the fused block); conv_fwd's `epilogue` codes them 0, 2 and 1.
 */
type Epilogue = 'bias' | 'relu' | 'pool';
const EPILOGUE_CODE: Record<Epilogue, number> = { bias: 0, pool: 1, relu: 2 };

/** conv_bwd's parameters (wasm/conv.wat), in order. */
export const convBwdParams = [
  'x', 'dY', 'n0', 'n1', 'nb', 'C', 'H', 'W', 'KH', 'KW', 'pad', 'OH', 'OW', 'OC', 'wtPack', 'dX', 'dWAcc', 'dBAcc',
  'cols', 'dYP', 'aPack', 'bPack', 'scr', 'dOut', 'route', 'ctr', 'slotB', 'mask', 'rowOff',
] as const;
export type ConvBwdArgs = Record<(typeof convBwdParams)[number], number>;

/** conv_pool_dx's parameters (wasm/conv-relu-pool.wat), in order. */
export const convPoolDxParams = [
  'g', 'route', 'n0', 'n1', 'C', 'H', 'W', 'KH', 'KW', 'pad', 'OH', 'OW', 'OC', 'table', 'dX', 'list', 'scr', 'ctr', 'flag',
] as const;
export type ConvPoolDxArgs = Record<(typeof convPoolDxParams)[number], number>;

/** conv_pool_dw's parameters (wasm/conv-relu-pool.wat), in order. */
export const convPoolDwParams = [
  'x', 'g', 'route', 'n0', 'n1', 'nb', 'C', 'H', 'W', 'KH', 'KW', 'pad', 'OH', 'OW', 'OC', 'slots', 'slotB', 'patches', 'list',
  'cnt', 'scr', 'ctr',
] as const;
export type ConvPoolDwArgs = Record<(typeof convPoolDwParams)[number], number>;

/** Floats per row of conv_pool_dx's shifted-weight table: a (KH+1) × (KW+1) patch of at most 36, nine vectors. */
const PATCH = 36;

let poolDxOn = true;

/**
 * True when the routed kernels (conv_pool_dx for dX, conv_pool_dw for dW and dB) suit a fused block, each when its
 * switch (setPoolDx, setPoolDw) is on: its (KH+1) × (KW+1) patch fits a table row, and the kernel is
 * large enough that the row's 36 multiply-adds per channel pair and cell beat the GEMM's 4·KH·KW (KH·KW ≥ 16).
 * Measured per block against conv_bwd's dX (medians of 15 alternating calls on 250 images, idle): `cnn` 1.45× and
 * 1.85×, `madry` 1.18× and 1.45×, `cnn-w4`'s second 1.42×; `smallcnn`'s 3 × 3 blocks 0.66–0.68×, so they stay on the GEMM.
 */
const routedFits = (g: Window2d) => (g.KH + 1) * (g.KW + 1) <= PATCH && g.KH * g.KW >= 16;

/**
 * Whether a fused block's dX goes through conv_pool_dx (true by default) or conv_bwd's GEMM over the full upstream
 * gradient: for A/B measurements and tests, which run both. Returns the previous setting.
 * @example
 *   const prev = setPoolDx(false); try { ... } finally { setPoolDx(prev); }
 */
export function setPoolDx(on: boolean): boolean {
  const prev = poolDxOn;
  poolDxOn = on;
  return prev;
}

let poolDwOn = true;

let directDx = true;

/**
 * Whether conv_bwd's dX of an unpadded convolution whose output width is a multiple of 8 adds the GEMM's tiles
 * straight into dX (gemm.wat gemm_tiles with $rowOff, true by default) or writes the product out for col2im: for A/B measurements and
 * tests. Returns the previous setting.
 * @example
 *   const prev = setDirectDx(false); try { ... } finally { setDirectDx(prev); }
 */
export function setDirectDx(on: boolean): boolean {
  const prev = directDx;
  directDx = on;
  return prev;
}

/**
 * Whether a fused block's weight and bias gradients go through conv_pool_dw (true by default, for the blocks
 * conv_pool_dx takes) or conv_bwd's GEMM over the full upstream gradient: for A/B measurements and tests. Returns the
 * previous setting.
 * @example
 *   const prev = setPoolDw(false); try { ... } finally { setPoolDw(prev); }
 */
export function setPoolDw(on: boolean): boolean {
  const prev = poolDwOn;
  poolDwOn = on;
  return prev;
}

/**
 * conv_pool_dx's table (at byte `table`) for weights [OC, C, KH, KW] at byte `wRaw` in linear memory: row
 * (c·OC + a)·4 + r holds W[a, c] shifted down r/2 rows and right r%2 columns inside a (KH+1) × (KW+1) patch, zeros
 * elsewhere, in PATCH floats. One strided copy per channel a and route (in WebAssembly: the table is rebuilt on every
 * call, and element by element in JavaScript it cost a tenth of the kernel's own time).
 */
function shiftWeights(ex: WasmExports, wRaw: number, C: number, KH: number, KW: number, OC: number, table: number): void {
  const PWd = KW + 1, KK = KH * KW;
  ex.zero_f32(table, C * OC * 4 * PATCH);
  for (let a = 0; a < OC; a++) {
    for (let r = 0; r < 4; r++) {
      const dst = table + ((a * 4 + r) * PATCH + (r >> 1) * PWd + (r & 1)) * 4;
      ex.copy2d(wRaw + a * C * KK * 4, KW * 4, KK * 4, dst, PWd * 4, OC * 4 * PATCH * 4, C, KH, KW * 4);
    }
  }
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
 * @example
 *   wideGeometry({ C: 1, H: 28, W: 28, KH: 5, KW: 5, stride: 1, pad: 2, OH: 28, OW: 28 }); // { H: 32, W: 36, pad: 0, OW: 32, … }
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

/** Target float count of a convolution chunk's im2col matrix (4 MiB): sets how many images share one GEMM. */
const COLS_TARGET = 1 << 18;
/** Images per outer step: bounds the memory a batch's input and output take in linear memory. */
const SUPER = 512;

/** Images per chunk: enough to make one wide GEMM, few enough that the chunk's buffers stay a few MiB. */
const chunkOf = (N: number, CKK: number, L: number) => Math.max(1, Math.min(N, Math.floor(COLS_TARGET / (CKK * L))));

/**
 * Images per chunk of S, which the threads claim from a counter: at least 16 chunks (8 per thread on two cores),
 * so the last claims even out, within chunkOf's cap. Measured on the `cnn` against fixed halves of the batch:
 * inference 4 of 4 runs faster (by 6–100%), ∇x and training 3 of 4. It does not depend on the thread count,
 * because the backward's chunks decide how the weight gradient's partial sums are grouped (see convBackward).
 */
const claimChunk = (S: number, CKK: number, L: number) => Math.max(1, Math.min(chunkOf(S, CKK, L), Math.floor(S / 16)));

/**
 * The convolution kernels over one instance; float64 operands or another stride → the reference.
 * @example
 *   const { conv2dForward } = makeConvKernels(ex, mem, pool); conv2dForward(x, N, g, w, OC, b, y);
 */
export function makeConvKernels(ex: WasmExports, mem: LinearMemory, pool: Threads): Pick<Kernels,
  'conv2dForward' | 'conv2dReluForward' | 'conv2dBackward' | 'conv2dReluBackward' | 'conv2dReluPoolForward' | 'conv2dReluPoolBackward'> {
  const ref = referenceKernels;

  /**
   * The batched convolution with its bias added, then ReLU for epilogue 'relu'; for 'pool' ReLU and 2×2/2 max
   * pooling too (the fused block): y is then the pooled output
   * [N, OC, ⌊OH/2⌋, ⌊OW/2⌋], the convolution's own output never leaves the threads' work buffers, and the routes
   * are copied out when `route` is given (a forward with no backward to come needs none). A padded convolution, or
   * one whose output width is not a multiple of 8, runs as the unpadded implicit GEMM over widened images when
   * {@link wideGeometry} says so: the images are copied into zeroed buffers of the padded height and a width whose
   * output is a multiple of 8, and the output (or pooled output and routes) is cropped back.
   */
  function convForward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data, epilogue: Epilogue, route: Uint8Array | null,
  ): boolean {
    const fused = epilogue === 'pool';
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
    // operands that live in linear memory (the arena) are read and written in place, the rest copied in and out
    const ax = mem.addressOf(x), ay = mem.outputAddress(y, x), ar = route ? mem.outputAddress(route, x, y) : -1;
    // routes are bytes: their regions count ⌈bytes/4⌉ floats
    const at = carve({
      x: wide || ax < 0 ? S * CHWi : 0, y: wide || ay < 0 ? S * OC * YLi : 0,
      route: fused && route && (wide || ar < 0) ? Math.ceil((S * OC * YLi) / 4) : 0,
      wRaw: OC * CKK, wPack: Math.ceil(OC / 4) * 4 * CKK, bias: OC, counter: 1,
      xRaw: wide && ax < 0 ? S * CHW : 0, yCrop: wide && ay < 0 ? S * OC * YL : 0,
      routeCrop: wide && fused && route && ar < 0 ? Math.ceil((S * OC * YL) / 4) : 0,
    }, mem.base);
    // per thread: cols (or the implicit GEMM's offset table), bPack, cbuf (rows up to a multiple of 4: the implicit
    // GEMM writes whole 4-row tiles), scratch
    const work = carveEach({
      cols: CKK * nb * L, bPack: Math.ceil((nb * L) / 8) * 8 * CKK, cbuf: Math.ceil(OC / 4) * 4 * nb * L, scr: 32,
    }, T, at.end);
    if (!mem.ensure(work.end)) return false;
    const { f32, u8, i32 } = mem;
    f32.set(w.subarray(0, OC * CKK), at.wRaw / 4);
    f32.set(b.subarray(0, OC), at.bias / 4);
    ex.pack(at.wRaw, CKK, 1, OC, CKK, at.wPack, 4);
    if (wide) ex.zero_f32(at.x, S * CHWi); // the borders stay zero; each step overwrites the interior
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      let xAt = at.x;
      const yOut = ay >= 0 ? ay + s0 * OC * YL * 4 : -1, routeOut = ar >= 0 ? ar + s0 * OC * YL : -1;
      if (wide) {
        let raw = at.xRaw;
        if (ax >= 0) raw = ax + s0 * CHW * 4;
        else f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), at.xRaw / 4);
        ex.copy2d(raw, W * 4, H * W * 4, at.x + (pad * gi.W + pad) * 4, gi.W * 4, gi.H * gi.W * 4, sn * C, H, W * 4);
      } else if (ax >= 0) xAt = ax + s0 * CHW * 4;
      else f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), at.x / 4);
      const kernelY = !wide && yOut >= 0 ? yOut : at.y;
      const kernelRoute = !wide && routeOut >= 0 ? routeOut : at.route;
      // every thread claims chunks of the whole range from one counter (see conv_fwd)
      i32[at.counter / 4] = 0;
      pool.run('conv_fwd', sameRange(sn, T), (t, [n0, n1]) => {
        const my = work.at[t];
        const args: ConvFwdArgs = {
          x: xAt, y: kernelY, n0, n1, nb, C, H: gi.H, W: gi.W, KH, KW, pad: gi.pad, OH, OW: gi.OW, OC, wPack: at.wPack,
          bias: at.bias, cols: my.cols, bPack: my.bPack, cbuf: my.cbuf, scr: my.scr,
          // the routes only when they are returned: without them the epilogue skips finding where each maximum was
          route: fused && route ? kernelRoute : 0, ctr: at.counter, epilogue: EPILOGUE_CODE[epilogue],
        };
        return positional(convFwdParams, args);
      });
      let yAt = kernelY, routeAt = kernelRoute;
      if (wide) {
        // crop the kernel's rows of gi.OW (pooled: gi.OW/2) outputs to OW (⌊OW/2⌋), into y itself when it lives here
        const [rows, cols, colsI] = fused ? [PH, PW, gi.OW >> 1] : [OH, OW, gi.OW];
        yAt = yOut >= 0 ? yOut : at.yCrop;
        ex.copy2d(at.y, colsI * 4, rows * colsI * 4, yAt, cols * 4, rows * cols * 4, sn * OC, rows, cols * 4);
        if (fused && route) {
          routeAt = routeOut >= 0 ? routeOut : at.routeCrop;
          ex.copy2d(at.route, colsI, rows * colsI, routeAt, cols, rows * cols, sn * OC, rows, cols);
        }
      }
      if (yOut < 0) y.set(f32.subarray(yAt / 4, yAt / 4 + sn * OC * YL), s0 * OC * YL);
      if (route && routeOut < 0) route.set(u8.subarray(routeAt, routeAt + sn * OC * YL), s0 * OC * YL);
    }
    return true;
  }

  // y = W·im2col(x) + b, as referenceKernels.conv2dForward
  function conv2dForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void {
    if (g.stride !== 1 || !isF32(x, w, b, y) || !convForward(x, N, g, w, OC, b, y, 'bias', null)) ref.conv2dForward(x, N, g, w, OC, b, y);
  }

  // y = max(W·im2col(x) + b, 0), as referenceKernels.conv2dReluForward
  function conv2dReluForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void {
    if (g.stride !== 1 || !isF32(x, w, b, y) || !convForward(x, N, g, w, OC, b, y, 'relu', null)) ref.conv2dReluForward(x, N, g, w, OC, b, y);
  }

  // out = maxpool2(relu(W·im2col(x) + b)), as referenceKernels.conv2dReluPoolForward
  function conv2dReluPoolForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, out: Data, route: Uint8Array | null): void {
    if (g.stride !== 1 || g.OH < 2 || g.OW < 2 || !isF32(x, w, b, out) || !convForward(x, N, g, w, OC, b, out, 'pool', route)) {
      ref.conv2dReluPoolForward(x, N, g, w, OC, b, out, route);
    }
  }

  /**
   * The batched convolution's backward for upstream dY [N, OC, OH, OW]; for a convolution followed by a ReLU
   * (`reluOut`, the ReLU's output), dY is the ReLU's upstream gradient, passed where reluOut > 0 as each chunk is
   * laid out for the GEMM; for a fused block (`pooled`), from the block's routes and upstream gradient dOut [N, OC,
   * ⌊OH/2⌋, ⌊OW/2⌋]: each thread then builds its chunks' dY in its own work buffer. False when linear memory cannot
   * hold the problem.
   */
  function convBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, dY: Data | null, dX: Data | null, dW: Data | null, dB: Data | null,
    pooled: { route: Uint8Array; dOut: Data } | null, reluOut: Data | null = null,
  ): boolean {
    const { C, H, W, KH, KW, pad, OH, OW } = g;
    const L = OH * OW, CKK = C * KH * KW, CHW = C * H * W, PL = (OH >> 1) * (OW >> 1);
    const YL = pooled ? PL : L; // upstream floats per image and channel
    const T = pool.threadsFor(N);
    const S = Math.min(N, SUPER);
    // The threads claim chunks from a counter. The chunk size does not depend on the thread count, and each chunk
    // writes its weight and bias gradients to a slot of its own, added here in chunk order: so dW and dB are the
    // same bits for any number of threads, whichever thread did which chunk.
    const nb = claimChunk(S, CKK, L);
    const NL = nb * L;
    // dX straight from the GEMM's tiles (gemm_tiles with rowOff) where each 8 columns are one run of an output row
    const direct = pad === 0 && OW % 8 === 0 && directDx;
    const chunks = Math.ceil(S / nb);
    const slotFloats = align((OC * CKK + OC) * 4) / 4; // a chunk's dW [OC, CKK] then dB [OC]
    const up = S * OC * YL;
    const upstream = pooled ? pooled.dOut : dY!;
    // operands that live in linear memory (the arena) are read and written in place, the rest copied in and out
    const ax = dW ? mem.addressOf(x) : -1, aUp = mem.addressOf(upstream), aRoute = pooled ? mem.addressOf(pooled.route) : -1;
    const aMask = mem.addressOf(reluOut), aDx = dX ? mem.outputAddress(dX, x, upstream, pooled?.route ?? null, reluOut) : -1;
    const at = carve({
      x: dW && ax < 0 ? S * CHW : 0, dY: aUp < 0 ? up : 0, route: pooled && aRoute < 0 ? Math.ceil(up / 4) : 0,
      mask: reluOut && aMask < 0 ? up : 0, dX: dX && aDx < 0 ? S * CHW : 0, wRaw: OC * CKK,
      wtPack: dX ? Math.ceil(CKK / 4) * 4 * OC : 0, counter: 1, slots: dW || dB ? chunks * slotFloats : 0, total: dW || dB ? slotFloats : 0,
      rowOff: dX && direct ? Math.ceil(CKK / 4) * 4 : 0,
    }, mem.base);
    // per thread: cols (also dCols), dYP, aPack, bPack, scratch
    const work = carveEach({
      cols: CKK * NL, dYP: OC * NL, aPack: Math.ceil(OC / 4) * 4 * NL,
      // (bPack holds colsᵀ's panels, dY's for dX, or, for a first layer's dW without im2col, dY's 8-channel panels)
      bPack: Math.max(Math.ceil(CKK / 8) * 8 * NL, Math.ceil(NL / 8) * 8 * OC, Math.ceil(OC / 8) * 8 * NL), scr: 32,
    }, T, at.end);
    if (!mem.ensure(work.end)) return false;
    const { f32, u8, i32 } = mem;
    if (dX) {
      f32.set(w.subarray(0, OC * CKK), at.wRaw / 4);
      ex.pack(at.wRaw, 1, CKK, CKK, OC, at.wtPack, 4); // Wᵀ as the A operand: row i of Wᵀ is column i of W
      if (direct) {
        // row i = (c, kh, kw) of the product adds at (c·H + kh)·W + kw from its column's output position
        for (let i = 0; i < CKK; i++) {
          const c = Math.floor(i / (KH * KW)), t = i % (KH * KW);
          i32[at.rowOff / 4 + i] = (c * H + Math.floor(t / KW)) * W + (t % KW);
        }
      }
    }
    if (dW || dB) ex.zero_f32(at.total, slotFloats);
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      const u0 = s0 * OC * YL, u1 = (s0 + sn) * OC * YL;
      // each operand's address for this step: in place, or its work region after the copy in
      const dYAt = aUp >= 0 ? aUp + 4 * u0 : at.dY;
      if (aUp < 0) f32.set(upstream.subarray(u0, u1), at.dY / 4);
      const routeAt = aRoute >= 0 ? aRoute + u0 : at.route;
      if (pooled && aRoute < 0) u8.set(pooled.route.subarray(u0, u1), at.route);
      const maskAt = aMask >= 0 ? aMask + 4 * u0 : at.mask;
      if (reluOut && aMask < 0) f32.set(reluOut.subarray(u0, u1), at.mask / 4);
      const xAt = ax >= 0 ? ax + s0 * CHW * 4 : at.x;
      if (dW && ax < 0) f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), at.x / 4);
      const dXAt = aDx >= 0 ? aDx + s0 * CHW * 4 : at.dX;
      i32[at.counter / 4] = 0;
      pool.run('conv_bwd', sameRange(sn, T), (t) => {
        const my = work.at[t];
        const args: ConvBwdArgs = {
          x: xAt, dY: dYAt, n0: 0, n1: sn, nb, C, H, W, KH, KW, pad, OH, OW, OC, wtPack: at.wtPack,
          dX: dX ? dXAt : 0, dWAcc: dW ? at.slots : 0, dBAcc: dB ? at.slots + OC * CKK * 4 : 0,
          cols: my.cols, dYP: my.dYP, aPack: my.aPack, bPack: my.bPack, scr: my.scr,
          dOut: pooled ? dYAt : 0, route: pooled ? routeAt : 0, ctr: at.counter, slotB: slotFloats * 4,
          mask: reluOut ? maskAt : 0, rowOff: dX && direct ? at.rowOff : 0,
        };
        return positional(convBwdParams, args);
      });
      if (dX && aDx < 0) dX.set(f32.subarray(at.dX / 4, at.dX / 4 + sn * CHW), s0 * CHW);
      // the chunks' partial sums in chunk order (both parts of a slot: each is written when it is wanted)
      if (dW || dB) for (let c = 0; c < Math.ceil(sn / nb); c++) ex.add_f32(at.total, at.slots + c * slotFloats * 4, OC * CKK + OC);
    }
    if (dW) dW.set(f32.subarray(at.total / 4, at.total / 4 + OC * CKK));
    if (dB) dB.set(f32.subarray(at.total / 4 + OC * CKK, at.total / 4 + OC * CKK + OC));
    return true;
  }

  // dW = Σₙ dYₙ·colsₙᵀ   dXₙ = col2im(Wᵀ·dYₙ)   dB = Σₙ,ₕ,ᵥ dY, as referenceKernels.conv2dBackward
  function conv2dBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, dY: Data, dX: Data | null, dW: Data | null, dB: Data | null,
  ): void {
    const ok = g.stride === 1 && isF32(x, w, dY, dX, dW, dB) && convBackward(x, N, g, w, OC, dY, dX, dW, dB, null);
    if (!ok) ref.conv2dBackward(x, N, g, w, OC, dY, dX, dW, dB);
  }

  // dY = dOut where out > 0, else 0; then as conv2dBackward (referenceKernels.conv2dReluBackward)
  function conv2dReluBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, out: Data, dOut: Data, dX: Data | null, dW: Data | null, dB: Data | null,
  ): void {
    const ok = g.stride === 1 && isF32(x, w, out, dOut, dX, dW, dB) && convBackward(x, N, g, w, OC, dOut, dX, dW, dB, null, out);
    if (!ok) ref.conv2dReluBackward(x, N, g, w, OC, out, dOut, dX, dW, dB);
  }

  /**
   * A fused block's dX from its routes and upstream gradient dOut (conv_pool_dx: only the routed quarter of the
   * convolution's upstream gradient is multiplied, as patches of shifted weights). False when linear memory cannot
   * hold the problem, or when an upstream value is ±∞ or NaN (at a routed cell the table's zeros would turn it into
   * NaN where the GEMM path and the reference leave 0): the caller then takes the GEMM path.
   */
  function poolDx(N: number, g: Window2d, w: Data, OC: number, route: Uint8Array, dOut: Data, dX: Data): boolean {
    const { C, H, W, KH, KW, pad, OH, OW } = g;
    const PL = (OH >> 1) * (OW >> 1), CHW = C * H * W;
    const T = pool.threadsFor(N);
    const S = Math.min(N, SUPER);
    const ag = mem.addressOf(dOut), ar = mem.addressOf(route), aDx = mem.outputAddress(dX, dOut, route);
    const at = carve({
      g: ag < 0 ? S * OC * PL : 0, route: ar < 0 ? Math.ceil((S * OC * PL) / 4) : 0, wRaw: OC * C * KH * KW,
      table: C * OC * 4 * PATCH, dX: aDx < 0 ? S * CHW : 0, counter: 1, flag: 1,
    }, mem.base);
    const work = carveEach({ list: PL * OC * 2 + PL, scr: PATCH }, T, at.end);
    if (!mem.ensure(work.end)) return false;
    const { f32, u8, i32 } = mem;
    f32.set(w.subarray(0, OC * C * KH * KW), at.wRaw / 4);
    shiftWeights(ex, at.wRaw, C, KH, KW, OC, at.table);
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      const u0 = s0 * OC * PL, u1 = (s0 + sn) * OC * PL;
      const gAt = ag >= 0 ? ag + 4 * u0 : at.g, routeAt = ar >= 0 ? ar + u0 : at.route, dXAt = aDx >= 0 ? aDx + s0 * CHW * 4 : at.dX;
      if (ag < 0) f32.set(dOut.subarray(u0, u1), at.g / 4);
      if (ar < 0) u8.set(route.subarray(u0, u1), at.route);
      i32[at.counter / 4] = 0;
      i32[at.flag / 4] = 0;
      pool.run('conv_pool_dx', sameRange(sn, T), (t) => {
        const my = work.at[t];
        const args: ConvPoolDxArgs = {
          g: gAt, route: routeAt, n0: 0, n1: sn, C, H, W, KH, KW, pad, OH, OW, OC, table: at.table, dX: dXAt,
          list: my.list, scr: my.scr, ctr: at.counter, flag: at.flag,
        };
        return positional(convPoolDxParams, args);
      });
      if (i32[at.flag / 4] !== 0) return false;
      if (aDx < 0) dX.set(f32.subarray(at.dX / 4, at.dX / 4 + sn * CHW), s0 * CHW);
    }
    return true;
  }

  /**
   * A fused block's dW and dB from its routes and upstream gradient dOut (conv_pool_dw: only the routed quarter of the
   * convolution's upstream gradient is multiplied, by patches of the input). Chunks of images as convBackward's, each
   * with its own slot, added in chunk order: the same bits for any thread count. False when linear memory cannot
   * hold the problem.
   */
  function poolDw(x: Data, N: number, g: Window2d, OC: number, route: Uint8Array, dOut: Data, dW: Data | null, dB: Data | null): boolean {
    const { C, H, W, KH, KW, OH, OW } = g;
    const PL = (OH >> 1) * (OW >> 1), CHW = C * H * W, CKK = C * KH * KW;
    const T = pool.threadsFor(N);
    const S = Math.min(N, SUPER);
    const nb = claimChunk(S, CKK, OH * OW);
    const cap = nb * PL;
    const slotFloats = align((OC * CKK + OC) * 4) / 4; // a chunk's dW [OC, CKK] then dB [OC]
    const ax = mem.addressOf(x), ag = mem.addressOf(dOut), ar = mem.addressOf(route);
    const at = carve({
      x: ax < 0 ? S * CHW : 0, g: ag < 0 ? S * OC * PL : 0, route: ar < 0 ? Math.ceil((S * OC * PL) / 4) : 0, counter: 1,
      slots: Math.ceil(S / nb) * slotFloats, total: slotFloats,
    }, mem.base);
    // per thread: the chunk's patches, its lists of (g, patch offset) per channel and route (and route 255), their
    // counts, the four route sums
    const work = carveEach({ patches: C * cap * PATCH, list: OC * 5 * cap * 2, cnt: OC * 5, scr: 4 * PATCH }, T, at.end);
    if (!mem.ensure(work.end)) return false;
    const { f32, u8, i32 } = mem;
    ex.zero_f32(at.total, slotFloats);
    for (let s0 = 0; s0 < N; s0 += S) {
      const sn = Math.min(S, N - s0);
      const u0 = s0 * OC * PL, u1 = (s0 + sn) * OC * PL;
      const xAt = ax >= 0 ? ax + s0 * CHW * 4 : at.x, gAt = ag >= 0 ? ag + 4 * u0 : at.g, routeAt = ar >= 0 ? ar + u0 : at.route;
      if (ax < 0) f32.set(x.subarray(s0 * CHW, (s0 + sn) * CHW), at.x / 4);
      if (ag < 0) f32.set(dOut.subarray(u0, u1), at.g / 4);
      if (ar < 0) u8.set(route.subarray(u0, u1), at.route);
      i32[at.counter / 4] = 0;
      pool.run('conv_pool_dw', sameRange(sn, T), (t) => {
        const my = work.at[t];
        const args: ConvPoolDwArgs = {
          x: xAt, g: gAt, route: routeAt, n0: 0, n1: sn, nb, C, H, W, KH, KW, pad: g.pad, OH, OW, OC,
          slots: at.slots, slotB: slotFloats * 4, patches: my.patches, list: my.list, cnt: my.cnt, scr: my.scr, ctr: at.counter,
        };
        return positional(convPoolDwParams, args);
      });
      for (let c = 0; c < Math.ceil(sn / nb); c++) ex.add_f32(at.total, at.slots + c * slotFloats * 4, OC * CKK + OC);
    }
    if (dW) dW.set(f32.subarray(at.total / 4, at.total / 4 + OC * CKK));
    if (dB) dB.set(f32.subarray(at.total / 4 + OC * CKK, at.total / 4 + OC * CKK + OC));
    return true;
  }

  // dY = dOut at each window's routed position, 0 elsewhere; then as conv2dBackward (referenceKernels.conv2dReluPoolBackward).
  // dX through conv_pool_dx, dW and dB through conv_pool_dw when the block's patch fits (routedFits); what they do not
  // take (another geometry, a non-finite upstream value for dX) through conv_bwd.
  function conv2dReluPoolBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, route: Uint8Array, dOut: Data,
    dX: Data | null, dW: Data | null, dB: Data | null,
  ): void {
    const pooled = { route, dOut };
    let ok = g.stride === 1 && g.OH >= 2 && g.OW >= 2 && isF32(x, w, dOut, dX, dW, dB);
    if (ok) {
      const routedDx = dX !== null && poolDxOn && routedFits(g) && poolDx(N, g, w, OC, route, dOut, dX);
      const routedDw = (dW !== null || dB !== null) && poolDwOn && routedFits(g) && poolDw(x, N, g, OC, route, dOut, dW, dB);
      const restDx = routedDx ? null : dX, restDw = routedDw ? null : dW, restDb = routedDw ? null : dB;
      ok = !(restDx || restDw || restDb) || convBackward(x, N, g, w, OC, null, restDx, restDw, restDb, pooled);
    }
    if (!ok) ref.conv2dReluPoolBackward(x, N, g, w, OC, route, dOut, dX, dW, dB);
  }

  return { conv2dForward, conv2dReluForward, conv2dBackward, conv2dReluBackward, conv2dReluPoolForward, conv2dReluPoolBackward };
}
