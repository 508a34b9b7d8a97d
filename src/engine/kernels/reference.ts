// The plain TypeScript kernels: the reference every faster implementation is tested against.
// GEMM packs op(A) into 4-row panels and op(B) into 4-column panels (float64), then a 4×4 register-blocked
// micro-kernel accumulates 16 dot products per pass over K, so the inner loop does 8 loads for 16 multiply-adds.
import type { Data } from '../nd.js';
import type { Kernels, Window2d } from './types.js';
import { ROUTE_NONE, poolRoute } from './pool-route.js';
import { fabStep } from './fab-projections.js';

let packA: Float64Array = new Float64Array(0);
let packB: Float64Array = new Float64Array(0);

function grow(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(Math.max(n, buf.length * 2));
}

function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Data, aOff: number, lda: number,
  B: Data, bOff: number, ldb: number,
  C: Data, cOff: number, ldc: number,
  accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    if (!accumulate) for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
    return;
  }
  const Mp = (M + 3) & ~3;
  const Np = (N + 3) & ~3;
  packA = grow(packA, Mp * K);
  packB = grow(packB, Np * K);
  const pA = packA;
  const pB = packB;
  // pA[((i>>2)·K + k)·4 + (i&3)] = op(A)[i, k]
  for (let i = 0; i < Mp; i++) {
    const base = ((i >> 2) * K) * 4 + (i & 3);
    if (i >= M) {
      for (let k = 0; k < K; k++) pA[base + k * 4] = 0;
    } else if (transA) {
      for (let k = 0, a = aOff + i; k < K; k++, a += lda) pA[base + k * 4] = A[a];
    } else {
      for (let k = 0, a = aOff + i * lda; k < K; k++, a++) pA[base + k * 4] = A[a];
    }
  }
  // pB[((j>>2)·K + k)·4 + (j&3)] = op(B)[k, j]
  for (let j = 0; j < Np; j++) {
    const base = ((j >> 2) * K) * 4 + (j & 3);
    if (j >= N) {
      for (let k = 0; k < K; k++) pB[base + k * 4] = 0;
    } else if (transB) {
      for (let k = 0, b = bOff + j * ldb; k < K; k++, b++) pB[base + k * 4] = B[b];
    } else {
      for (let k = 0, b = bOff + j; k < K; k++, b += ldb) pB[base + k * 4] = B[b];
    }
  }
  const K4 = K * 4;
  for (let jb = 0; jb < Np; jb += 4) {
    const pb0 = (jb >> 2) * K4;
    for (let ib = 0; ib < Mp; ib += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let pa = (ib >> 2) * K4;
      let pb = pb0;
      const end = pa + K4;
      for (; pa < end; pa += 4, pb += 4) {
        const a0 = pA[pa], a1 = pA[pa + 1], a2 = pA[pa + 2], a3 = pA[pa + 3];
        const b0 = pB[pb], b1 = pB[pb + 1], b2 = pB[pb + 2], b3 = pB[pb + 3];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const rows = Math.min(4, M - ib);
      const cols = Math.min(4, N - jb);
      for (let r = 0; r < rows; r++) {
        const o = cOff + (ib + r) * ldc + jb;
        const v0 = r === 0 ? c00 : r === 1 ? c10 : r === 2 ? c20 : c30;
        const v1 = r === 0 ? c01 : r === 1 ? c11 : r === 2 ? c21 : c31;
        const v2 = r === 0 ? c02 : r === 1 ? c12 : r === 2 ? c22 : c32;
        const v3 = r === 0 ? c03 : r === 1 ? c13 : r === 2 ? c23 : c33;
        if (accumulate) {
          C[o] += v0;
          if (cols > 1) C[o + 1] += v1;
          if (cols > 2) C[o + 2] += v2;
          if (cols > 3) C[o + 3] += v3;
        } else {
          C[o] = v0;
          if (cols > 1) C[o + 1] = v1;
          if (cols > 2) C[o + 2] = v2;
          if (cols > 3) C[o + 3] = v3;
        }
      }
    }
  }
}

/** cols[(c·KH+kh)·KW+kw, oh·OW+ow] = x[c, oh·s−p+kh, ow·s−p+kw] (0 outside), for one image at xOff. */
function im2col(x: Data, xOff: number, g: Window2d, cols: Data): void {
  const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
  const L = OH * OW;
  let row = 0;
  for (let c = 0; c < C; c++) {
    const xc = xOff + c * H * W;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, row++) {
        let o = row * L;
        if (stride === 1 && pad === 0) {
          // the common case (every zoo conv): each output row is a contiguous run of the input row
          for (let oh = 0; oh < OH; oh++) {
            const xr = xc + (oh + kh) * W + kw;
            for (let ow = 0; ow < OW; ow++) cols[o++] = x[xr + ow];
          }
          continue;
        }
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) {
            for (let ow = 0; ow < OW; ow++) cols[o++] = 0;
            continue;
          }
          const xr = xc + ih * W;
          for (let ow = 0, iw = kw - pad; ow < OW; ow++, iw += stride) {
            cols[o++] = iw >= 0 && iw < W ? x[xr + iw] : 0;
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: dx[c, ih, iw] += cols[...] for one image at dxOff. */
function col2im(cols: Data, g: Window2d, dx: Data, dxOff: number): void {
  const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
  const L = OH * OW;
  let row = 0;
  for (let c = 0; c < C; c++) {
    const xc = dxOff + c * H * W;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, row++) {
        let o = row * L;
        if (stride === 1 && pad === 0) {
          for (let oh = 0; oh < OH; oh++) {
            const xr = xc + (oh + kh) * W + kw;
            for (let ow = 0; ow < OW; ow++) dx[xr + ow] += cols[o++];
          }
          continue;
        }
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * stride - pad + kh;
          if (ih < 0 || ih >= H) {
            o += OW;
            continue;
          }
          const xr = xc + ih * W;
          for (let ow = 0, iw = kw - pad; ow < OW; ow++, iw += stride, o++) {
            if (iw >= 0 && iw < W) dx[xr + iw] += cols[o];
          }
        }
      }
    }
  }
}

function maxPoolForward(x: Data, N: number, g: Window2d, out: Data, argmax: Int32Array): void {
  const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
  if (KH === 2 && KW === 2 && stride === 2 && pad === 0) return maxPool2x2(x, N * C, H, W, OH, OW, out, argmax);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * stride - pad;
      const hs = Math.max(h0, 0), he = Math.min(h0 + KH, H);
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = ow * stride - pad;
        const ws = Math.max(w0, 0), we = Math.min(w0 + KW, W);
        let best = -Infinity;
        let arg = -1;
        for (let h = hs; h < he; h++) {
          const r = base + h * W;
          for (let w = ws; w < we; w++) {
            const v = x[r + w];
            if (v > best || arg < 0) {
              best = v;
              arg = r + w;
            }
          }
        }
        out[o] = best;
        argmax[o] = arg;
      }
    }
  }
}

// The common 2×2, stride 2 window without bounds arithmetic, and without branches: the winner's index is
// chosen arithmetically (a data-dependent branch mispredicts on half the windows). Ties go to the first element.
function maxPool2x2(x: Data, NC: number, H: number, W: number, OH: number, OW: number, out: Data, argmax: Int32Array): void {
  let o = 0;
  for (let nc = 0; nc < NC; nc++) {
    const base = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const r0 = base + 2 * oh * W;
      for (let ow = 0; ow < OW; ow++, o++) {
        const a = r0 + 2 * ow, b = a + 1, c = a + W, d = c + 1;
        let arg = a;
        arg += (b - arg) * +(x[b] > x[arg]);
        arg += (c - arg) * +(x[c] > x[arg]);
        arg += (d - arg) * +(x[d] > x[arg]);
        out[o] = x[arg];
        argmax[o] = arg;
      }
    }
  }
}

function maxPoolBackward(dOut: Data, argmax: Int32Array, dX: Data): void {
  dX.fill(0);
  for (let o = 0; o < dOut.length; o++) dX[argmax[o]] += dOut[o];
}

function avgPoolForward(x: Data, N: number, g: Window2d, out: Data): void {
  const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
  const inv = 1 / (KH * KW);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * stride - pad;
      const hs = Math.max(h0, 0), he = Math.min(h0 + KH, H);
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = ow * stride - pad;
        const ws = Math.max(w0, 0), we = Math.min(w0 + KW, W);
        let s = 0;
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) s += x[base + h * W + w];
        out[o] = s * inv;
      }
    }
  }
}

function avgPoolBackward(dOut: Data, N: number, g: Window2d, dX: Data): void {
  const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
  const inv = 1 / (KH * KW);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const base = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * stride - pad;
      const hs = Math.max(h0, 0), he = Math.min(h0 + KH, H);
      for (let ow = 0; ow < OW; ow++, o++) {
        const w0 = ow * stride - pad;
        const ws = Math.max(w0, 0), we = Math.min(w0 + KW, W);
        const d = dOut[o] * inv;
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) dX[base + h * W + w] += d;
      }
    }
  }
}

// Convolution of N images, one image at a time: cols = im2col(xₙ) [C·KH·KW, L], yₙ = W·cols + b.
function conv2dForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void {
  const L = g.OH * g.OW, CKK = g.C * g.KH * g.KW, CHW = g.C * g.H * g.W;
  const cols = new (x instanceof Float64Array ? Float64Array : Float32Array)(CKK * L);
  for (let n = 0; n < N; n++) {
    const yOff = n * OC * L;
    for (let o = 0; o < OC; o++) y.fill(b[o], yOff + o * L, yOff + (o + 1) * L);
    im2col(x, n * CHW, g, cols);
    gemm(false, false, OC, L, CKK, w, 0, CKK, cols, 0, L, y, yOff, L, true);
  }
}

// dW = Σₙ dYₙ·colsₙᵀ   dXₙ = col2im(Wᵀ·dYₙ)   dB = Σₙ,ₕ,ᵥ dY
function conv2dBackward(
  x: Data, N: number, g: Window2d, w: Data, OC: number, dY: Data, dX: Data | null, dW: Data | null, dB: Data | null,
): void {
  const L = g.OH * g.OW, CKK = g.C * g.KH * g.KW, CHW = g.C * g.H * g.W;
  const cols = new (x instanceof Float64Array ? Float64Array : Float32Array)(CKK * L);
  dX?.fill(0);
  dW?.fill(0);
  dB?.fill(0);
  for (let n = 0; n < N; n++) {
    const yOff = n * OC * L;
    if (dW) {
      im2col(x, n * CHW, g, cols);
      gemm(false, true, OC, CKK, L, dY, yOff, L, cols, 0, L, dW, 0, CKK, true);
    }
    if (dX) {
      gemm(true, false, CKK, L, OC, w, 0, CKK, dY, yOff, L, cols, 0, L, false);
      col2im(cols, g, dX, n * CHW);
    }
    if (dB) {
      for (let o = 0; o < OC; o++) {
        let s = 0;
        for (let l = yOff + o * L, e = l + L; l < e; l++) s += dY[l];
        dB[o] += s;
      }
    }
  }
}

/** The geometry of 2×2/stride-2 max pooling over planes [C, H, W]. */
function pool2Of(C: number, H: number, W: number): Window2d {
  return { C, H, W, KH: 2, KW: 2, stride: 2, pad: 0, OH: H >> 1, OW: W >> 1 };
}

/**
 * Each pooled output's route (./pool-route.ts) from its argmax (a flat index into the H×W planes pooled), or none where
 * the output (after ReLU) is not positive.
 */
function routesOf(argmax: Int32Array, out: Data, H: number, W: number, route: Uint8Array): void {
  // from the flat index to the position within the window (the window of o starts at row 2·ph, column 2·pw)
  const PW = W >> 1, PL = (H >> 1) * PW, L = H * W;
  for (let o = 0; o < out.length; o++) {
    const p = o % PL, ph = Math.floor(p / PW), pw = p - ph * PW;
    const at = argmax[o] - Math.floor(o / PL) * L - (2 * ph * W + 2 * pw); // 0, 1, W or W + 1
    route[o] = out[o] > 0 ? poolRoute(at >= W ? 1 : 0, at >= W ? at - W : at) : ROUTE_NONE;
  }
}

/** dY [planes, H, W] = dOut at each window's routed position; dY comes in zeroed (a fresh array) and stays 0 elsewhere. */
function unpool(dOut: Data, route: Uint8Array, H: number, W: number, dY: Data): void {
  const PW = W >> 1, PL = (H >> 1) * PW, L = H * W;
  for (let o = 0; o < dOut.length; o++) {
    const r = route[o];
    if (r === ROUTE_NONE) continue;
    const p = o % PL, ph = Math.floor(p / PW), pw = p - ph * PW;
    dY[Math.floor(o / PL) * L + (2 * ph + (r >> 1)) * W + 2 * pw + (r & 1)] = dOut[o];
  }
}

const like = (a: Data, n: number): Data => (a instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

function conv2dReluForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void {
  conv2dForward(x, N, g, w, OC, b, y);
  reluForward(y, y);
}

/**
 * A reusable array for a kernel's internal temporary (written in full before it is read, never returned or kept past
 * the call), one per type and length, the last few kept. A large fresh array costs a fresh set of page faults on
 * its first writes, more than the arithmetic on it (a 22 MB one about 13 ms on a VM); reusing it costs nothing.
 * Kernels run synchronously on one thread, so no two calls share one at once.
 */
const scratch = new Map<string, Data>();
function scratchOf(f64: boolean, n: number): Data {
  const key = `${f64 ? 'f64' : 'f32'}:${n}`;
  let a = scratch.get(key);
  if (a === undefined) {
    a = f64 ? new Float64Array(n) : new Float32Array(n);
    if (scratch.size >= 4) scratch.delete(scratch.keys().next().value!);
  } else scratch.delete(key);
  scratch.set(key, a); // most recently used last
  return a;
}

function conv2dReluBackward(
  x: Data, N: number, g: Window2d, w: Data, OC: number, out: Data, dOut: Data, dX: Data | null, dW: Data | null, dB: Data | null,
): void {
  // dY is this call's temporary: reluBackward writes every element of it, conv2dBackward only reads it
  const dY = scratchOf(out instanceof Float64Array, out.length);
  reluBackward(dOut, out, dY);
  conv2dBackward(x, N, g, w, OC, dY, dX, dW, dB);
}

// The fused block as the three kernels in turn; pooling before ReLU gives the same values (ReLU is monotone) and
// the argmax of the convolution's output itself, which becomes each output's route.
function conv2dReluPoolForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, out: Data, route: Uint8Array | null): void {
  const y = like(out, N * OC * g.OH * g.OW);
  conv2dForward(x, N, g, w, OC, b, y);
  const argmax = new Int32Array(out.length);
  maxPoolForward(y, N, pool2Of(OC, g.OH, g.OW), out, argmax);
  reluForward(out, out);
  if (route !== null) routesOf(argmax, out, g.OH, g.OW, route);
}

// dY = dOut at each window's routed position, 0 elsewhere.
function conv2dReluPoolBackward(
  x: Data, N: number, g: Window2d, w: Data, OC: number, route: Uint8Array, dOut: Data,
  dX: Data | null, dW: Data | null, dB: Data | null,
): void {
  const dY = like(dOut, N * OC * g.OH * g.OW);
  unpool(dOut, route, g.OH, g.OW, dY);
  conv2dBackward(x, N, g, w, OC, dY, dX, dW, dB);
}

/** The piece of x[r, ·, s] (x as [R, K, S]) maxout takes: the first maximum by strict >, as at maxoutForward. */
function maxoutWinner(x: Data, K: number, S: number, base: number): number {
  let best = x[base], win = 0;
  for (let p = 1; p < K; p++) {
    const v = x[base + p * S];
    if (v > best) {
      best = v;
      win = p;
    }
  }
  return win;
}

function maxoutForward(x: Data, R: number, K: number, S: number, out: Data): void {
  for (let r = 0, q = 0; r < R; r++) {
    for (let s = 0; s < S; s++, q++) {
      const base = r * K * S + s;
      out[q] = x[base + maxoutWinner(x, K, S, base) * S];
    }
  }
}

function maxoutBackward(dOut: Data, x: Data, R: number, K: number, S: number, dX: Data): void {
  for (let r = 0, q = 0; r < R; r++) {
    for (let s = 0; s < S; s++, q++) {
      const base = r * K * S + s, win = maxoutWinner(x, K, S, base), g = 0 + dOut[q];
      for (let p = 0; p < K; p++) dX[base + p * S] = p === win ? g : 0;
    }
  }
}

function columnSums(g: Data, N: number, O: number, out: Data): void {
  out.fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) out[o] += g[n * O + o];
}

function reluForward(x: Data, out: Data): void {
  // (v + |v|)/2 is max(v, 0) without a branch: on the random signs of activations a branch mispredicts half the time
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = (v + Math.abs(v)) * 0.5;
  }
}

function reluBackward(dOut: Data, x: Data, dX: Data): void {
  for (let i = 0; i < x.length; i++) dX[i] = dOut[i] * +(x[i] > 0); // branch-free, as above
}

// Batch normalisation per channel over planes of S values at (n·C + c)·S: sums in float64 in index order.
function batchNormForward(
  x: Data, N: number, C: number, S: number, gamma: Data, beta: Data, eps: number,
  mean: Float64Array, invstd: Float64Array, sq: Float64Array | null, y: Data,
): void {
  const M = N * S;
  for (let c = 0; c < C; c++) {
    if (sq) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = (n * C + c) * S, e = i + S; i < e; i++) s += x[i];
      const mu = s / M;
      let q = 0;
      for (let n = 0; n < N; n++) for (let i = (n * C + c) * S, e = i + S; i < e; i++) q += (x[i] - mu) * (x[i] - mu);
      mean[c] = mu;
      sq[c] = q;
      invstd[c] = 1 / Math.sqrt(q / M + eps);
    }
    const mu = mean[c], is = invstd[c], gc = gamma[c], bc = beta[c];
    for (let n = 0; n < N; n++) for (let i = (n * C + c) * S, e = i + S; i < e; i++) y[i] = gc * ((x[i] - mu) * is) + bc;
  }
}

function batchNormBackward(
  dY: Data, x: Data, N: number, C: number, S: number, gamma: Data, mean: Float64Array, invstd: Float64Array,
  training: boolean, sdy: Float64Array, sdyx: Float64Array, dX: Data | null,
): void {
  const M = N * S;
  for (let c = 0; c < C; c++) {
    const mu = mean[c], is = invstd[c];
    let s = 0, t = 0;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * S, e = i + S; i < e; i++) {
        s += dY[i];
        t += dY[i] * ((x[i] - mu) * is);
      }
    }
    sdy[c] = s;
    sdyx[c] = t;
    if (!dX) continue;
    const k = gamma[c] * is;
    for (let n = 0; n < N; n++) {
      for (let i = (n * C + c) * S, e = i + S; i < e; i++) {
        dX[i] = training ? (k / M) * (M * dY[i] - s - ((x[i] - mu) * is) * t) : k * dY[i];
      }
    }
  }
}

// The fused batch-norm → ReLU → 2×2 max-pool pair as the kernels in turn (pooling before ReLU: the same values, see
// conv2dReluPoolForward).
function batchNormReluPoolForward(
  x: Data, N: number, C: number, H: number, W: number, gamma: Data, beta: Data, eps: number,
  mean: Float64Array, invstd: Float64Array, sq: Float64Array | null, out: Data, route: Uint8Array | null,
): void {
  const y = like(out, N * C * H * W);
  batchNormForward(x, N, C, H * W, gamma, beta, eps, mean, invstd, sq, y);
  const argmax = new Int32Array(out.length);
  maxPoolForward(y, N, pool2Of(C, H, W), out, argmax);
  reluForward(out, out);
  if (route !== null) routesOf(argmax, out, H, W, route);
}

function batchNormReluPoolBackward(
  dOut: Data, route: Uint8Array, x: Data, N: number, C: number, H: number, W: number, gamma: Data,
  mean: Float64Array, invstd: Float64Array, training: boolean, sdy: Float64Array, sdyx: Float64Array, dX: Data | null,
): void {
  const dY = like(dOut, N * C * H * W);
  unpool(dOut, route, H, W, dY);
  batchNormBackward(dY, x, N, C, H * W, gamma, mean, invstd, training, sdy, sdyx, dX);
}

// One Adam update: plain loops over typed arrays. The operations and their order are the contract (./types.ts):
// wasm/optim.wat repeats them lane by lane. Float32 arrays are updated in float32 arithmetic (every operation
// rounded to float32 with Math.fround, which for float32 operands gives the correctly rounded float32 result of
// +, −, ×, ÷ and √), as PyTorch's float32 Adam is computed (in another order of operations, so not its bits); any
// other arrays in float64.
function adamUpdate(
  th: Data, g: Data, m: Data, v: Data, b1: number, b2: number, wd: number, eps: number, step: number, invSqrtC2: number,
): void {
  if (th instanceof Float32Array && g instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array) {
    adamUpdateF32(th, g, m, v, b1, b2, wd, eps, step, invSqrtC2);
    return;
  }
  const a1 = 1 - b1, a2 = 1 - b2;
  for (let j = 0; j < th.length; j++) {
    const gj = g[j] + wd * th[j];
    const mj = b1 * m[j] + a1 * gj;
    const vj = b2 * v[j] + a2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    th[j] -= (step * mj) / (Math.sqrt(vj) * invSqrtC2 + eps);
  }
}

/** Adam's float32 contract: the constants rounded to float32 once, then each operation rounded to float32. */
function adamUpdateF32(
  th: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  b1: number, b2: number, wd: number, eps: number, step: number, invSqrtC2: number,
): void {
  const f = Math.fround;
  const [B1, A1, B2, A2, WD, EPS, STEP, ISC] = adamConstantsF32(b1, b2, wd, eps, step, invSqrtC2);
  for (let j = 0; j < th.length; j++) {
    const tj = th[j];
    const gj = f(g[j] + f(WD * tj));
    const mj = f(f(B1 * m[j]) + f(A1 * gj));
    const vj = f(f(B2 * v[j]) + f(f(A2 * gj) * gj));
    m[j] = mj;
    v[j] = vj;
    th[j] = tj - f(f(STEP * mj) / f(f(f(Math.sqrt(vj)) * ISC) + EPS));
  }
}

/**
 * The eight constants of a float32 Adam update, in the order the WebAssembly kernel reads them (wasm/optim.wat
 * `adam`): β1, 1 − β1, β2, 1 − β2, λ, ε, step, invSqrtC2, each 1 − β computed in float64, then every value rounded
 * to float32.
 */
export function adamConstantsF32(b1: number, b2: number, wd: number, eps: number, step: number, invSqrtC2: number): number[] {
  return [b1, 1 - b1, b2, 1 - b2, wd, eps, step, invSqrtC2].map((c) => Math.fround(c));
}

// APGD's L∞ step: the operations and their order are the contract (./types.ts); wasm/optim.wat `linf_step` repeats
// them lane by lane.
function apgdLinfStep(
  xa: Data, xo: Data, g: Data, lo: Data, hi: Data, D: number, rows: Int32Array, bounds: Int32Array, steps: Float64Array, a: number,
): void {
  for (let i = 0; i < rows.length; i++) {
    const off = rows[i] * D, base = bounds[i] * D, st = steps[i];
    for (let j = 0; j < D; j++) {
      const l = lo[base + j], h = hi[base + j], cur = xa[off + j], gj = g[off + j];
      let zj = cur + (gj > 0 ? st : gj < 0 ? -st : 0);
      zj = zj < l ? l : zj > h ? h : zj;
      let wj = cur + (zj - cur) * a + (cur - xo[off + j]) * (1 - a);
      wj = wj < l ? l : wj > h ? h : wj;
      xo[off + j] = cur;
      xa[off + j] = wj;
    }
  }
}

/** The reference kernels (plain TypeScript on typed arrays). */
export const referenceKernels: Kernels = {
  name: 'typescript',
  gemm,
  maxPoolForward,
  maxPoolBackward,
  maxoutForward,
  maxoutBackward,
  columnSums,
  avgPoolForward,
  avgPoolBackward,
  conv2dForward,
  conv2dReluForward,
  conv2dReluBackward,
  conv2dBackward,
  conv2dReluPoolForward,
  conv2dReluPoolBackward,
  reluForward,
  reluBackward,
  batchNormForward,
  batchNormBackward,
  batchNormReluPoolForward,
  batchNormReluPoolBackward,
  adamUpdate,
  apgdLinfStep,
  fabStep,
  getThreads: () => 1,
  setThreads: () => {},
};
