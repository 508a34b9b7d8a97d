// The kernel contract: the few hot loops (GEMM, convolution, pooling, ReLU, batch-norm) that dominate a step, as
// one interface that the TypeScript reference (./reference.ts) and the WebAssembly SIMD kernels (./wasm.ts and its
// families) implement; ./kernels.ts selects one. Only types here, so implementations and selection import it without
// a cycle. Gradients carry the ops' names: dY (a convolution's upstream), dOut (a pool's, a ReLU's or a fused
// block's upstream), dX, dW, dB.
import type { Data } from '../nd.js';
import type { Arena } from '../recycle.js';

/** Geometry of a 2-D window (convolution or pooling) over an NCHW image. */
export interface Window2d {
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  OH: number;
  OW: number;
}

export interface Kernels {
  name: string;
  /**
   * C[M×N] = op(A)·op(B) (or += when `accumulate`), all row-major with leading dimensions lda/ldb/ldc.
   * op(A) is A[M×K], or Aᵀ when transA (A stored K×M). op(B) is B[K×N], or Bᵀ when transB (B stored N×K).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    A: Data, aOff: number, lda: number,
    B: Data, bOff: number, ldb: number,
    C: Data, cOff: number, ldc: number,
    accumulate: boolean,
  ): void;
  /** Max pooling over N images; argmax[o] is the flat index into x of each output's maximum (first on ties). */
  maxPoolForward(x: Data, N: number, g: Window2d, out: Data, argmax: Int32Array): void;
  /** dX = 0 except dX[argmax[o]] += dOut[o] (dX is overwritten). */
  maxPoolBackward(dOut: Data, argmax: Int32Array, dX: Data): void;
  /** Average pooling; padded cells count as zeros (PyTorch's count_include_pad=True). */
  avgPoolForward(x: Data, N: number, g: Window2d, out: Data): void;
  /** dX[window of o] += dOut[o] / (KH·KW) (dX accumulates: the caller zeroes it). */
  avgPoolBackward(dOut: Data, N: number, g: Window2d, dX: Data): void;
  /**
   * Convolution of N images (cross-correlation): x [N, C, H, W], w [OC, C·KH·KW], b [OC] → y [N, OC, OH, OW],
   * yₙ = W·im2col(xₙ) + b. y is overwritten.
   */
  conv2dForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void;
  /**
   * conv2dForward, then ReLU (reluForward) on its output in the same pass: y = max(W·im2col(xₙ) + b, 0), the same
   * bits as the two kernels in turn. y is overwritten.
   */
  conv2dReluForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, y: Data): void;
  /**
   * The gradients of conv2dForward for upstream dY [N, OC, OH, OW]: dXₙ = col2im(Wᵀ·dYₙ), dW = Σₙ dYₙ·im2col(xₙ)ᵀ,
   * dB = Σ dY over images and positions. Each non-null output is overwritten; a null one is skipped.
   */
  conv2dBackward(x: Data, N: number, g: Window2d, w: Data, OC: number, dY: Data, dX: Data | null, dW: Data | null, dB: Data | null): void;
  /**
   * The gradients of conv2dReluForward for the upstream gradient dOut of its output out: reluBackward (dOut where
   * out > 0, else 0) as the convolution's dY, then conv2dBackward, without writing that dY out.
   */
  conv2dReluBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, out: Data, dOut: Data, dX: Data | null, dW: Data | null, dB: Data | null,
  ): void;
  /**
   * conv2dForward, ReLU and 2×2/stride-2 max pooling in one pass (the cnn's block): out [N, OC, ⌊OH/2⌋, ⌊OW/2⌋],
   * and where each output's gradient goes (route, see ./pool-route.ts), or no route (null) when there will be no
   * backward. Equal to the three kernels in turn; the full-size convolution output is never materialised.
   */
  conv2dReluPoolForward(x: Data, N: number, g: Window2d, w: Data, OC: number, b: Data, out: Data, route: Uint8Array | null): void;
  /**
   * The gradients of conv2dReluPoolForward for upstream dOut and the forward's route: the convolution's upstream
   * gradient is dOut[o] at the window position route[o] of output o (none where route[o] = ROUTE_NONE) and 0
   * elsewhere, then as conv2dBackward.
   */
  conv2dReluPoolBackward(
    x: Data, N: number, g: Window2d, w: Data, OC: number, route: Uint8Array, dOut: Data,
    dX: Data | null, dW: Data | null, dB: Data | null,
  ): void;
  /**
   * Maxout (Goodfellow et al. 2013, eq. 1) over x as [R, K, S] (R units, K pieces, S positions): out[r, s] = the
   * first maximum over p of x[r, p, s] (strict >: ties keep the first piece, a NaN is taken only as the first).
   */
  maxoutForward(x: Data, R: number, K: number, S: number, out: Data): void;
  /** maxoutForward's gradient: dX[r, p, s] = 0 + dOut[r, s] at the piece it took (found again from x), 0 elsewhere. */
  maxoutBackward(dOut: Data, x: Data, R: number, K: number, S: number, dX: Data): void;
  /**
   * out[o] = Σₙ g[n·O + o] for g [N, O], n in order, added into zeros in out's precision (a dense layer's bias
   * gradient); out is overwritten. A NaN sum's sign bit may differ between implementations (WebAssembly and
   * JavaScript each produce their own NaN for ∞ − ∞); every other result is the same bits.
   */
  columnSums(g: Data, N: number, O: number, out: Data): void;
  /** out = max(x, 0), elementwise. */
  reluForward(x: Data, out: Data): void;
  /** dX = dOut where x > 0, else 0. */
  reluBackward(dOut: Data, x: Data, dX: Data): void;
  /**
   * Batch normalisation's forward (Ioffe & Szegedy 2015, Algorithm 1) over x [N, C, S] (S = H·W, 1 for [N, C]) per
   * channel c, M = N·S values each. With `sq` (training): mean[c] = Σ x / M, sq[c] = Σ (x − mean[c])² and
   * invstd[c] = 1/√(sq[c]/M + eps) are computed and written (float64); without it (evaluation) mean and invstd are
   * read. Then y = γ[c]·(x − mean[c])·invstd[c] + β[c]; y is overwritten.
   */
  batchNormForward(
    x: Data, N: number, C: number, S: number, gamma: Data, beta: Data, eps: number,
    mean: Float64Array, invstd: Float64Array, sq: Float64Array | null, y: Data,
  ): void;
  /**
   * Its gradients for the upstream dY, with x̂ = (x − mean[c])·invstd[c]: sdy[c] = Σ dY and sdyx[c] = Σ dY·x̂ (the
   * gradients of β and γ, float64), and when dX is given, dX = γ·invstd/M·(M·dY − sdy − x̂·sdyx) in training,
   * γ·invstd·dY in evaluation (dX overwritten).
   */
  batchNormBackward(
    dY: Data, x: Data, N: number, C: number, S: number, gamma: Data, mean: Float64Array, invstd: Float64Array,
    training: boolean, sdy: Float64Array, sdyx: Float64Array, dX: Data | null,
  ): void;
  /**
   * batchNormForward (S = H·W), then ReLU and 2×2/stride-2 max pooling in one pass: out [N, C, ⌊H/2⌋, ⌊W/2⌋] and each
   * output's route (./pool-route.ts), or none (null) when no backward follows. Equal to the three kernels in turn up
   * to the batch-norm's float32 rounding; the full-size normalised array is never written out.
   */
  batchNormReluPoolForward(
    x: Data, N: number, C: number, H: number, W: number, gamma: Data, beta: Data, eps: number,
    mean: Float64Array, invstd: Float64Array, sq: Float64Array | null, out: Data, route: Uint8Array | null,
  ): void;
  /**
   * Its gradients: the batch-norm's upstream gradient is dOut[o] at the window position route[o] of output o (none
   * where route[o] = ROUTE_NONE) and 0 elsewhere, then as batchNormBackward.
   */
  batchNormReluPoolBackward(
    dOut: Data, route: Uint8Array, x: Data, N: number, C: number, H: number, W: number, gamma: Data,
    mean: Float64Array, invstd: Float64Array, training: boolean, sdy: Float64Array, sdyx: Float64Array, dX: Data | null,
  ): void;
  /**
   * One Adam update in place over a parameter's arrays of equal length (Kingma & Ba 2015, Algorithm 1, with
   * PyTorch's arrangement of the bias corrections): g' = g + λ·θ, m = β1·m + (1 − β1)·g',
   * v = β2·v + ((1 − β2)·g')·g', θ −= (step·m) / (√v·invSqrtC2 + ε), where step = lr / (1 − β1ᵗ) and
   * invSqrtC2 = 1 / √(1 − β2ᵗ); th, m and v are overwritten. When all four arrays are Float32Array, every operation,
   * in this order, is rounded to float32 (PyTorch's float32 Adam also computes in float32, in another order, so not
   * with these bits; the eight constants β1, 1 − β1, β2,
   * 1 − β2, λ, ε, step and invSqrtC2 are rounded to float32 first); otherwise each element is computed in float64
   * and stored rounded to its array's type. The same bits in every implementation.
   */
  adamUpdate(th: Data, g: Data, m: Data, v: Data, beta1: number, beta2: number, weightDecay: number, eps: number, step: number, invSqrtC2: number): void;
  /**
   * APGD's L∞ iterate update (Croce & Hein 2020, Algorithm 1, lines 6–8, with P the ε-ball ∩ [0, 1] given as the
   * box [lo, hi]) in place, for the listed rows of D values: row i is xa, xo and g at rows[i]·D and lo, hi at
   * bounds[i]·D, with step size η = steps[i] and momentum α = a. Per element, in float64 (each operation rounded
   * once, in this order):
   *   z = clip(x + (g > 0 ? η : g < 0 ? −η : 0)),  w = clip(x + (z − x)·α + (x − x_old)·(1 − α)),  x_old ← x,  x ← w
   * with clip(v) = v < lo ? lo : v > hi ? hi : v, and the stores rounded to the arrays' type. The same bits in
   * every implementation, given what APGD guarantees: lo ≤ hi elementwise (the ε-ball ∩ [0, 1] of an x in [0, 1])
   * and no row listed twice.
   */
  apgdLinfStep(xa: Data, xo: Data, g: Data, lo: Data, hi: Data, D: number, rows: Int32Array, bounds: Int32Array, steps: Float64Array, a: number): void;
  /**
   * FAB's iterate update (Croce & Hein 2020, Algorithm 1: the two box-constrained projections onto the linearised
   * boundary, the bias α toward x, the extrapolation η) in place, for R = f.length rows of D values: x1 [R·D] the
   * iterates (overwritten, rounded to float32), x0 [R·D] the original points, w [R·D] each row's boundary gradient
   * and f [R] its value at the iterate; norm 'linf' or 'l2', η = eta, α_max = alphaMax. The operations and their
   * order are fabStep's in ./fab-projections.ts, so the same bits in every implementation, for any thread count.
   */
  fabStep(x1: Float32Array, x0: Float32Array, w: Float64Array, f: Float64Array, D: number, norm: 'linf' | 'l2', eta: number, alphaMax: number): void;
  /**
   * The machine's multiply-add ceiling for these kernels in GFLOP/s: a SIMD loop of independent (fused, in the
   * fma build) multiply-adds on every thread at once, the best of a few rounds taking about `ms` milliseconds
   * (default 300). Absent for kernels with no such loop (the TypeScript reference).
   */
  peakGflops?(ms?: number): number;
  /** Bytes of WebAssembly linear memory the kernels hold now (it only grows, to the largest problem seen); absent for the reference. */
  memoryBytes?(): number;
  /**
   * Memory these kernels read and write in place: inside a recycling scope (engine/recycle.ts) op outputs are views
   * of it, so the next kernel takes them without a copy. Absent for the reference (it reads any array).
   */
  arena?: Arena;
  /** Threads the kernels use (1 for the reference). */
  getThreads(): number;
  /**
   * Use n threads from now on. Results are the same bits for any n (the WebAssembly kernels group their partial
   * sums independently of the thread count). A single-threaded implementation ignores it.
   */
  setThreads(n: number): void;
}
